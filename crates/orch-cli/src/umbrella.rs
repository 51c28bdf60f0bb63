//! `orch`: the umbrella (git-style dispatch to `orch-<sub>`) and shell
//! completions.

use std::ffi::OsString;

use anyhow::Result;
use clap::{CommandFactory, Parser};
use orch::exit::{Code, Fail};

/// The subcommands `orch` knows, with their one-line purpose, in the order
/// `orch --help` lists them.
pub const SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "spawn",
        "Start an agent in a new tmux pane and wait until it is ready",
    ),
    (
        "tell",
        "Deliver a prompt to an agent, exactly once, and optionally wait for the reply",
    ),
    (
        "listen",
        "Wait for agents to finish a turn or need attention (no polling)",
    ),
    ("survey", "Show what every agent is doing"),
    (
        "restore",
        "Bring back the agents of a tmux server that died, resuming their sessions",
    ),
    (
        "answer",
        "Answer an agent's permission prompt: allow, deny or always",
    ),
    (
        "subscribe",
        "Have a pane receive notices when chosen peers finish",
    ),
    ("up", "Install orch's hooks and skills"),
    ("down", "Remove exactly what `orch up` installed"),
    ("doctor", "Check that orch's hooks really fire"),
    (
        "hook",
        "Record an agent hook event (called by agents' hooks)",
    ),
    ("echo", "The built-in echo agent (no API key needed)"),
];

/// clap definitions of the subcommands that exist, for completions (and
/// for the docs test, which checks every quoted command line against them).
pub fn subcommand_defs() -> Vec<clap::Command> {
    vec![
        crate::tell::TellArgs::command().name("tell"),
        crate::listen::ListenArgs::command().name("listen"),
        crate::hook::HookArgs::command().name("hook"),
        crate::echo::EchoArgs::command().name("echo"),
        crate::up::UpArgs::command().name("up"),
        crate::down::DownArgs::command().name("down"),
        crate::doctor::DoctorArgs::command().name("doctor"),
        crate::survey::SurveyArgs::command().name("survey"),
        crate::spawn::SpawnArgs::command().name("spawn"),
        crate::subscribe::SubscribeArgs::command().name("subscribe"),
        crate::restore::RestoreArgs::command().name("restore"),
        crate::answer::AnswerArgs::command().name("answer"),
    ]
}

// `orch`: run `orch-<sub>` with the remaining arguments. Everything after
// the subcommand name belongs to the subcommand, `--help` and `--version`
// included (`orch spawn --help` is orch-spawn's help), so the subcommand is
// clap's "external subcommand": clap stops parsing at it. (A `//` comment:
// a doc comment here would become `orch --help`'s long description.)
#[derive(Debug, Parser)]
#[command(
    name = "orch",
    version,
    about = "Coordinate many AI agent sessions running in tmux panes",
    override_usage = "orch [--host DEST] <COMMAND> [ARGS]...\n       orch completions <SHELL>",
    disable_help_subcommand = true,
    allow_external_subcommands = true,
    after_help = subcommand_help()
)]
pub struct UmbrellaArgs {
    /// Run the command on another host over ssh: anything ssh accepts
    /// (host, user@host, a ~/.ssh/config alias) or a hosts.json name.
    /// `ORCH_SSH` overrides the ssh command (docs/remote.md).
    #[arg(long, value_name = "DEST")]
    pub host: Option<String>,
    /// The subcommand and its arguments, passed through verbatim.
    #[command(subcommand)]
    pub sub: Option<External>,
}

/// A subcommand line: `["spawn", "echo", "--help"]`.
#[derive(Debug, clap::Subcommand)]
pub enum External {
    #[command(external_subcommand)]
    Run(Vec<OsString>),
}

fn subcommand_help() -> String {
    let mut s = String::from("Commands:\n");
    for (name, about) in SUBCOMMANDS {
        s.push_str(&format!("  {name:<13}{about}\n"));
    }
    s.push_str(
        "  completions  Print shell completions: orch completions bash|zsh|fish|elvish|powershell\n",
    );
    s.push_str("\n`orch <command> --help` explains each one. `orch tell …` runs `orch-tell …`.");
    s
}

/// The hidden subcommand ssh runs on the far end of `orch --host`.
pub const REMOTE_SERVE: &str = "__remote";

pub fn umbrella(args: UmbrellaArgs) -> Result<Code> {
    let Some(External::Run(argv)) = args.sub else {
        UmbrellaArgs::command().print_help()?;
        return Ok(Code::Usage);
    };
    let Some((sub, rest)) = argv.split_first() else {
        UmbrellaArgs::command().print_help()?;
        return Ok(Code::Usage);
    };
    let sub = sub.to_string_lossy();
    if sub == REMOTE_SERVE {
        return orch::remote::serve::serve();
    }
    if let Some(host) = &args.host {
        let rest: Vec<String> = rest
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return crate::remote::forward(host, &sub, rest);
    }
    if sub == "completions" {
        return completions(rest);
    }
    if sub == "help" {
        if let Some(inner) = rest.first() {
            return exec_sub(&inner.to_string_lossy(), &[OsString::from("--help")]);
        }
        UmbrellaArgs::command().print_help()?;
        return Ok(Code::Ok);
    }
    exec_sub(&sub, rest)
}

fn exec_sub(sub: &str, rest: &[OsString]) -> Result<Code> {
    let known: Vec<&str> = SUBCOMMANDS.iter().map(|(n, _)| *n).collect();
    let Some(path) = orch::exe::sibling(sub) else {
        return Err(Fail::usage(if known.contains(&sub) {
            format!("orch-{sub} is not installed next to orch or on PATH; run ./install.sh")
        } else {
            format!(
                "unknown command {sub:?}; commands: {}, completions",
                known.join(", ")
            )
        }));
    };
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&path).args(rest).exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {}", path.display())))
}

fn completions(rest: &[OsString]) -> Result<Code> {
    use clap_complete::Shell;
    let shell = rest
        .first()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Fail::usage("which shell? orch completions bash|zsh|fish|elvish|powershell")
        })?;
    let shell: Shell = shell.parse().map_err(|_| {
        Fail::usage(format!(
            "unknown shell {shell:?}; choose bash, zsh, fish, elvish or powershell"
        ))
    })?;
    let shells = ["bash", "zsh", "fish", "elvish", "powershell"];
    let mut cmd = clap::Command::new("orch")
        .about("Coordinate many AI agent sessions running in tmux panes")
        .disable_help_subcommand(true)
        .subcommands(subcommand_defs())
        .subcommand(
            clap::Command::new("completions")
                .about("Print shell completions")
                .arg(clap::Arg::new("shell").required(true).value_parser(shells)),
        )
        .subcommand(
            clap::Command::new("help")
                .about("Print a subcommand's help")
                .arg(
                    clap::Arg::new("command")
                        .value_parser(SUBCOMMANDS.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
                ),
        );
    clap_complete::generate(shell, &mut cmd, "orch", &mut std::io::stdout());
    Ok(Code::Ok)
}

//! What every orch binary shares: error printing, exit codes, the `orch`
//! umbrella (git-style dispatch to `orch-<sub>`), and shell completions.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::exit::{Code, Fail, code_of};

/// Run a binary: parse `A`, call `run`, print errors as `name: message`
/// (one line), map them to documented exit codes. A closed stdout (e.g.
/// `orch survey | head -1`) is a clean exit, not an error.
pub fn main_with<A: Parser>(name: &str, run: impl FnOnce(A) -> Result<Code>) -> ExitCode {
    let args = match A::try_parse() {
        Ok(a) => a,
        Err(e) => return clap_error(name, e),
    };
    match run(args) {
        Ok(code) => code.into(),
        Err(err) => report(name, &err),
    }
}

/// Print an error chain on one line and pick its exit code.
pub fn report(name: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("{name}: {err:#}");
    code_of(err).into()
}

/// Is a closed stdout anywhere in the chain? serde_json's error does not
/// expose the io error it wraps as a source, so it is asked directly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let io = e.downcast_ref::<std::io::Error>().map(|io| io.kind());
        let json = e
            .downcast_ref::<serde_json::Error>()
            .and_then(|j| j.io_error_kind());
        io.or(json) == Some(ErrorKind::BrokenPipe)
    })
}

/// clap's errors are several lines; orch's errors are one. Help and version
/// go to stdout as usual.
fn clap_error(name: &str, e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return Code::Usage.into();
    }
    let text = e.render().to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    eprintln!("{name}: {first} (see `{name} --help`)");
    Code::Usage.into()
}

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
        crate::install::up::UpArgs::command().name("up"),
        crate::install::down::DownArgs::command().name("down"),
        crate::install::doctor::DoctorArgs::command().name("doctor"),
        crate::survey::SurveyArgs::command().name("survey"),
        crate::spawn::SpawnArgs::command().name("spawn"),
        crate::subscribe::SubscribeArgs::command().name("subscribe"),
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
    override_usage = "orch <COMMAND> [ARGS]...\n       orch completions <SHELL>",
    disable_help_subcommand = true,
    allow_external_subcommands = true,
    after_help = subcommand_help()
)]
pub struct UmbrellaArgs {
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

/// Find `orch-<sub>`: next to the running `orch` first (so an install dir
/// works without PATH), then on PATH.
pub fn find_subcommand(sub: &str) -> Option<PathBuf> {
    let bin = format!("orch-{sub}");
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join(&bin);
        if p.is_file() {
            return Some(p);
        }
    }
    which::which(&bin).ok()
}

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
    let Some(path) = find_subcommand(sub) else {
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

/// A duration as people type it: `30` (seconds), `30s`, `500ms`, `5m`,
/// `2h`, `1d`, `1w`, `1.5h`. Shared by every `--since`.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 5m, 2h, 1d"))?;
    let mult = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "week" | "weeks" => 7.0 * 86400.0,
        u => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {u:?} (use ms, s, m, h, d or w)"
            ));
        }
    };
    let secs = n * mult;
    if !secs.is_finite() || !(0.0..=1e10).contains(&secs) {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1d").unwrap().as_secs(), 86400);
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        assert_eq!(parse_duration("1w").unwrap().as_secs(), 7 * 86400);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3s").is_err());
    }
}

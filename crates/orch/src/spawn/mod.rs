//! `orch-spawn`: start an agent in a new tmux pane and hand back its pane id
//! once it is really ready to take a prompt.
//!
//! Steps (everything that can be refused is checked before anything is
//! created): validate the request and build a plan (harness, outfit, cwd,
//! name, placement, worktree); under the server's spawn lock, check the name
//! is free and create the worktree and the pane (running a placeholder, see
//! [`place`]); write the pane's registry record and a `spawned` event; start
//! the agent through the launch trampoline ([`launch`]); wait for readiness
//! ([`ready`]); deliver `--prompt` with `orch-tell`; print one JSON object.
//!
//! The agent's environment is the tmux server's, plus: `ORCH_ROLE`,
//! `ORCH_NAME`, `ORCH_PARENT`, `ORCH_HARNESS`; `ORCH_SPAWNED_HOOKS=1` for
//! harnesses whose hooks spawn passes itself (see [`crate::harness`]); the
//! caller's `PATH`, orch's own settings (`ORCH_STATE_DIR`, `ORCH_CONFIG_DIR`,
//! …), `CLAUDE_CONFIG_DIR` and provider keys (`ANTHROPIC_*`, `OPENAI_*`,
//! `GEMINI_*`, `GOOGLE_API_KEY`), so the agent writes its events where spawn
//! waits for them and authenticates as the caller would; the outfit's `env`.
//! `CLAUDECODE` is removed so a claude spawned from inside Claude Code does
//! not think it is nested.
//!
//! `--project NAME` is the directory `NAME` under `$ORCH_PROJECTS_DIR`
//! (default `~/projects`); it must exist.

mod launch;
mod lifecycle;
pub mod place;
pub mod ready;
pub mod worktree;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use serde_json::{Map, Value, json};

use crate::event::{Event, Kind};
use crate::exit::{Code, Fail};
use crate::harness::{self, Harness, LaunchSpec, Readiness};
use crate::lock::FileLock;
use crate::outfit::{self, Outfit};
use crate::pane::PaneId;
use crate::registry::ScreenState;
use crate::server::Server;
use crate::store::Store;
use crate::time::now_ns;
use crate::tmux::Tmux;
use place::{Placement, Position};
use ready::Outcome;

/// The fleet prompt every spawned agent gets (placeholders `{{pane}}`,
/// `{{name}}`, `{{role}}`, `{{parent}}`, `{{harness}}`). A file
/// `$ORCH_CONFIG_DIR/fleet-prompt.md` replaces it.
pub const FLEET_PROMPT: &str = include_str!("../../../../share/fleet-prompt.md");

pub const PROJECTS_ENV: &str = "ORCH_PROJECTS_DIR";
const DEFAULT_TIMEOUT_SECS: f64 = 90.0;

/// Variables passed from the caller to the agent (see the module doc).
const FORWARD_ENV: &[&str] = &[
    "PATH",
    "ORCH_STATE_DIR",
    "ORCH_CONFIG_DIR",
    "ORCH_PROJECTS_DIR",
    "ORCH_LOG_MAX_BYTES",
    "ORCH_POLL",
    "ORCH_POLL_MS",
    "ORCH_GC_GRACE_SECS",
    "CLAUDE_CONFIG_DIR",
    "GOOGLE_API_KEY",
];
const FORWARD_PREFIXES: &[&str] = &["ANTHROPIC_", "OPENAI_", "GEMINI_"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Worker,
    Observer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Observer => "observer",
        }
    }
}

/// Start an agent in a new tmux pane and wait until it is ready.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "orch-spawn",
    version,
    about = "Start an agent in a new tmux pane and wait until it is ready",
    after_help = "Prints one JSON object: {\"pane\":\"%12\",\"name\":…,\"harness\":…,\"role\":…,\"session_id\":…,\"ready_ms\":…,\"state\":\"idle\"}.\n\
If the agent shows a start-up dialog, dies, or is not ready in time, the object says so\n\
(state blocked:dialog with the screen excerpt and the fix, exited, or starting) and the exit code is non-zero.\n\n\
Exit codes: 0 ready, 1 failure, 2 bad arguments (nothing created), 3 not ready before --timeout,\n\
4 refused (e.g. --restart of an agent still running), 6 blocked by a start-up dialog, 7 the agent exited.\n\n\
Examples:\n  \
  orch-spawn echo --name demo                       # the built-in agent, no API key needed\n  \
  orch-spawn claude --name auth --outfit engineer --worktree --prompt 'Fix the login redirect'\n  \
  orch-spawn claude --position below --model sonnet --cwd ~/src/app\n  \
  orch-spawn --outfit reviewer --headless --name rev  # harness from the outfit, out of sight\n  \
  orch-spawn --show rev --position right            # bring a headless agent next to you\n  \
  orch-spawn --stop rev                             # /exit, then kill after --grace\n  \
  orch-spawn --restart rev                          # new pane, same session (claude --resume)\n  \
  orch-spawn echo --dry-run -- --turn-ms 500        # print the command line, start nothing"
)]
pub struct SpawnArgs {
    /// The agent CLI: claude, codex, gemini, pi, opencode, or echo (built in).
    /// May be omitted when the outfit names one.
    #[arg(value_name = "HARNESS")]
    pub harness: Option<String>,
    /// Directory the agent works in [default: the current directory].
    #[arg(long, value_name = "DIR", conflicts_with = "project")]
    pub cwd: Option<PathBuf>,
    /// Work in $ORCH_PROJECTS_DIR/NAME (default root: ~/projects).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// A name for the agent, unique among live agents on this tmux server;
    /// usable wherever a pane id is (orch tell NAME, orch listen NAME).
    #[arg(long)]
    pub name: Option<String>,
    /// worker (default) or observer.
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// Split off your pane on this side [default: right].
    #[arg(long, value_enum, conflicts_with_all = ["window", "headless"])]
    pub position: Option<Position>,
    /// Open the agent in a new window instead of a split.
    #[arg(long, conflicts_with = "headless")]
    pub window: bool,
    /// Start the agent out of sight, in the detached tmux session
    /// `orch-headless` (bring it back with --show).
    #[arg(long)]
    pub headless: bool,
    /// The model, passed to the harness (overrides the outfit's).
    #[arg(long)]
    pub model: Option<String>,
    /// A first task, delivered with orch-tell once the agent is ready.
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Apply an outfit: $ORCH_CONFIG_DIR/outfits/NAME.json, a built-in one
    /// (engineer, reviewer, researcher, spy), or a path to a .json file.
    #[arg(long, value_name = "NAME")]
    pub outfit: Option<String>,
    /// Give the agent its own git worktree on BRANCH [default: orch/<name>];
    /// put the harness first (`orch-spawn claude --worktree`).
    #[arg(long, value_name = "BRANCH", num_args = 0..=1, default_missing_value = "")]
    pub worktree: Option<String>,
    /// Seconds to wait for the agent to be ready [default: 90].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Resume this harness session instead of starting a new one.
    #[arg(long, value_name = "SESSION_ID")]
    pub resume: Option<String>,
    /// Keep the harness's permission prompts (by default spawned agents run
    /// with them bypassed, e.g. claude --dangerously-skip-permissions).
    #[arg(long)]
    pub no_bypass: bool,
    /// An extra directory the agent may use (repeatable).
    #[arg(long, value_name = "DIR")]
    pub add_dir: Vec<PathBuf>,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Print the command line, environment and placement; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop an agent: its exit command (/exit), then kill the pane after --grace.
    #[arg(long, value_name = "PANE|NAME", conflicts_with_all = ["restart", "show", "hide"])]
    pub stop: Option<String>,
    /// Seconds --stop waits for a graceful exit before killing the pane [default: 10].
    #[arg(long, value_name = "SECS")]
    pub grace: Option<f64>,
    /// Start an exited agent again in a new pane, resuming its session, with
    /// the same name, role, parent, directory and outfit.
    #[arg(long, value_name = "PANE|NAME", conflicts_with_all = ["show", "hide"])]
    pub restart: Option<String>,
    /// Move an agent's pane next to yours (--position picks the side).
    #[arg(long, value_name = "PANE|NAME", conflicts_with = "hide")]
    pub show: Option<String>,
    /// Move an agent's pane out of sight, into the orch-headless session.
    #[arg(long, value_name = "PANE|NAME")]
    pub hide: Option<String>,
    /// Internal: run the agent described by a launch file (used in the pane).
    #[arg(long, hide = true, value_name = "FILE")]
    pub exec_launch: Option<PathBuf>,
    /// Arguments passed to the harness as they are.
    #[arg(last = true, value_name = "HARNESS_ARGS")]
    pub harness_args: Vec<String>,
}

/// What a restart carries over from the agent it replaces.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inherit {
    pub parent: Option<PaneId>,
    /// Use `parent` even when it is None (instead of the caller's pane).
    pub keep_parent: bool,
    pub restart_of: Option<PaneId>,
    pub worktree: Option<String>,
    pub bypass: Option<bool>,
}

/// A checked spawn request.
#[derive(Debug)]
pub(crate) struct Plan {
    harness: &'static Harness,
    name: Option<String>,
    role: Role,
    parent: Option<PaneId>,
    cwd: PathBuf,
    worktree: Option<worktree::Worktree>,
    /// A worktree made for an earlier incarnation (restart).
    worktree_path: Option<String>,
    outfit: Option<Outfit>,
    model: Option<String>,
    resume: Option<String>,
    session_id: Option<String>,
    bypass: bool,
    add_dirs: Vec<String>,
    /// `--add-dir` as given (the rest of `add_dirs` comes from the outfit).
    explicit_add_dirs: Vec<String>,
    extra_args: Vec<String>,
    placement: Placement,
    note: Option<String>,
    program: String,
    prompt: Option<String>,
    timeout: Duration,
    pub(crate) warnings: Vec<String>,
    restart_of: Option<PaneId>,
}

pub fn run(args: SpawnArgs) -> Result<Code> {
    let started = Instant::now();
    if let Some(file) = &args.exec_launch {
        return launch::exec(file);
    }
    if let Some(t) = &args.stop {
        return lifecycle::stop(&args, t);
    }
    if let Some(t) = &args.restart {
        return lifecycle::restart(&args, t, started);
    }
    if let Some(t) = &args.show {
        return lifecycle::show(&args, t);
    }
    if let Some(t) = &args.hide {
        return lifecycle::hide(&args, t);
    }
    let plan = plan(&args, Inherit::default())?;
    if args.dry_run {
        return dry_run(&plan, args.pretty);
    }
    let store = Store::current()?;
    execute(&store, plan, args.pretty, started)
}

/// The pane orch-spawn was called from, if it runs inside tmux.
fn caller() -> Option<PaneId> {
    Server::from_env().and(PaneId::from_env())
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '%', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(Fail::usage(format!(
            "invalid --name {name:?}: use up to 64 letters, digits, '.', '_' or '-', not starting with '-', '%' or '.'"
        )));
    }
    if ["self", "operator", "parent", "any", "all"].contains(&name) {
        return Err(Fail::usage(format!(
            "--name {name:?} is reserved (orch uses it as an address); choose another"
        )));
    }
    Ok(())
}

fn projects_root() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(PROJECTS_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Fail::usage(format!("--project needs {PROJECTS_ENV} or HOME set")))?;
    Ok(PathBuf::from(home).join("projects"))
}

fn resolve_cwd(args: &SpawnArgs) -> Result<PathBuf> {
    let dir = if let Some(p) = &args.project {
        if p.is_empty() || p.contains('/') || p == "." || p == ".." {
            return Err(Fail::usage(format!(
                "invalid --project {p:?}: give a directory name under the projects root"
            )));
        }
        let root = projects_root()?;
        let d = root.join(p);
        if !d.is_dir() {
            return Err(Fail::usage(format!(
                "no project {p:?}: {} is not a directory (projects live under {}; set {PROJECTS_ENV} to change that)",
                d.display(),
                root.display()
            )));
        }
        d
    } else if let Some(c) = &args.cwd {
        if !c.is_dir() {
            return Err(Fail::usage(format!(
                "--cwd {}: no such directory",
                c.display()
            )));
        }
        c.clone()
    } else {
        std::env::current_dir().context("cannot read the current directory")?
    };
    std::fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

fn parse_secs(what: &str, v: Option<f64>, default: f64) -> Result<Duration> {
    match v {
        None => Ok(Duration::from_secs_f64(default)),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s.min(1e7))),
        Some(s) => Err(Fail::usage(format!(
            "invalid {what} {s}: give a number of seconds ≥ 0"
        ))),
    }
}

/// Find the harness's program: echo next to orch, the rest on PATH.
fn find_program(h: &Harness) -> Option<PathBuf> {
    if h.name == harness::echo::HARNESS.name {
        return crate::exe::sibling("echo");
    }
    which::which(h.program).ok()
}

/// Check a request and decide everything about the spawn; creates nothing.
pub(crate) fn plan(args: &SpawnArgs, inherit: Inherit) -> Result<Plan> {
    let outfit = args.outfit.as_deref().map(outfit::load).transpose()?;
    let from_outfit = outfit.as_ref().and_then(|o| o.harness.clone());
    let hname = match (&args.harness, &from_outfit) {
        (Some(h), Some(o)) if h != o => {
            return Err(Fail::usage(format!(
                "harness {h:?} conflicts with outfit {:?}, which is for {o:?}; drop one of them",
                args.outfit.as_deref().unwrap_or_default()
            )));
        }
        (Some(h), _) => h.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => {
            let hint = match &args.worktree {
                Some(w) if harness::find(w).is_some() => format!(
                    " (did --worktree take {w:?} as its branch? write `orch-spawn {w} --worktree`)"
                ),
                _ => String::new(),
            };
            return Err(Fail::usage(format!(
                "which agent? give a harness ({}) or an --outfit that names one{hint}",
                harness::names()
            )));
        }
    };
    let h = harness::find(&hname).ok_or_else(|| {
        Fail::usage(format!(
            "unknown harness {hname:?}; choose one of {}",
            harness::names()
        ))
    })?;
    if let Some(n) = &args.name {
        check_name(n)?;
    }
    let role = match (args.role, outfit.as_ref().and_then(|o| o.role.as_deref())) {
        (Some(r), _) => r,
        (None, Some("observer")) => Role::Observer,
        _ => Role::Worker,
    };
    let timeout = parse_secs("--timeout", args.timeout, DEFAULT_TIMEOUT_SECS)?;
    if args.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(Fail::usage("--prompt is empty: give the first task's text"));
    }
    let base_cwd = resolve_cwd(args)?;
    let mut add_dirs = Vec::new();
    for d in &args.add_dir {
        if !d.is_dir() {
            return Err(Fail::usage(format!(
                "--add-dir {}: no such directory",
                d.display()
            )));
        }
        add_dirs.push(std::fs::canonicalize(d)?.to_string_lossy().into_owned());
    }
    let explicit_add_dirs = add_dirs.clone();
    let mut warnings = Vec::new();
    if let Some(o) = &outfit {
        for d in &o.skills_dirs {
            let p = outfit::resolve_dir(d, &o.name)?;
            if h.name == "claude" && !p.join(".claude/skills").is_dir() {
                warnings.push(format!(
                    "outfit {:?}: claude loads skills from {}/.claude/skills/, which does not exist",
                    o.name,
                    p.display()
                ));
            }
            let p = p.to_string_lossy().into_owned();
            if !add_dirs.contains(&p) {
                add_dirs.push(p);
            }
        }
    }
    let worktree = match &args.worktree {
        Some(branch) => {
            let branch = if branch.is_empty() {
                match &args.name {
                    Some(n) => format!("orch/{n}"),
                    None => format!("orch/{}-{}", h.name, &harness::new_session_id()[..8]),
                }
            } else {
                branch.clone()
            };
            Some(worktree::plan(&base_cwd, &branch)?)
        }
        None => None,
    };
    let cwd = worktree.as_ref().map(|w| w.cwd.clone()).unwrap_or(base_cwd);

    let caller = caller();
    let (placement, note) = if args.headless {
        (Placement::Headless, None)
    } else if args.window {
        (Placement::Window(caller), None)
    } else {
        let pos = args.position.unwrap_or(Position::Right);
        match caller {
            Some(p) => (Placement::Split(pos, p), None),
            None => (
                Placement::Window(None),
                Some(format!(
                    "not inside a tmux pane (TMUX_PANE unset): opened a new window instead of splitting {}",
                    pos.as_str()
                )),
            ),
        }
    };
    let program = find_program(h);
    if program.is_none() && !args.dry_run {
        return Err(anyhow::anyhow!(
            "{} is not installed (not found on PATH): {}",
            h.program,
            h.install_hint
        ));
    }
    let resume = args.resume.clone();
    let session_id = (h.assigns_session_id && resume.is_none()).then(harness::new_session_id);
    Ok(Plan {
        harness: h,
        name: args.name.clone(),
        role,
        parent: if inherit.keep_parent {
            inherit.parent
        } else {
            caller
        },
        cwd,
        worktree,
        worktree_path: inherit.worktree,
        model: args
            .model
            .clone()
            .or_else(|| outfit.as_ref().and_then(|o| o.model.clone())),
        outfit,
        resume,
        session_id,
        bypass: inherit.bypass.unwrap_or(!args.no_bypass),
        add_dirs,
        explicit_add_dirs,
        extra_args: args.harness_args.clone(),
        placement,
        note,
        program: program
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| h.program.to_string()),
        prompt: args.prompt.clone(),
        timeout,
        warnings,
        restart_of: inherit.restart_of,
    })
}

/// The fleet prompt for an agent, placeholders filled.
pub fn fleet_prompt(
    pane: &str,
    name: Option<&str>,
    role: &str,
    parent: Option<PaneId>,
    harness: &str,
) -> String {
    let template = crate::paths::config_dir()
        .ok()
        .and_then(|d| std::fs::read_to_string(d.join("fleet-prompt.md")).ok())
        .unwrap_or_else(|| FLEET_PROMPT.to_string());
    let parent = parent
        .map(|p| p.to_string())
        .unwrap_or_else(|| "none (started from outside tmux)".into());
    template
        .replace("{{pane}}", pane)
        .replace("{{name}}", name.unwrap_or("(none; address it by pane id)"))
        .replace("{{role}}", role)
        .replace("{{parent}}", &parent)
        .replace("{{harness}}", harness)
}

impl Plan {
    fn system_prompt(&self, pane: &str) -> String {
        let mut p = fleet_prompt(
            pane,
            self.name.as_deref(),
            self.role.as_str(),
            self.parent,
            self.harness.name,
        );
        if let Some(extra) = self
            .outfit
            .as_ref()
            .and_then(|o| o.system_prompt.as_deref())
        {
            p.push_str("\n\n");
            p.push_str(extra);
        }
        p
    }

    fn hook_program(&self) -> Result<Option<String>> {
        if !self.harness.injects_hooks {
            return Ok(None);
        }
        match crate::exe::sibling("hook") {
            Some(p) => Ok(Some(p.to_string_lossy().into_owned())),
            None => Err(anyhow::anyhow!(
                "orch-hook is not installed next to orch-spawn or on PATH; run ./install.sh"
            )),
        }
    }

    /// The `--settings` file for claude: its path and contents.
    fn claude_settings(&self, hook: &str) -> Result<(PathBuf, String)> {
        let text = harness::claude::settings_json(hook, self.bypass);
        let hash = crate::event::prompt_hash(&text);
        let short = hash.rsplit(':').next().unwrap_or("0");
        let dir = crate::paths::state_dir()?.join("glue");
        Ok((dir.join(format!("claude-settings-{short}.json")), text))
    }

    /// The agent's command line and environment, for pane `pane`.
    fn launch(
        &self,
        pane: &str,
        write_glue: bool,
    ) -> Result<(launch::LaunchFile, Vec<String>, Option<String>)> {
        let hook = self.hook_program()?;
        let mut settings_file = None;
        let mut settings_text = None;
        if self.harness.name == harness::claude::HARNESS.name
            && let Some(hook) = &hook
        {
            let (path, text) = self.claude_settings(hook)?;
            if write_glue && std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                if let Some(d) = path.parent() {
                    crate::paths::ensure_private_dir(d)
                        .with_context(|| format!("cannot create {}", d.display()))?;
                }
                crate::paths::write_atomic(&path, text.as_bytes(), 0o600)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            settings_file = Some(path.to_string_lossy().into_owned());
            settings_text = Some(text);
        }
        let outfit = self.outfit.as_ref();
        let spec = LaunchSpec {
            program: self.program.clone(),
            session_id: self.session_id.clone(),
            resume: self.resume.clone(),
            model: self.model.clone(),
            system_prompt: self.system_prompt(pane),
            bypass: self.bypass,
            add_dirs: self.add_dirs.clone(),
            allowed_tools: outfit.map(|o| o.allowed_tools.clone()).unwrap_or_default(),
            disallowed_tools: outfit
                .map(|o| o.disallowed_tools.clone())
                .unwrap_or_default(),
            extra_args: self.extra_args.clone(),
            hook_program: hook,
            settings_file,
            is_root: nix::unistd::geteuid().is_root(),
        };
        let built = self.harness.launch(&spec);
        let mut env = BTreeMap::new();
        for k in FORWARD_ENV {
            if let Ok(v) = std::env::var(k) {
                env.insert(k.to_string(), v);
            }
        }
        for (k, v) in std::env::vars() {
            if FORWARD_PREFIXES.iter().any(|p| k.starts_with(p)) {
                env.insert(k, v);
            }
        }
        let mut unset = vec![
            "CLAUDECODE".to_string(),
            "CLAUDE_CODE_ENTRYPOINT".to_string(),
        ];
        env.insert("ORCH_ROLE".into(), self.role.as_str().into());
        env.insert("ORCH_HARNESS".into(), self.harness.name.into());
        match &self.name {
            Some(n) => {
                env.insert("ORCH_NAME".into(), n.clone());
            }
            None => unset.push("ORCH_NAME".into()),
        }
        match self.parent {
            Some(p) => {
                env.insert("ORCH_PARENT".into(), p.to_string());
            }
            None => unset.push("ORCH_PARENT".into()),
        }
        if self.harness.injects_hooks {
            env.insert(crate::hook::SPAWNED_HOOKS_ENV.into(), "1".into());
        } else {
            unset.push(crate::hook::SPAWNED_HOOKS_ENV.into());
        }
        env.extend(built.env);
        if let Some(o) = outfit {
            env.extend(o.env.clone());
        }
        let mut warnings = self.warnings.clone();
        warnings.extend(built.warnings);
        Ok((
            launch::LaunchFile {
                argv: built.argv,
                env,
                unset,
            },
            warnings,
            settings_text,
        ))
    }
}

fn dry_run(plan: &Plan, pretty: bool) -> Result<Code> {
    let pane = "(assigned at spawn)";
    let (lf, warnings, settings) = plan.launch(pane, false)?;
    // Provider keys come from the caller's environment: never print them.
    let env: Map<String, Value> = lf
        .env
        .iter()
        .map(|(k, v)| {
            let shown =
                if FORWARD_PREFIXES.iter().any(|p| k.starts_with(p)) || k == "GOOGLE_API_KEY" {
                    "(from your environment)".to_string()
                } else {
                    v.clone()
                };
            (k.clone(), Value::String(shown))
        })
        .collect();
    let mut out = json!({
        "harness": plan.harness.name,
        "argv": lf.argv,
        "env": env,
        "unset": lf.unset,
        "cwd": plan.cwd,
        "placement": plan.placement.describe(),
        "role": plan.role.as_str(),
        "readiness": match plan.harness.readiness_for(&plan.extra_args) {
            Readiness::SessionStart => "session_start event",
            Readiness::SessionStartOrQuiet => "session_start event, else screen quiescence (inferred)",
        },
        "events": plan.harness.events,
    });
    let o = out.as_object_mut().expect("object");
    if let Some(n) = &plan.name {
        o.insert("name".into(), json!(n));
    }
    if let Some(p) = plan.parent {
        o.insert("parent".into(), json!(p));
    }
    if let Some(s) = &plan.session_id {
        o.insert("session_id".into(), json!(s));
    }
    if let Some(of) = &plan.outfit {
        o.insert("outfit".into(), json!(of.name));
    }
    if let Some(w) = &plan.worktree {
        o.insert(
            "worktree".into(),
            json!({"path": w.path, "branch": w.branch, "new_branch": w.new_branch}),
        );
    }
    if let Some(s) = settings {
        o.insert(
            "settings".into(),
            serde_json::from_str(&s).unwrap_or(Value::String(s)),
        );
    }
    let mut notes: Vec<String> = plan.note.iter().cloned().collect();
    if !plan.program.starts_with('/') {
        notes.push(format!(
            "{} is not on PATH: {}",
            plan.harness.program, plan.harness.install_hint
        ));
    }
    if !notes.is_empty() {
        o.insert("note".into(), json!(notes.join("; ")));
    }
    if !warnings.is_empty() {
        o.insert("warnings".into(), json!(warnings));
    }
    print_value(&out, pretty)?;
    Ok(Code::Ok)
}

fn print_value(v: &Value, pretty: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if pretty {
        writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    } else {
        writeln!(out, "{v}")?;
    }
    out.flush()?;
    Ok(())
}

/// The spawn lock of a tmux server: held while a name is checked and taken.
fn lock_spawns(store: &Store) -> Result<FileLock> {
    let p = store.dir().join("spawn.lock");
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

/// Refuse a name a live agent has; free it from records of dead panes.
fn claim_name(store: &Store, tmux: &Tmux, name: &str) -> Result<()> {
    let live: Vec<PaneId> = tmux
        .list_panes()?
        .into_iter()
        .filter(|p| !p.dead)
        .map(|p| p.pane)
        .collect();
    for rec in store.list_registry() {
        let (Some(pane), Some(n)) = (rec.pane, rec.name.as_deref()) else {
            continue;
        };
        if n != name || rec.gone_ts.is_some() {
            continue;
        }
        if live.contains(&pane) {
            return Err(Fail::usage(format!(
                "the name {name:?} is taken by the agent in {pane}; choose another --name, or stop it first (orch-spawn --stop {name})"
            )));
        }
        // The pane is gone or dead: its name must not resolve any more.
        store.update_registry(pane, |r| r.gone_ts = Some(now_ns()))?;
    }
    Ok(())
}

/// What spawn reports.
struct Report {
    obj: Map<String, Value>,
    code: Code,
    error: Option<String>,
}

pub(crate) fn execute(store: &Store, plan: Plan, pretty: bool, started: Instant) -> Result<Code> {
    let tmux = Tmux::for_server(store.server());
    let h = plan.harness;
    let title = plan.name.clone().unwrap_or_else(|| h.name.to_string());
    let exe = std::env::current_exe().context("cannot find orch-spawn's own path")?;

    let lock = lock_spawns(store)?;
    if let Some(n) = &plan.name {
        claim_name(store, &tmux, n)?;
    }
    if let Some(w) = &plan.worktree {
        w.create()?;
    }
    let undo_worktree = || {
        if let Some(w) = &plan.worktree {
            w.remove();
        }
    };
    let pane = match place::create(&tmux, plan.placement, &plan.cwd, &title) {
        Ok(p) => p,
        Err(e) => {
            undo_worktree();
            return Err(e);
        }
    };
    let prepared = (|| -> Result<(launch::LaunchFile, Vec<String>, PathBuf)> {
        let (lf, warnings, _) = plan.launch(&pane.to_string(), true)?;
        let file = store.panes_dir().join(format!("{}.launch.json", pane.0));
        launch::write(&file, &lf)?;
        Ok((lf, warnings, file))
    })();
    let (lf, warnings, launch_file) = match prepared {
        Ok(x) => x,
        Err(e) => {
            place::kill(&tmux, pane);
            undo_worktree();
            return Err(e);
        }
    };
    let worktree = plan
        .worktree
        .as_ref()
        .map(|w| w.path.to_string_lossy().into_owned())
        .or_else(|| plan.worktree_path.clone());
    // What a restart needs that the record's own fields do not hold.
    let spawn_args = json!({
        "extra_args": plan.extra_args,
        "bypass": plan.bypass,
        "explicit_add_dirs": plan.explicit_add_dirs,
        "model": plan.model,
    });
    let mut ev = Event::new(Kind::Spawned);
    ev.harness = Some(h.name.into());
    ev.cwd = Some(plan.cwd.to_string_lossy().into_owned());
    ev.session_id = plan.session_id.clone().or_else(|| plan.resume.clone());
    ev.model = plan.model.clone();
    ev.name = plan.name.clone();
    let mut data = json!({
        "role": plan.role.as_str(),
        "placement": plan.placement.describe(),
        "argv": lf.argv,
    });
    for (k, v) in [
        ("parent", plan.parent.map(|p| json!(p))),
        ("outfit", plan.outfit.as_ref().map(|o| json!(o.name))),
        ("worktree", worktree.as_ref().map(|w| json!(w))),
        ("restart_of", plan.restart_of.map(|p| json!(p))),
    ] {
        if let Some(v) = v {
            data[k] = v;
        }
    }
    ev.data = Some(data);
    let recorded = store.append_with(pane, ev, |r| {
        r.name.clone_from(&plan.name);
        r.role = Some(plan.role.as_str().into());
        r.harness = Some(h.name.into());
        r.parent = plan.parent;
        r.cwd = Some(plan.cwd.to_string_lossy().into_owned());
        r.outfit = plan.outfit.as_ref().map(|o| o.name.clone());
        r.worktree.clone_from(&worktree);
        r.command = Some(lf.argv.clone());
        r.spawned_ts = Some(now_ns());
        if r.session_id.is_none() {
            r.session_id = plan.session_id.clone().or_else(|| plan.resume.clone());
        }
        if plan.model.is_some() {
            r.model.clone_from(&plan.model);
        }
        r.extra.insert("spawn".into(), spawn_args.clone());
        if let Some(old) = plan.restart_of {
            r.extra.insert("restart_of".into(), json!(old));
        }
    });
    if let Err(e) = recorded {
        place::kill(&tmux, pane);
        undo_worktree();
        let _ = std::fs::remove_file(&launch_file);
        return Err(e);
    }
    drop(lock);

    let trampoline = vec![
        exe.to_string_lossy().into_owned(),
        "--exec-launch".into(),
        launch_file.to_string_lossy().into_owned(),
    ];
    if let Err(e) = place::start(&tmux, pane, &plan.cwd, &trampoline) {
        place::kill(&tmux, pane);
        undo_worktree();
        let _ = std::fs::remove_file(&launch_file);
        let _ = store.update_registry(pane, |r| r.gone_ts = Some(now_ns()));
        return Err(e.context(format!("cannot start {} in {pane}", h.name)));
    }

    let cwd = plan.cwd.to_string_lossy().into_owned();
    let watch = ready::Watch {
        store,
        tmux: &tmux,
        pane,
        harness: h,
        readiness: h.readiness_for(&plan.extra_args),
        cwd: &cwd,
    };
    let outcome = watch.wait(Instant::now() + plan.timeout)?;
    let _ = std::fs::remove_file(&launch_file);

    let mut obj = Map::new();
    obj.insert("pane".into(), json!(pane));
    obj.insert("name".into(), json!(plan.name));
    obj.insert("harness".into(), json!(h.name));
    obj.insert("role".into(), json!(plan.role.as_str()));
    let mut report = Report {
        obj,
        code: Code::Ok,
        error: None,
    };
    let session_id = plan.session_id.clone().or_else(|| plan.resume.clone());
    let ms = started.elapsed().as_millis() as u64;
    match outcome {
        Outcome::Ready {
            session_id: sid,
            inferred,
        } => {
            place::release_on_exit(&tmux, pane)?;
            report
                .obj
                .insert("session_id".into(), json!(sid.or(session_id)));
            report.obj.insert("ready_ms".into(), json!(ms));
            report.obj.insert("state".into(), json!("idle"));
            if inferred {
                report.obj.insert("inferred".into(), json!(true));
                store.update_registry(pane, |r| {
                    r.screen = Some(ScreenState {
                        state: "idle".into(),
                        ts: now_ns(),
                        excerpt: String::new(),
                    })
                })?;
            }
        }
        Outcome::Blocked { kind, excerpt, fix } => {
            place::release_on_exit(&tmux, pane)?;
            store.update_registry(pane, |r| {
                r.screen = Some(ScreenState {
                    state: "blocked:dialog".into(),
                    ts: now_ns(),
                    excerpt: excerpt.clone(),
                })
            })?;
            report.obj.insert("session_id".into(), json!(session_id));
            report.obj.insert("ready_ms".into(), Value::Null);
            report.obj.insert("state".into(), json!("blocked:dialog"));
            report.obj.insert("dialog".into(), json!(kind));
            report.obj.insert("excerpt".into(), json!(excerpt));
            report.obj.insert("fix".into(), json!(fix));
            report.code = Code::Blocked;
            report.error = Some(format!(
                "{} in {pane} is blocked by a start-up dialog ({kind}); {fix}",
                h.name
            ));
        }
        Outcome::Exited { status, excerpt } => {
            // Nothing to keep: the evidence goes into the report and the log.
            place::kill(&tmux, pane);
            let mut ev = Event::new(Kind::Exited);
            ev.reason = Some("exited during start-up".into());
            ev.data = Some(json!({"status": status, "excerpt": excerpt}));
            store.append_with(pane, ev, |r| {
                r.screen = Some(ScreenState {
                    state: "exited".into(),
                    ts: now_ns(),
                    excerpt: excerpt.clone(),
                });
                r.gone_ts = Some(now_ns());
            })?;
            report.obj.insert("session_id".into(), json!(session_id));
            report.obj.insert("ready_ms".into(), Value::Null);
            report.obj.insert("state".into(), json!("exited"));
            report.obj.insert("exit_status".into(), json!(status));
            report.obj.insert("excerpt".into(), json!(excerpt));
            report.obj.insert("exited_ms".into(), json!(ms));
            report.code = Code::Exited;
            let last = excerpt.lines().last().unwrap_or("(no output)");
            report.error = Some(format!(
                "{} exited during start-up{} after {ms} ms; last output: {last}",
                h.name,
                status
                    .map(|s| format!(" with status {s}"))
                    .unwrap_or_default()
            ));
        }
        Outcome::Timeout { excerpt } => {
            report.obj.insert("session_id".into(), json!(session_id));
            report.obj.insert("ready_ms".into(), Value::Null);
            report.obj.insert("state".into(), json!("starting"));
            report.obj.insert("excerpt".into(), json!(excerpt));
            report.code = Code::Timeout;
            report.error = Some(format!(
                "{} in {pane} was not ready after {}s (no session_start event); it is still starting: check it with orch-spawn --show {pane}",
                h.name,
                plan.timeout.as_secs_f64()
            ));
        }
    }
    report.obj.insert("cwd".into(), json!(cwd));
    if let Some(p) = plan.parent {
        report.obj.insert("parent".into(), json!(p));
    }
    if let Some(o) = &plan.outfit {
        report.obj.insert("outfit".into(), json!(o.name));
    }
    if let Some(w) = &plan.worktree {
        report.obj.insert(
            "worktree".into(),
            json!({"path": w.path, "branch": w.branch}),
        );
    } else if let Some(w) = &plan.worktree_path {
        report.obj.insert("worktree".into(), json!({"path": w}));
    }
    if let Some(old) = plan.restart_of {
        report.obj.insert("restart_of".into(), json!(old));
    }
    report
        .obj
        .insert("placement".into(), json!(plan.placement.describe()));
    if let Some(n) = &plan.note {
        report.obj.insert("note".into(), json!(n));
    }
    if !warnings.is_empty() {
        report.obj.insert("warnings".into(), json!(warnings));
    }
    if report.code == Code::Ok
        && let Some(text) = &plan.prompt
    {
        let (v, code) = deliver_prompt(pane, text);
        report.obj.insert("prompt".into(), v);
        if code != Code::Ok {
            report.code = code;
            report.error = Some(format!(
                "{} in {pane} is ready, but the first prompt was not confirmed (see \"prompt\")",
                h.name
            ));
        }
    }
    if let Some(old) = plan.restart_of
        && report.code == Code::Ok
    {
        lifecycle::relink_children(store, old, pane);
    }
    finish(report, pretty)
}

fn finish(report: Report, pretty: bool) -> Result<Code> {
    let v = Value::Object(report.obj);
    if pretty {
        print_pretty(&v)?;
    } else {
        print_value(&v, false)?;
    }
    match report.error {
        Some(msg) => Err(Fail::new(report.code, msg).into()),
        None => Ok(report.code),
    }
}

fn print_pretty(v: &Value) -> Result<()> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = std::io::stdout().lock();
    let who = match v.get("name").and_then(Value::as_str) {
        Some(n) => format!("{} ({n}, {})", s("pane"), s("role")),
        None => format!("{} ({})", s("pane"), s("role")),
    };
    match s("state") {
        "idle" => writeln!(
            out,
            "{} is ready in {who} after {} ms{}",
            s("harness"),
            v["ready_ms"],
            if v.get("inferred").is_some() {
                " (read off the screen)"
            } else {
                ""
            }
        )?,
        "blocked:dialog" => writeln!(
            out,
            "{} in {who} is blocked by a start-up dialog ({}):",
            s("harness"),
            s("dialog")
        )?,
        "exited" => writeln!(out, "{} in {who} exited during start-up:", s("harness"))?,
        other => writeln!(out, "{} in {who} is still {other}:", s("harness"))?,
    }
    for line in s("excerpt").lines() {
        writeln!(out, "  │ {line}")?;
    }
    for key in [
        "fix",
        "session_id",
        "cwd",
        "parent",
        "outfit",
        "placement",
        "note",
    ] {
        if let Some(x) = v.get(key).and_then(Value::as_str) {
            writeln!(out, "  {key:<10} {x}")?;
        }
    }
    if let Some(w) = v.get("worktree") {
        writeln!(
            out,
            "  {:<10} {}",
            "worktree",
            w["path"].as_str().unwrap_or("")
        )?;
    }
    if let Some(ws) = v.get("warnings").and_then(Value::as_array) {
        for w in ws {
            writeln!(out, "  warning    {}", w.as_str().unwrap_or(""))?;
        }
    }
    if let Some(p) = v.get("prompt") {
        writeln!(out, "  {:<10} {p}", "prompt")?;
    }
    Ok(())
}

/// Give the first task with `orch-tell <pane> -` (text on stdin). Returns
/// tell's JSON answer (or the error) and its exit code.
fn deliver_prompt(pane: PaneId, text: &str) -> (Value, Code) {
    let Some(tell) = crate::exe::sibling("tell") else {
        return (
            json!({"delivered": false, "error": "orch-tell is not installed next to orch-spawn or on PATH"}),
            Code::Failure,
        );
    };
    let child = std::process::Command::new(&tell)
        .arg(pane.to_string())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return (
                json!({"delivered": false, "error": format!("cannot run {}: {e}", tell.display())}),
                Code::Failure,
            );
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => {
            return (
                json!({"delivered": false, "error": format!("orch-tell failed: {e}")}),
                Code::Failure,
            );
        }
    };
    let code = code_from_status(out.status.code());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    let v = match parsed {
        Some(v) => v,
        None => {
            let err = String::from_utf8_lossy(&out.stderr);
            json!({"delivered": code == Code::Ok, "error": err.trim()})
        }
    };
    (v, code)
}

fn code_from_status(status: Option<i32>) -> Code {
    use Code::*;
    [
        Ok,
        Failure,
        Usage,
        Timeout,
        Refused,
        Unconfirmed,
        Blocked,
        Exited,
    ]
    .into_iter()
    .find(|c| Some(*c as i32) == status)
    .unwrap_or(Failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["reviewer", "a.b-c_d", "x1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "%3",
            "-x",
            "a b",
            "self",
            "operator",
            ".hidden",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fleet_prompt_placeholders_are_filled() {
        let p = fleet_prompt("%7", Some("rev"), "worker", Some(PaneId(2)), "claude");
        assert!(p.contains("Your pane: %7"));
        assert!(p.contains("Your name: rev"));
        assert!(p.contains("%2"));
        assert!(!p.contains("{{"), "unfilled placeholder in:\n{p}");
        for axis in ["taste", "architecture", "ethics", "reversibility"] {
            assert!(p.contains(axis));
        }
        assert!(p.contains("[orch]"));
    }

    /// Found by the real-Claude e2e suite (issue 5): with no parent, the
    /// prompt told the agent to run `orch tell none (started from outside
    /// tmux) "…"`. The example uses tell's `parent` keyword instead.
    #[test]
    fn fleet_prompt_commands_are_runnable_without_a_parent() {
        let p = fleet_prompt("%7", None, "worker", None, "claude");
        assert!(p.contains("orch tell parent "), "{p}");
        for line in p.lines().filter(|l| l.trim_start().starts_with("orch ")) {
            assert!(!line.contains("none"), "not a command: {line}");
        }
    }

    #[test]
    fn exit_codes_map_back() {
        assert_eq!(code_from_status(Some(5)), Code::Unconfirmed);
        assert_eq!(code_from_status(Some(0)), Code::Ok);
        assert_eq!(code_from_status(Some(99)), Code::Failure);
        assert_eq!(code_from_status(None), Code::Failure);
    }
}

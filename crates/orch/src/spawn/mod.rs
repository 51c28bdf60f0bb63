//! `orch-spawn`: start an agent in a new tmux pane and hand back its pane id
//! once it is really ready to take a prompt.
//!
//! Steps (everything that can be refused is checked before anything is
//! created): validate the request and build a plan (harness, outfit, cwd,
//! name, placement, worktree); under the server's spawn lock, check the name
//! is free and create the worktree and the pane (running a placeholder, see
//! [`place`]); write the pane's registry record and a `spawned` event; start
//! the agent through the launch trampoline ([`launch`]); wait for readiness
//! ([`ready`]); deliver `--prompt` with `orch-tell`; report ([`SpawnReport`]).
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

mod execute;
mod launch;
mod lifecycle;
pub mod place;
mod plan;
pub mod ready;
mod report;
pub mod spy;
pub mod tile;
pub mod worktree;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::exit::Code;
use crate::pane::PaneId;
use crate::roles::Role;
use crate::server::Server;
use crate::store::Store;
pub use place::Position;
pub use plan::fleet_prompt;
pub use report::{DryRunReport, HideReport, ShowReport, SpawnReport, StopReport, WorktreeInfo};

/// The fleet prompt every spawned agent gets (placeholders `{{pane}}`,
/// `{{name}}`, `{{role}}`, `{{parent}}`, `{{harness}}`). A file
/// `$ORCH_CONFIG_DIR/fleet-prompt.md` replaces it.
pub const FLEET_PROMPT: &str = include_str!("../../../../share/fleet-prompt.md");

pub const PROJECTS_ENV: &str = "ORCH_PROJECTS_DIR";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// What a spawned agent does not inherit from its spawner: what identifies
/// the spawner's own pane and session (tmux sets `TMUX`/`TMUX_PANE` for the
/// new pane; a Claude Code spawner's session markers would make a Claude
/// worker think it is nested in it), and orch's own pane variables, which
/// spawn sets anew; the terminal's description (`TERM`, `COLORTERM`,
/// `TERM_PROGRAM*`), which tmux sets for the pane it made. Everything else — proxies, `DISABLE_AUTOUPDATER`,
/// Bedrock/Vertex settings, provider keys — is handed on (issue 15).
pub(crate) const NOT_INHERITED: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "TERM",
    "COLORTERM",
    "TERM_PROGRAM",
    "TERM_PROGRAM_VERSION",
    "CLAUDECODE",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_CODE_ENTRYPOINT",
    "ORCH_ROLE",
    "ORCH_NAME",
    "ORCH_PARENT",
    "ORCH_HARNESS",
    crate::hook::SPAWNED_HOOKS_ENV,
];

/// A new agent, as `orch-spawn HARNESS …` describes it.
#[derive(Debug, Clone, Default)]
pub struct SpawnRequest {
    /// May be omitted when the outfit names one.
    pub harness: Option<String>,
    pub cwd: Option<PathBuf>,
    /// A directory under `$ORCH_PROJECTS_DIR`.
    pub project: Option<String>,
    pub name: Option<String>,
    /// Worker unless said (or the outfit says observer).
    pub role: Option<Role>,
    pub placing: Placing,
    pub model: Option<String>,
    /// The first task, delivered once the agent is ready.
    pub prompt: Option<String>,
    pub outfit: Option<String>,
    /// A git worktree on this branch (empty: `orch/<name>`).
    pub worktree: Option<String>,
    /// How long to wait for readiness [default: 90 s].
    pub timeout: Option<Duration>,
    /// Resume this harness session.
    pub resume: Option<String>,
    /// Keep the harness's permission prompts.
    pub no_bypass: bool,
    pub add_dir: Vec<PathBuf>,
    /// Plan and report; start nothing.
    pub dry_run: bool,
    /// Passed to the harness as they are.
    pub harness_args: Vec<String>,
    /// A spy: the pane (or name) this observer watches (`--watch`).
    pub watch: Option<String>,
}

/// Where a new pane goes: split off the caller's pane on a side (right by
/// default), a new window, or out of sight.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placing {
    pub position: Option<Position>,
    pub window: bool,
    pub headless: bool,
}

/// What `orch-spawn` can be asked to do.
#[derive(Debug, Clone)]
pub enum SpawnCommand {
    Start(Box<SpawnRequest>),
    /// The exit command, then kill after `grace` [default: 10 s].
    Stop {
        target: String,
        grace: Option<Duration>,
    },
    /// A new pane resuming an exited agent's session.
    Restart {
        target: String,
        placing: Placing,
        prompt: Option<String>,
        timeout: Option<Duration>,
        /// Plan the restart and report it; kill, mark and start nothing.
        dry_run: bool,
    },
    Show {
        target: String,
        position: Option<Position>,
    },
    Hide {
        target: String,
    },
    /// Re-tile the caller's window ([`tile::relayout`]).
    Relayout,
}

/// What it did.
#[derive(Debug)]
pub enum Spawned {
    /// Started (or restarted): ready, or why not (see [`SpawnReport::error`]).
    Started(Box<SpawnReport>),
    DryRun(Box<DryRunReport>),
    Stopped(StopReport),
    Shown(ShowReport),
    Hidden(HideReport),
    Relaid(tile::Relayout),
}

/// Carry out a command (see the module doc).
pub fn spawn(cmd: SpawnCommand) -> Result<Spawned> {
    let started = Instant::now();
    match cmd {
        SpawnCommand::Stop { target, grace } => {
            lifecycle::stop(&target, grace).map(Spawned::Stopped)
        }
        SpawnCommand::Restart {
            target,
            placing,
            prompt,
            timeout,
            dry_run,
        } => lifecycle::restart(&target, placing, prompt, timeout, dry_run, started),
        SpawnCommand::Show { target, position } => {
            lifecycle::show(&target, position).map(Spawned::Shown)
        }
        SpawnCommand::Hide { target } => lifecycle::hide(&target).map(Spawned::Hidden),
        SpawnCommand::Relayout => {
            let store = Store::current()?;
            let me = crate::target::own_pane(&store).ok_or_else(|| {
                crate::exit::Fail::usage(
                    "--relayout re-tiles the window of the pane it runs in, and TMUX_PANE is unset: run it in the operator's pane",
                )
            })?;
            tile::relayout(&crate::tmux::Tmux::for_server(store.server()), me).map(Spawned::Relaid)
        }
        SpawnCommand::Start(req) => {
            let plan = plan::plan(&req, plan::Inherit::default())?;
            if req.dry_run {
                return plan.dry_run().map(|r| Spawned::DryRun(Box::new(r)));
            }
            let store = Store::current()?;
            execute::execute(&store, plan, started).map(|r| Spawned::Started(Box::new(r)))
        }
    }
}

/// Bring back agent `rec`, pane `old` of a dead tmux server, on this one
/// (`orch restore`): a new pane resuming its session, with `parent`.
pub fn respawn(
    rec: &crate::registry::PaneRecord,
    old: PaneId,
    parent: Option<PaneId>,
    placing: Placing,
    timeout: Option<Duration>,
) -> Result<SpawnReport> {
    let started = Instant::now();
    let plan = lifecycle::resume_plan(
        rec,
        old,
        rec.session_id.as_deref(),
        parent,
        placing,
        None,
        timeout,
        None,
    )?;
    let store = Store::current()?;
    execute::execute(&store, plan, started)
}

/// The pane's side of `orch-spawn`: run the agent a launch file describes
/// (see [`launch`]). Returns only if it could not be started.
pub fn exec_launch(file: &std::path::Path) -> Result<Code> {
    launch::exec(file)
}

/// The pane orch-spawn was called from, if it runs inside tmux.
fn caller() -> Option<PaneId> {
    Server::from_env().and(PaneId::from_env())
}

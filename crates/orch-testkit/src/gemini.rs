//! The real Gemini CLI, offline, in a private world: [`GeminiEnv`].
//!
//! A `GeminiEnv` is an [`AgentWorld`] (a private tmux server, a project dir) with a running
//! [`GeminiMock`], a scratch `HOME` whose `~/.gemini` answers the start-up
//! questions in advance (API-key auth selected, the project folder trusted,
//! no update check, no usage statistics) and a project directory. The CLI is
//! the pinned one of `.ci/agent-versions` (`ORCH_AGENT_VERSION_GEMINI=latest`
//! for the newest), installed once per cache by `.ci/install-agent.sh`.
//!
//! **How orch's hooks reach it.** `orch-spawn gemini` gives them in a
//! system-defaults file (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`), which Gemini CLI
//! loads only when the file and every directory above it are root-owned and
//! not group/world-writable. A world's dir is under `/tmp` (mode 1777), so
//! when the tests run as root the world's orch *state dir* (where spawn puts
//! the file) is moved to a private dir under the build's target dir instead
//! ([`GeminiHooks::PerSpawn`]); otherwise the hooks `orch up` would install go
//! into `~/.gemini/settings.json` ([`GeminiHooks::Global`]).
//!
//! Gemini's environment (mock URL, key, `gemini` on `PATH`) is put in the
//! tmux server's global environment, so `orch-spawn` panes get it.

use std::ops::Deref;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::bins::{bin, bin_dir};
use crate::env::{Options, TestEnv, Tmux};
use crate::mock::{Gemini, GeminiMock};
use crate::world::AgentWorld;

/// The API key the CLI is given (sent as `x-goog-api-key`).
pub const API_KEY: &str = "gemini-e2e-test-key";

/// Screen strings of Gemini CLI 0.61.0 (shared/recipes/gemini/screens.txt).
pub mod screen {
    /// The input box's placeholder: shown when idle (and mid-turn too).
    pub const READY: &str = "Type your message or @path/to/file";
    /// A turn is running.
    pub const BUSY: &str = "esc to cancel";
    /// The tool permission dialog.
    pub const PERMISSION_PROMPT: &str = "Allow execution of";
    /// Folder-trust dialog.
    pub const TRUST_DIALOG: &str = "Do you trust the files in this folder?";
    /// Auth dialog.
    pub const AUTH_DIALOG: &str = "How would you like to authenticate";
}

/// Gemini CLI hook event → `orch-hook` argument (what `orch up` registers).
pub const HOOKS: &[(&str, &str)] = &[
    ("SessionStart", "session_start"),
    ("BeforeAgent", "prompt"),
    ("AfterAgent", "stop"),
    ("Notification", "notify"),
    ("SessionEnd", "session_end"),
];

/// Where orch's hooks come from in a world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiHooks {
    /// spawn's system-defaults file (the state dir is in a secure place).
    PerSpawn,
    /// `~/.gemini/settings.json`, as `orch up` writes them.
    Global,
}

pub struct GeminiEnv {
    pub world: AgentWorld,
    pub mock: GeminiMock,
    /// The installed `gemini` binary.
    pub gemini: PathBuf,
    pub hooks: GeminiHooks,
    /// The relocated state dir's parent, removed after the world ends
    /// (declared after `world`: dropped once its processes are gone).
    _state: Option<tempfile::TempDir>,
}

impl Deref for GeminiEnv {
    type Target = AgentWorld;
    fn deref(&self) -> &AgentWorld {
        &self.world
    }
}

/// Would Gemini CLI load a file in `dir`? Its rule: every directory up to
/// `/` owned by root and not writable by group or others.
pub fn secure_for_gemini(dir: &Path) -> bool {
    dir.ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0))
}

/// The installed CLI, or `None` after saying why (a failure in CI).
pub fn gemini_bin() -> Option<PathBuf> {
    crate::agents::agent_bin("gemini")
}

impl GeminiEnv {
    /// A ready world, or `None` when skipped (no npm, no tmux).
    pub fn new() -> Option<GeminiEnv> {
        GeminiEnv::with(GeminiHooks::PerSpawn)
    }

    /// A world whose hooks come from `want` where that can work here
    /// ([`GeminiHooks::PerSpawn`] needs root), else from `orch up`'s.
    pub fn with(want: GeminiHooks) -> Option<GeminiEnv> {
        crate::world::open(gemini_bin(), |gemini| {
            GeminiEnv::start_with(gemini, "orch-it", want)
        })
    }

    /// A world for the CLI at `gemini` (temp dir named `prefix…`), per-spawn
    /// hooks where they can work.
    pub fn start(gemini: PathBuf, prefix: &'static str) -> Result<GeminiEnv, String> {
        GeminiEnv::start_with(gemini, prefix, GeminiHooks::PerSpawn)
    }

    fn start_with(
        gemini: PathBuf,
        prefix: &'static str,
        want: GeminiHooks,
    ) -> Result<GeminiEnv, String> {
        let mut env = TestEnv::start(&Options {
            prefix,
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        let io = |e: std::io::Error| format!("preparing Gemini's world: {e}");
        let mut state_dir = None;
        let worlds = bin_dir().parent().unwrap().join("gemini-worlds");
        let is_root = nix::unistd::geteuid().is_root();
        if want == GeminiHooks::PerSpawn
            && is_root
            && std::fs::create_dir_all(&worlds).is_ok()
            && secure_for_gemini(&worlds)
        {
            // 0700, root's: Gemini loads spawn's defaults file from here.
            let d = tempfile::Builder::new()
                .prefix("state")
                .tempdir_in(&worlds)
                .map_err(io)?;
            env.state = d.path().join("state");
            state_dir = Some(d);
        }
        let hooks = if state_dir.is_some() {
            GeminiHooks::PerSpawn
        } else {
            GeminiHooks::Global
        };
        // Chunked like the real API: the reply must come from the transcript.
        let mock = GeminiMock::start_with(Gemini::chunked(16));
        let mut world = AgentWorld::new(env, "gemini", &gemini)?;
        let dot = world.home.join(".gemini");
        std::fs::create_dir_all(&dot).map_err(io)?;
        let mut settings = json!({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
            "privacy": {"usageStatisticsEnabled": false},
        });
        if hooks == GeminiHooks::Global {
            settings["hooks"] = orch_up_hooks();
        }
        std::fs::write(dot.join("settings.json"), settings.to_string()).map_err(io)?;
        std::fs::write(
            dot.join("trustedFolders.json"),
            json!({ world.project.display().to_string(): "TRUST_FOLDER" }).to_string(),
        )
        .map_err(io)?;

        let state = world.state.display().to_string();
        world.give(&[
            ("GOOGLE_GEMINI_BASE_URL", &mock.url()),
            ("GEMINI_API_KEY", API_KEY),
            // Moved (see the module doc): the server started with the old one.
            ("ORCH_STATE_DIR", &state),
        ])?;
        Ok(GeminiEnv {
            world,
            mock,
            gemini,
            hooks,
            _state: state_dir,
        })
    }

    /// Wait for the pane's first event of `kind` with `seq > after` (the
    /// mock's request log in the message when it times out).
    pub fn wait_event(&self, pane: &str, kind: &str, after: u64, timeout: Duration) -> Value {
        self.world.wait_event_or(pane, kind, after, timeout, &|| {
            format!("mock requests:\n{}", self.mock.describe())
        })
    }

    /// The live processes of this world's tmux server's panes, wherever
    /// they are now (by the `TMUX` in their environment): the leftovers a
    /// test must not leave.
    pub fn agent_processes(&self) -> Vec<i32> {
        crate::tmux::processes_of_server(&self.server().socket)
    }
}

/// orch's hooks as `orch up` writes them into `~/.gemini/settings.json`
/// (`hooks/gemini/settings.json`).
pub fn orch_up_hooks() -> Value {
    let hook = crate::claude::sh_quote(&bin("orch-hook").display().to_string());
    let mut hooks = serde_json::Map::new();
    for (event, arg) in HOOKS {
        hooks.insert(
            event.to_string(),
            json!([{"hooks": [{"type": "command", "command": format!("{hook} {arg} --harness gemini"), "timeout": 10000}]}]),
        );
    }
    Value::Object(hooks)
}

//! The real pi coding agent (`@mariozechner/pi-coding-agent`, pinned in
//! `.ci/agent-versions`), offline, in a private world: [`PiEnv`].
//!
//! A `PiEnv` is an [`AgentWorld`] (a private tmux server, a project dir) with a running
//! [`ChatMock`] (pi's `openai-completions` API, a custom provider in
//! `models.json`), a scratch pi agent dir (`$HOME/.pi/agent`) whose
//! settings answer everything pi would ask at start-up, and a project dir.
//! pi's environment (`PI_OFFLINE=1`, `pi` first on `PATH`) is put in the
//! tmux server's global environment, so `orch-spawn pi` gets it.

use std::ops::Deref;
use std::path::PathBuf;

use serde_json::json;

use crate::agents::agent_bin;
use crate::mock::ChatMock;
use crate::world::{AgentWorld, expected_version};

/// The model orch is told to use: `<provider>/<model id>` of `models.json`.
pub const MODEL: &str = "mock/m";

/// Screen strings of pi 0.73.
pub mod screen {
    /// The footer's model name, on screen once the TUI is up.
    pub const FOOTER: &str = "(auto)";
    /// A turn is running.
    pub const BUSY: &str = "Working...";
}

pub struct PiEnv {
    pub world: AgentWorld,
    pub mock: ChatMock,
    /// The installed `pi` binary.
    pub pi: PathBuf,
    /// pi's agent dir (`$HOME/.pi/agent`): settings, models, sessions.
    pub agent_dir: PathBuf,
}

impl Deref for PiEnv {
    type Target = AgentWorld;
    fn deref(&self) -> &AgentWorld {
        &self.world
    }
}

impl PiEnv {
    /// A ready world, or `None` when skipped (said on stderr; a failure in CI).
    pub fn new() -> Option<PiEnv> {
        crate::world::open(agent_bin("pi"), PiEnv::start)
    }

    pub fn start(pi: PathBuf) -> Result<PiEnv, String> {
        let mut world = AgentWorld::start("orch-pi", "pi", &pi)?;
        let mock = ChatMock::start();
        let io = |e: std::io::Error| format!("preparing pi's world: {e}");
        let agent_dir = world.home.join(".pi/agent");
        std::fs::create_dir_all(&agent_dir).map_err(io)?;
        let models = json!({"providers": {"mock": {
            "baseUrl": format!("{}/v1", mock.url()),
            "api": "openai-completions",
            "apiKey": "sk-mock-orch-e2e",
            "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
            "models": [{"id": "m", "name": "Mock model", "contextWindow": 128000, "maxTokens": 4096}],
        }}});
        std::fs::write(agent_dir.join("models.json"), models.to_string()).map_err(io)?;
        // With the running version recorded as seen, pi shows no "what's
        // new" screen; no telemetry, no model picker.
        let version = expected_version("pi").unwrap_or_default();
        let settings = json!({
            "defaultProvider": "mock",
            "defaultModel": "m",
            "enableInstallTelemetry": false,
            "lastChangelogVersion": if version.is_empty() { "99.0.0".to_string() } else { version },
        });
        std::fs::write(agent_dir.join("settings.json"), settings.to_string()).map_err(io)?;
        world.give(&[
            ("PI_CODING_AGENT_DIR", &agent_dir.display().to_string()),
            // No fd/rg downloads, no update check.
            ("PI_OFFLINE", "1"),
        ])?;
        Ok(PiEnv {
            world,
            mock,
            pi,
            agent_dir,
        })
    }

    /// pi's session files (`sessions/<cwd>/<id>.jsonl`).
    pub fn session_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(self.agent_dir.join("sessions")) else {
            return out;
        };
        for d in dirs.flatten() {
            if let Ok(files) = std::fs::read_dir(d.path()) {
                out.extend(files.flatten().map(|f| f.path()));
            }
        }
        out
    }
}

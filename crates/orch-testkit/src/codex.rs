//! The real Codex CLI, offline, in a private world: [`CodexEnv`].
//!
//! A `CodexEnv` is an [`AgentWorld`] (a private tmux server, a project dir) with a running
//! [`ResponsesMock`], a private `CODEX_HOME` whose `config.toml` points
//! Codex at the mock (a custom provider: no login, no onboarding) and
//! answers its start-up questions in advance (project trusted, no update
//! check, no analytics), and a project directory. The pinned CLI
//! (`.ci/agent-versions`, row `codex`) is installed on first use by
//! [`crate::agents::agent_bin`].
//!
//! Codex's environment (`CODEX_HOME`, the mock's key, `codex` on `PATH`)
//! goes into the tmux server's global environment, so `orch-spawn codex`
//! panes get it; orch commands built with [`AgentWorld::cmd`] get it too.
//! orch's own per-spawn flags (`--no-daemon`, hooks, paste burst off) are
//! not in the config: spawn must pass them.

use std::ops::Deref;
use std::path::PathBuf;

use crate::agents::agent_bin;
use crate::mock::ResponsesMock;
use crate::world::AgentWorld;

/// The key Codex sends the mock (`Authorization: Bearer …`).
pub const API_KEY: &str = "sk-mock-orch-codex-e2e";

/// Screen strings of Codex 0.171.0.
pub mod screen {
    /// Idle, in the footer.
    pub const READY: &str = "? for shortcuts";
    /// A turn is running.
    pub const BUSY: &str = "esc to interrupt";
    /// The command-approval dialog.
    pub const PERMISSION_PROMPT: &str = "Would you like to run the following command?";
    /// Start-up dialog for hooks without trust entries.
    pub const HOOKS_REVIEW: &str = "Hooks need review";
    /// Start-up dialog for an untrusted git repo.
    pub const TRUST_DIALOG: &str = "Trust this folder?";
}

pub struct CodexEnv {
    pub world: AgentWorld,
    pub mock: ResponsesMock,
    /// The installed `codex` launcher.
    pub codex: PathBuf,
    /// `CODEX_HOME`.
    pub codex_home: PathBuf,
}

impl Deref for CodexEnv {
    type Target = AgentWorld;
    fn deref(&self) -> &AgentWorld {
        &self.world
    }
}

impl CodexEnv {
    /// A ready world, or `None` (after `SKIPPED: …`) without npm or tmux;
    /// in CI a missing CLI fails instead.
    pub fn new() -> Option<CodexEnv> {
        crate::world::open(agent_bin("codex"), |codex| {
            CodexEnv::start(codex, "orch-it")
        })
    }

    /// A world for the CLI at `codex` (temp dir named `prefix…`).
    pub fn start(codex: PathBuf, prefix: &'static str) -> Result<CodexEnv, String> {
        let mut world = AgentWorld::start(prefix, "codex", &codex)?;
        let mock = ResponsesMock::start();
        let io = |e: std::io::Error| format!("preparing Codex's world: {e}");
        let codex_home = world.home.join(".codex");
        std::fs::create_dir_all(&codex_home).map_err(io)?;
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let config = format!(
            "model = \"mock-model\"\n\
             model_provider = \"mock\"\n\
             check_for_update_on_startup = false\n\
             \n\
             [model_providers.mock]\n\
             name = \"Mock Responses API\"\n\
             base_url = {}\n\
             wire_api = \"responses\"\n\
             env_key = \"MOCK_API_KEY\"\n\
             \n\
             [projects.{}]\n\
             trust_level = \"trusted\"\n\
             \n\
             [analytics]\n\
             enabled = false\n",
            q(&format!("{}/v1", mock.url())),
            q(&world.project.display().to_string()),
        );
        std::fs::write(codex_home.join("config.toml"), config).map_err(io)?;
        world.give(&[
            ("CODEX_HOME", &codex_home.display().to_string()),
            ("MOCK_API_KEY", API_KEY),
        ])?;
        Ok(CodexEnv {
            world,
            mock,
            codex,
            codex_home,
        })
    }

    /// `config.toml` as Codex left it (it adds keys of its own, and writes
    /// trust answers given in its dialogs there).
    pub fn config_toml(&self) -> String {
        std::fs::read_to_string(self.codex_home.join("config.toml")).unwrap_or_default()
    }

    /// Pids of the processes running with this world's `CODEX_HOME`: a
    /// Codex (its node launcher, its native binary, an app-server daemon)
    /// that outlived its pane shows here.
    pub fn codex_processes(&self) -> Vec<u32> {
        let needle = format!("CODEX_HOME={}", self.codex_home.display());
        let me = std::process::id();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
            })
            .filter(|pid| {
                // A process the tmux server runs for a pane (a shell) has
                // the variable too; only Codex itself counts.
                std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.contains("codex"))
            })
            .collect()
    }
}

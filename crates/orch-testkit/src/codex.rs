//! The real Codex CLI, offline, in a private world: [`CodexEnv`].
//!
//! A `CodexEnv` is a [`TestEnv`] with a private tmux server, a running
//! [`ResponsesMock`], a private `CODEX_HOME` whose `config.toml` points
//! Codex at the mock (a custom provider: no login, no onboarding) and
//! answers its start-up questions in advance (project trusted, no update
//! check, no analytics), and a project directory. The pinned CLI
//! (`.ci/agent-versions`, row `codex`) is installed on first use by
//! [`crate::agents::agent_bin`].
//!
//! Codex's environment (`CODEX_HOME`, the mock's key, `codex` on `PATH`)
//! goes into the tmux server's global environment, so `orch-spawn codex`
//! panes get it; orch commands built with [`CodexEnv::cmd`] get it too.
//! orch's own per-spawn flags (`--no-daemon`, hooks, paste burst off) are
//! not in the config: spawn must pass them.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Command;

use crate::agents::agent_bin;
use crate::bins::bin_dir;
use crate::env::{Options, TestEnv, Tmux};
use crate::mock::ResponsesMock;

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
    pub env: TestEnv,
    pub mock: ResponsesMock,
    /// The installed `codex` launcher.
    pub codex: PathBuf,
    /// A directory holding only a `codex` symlink, first on `PATH`.
    pub codex_dir: PathBuf,
    /// `CODEX_HOME`.
    pub codex_home: PathBuf,
    /// The agent's working directory (canonical path).
    pub project: PathBuf,
}

impl Deref for CodexEnv {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl CodexEnv {
    /// A ready world, or `None` (after `SKIPPED: …`) without npm or tmux;
    /// in CI a missing CLI fails instead.
    pub fn new() -> Option<CodexEnv> {
        let codex = agent_bin("codex")?;
        if !crate::have_tmux() {
            eprintln!("SKIPPED: real codex test: tmux is not installed");
            return None;
        }
        Some(CodexEnv::start(codex, "orch-it").unwrap_or_else(|e| panic!("{e}")))
    }

    /// A world for the CLI at `codex` (temp dir named `prefix…`).
    pub fn start(codex: PathBuf, prefix: &'static str) -> Result<CodexEnv, String> {
        let env = TestEnv::start(&Options {
            prefix,
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        let mock = ResponsesMock::start();
        let io = |e: std::io::Error| format!("preparing Codex's world: {e}");
        let project = env.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(io)?;
        let project = project.canonicalize().map_err(io)?;
        let codex_dir = env.dir.path().join("codex-bin");
        std::fs::create_dir_all(&codex_dir).map_err(io)?;
        std::os::unix::fs::symlink(&codex, codex_dir.join("codex")).map_err(io)?;
        let codex_home = env.home.join(".codex");
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
            q(&project.display().to_string()),
        );
        std::fs::write(codex_home.join("config.toml"), config).map_err(io)?;
        let ce = CodexEnv {
            env,
            mock,
            codex,
            codex_dir,
            codex_home,
            project,
        };
        for (k, v) in ce.codex_env() {
            ce.try_tmux(&["set-environment", "-g", &k, &v])?;
        }
        Ok(ce)
    }

    /// The environment Codex runs with (besides what [`TestEnv`] sets).
    pub fn codex_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}:{}",
            self.codex_dir.display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        [
            ("PATH", path.as_str()),
            ("CODEX_HOME", &self.codex_home.display().to_string()),
            ("MOCK_API_KEY", API_KEY),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An orch binary run in this world, with Codex's environment too.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = self.env.cmd(name);
        c.envs(self.codex_env());
        c
    }

    /// Run an orch binary with `args` to the end, with Codex's environment.
    pub fn run(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.cmd(name).args(args).output().unwrap()
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

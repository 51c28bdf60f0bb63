//! The real pi coding agent (`@mariozechner/pi-coding-agent`, pinned in
//! `.ci/agent-versions`), offline, in a private world: [`PiEnv`].
//!
//! A `PiEnv` is a [`TestEnv`] with a private tmux server, a running
//! [`ChatMock`] (pi's `openai-completions` API, a custom provider in
//! `models.json`), a scratch pi agent dir (`$HOME/.pi/agent`) whose
//! settings answer everything pi would ask at start-up, and a project dir.
//! pi's environment (`PI_OFFLINE=1`, `pi` first on `PATH`) is put in the
//! tmux server's global environment, so `orch-spawn pi` gets it.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::agents::{agent_bin, pinned_version, version_override};
use crate::bins::bin_dir;
use crate::env::{Options, TestEnv, Tmux};
use crate::mock::ChatMock;

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
    pub env: TestEnv,
    pub mock: ChatMock,
    /// The installed `pi` binary.
    pub pi: PathBuf,
    /// pi's agent dir (`$HOME/.pi/agent`): settings, models, sessions.
    pub agent_dir: PathBuf,
    /// The agent's working directory (canonical path).
    pub project: PathBuf,
    pi_dir: PathBuf,
}

impl Deref for PiEnv {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl PiEnv {
    /// A ready world, or `None` when skipped (said on stderr; a failure in CI).
    pub fn new() -> Option<PiEnv> {
        let pi = agent_bin("pi")?;
        if !crate::have_tmux() {
            return None;
        }
        Some(PiEnv::start(pi).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn start(pi: PathBuf) -> Result<PiEnv, String> {
        let env = TestEnv::start(&Options {
            prefix: "orch-pi",
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        let mock = ChatMock::start();
        let io = |e: std::io::Error| format!("preparing pi's world: {e}");
        let project = env.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(io)?;
        let project = project.canonicalize().map_err(io)?;
        let pi_dir = env.dir.path().join("pi-bin");
        std::fs::create_dir_all(&pi_dir).map_err(io)?;
        std::os::unix::fs::symlink(&pi, pi_dir.join("pi")).map_err(io)?;

        let agent_dir = env.home.join(".pi/agent");
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
        let version = version_override("pi")
            .filter(|v| v != "latest")
            .or_else(|| pinned_version("pi"))
            .unwrap_or_default();
        let settings = json!({
            "defaultProvider": "mock",
            "defaultModel": "m",
            "enableInstallTelemetry": false,
            "lastChangelogVersion": if version.is_empty() { "99.0.0".to_string() } else { version },
        });
        std::fs::write(agent_dir.join("settings.json"), settings.to_string()).map_err(io)?;

        let pe = PiEnv {
            env,
            mock,
            pi,
            agent_dir,
            project,
            pi_dir,
        };
        for (k, v) in pe.pi_env() {
            pe.try_tmux(&["set-environment", "-g", &k, &v])?;
        }
        Ok(pe)
    }

    /// The environment pi runs with (besides what [`TestEnv`] sets).
    pub fn pi_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}:{}",
            self.pi_dir.display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        vec![
            ("PATH".into(), path),
            (
                "PI_CODING_AGENT_DIR".into(),
                self.agent_dir.display().to_string(),
            ),
            // No fd/rg downloads, no update check.
            ("PI_OFFLINE".into(), "1".into()),
        ]
    }

    /// An orch binary run in this world, with pi's environment too.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = self.env.cmd(name);
        c.envs(self.pi_env());
        c
    }

    /// Run an orch binary with `args` to the end, with pi's environment.
    pub fn run(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.cmd(name).args(args).output().unwrap()
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

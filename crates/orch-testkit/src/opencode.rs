//! The real opencode CLI (`opencode-ai`, pinned in `.ci/agent-versions`),
//! offline, in a private world: [`OpencodeEnv`].
//!
//! An `OpencodeEnv` is a [`TestEnv`] with a private tmux server, a running
//! [`ChatMock`] (a custom provider on `@ai-sdk/openai-compatible`, bundled
//! in the binary), a scratch `~/.config/opencode/opencode.json` that points
//! at it (`bash` set to `"ask"`, so a run without bypass asks), and a
//! project dir. The config dir is pre-seeded with what opencode's start-up
//! `npm install @opencode-ai/plugin` would leave (an empty `node_modules`
//! and a lock listing the package): otherwise, offline, opencode waits
//! ~70 s for that install before loading any plugin, orch's included.
//! opencode's environment (no models.dev fetch, no autoupdate, `opencode`
//! first on `PATH`) is put in the tmux server's global environment.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::agents::{agent_bin, pinned_version, version_override};
use crate::bins::bin_dir;
use crate::env::{Options, TestEnv, Tmux};
use crate::mock::ChatMock;

/// The model orch is told to use: `<provider>/<model>` of the config.
pub const MODEL: &str = "mock/m";

/// Screen strings of opencode 1.18.
pub mod screen {
    /// The TUI's footer (idle and busy).
    pub const FOOTER: &str = "ctrl+p commands";
    /// A tool waits for approval.
    pub const PERMISSION: &str = "Permission required";
}

pub struct OpencodeEnv {
    pub env: TestEnv,
    pub mock: ChatMock,
    pub opencode: PathBuf,
    /// `$XDG_CONFIG_HOME/opencode`.
    pub config_dir: PathBuf,
    /// The agent's working directory (canonical path).
    pub project: PathBuf,
    bin_dir: PathBuf,
}

impl Deref for OpencodeEnv {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl OpencodeEnv {
    /// A ready world, or `None` when skipped (said on stderr; a failure in CI).
    pub fn new() -> Option<OpencodeEnv> {
        let bin = agent_bin("opencode")?;
        if !crate::have_tmux() {
            return None;
        }
        Some(OpencodeEnv::start(bin).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn start(opencode: PathBuf) -> Result<OpencodeEnv, String> {
        let env = TestEnv::start(&Options {
            prefix: "orch-oc",
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        let mock = ChatMock::start();
        let io = |e: std::io::Error| format!("preparing opencode's world: {e}");
        let project = env.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(io)?;
        let project = project.canonicalize().map_err(io)?;
        let bin_dir = env.dir.path().join("opencode-bin");
        std::fs::create_dir_all(&bin_dir).map_err(io)?;
        std::os::unix::fs::symlink(&opencode, bin_dir.join("opencode")).map_err(io)?;

        let config_dir = env.home.join(".config/opencode");
        std::fs::create_dir_all(config_dir.join("node_modules/@opencode-ai/plugin")).map_err(io)?;
        let config = json!({
            "provider": {"mock": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Mock",
                "options": {"baseURL": format!("{}/v1", mock.url()), "apiKey": "sk-mock"},
                "models": {"m": {"name": "Mock model", "tool_call": true,
                                 "limit": {"context": 128000, "output": 4096}}},
            }},
            "model": MODEL,
            "small_model": MODEL,
            "autoupdate": false,
            "share": "disabled",
            "permission": {"bash": "ask"},
        });
        std::fs::write(config_dir.join("opencode.json"), config.to_string()).map_err(io)?;
        let version = version_override("opencode")
            .filter(|v| v != "latest")
            .or_else(|| pinned_version("opencode"))
            .unwrap_or_else(|| "*".into());
        let deps = json!({"@opencode-ai/plugin": version});
        std::fs::write(
            config_dir.join("package.json"),
            json!({"dependencies": deps}).to_string(),
        )
        .map_err(io)?;
        std::fs::write(
            config_dir.join("package-lock.json"),
            json!({"lockfileVersion": 3, "packages": {"": {"dependencies": deps}}}).to_string(),
        )
        .map_err(io)?;

        let oe = OpencodeEnv {
            env,
            mock,
            opencode,
            config_dir,
            project,
            bin_dir,
        };
        for (k, v) in oe.opencode_env() {
            oe.try_tmux(&["set-environment", "-g", &k, &v])?;
        }
        Ok(oe)
    }

    /// The environment opencode runs with (besides what [`TestEnv`] sets).
    pub fn opencode_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}:{}",
            self.bin_dir.display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        [
            ("PATH", path.as_str()),
            ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
            // Proves nothing is fetched from npm: a dead port.
            ("npm_config_registry", "http://127.0.0.1:9/"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// An orch binary run in this world, with opencode's environment too.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = self.env.cmd(name);
        c.envs(self.opencode_env());
        c
    }

    /// Run an orch binary with `args` to the end, with opencode's environment.
    pub fn run(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.cmd(name).args(args).output().unwrap()
    }
}

//! The real opencode CLI (`opencode-ai`, pinned in `.ci/agent-versions`),
//! offline, in a private world: [`OpencodeEnv`].
//!
//! An `OpencodeEnv` is an [`AgentWorld`] (a private tmux server, a project dir) with a running
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

use serde_json::json;

use crate::agents::agent_bin;
use crate::mock::ChatMock;
use crate::world::{AgentWorld, expected_version};

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
    pub world: AgentWorld,
    pub mock: ChatMock,
    pub opencode: PathBuf,
    /// `$XDG_CONFIG_HOME/opencode`.
    pub config_dir: PathBuf,
}

impl Deref for OpencodeEnv {
    type Target = AgentWorld;
    fn deref(&self) -> &AgentWorld {
        &self.world
    }
}

impl OpencodeEnv {
    /// A ready world, or `None` when skipped (said on stderr; a failure in CI).
    pub fn new() -> Option<OpencodeEnv> {
        crate::world::open(agent_bin("opencode"), OpencodeEnv::start)
    }

    pub fn start(opencode: PathBuf) -> Result<OpencodeEnv, String> {
        let mut world = AgentWorld::start("orch-oc", "opencode", &opencode)?;
        let mock = ChatMock::start();
        let io = |e: std::io::Error| format!("preparing opencode's world: {e}");
        let config_dir = world.home.join(".config/opencode");
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
        let version = expected_version("opencode").unwrap_or_else(|| "*".into());
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
        world.give(&[
            ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
            // Proves nothing is fetched from npm: a dead port.
            ("npm_config_registry", "http://127.0.0.1:9/"),
        ])?;
        Ok(OpencodeEnv {
            world,
            mock,
            opencode,
            config_dir,
        })
    }
}

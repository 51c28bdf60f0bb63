//! What every real-agent world shares ([`crate::claude::ClaudeEnv`],
//! [`crate::codex::CodexEnv`], [`crate::gemini::GeminiEnv`],
//! [`crate::pi::PiEnv`], [`crate::opencode::OpencodeEnv`]): a [`TestEnv`]
//! with a private tmux server, a project directory, a directory holding only
//! the agent's CLI (first on its `PATH`), and the agent's environment, given
//! to the tmux server (so `orch-spawn`'s panes get it) and to every orch
//! command run with [`AgentWorld::cmd`]. Each world adds its mock and the
//! CLI's own config files.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::bins::bin_dir;
use crate::env::{Options, TestEnv, Tmux};

pub struct AgentWorld {
    pub env: TestEnv,
    /// The agent's working directory (canonical path).
    pub project: PathBuf,
    /// A directory holding only the CLI, under the name harnesses run it by.
    pub cli_dir: PathBuf,
    /// The agent's own variables (besides `PATH` and what [`TestEnv`] sets).
    vars: Vec<(String, String)>,
}

impl Deref for AgentWorld {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

/// A world from `start` for the CLI `cli` found (or installed) by the
/// caller, or `None` when skipped: no CLI (already said), no tmux (said
/// here). Both are failures in CI.
pub(crate) fn open<W>(
    cli: Option<PathBuf>,
    start: impl FnOnce(PathBuf) -> Result<W, String>,
) -> Option<W> {
    let cli = cli?;
    if !crate::have_tmux() {
        return None;
    }
    Some(start(cli).unwrap_or_else(|e| panic!("{e}")))
}

/// The version of agent `name` a world runs: the override, unless it is
/// `latest` (not known before the install), else the pinned one.
pub(crate) fn expected_version(name: &str) -> Option<String> {
    crate::agents::version_override(name)
        .filter(|v| v != "latest")
        .or_else(|| crate::agents::pinned_version(name))
}

impl AgentWorld {
    /// A new world (temp dir named `prefix…`, a private tmux server) for
    /// the CLI at `cli`, run as `name`.
    pub fn start(prefix: &'static str, name: &str, cli: &Path) -> Result<AgentWorld, String> {
        let env = TestEnv::start(&Options {
            prefix,
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        AgentWorld::new(env, name, cli)
    }

    /// `env` (which has a private tmux server) made a world for the CLI at
    /// `cli`, run as `name`.
    pub fn new(env: TestEnv, name: &str, cli: &Path) -> Result<AgentWorld, String> {
        let io = |e: std::io::Error| format!("preparing {name}'s world: {e}");
        let project = env.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(io)?;
        let project = project.canonicalize().map_err(io)?;
        let cli_dir = env.dir.path().join(format!("{name}-bin"));
        std::fs::create_dir_all(&cli_dir).map_err(io)?;
        std::os::unix::fs::symlink(cli, cli_dir.join(name)).map_err(io)?;
        Ok(AgentWorld {
            env,
            project,
            cli_dir,
            vars: Vec::new(),
        })
    }

    /// Give the agent `vars` as well: on the tmux server now, and on every
    /// [`AgentWorld::cmd`].
    pub fn give(&mut self, vars: &[(&str, &str)]) -> Result<(), String> {
        self.vars
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.set_on_server()
    }

    /// The environment the agent runs with (besides what [`TestEnv`]
    /// sets): `PATH` (the CLI, orch's binaries, then the caller's `PATH`)
    /// and the variables given.
    pub fn agent_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}:{}",
            self.cli_dir.display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let mut v = vec![("PATH".to_string(), path)];
        v.extend(self.vars.iter().cloned());
        v
    }

    /// An orch binary run in this world, with the agent's environment too.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = self.env.cmd(name);
        c.envs(self.agent_env());
        c
    }

    /// Run an orch binary with `args` to the end, with the agent's
    /// environment.
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        self.cmd(name).args(args).output().unwrap()
    }

    /// Kill the tmux server and start a new one on the same socket (a
    /// reboot, as far as orch can tell), with the agent's environment set
    /// on it again.
    pub fn restart_tmux(&mut self) {
        self.env.restart_tmux();
        self.set_on_server().unwrap_or_else(|e| panic!("{e}"));
    }

    fn set_on_server(&self) -> Result<(), String> {
        for (k, v) in self.agent_env() {
            self.try_tmux(&["set-environment", "-g", &k, &v])?;
        }
        Ok(())
    }
}

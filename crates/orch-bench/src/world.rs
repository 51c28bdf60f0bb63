//! The benches' worlds: the test kit's private worlds (temp HOME, state,
//! XDG and TMPDIR; a cleared environment; a private tmux server killed with
//! everything its panes started), plus orch's library view of them.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use orch_testkit::{Options, TestEnv, Tmux};

/// A world with a fake tmux identity: hooks and listeners never call tmux
/// when `TMUX` is set.
pub fn fake() -> TestEnv {
    let opts = Options {
        prefix: "orch-bench",
        tmux: Tmux::Fake,
        ..Options::default()
    };
    TestEnv::start(&opts).unwrap_or_else(|e| panic!("{e}"))
}

/// A world with a private tmux server whose first pane runs `first` (a
/// shell when `None`). Fails unless each of `needs` is built next to
/// orch-bench.
pub fn with_tmux(first: Option<&str>, needs: &[&str]) -> Result<TestEnv> {
    orch_testkit::bins::require(needs).map_err(anyhow::Error::msg)?;
    TestEnv::start(&Options {
        prefix: "orch-bench",
        tmux: Tmux::Private,
        session: "bench",
        first_pane: first.map(str::to_string),
    })
    .map_err(anyhow::Error::msg)
}

/// orch's name for the world's tmux server.
pub fn server(env: &TestEnv) -> orch::server::Server {
    let s = env.server();
    orch::server::Server::new(s.socket.clone(), s.pid)
}

/// orch's store for the world's tmux server.
pub fn store(env: &TestEnv) -> orch::store::Store {
    orch::store::Store::open_in(&env.state, &server(env)).unwrap()
}

/// One `orch-hook stop` as the agent runs it, as if inside `pane`: spawn,
/// the payload on stdin, exit; its wall time.
pub fn time_hook(env: &TestEnv, hook: &Path, pane: &str, payload: &[u8]) -> Result<Duration> {
    let start = Instant::now();
    let mut child = env
        .command(hook)
        .arg("stop")
        .env("TMUX_PANE", pane)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot run orch-hook")?;
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(payload);
    drop(stdin);
    child.wait()?;
    Ok(start.elapsed())
}

/// The same process doing nothing: `orch-hook` outside tmux returns before
/// reading its input. Separates the OS's process cost from orch's.
pub fn time_baseline(env: &TestEnv, hook: &Path) -> Result<Duration> {
    let start = Instant::now();
    env.command(hook).arg("stop").env_remove("TMUX").status()?;
    Ok(start.elapsed())
}

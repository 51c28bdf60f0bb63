//! What the benchmarks share: locating binaries, a private world, stats.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.parent().unwrap().join(name)
}

/// A temp state dir plus a fake tmux server identity (hooks and listeners
/// never call tmux when `TMUX` is set).
pub struct World {
    pub dir: tempfile::TempDir,
    pub tmux_env: String,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("orch-bench")
            .tempdir()
            .unwrap();
        let tmux_env = format!(
            "{},{},0",
            dir.path().join("bench.sock").display(),
            std::process::id()
        );
        World { dir, tmux_env }
    }
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    pub fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("ORCH_STATE_DIR", self.state())
            .env("TMUX", &self.tmux_env)
            .env_remove("TMUX_PANE");
        c
    }
    pub fn server(&self) -> orch::server::Server {
        orch::server::Server::parse_tmux_env(&self.tmux_env).unwrap()
    }
    pub fn store(&self) -> orch::store::Store {
        orch::store::Store::open_in(&self.state(), &self.server()).unwrap()
    }
}

pub struct Stats {
    pub sorted: Vec<Duration>,
}

impl Stats {
    pub fn new(mut v: Vec<Duration>) -> Stats {
        v.sort();
        Stats { sorted: v }
    }
    pub fn pct(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
        self.sorted[i]
    }
    pub fn line(&self) -> String {
        format!(
            "n={} median={} p90={} p99={} max={}",
            self.sorted.len(),
            ms(self.pct(50.0)),
            ms(self.pct(90.0)),
            ms(self.pct(99.0)),
            ms(*self.sorted.last().unwrap_or(&Duration::ZERO))
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}

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

/// A private tmux server with its own state dir, config dir and HOME, and a
/// cleared environment for everything run in it; killed on drop.
pub struct TmuxWorld {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub pid: u32,
    path: String,
}

impl TmuxWorld {
    /// Start the server; its first pane runs `first` (a shell when `None`).
    /// Fails unless each of `needs` is built next to orch-bench.
    pub fn start(first: Option<&str>, needs: &[&str]) -> anyhow::Result<TmuxWorld> {
        let exe = std::env::current_exe()?;
        let bin_dir = exe.parent().unwrap().to_path_buf();
        for b in needs {
            anyhow::ensure!(
                bin_dir.join(b).is_file(),
                "{b} is not next to orch-bench in {}: run `cargo build --release` first",
                bin_dir.display()
            );
        }
        let dir = tempfile::Builder::new().prefix("orch-bench").tempdir()?;
        let socket = dir.path().join("tmux.sock");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let mut w = TmuxWorld {
            dir,
            socket,
            pid: 0,
            path,
        };
        let mut args = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "bench",
            "-x",
            "200",
            "-y",
            "50",
        ];
        args.extend(first);
        w.tmux(&args)?;
        w.pid = w
            .tmux(&["display-message", "-p", "#{pid}"])?
            .trim()
            .parse()?;
        Ok(w)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `TMUX` as tmux sets it in this server's panes.
    pub fn tmux_env(&self) -> String {
        format!("{},{},0", self.socket.display(), self.pid)
    }

    pub fn server(&self) -> orch::server::Server {
        orch::server::Server {
            socket: self.socket.clone(),
            pid: self.pid,
        }
    }

    /// `program` with this world's private environment (and `TMUX` aimed at
    /// its server once it runs). tmux clients get it too: tmux gives new
    /// panes the environment of the client that asked for them.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", &self.path)
            .env("HOME", d)
            .env("ORCH_STATE_DIR", d.join("state"))
            .env("ORCH_CONFIG_DIR", d.join("config"))
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .stdin(std::process::Stdio::null());
        if self.pid != 0 {
            c.env("TMUX", self.tmux_env())
                .env("ORCH_TMUX_SOCKET", &self.socket);
        }
        c
    }

    pub fn tmux(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .cmd("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for TmuxWorld {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

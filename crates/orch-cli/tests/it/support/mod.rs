//! Test support: every test gets a private world.
//!
//! [`TestEnv`] gives a test its own temp dir holding `HOME`, the orch state
//! and config dirs and `CLAUDE_CONFIG_DIR`, and (with [`TestEnv::with_tmux`])
//! a private tmux server on a socket inside that dir, killed on drop.
//! Commands built by [`TestEnv::cmd`] start from a cleared environment, so
//! nothing from the developer's shell (a real `TMUX`, a real home) leaks in.

#![allow(dead_code)]

pub mod claude;
pub mod mock_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use serde_json::Value;

/// Where cargo put the binaries under test.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_orch"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// PATH for everything a test runs: the binaries under test first.
pub fn test_path() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    )
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Is tmux installed? In CI (`CI` set) its absence is a failure, not a skip.
pub fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required in CI: apt-get install -y tmux"
        );
        eprintln!("SKIPPED: tmux is not installed; this test needs it (apt-get install tmux)");
    }
    ok
}

pub struct TmuxServer {
    pub socket: PathBuf,
    pub pid: u32,
}

impl TmuxServer {
    /// `TMUX` as tmux sets it inside a pane of this server.
    pub fn tmux_env(&self) -> String {
        format!("{},{},0", self.socket.display(), self.pid)
    }
    /// The state-dir key orch uses for this server.
    pub fn key(&self) -> String {
        format!(
            "{}-{}",
            self.socket.file_name().unwrap().to_string_lossy(),
            self.pid
        )
    }
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    pub claude_config: PathBuf,
    pub tmux: Option<TmuxServer>,
}

impl TestEnv {
    /// A private HOME/state/config, no tmux.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("orch-it")
            .tempdir()
            .unwrap();
        let home = dir.path().join("home");
        let state = dir.path().join("state");
        let config = dir.path().join("config");
        let claude_config = home.join(".claude");
        std::fs::create_dir_all(&home).unwrap();
        TestEnv {
            dir,
            home,
            state,
            config,
            claude_config,
            tmux: None,
        }
    }

    /// A private world with its own tmux server, or `None` (after saying so
    /// loudly) when tmux is not installed.
    pub fn with_tmux() -> Option<TestEnv> {
        if !have_tmux() {
            return None;
        }
        let mut env = TestEnv::new();
        let socket = env.dir.path().join("tmux.sock");
        let mut c = Command::new("tmux");
        env.apply_env(&mut c);
        let st = c
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "cannot start a private tmux server");
        let pid = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["display-message", "-p", "#{pid}"])
            .output()
            .unwrap();
        let pid = String::from_utf8_lossy(&pid.stdout).trim().parse().unwrap();
        env.tmux = Some(TmuxServer { socket, pid });
        // Keep panes whose process exited out of the way of tests that
        // check for "gone": default tmux behaviour (pane closes) is used.
        Some(env)
    }

    pub fn server(&self) -> &TmuxServer {
        self.tmux.as_ref().expect("this TestEnv has no tmux server")
    }

    /// orch's store for this env's tmux server (to set up state the way
    /// orch-spawn would, or read it back).
    pub fn store(&self) -> orch::store::Store {
        let s = self.server();
        let server = orch::server::Server {
            socket: s.socket.clone(),
            pid: s.pid,
        };
        orch::store::Store::open_in(&self.state, &server).unwrap()
    }

    /// The orch state dir of this env's tmux server.
    pub fn server_state(&self) -> PathBuf {
        self.state.join("servers").join(self.server().key())
    }

    fn apply_env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", test_path())
            .env("HOME", &self.home)
            .env("ORCH_STATE_DIR", &self.state)
            .env("ORCH_CONFIG_DIR", &self.config)
            .env("CLAUDE_CONFIG_DIR", &self.claude_config)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8");
        if let Ok(v) = std::env::var("CI") {
            c.env("CI", v);
        }
        if let Some(t) = &self.tmux {
            c.env("TMUX", t.tmux_env())
                .env("ORCH_TMUX_SOCKET", &t.socket);
        }
    }

    /// Any program with this env.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        self.apply_env(&mut c);
        c.stdin(Stdio::null());
        c
    }

    /// An orch binary with this env (cleared environment, private dirs,
    /// `TMUX` pointing at the private server but no `TMUX_PANE`).
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(bin(name));
        self.apply_env(&mut c);
        c.stdin(Stdio::null());
        c
    }

    /// Like [`TestEnv::cmd`] but as if run from inside `pane`.
    pub fn cmd_in(&self, name: &str, pane: &str) -> Command {
        let mut c = self.cmd(name);
        c.env("TMUX_PANE", pane);
        c
    }

    /// Run tmux against the private server; panics on failure.
    pub fn tmux(&self, args: &[&str]) -> String {
        // The client's environment leaks into new panes: keep it private.
        let out = self
            .command("tmux")
            .arg("-S")
            .arg(&self.server().socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Open a new window running `shell_cmd` (through `sh -c`); its pane id.
    pub fn new_pane(&self, shell_cmd: &str) -> String {
        self.tmux(&["new-window", "-d", "-P", "-F", "#{pane_id}", shell_cmd])
            .trim()
            .to_string()
    }

    /// The pane's screen as text.
    pub fn capture(&self, pane: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", pane])
    }

    /// Wait until `pane`'s screen contains `needle`.
    pub fn wait_for_screen(&self, pane: &str, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.capture(pane);
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {needle:?} in pane {pane}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// All events of `pane` in its log (as JSON values).
    pub fn events(&self, pane: &str) -> Vec<Value> {
        let n = pane.trim_start_matches('%');
        let p = self
            .server_state()
            .join("events")
            .join(format!("{n}.jsonl"));
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The registry record of `pane`.
    pub fn registry(&self, pane: &str) -> Option<Value> {
        let n = pane.trim_start_matches('%');
        let p = self.server_state().join("panes").join(format!("{n}.json"));
        serde_json::from_slice(&std::fs::read(p).ok()?).ok()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let Some(t) = &self.tmux else { return };
        // Every pane is its own session led by the pane's first process;
        // note them before the server goes, so we can wait for everything
        // the panes started (agents flushing transcripts, a last
        // session_end hook) to finish before the temp dir is removed —
        // otherwise they write into it after it is gone and recreate it.
        let sessions: Vec<i32> = Command::new("tmux")
            .arg("-S")
            .arg(&t.socket)
            .args(["list-panes", "-a", "-F", "#{pane_pid}"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&t.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && any_process_in_sessions(&sessions) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Is any live (non-zombie) process a member of one of these sessions?
fn any_process_in_sessions(sessions: &[i32]) -> bool {
    if sessions.is_empty() {
        return false;
    }
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // Fields after the parenthesised command: state ppid pgrp session.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            return false;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.len() > 3 && f[0] != "Z" && f[3].parse::<i32>().is_ok_and(|sid| sessions.contains(&sid))
    })
}

/// stdout of a finished command, asserting nothing about its status.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse every stdout line as JSON.
pub fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// Poll `f` until it returns Some, or panic after `timeout`. For waiting on
/// side effects in tests (never for measuring speed).
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A pane id from its text form (`%12`).
pub fn pane_id(p: &str) -> orch::pane::PaneId {
    p.parse().unwrap()
}

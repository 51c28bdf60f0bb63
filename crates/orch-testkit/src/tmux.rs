//! A world's tmux server: its identity, and ending it without leaving any
//! process behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Is tmux installed? In CI (`CI` set) its absence is a failure, not a skip.
pub fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::skip::skipped(
            "tmux is not installed (apt-get install tmux)",
            "tmux is required in CI",
        );
    }
    ok
}

/// The tmux server a world's commands talk to: a private one the world
/// started (killed when the world ends), or a fake identity (no server:
/// hooks never call tmux when `TMUX` is set; listeners ask it whether
/// their targets live, and on a fake server that fails and is ignored).
#[derive(Debug)]
pub struct TmuxServer {
    pub socket: PathBuf,
    pub pid: u32,
    /// Did the world start this server (and so must end it)?
    pub(crate) owned: bool,
}

impl TmuxServer {
    /// `TMUX` as tmux sets it inside a pane of this server.
    pub fn tmux_env(&self) -> String {
        format!("{},{},0", self.socket.display(), self.pid)
    }

    /// The state-dir key orch uses for this server (`docs/protocol.md`,
    /// "Which tmux server"): `<socket name>-<pid>-<instance>`, computed here
    /// from the documented rule, not by orch's code.
    pub fn key(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let name = self.socket.file_name().unwrap().to_string_lossy();
        match std::fs::metadata(&self.socket) {
            Ok(m) => {
                let text = format!("{}.{}.{}", m.ino(), m.mtime(), m.mtime_nsec());
                let mut h: u64 = 0xcbf29ce484222325;
                for b in text.bytes() {
                    h ^= b as u64;
                    h = h.wrapping_mul(0x100000001b3);
                }
                format!("{name}-{}-{:08x}", self.pid, (h ^ (h >> 32)) as u32)
            }
            Err(_) => format!("{name}-{}", self.pid),
        }
    }
}

/// How long the processes the panes started get to finish after the
/// server is killed, before they are killed too.
const GRACE: Duration = Duration::from_secs(5);

/// Kill the server on `socket`, then wait for every process its panes
/// started — agents flushing transcripts, a last `session_end` hook — so
/// that none writes into the world's dir after it is removed (recreating
/// it). What is still running after [`GRACE`] (an agent that ignores
/// SIGHUP/SIGTERM, as Gemini CLI's relaunched child does) is killed.
pub(crate) fn shut_down(socket: &Path) {
    // Every pane is its own session led by the pane's first process: note
    // them before the server goes.
    let sessions: Vec<i32> = Command::new("tmux")
        .arg("-S")
        .arg(socket)
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
        .arg(socket)
        .arg("kill-server")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !wait_gone(&sessions, GRACE) {
        for pid in processes_in_sessions(&sessions) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        wait_gone(&sessions, Duration::from_secs(2));
    }
    // Panes closed earlier in the test (kill-pane, an exit) are not listed
    // above, but what they started may still run (Gemini CLI's relaunched
    // child survives its pane): found by the server in their environment.
    let strays = processes_of_server(socket);
    if !strays.is_empty() {
        for &pid in &strays {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !processes_of_server(socket).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The live processes started in a pane of the server on `socket`: their
/// environment's `TMUX` names it (`<socket>,<pid>,<session>`).
pub fn processes_of_server(socket: &Path) -> Vec<i32> {
    let want = format!("TMUX={},", socket.display());
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            if pid == me {
                return None;
            }
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let state = stat[stat.rfind(')')? + 2..].chars().next()?;
            if state == 'Z' || state == 'X' {
                return None;
            }
            let env = std::fs::read(e.path().join("environ")).ok()?;
            env.split(|&b| b == 0)
                .any(|kv| kv.starts_with(want.as_bytes()))
                .then_some(pid)
        })
        .collect()
}

/// Wait until no live process is in `sessions`; false on timeout.
fn wait_gone(sessions: &[i32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if processes_in_sessions(sessions).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live (non-zombie) processes that are members of these sessions.
pub fn processes_in_sessions(sessions: &[i32]) -> Vec<i32> {
    if sessions.is_empty() {
        return Vec::new();
    }
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // Fields after the parenthesised command: state ppid pgrp session.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let sid: i32 = f.get(3)?.parse().ok()?;
            (f[0] != "Z" && f[0] != "X" && sessions.contains(&sid)).then_some(pid)
        })
        .collect()
}

//! An agent's processes, beyond its pane: finding them and ending them.
//!
//! tmux starts each pane's command as the leader of a new session (and
//! process group); orch's trampoline `exec`s the agent, so the agent's pid
//! is the pane's pid and the session's id. Agents start helpers in it, and
//! some outlive the pane: Gemini CLI re-launches itself as a child node
//! process that survives `kill-pane` and even `tmux kill-server` (it is not
//! killed by the SIGHUP of its terminal closing). So an agent is its
//! *session*: every live process whose session id is the pane's first pid,
//! plus that process's descendants (which could have left the session).
//!
//! A pid can be reused once its process is gone; each process found is
//! remembered with its start time, and a process is only signalled while
//! it is the same one. Processes whose environment names a different tmux
//! pane are never counted (a reused session id).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use crate::pane::PaneId;

/// One process, by pid and start time (clock ticks since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proc {
    pub pid: u32,
    start: u64,
}

/// What `/proc/<pid>/stat` says that matters here.
struct Stat {
    state: char,
    ppid: u32,
    sid: u32,
    start: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command is in parentheses and may hold spaces or ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(3) ppid(4) pgrp(5) session(6) … starttime(22).
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

fn live(s: &Stat) -> bool {
    s.state != 'Z' && s.state != 'X'
}

/// Which processes count as the pane's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Any in the session, except those whose environment names another
    /// pane: the leader was just read from tmux.
    Session,
    /// Only those whose environment names this pane: the leader's pid
    /// comes from a record and may have been reused since.
    Strict,
}

/// Does the process's environment rule it out as `pane`'s?
fn ruled_out(pid: u32, pane: Option<PaneId>, how: Match) -> bool {
    let Some(pane) = pane else { return false };
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let want = format!("TMUX_PANE={pane}");
    let named = env
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find(|kv| kv.starts_with("TMUX_PANE="));
    match (how, named) {
        (_, Some(kv)) => kv != want,
        (Match::Session, None) => false,
        (Match::Strict, None) => true,
    }
}

fn all_pids() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The live processes of the agent whose pane's first process was `leader`
/// (see the module doc), `pane` being its pane.
pub fn of_agent(leader: u32, pane: Option<PaneId>, how: Match) -> Vec<Proc> {
    let stats: Vec<(u32, Stat)> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, stat(p)?)))
        .filter(|(_, s)| live(s))
        .collect();
    let mut found: HashSet<u32> = stats
        .iter()
        .filter(|(p, s)| s.sid == leader || *p == leader)
        .map(|(p, _)| *p)
        .collect();
    // Descendants that left the session (setsid) are still the agent's.
    loop {
        let before = found.len();
        for (p, s) in &stats {
            if found.contains(&s.ppid) {
                found.insert(*p);
            }
        }
        if found.len() == before {
            break;
        }
    }
    // Never orch itself (an agent stopping its own pane).
    let me = std::process::id();
    stats
        .iter()
        .filter(|(p, _)| found.contains(p) && *p != me && !ruled_out(*p, pane, how))
        .map(|(p, s)| Proc {
            pid: *p,
            start: s.start,
        })
        .collect()
}

/// Those of `procs` still running (same pid, same start time).
pub fn still_running(procs: &[Proc]) -> Vec<Proc> {
    procs
        .iter()
        .copied()
        .filter(|p| stat(p.pid).is_some_and(|s| live(&s) && s.start == p.start))
        .collect()
}

/// How a set of leftover processes was ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ended {
    /// Sent SIGTERM.
    pub terminated: Vec<u32>,
    /// Still running after the grace period: sent SIGKILL.
    pub killed: Vec<u32>,
    /// Still there after SIGKILL (should never happen; said, not hidden).
    pub survivors: Vec<u32>,
}

impl Ended {
    pub fn is_empty(&self) -> bool {
        self.terminated.is_empty() && self.killed.is_empty() && self.survivors.is_empty()
    }
}

fn signal_all(procs: &[Proc], sig: Signal) -> Vec<u32> {
    still_running(procs)
        .into_iter()
        .inspect(|p| {
            let _ = kill(Pid::from_raw(p.pid as i32), sig);
        })
        .map(|p| p.pid)
        .collect()
}

/// Wait until none of `procs` runs, at most until `deadline`: whether they
/// all ended.
fn wait_ended(procs: &[Proc], deadline: Instant) -> bool {
    loop {
        if still_running(procs).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // A process ending raises nothing orch can wait on (they are not
        // its children): look again soon.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// End `procs`: SIGTERM to those still running, then SIGKILL to any left
/// after `grace`.
pub fn end(procs: &[Proc], grace: Duration) -> Ended {
    let mut out = Ended {
        terminated: signal_all(procs, Signal::SIGTERM),
        ..Ended::default()
    };
    if out.terminated.is_empty() || wait_ended(procs, Instant::now() + grace) {
        return out;
    }
    out.killed = signal_all(procs, Signal::SIGKILL);
    wait_ended(procs, Instant::now() + Duration::from_secs(2));
    out.survivors = still_running(procs).iter().map(|p| p.pid).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A process that ignores SIGTERM (as Gemini CLI's relaunched child
    /// does), its own session leader like a pane's first process.
    #[test]
    fn a_session_that_ignores_sigterm_is_killed_after_the_grace() {
        let mut child = Command::new("setsid")
            .args(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300; wait"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let leader = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut procs = of_agent(leader, None, Match::Session);
        while procs.len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            procs = of_agent(leader, None, Match::Session);
        }
        assert!(procs.len() >= 3, "sh and two sleeps: {procs:?}");
        let ended = end(&procs, Duration::from_millis(300));
        assert!(!ended.terminated.is_empty(), "{ended:?}");
        assert!(ended.killed.contains(&leader), "sh ignores TERM: {ended:?}");
        assert!(ended.survivors.is_empty(), "{ended:?}");
        let _ = child.wait();
        assert!(still_running(&procs).is_empty());
        assert!(of_agent(leader, None, Match::Session).is_empty());
    }

    #[test]
    fn nothing_to_end_is_nothing() {
        assert!(end(&[], Duration::from_millis(10)).is_empty());
    }
}

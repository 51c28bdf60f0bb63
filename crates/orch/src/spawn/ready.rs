//! Waiting until a freshly started agent can take a prompt.
//!
//! Ready means the agent's own `session_start` event, read from its log with
//! a [`LogCursor`] and woken by inotify ([`Waiter`]). While waiting, spawn
//! also looks at the pane, at growing intervals up to every 200 ms (one tmux
//! call each; the wait has a deadline), for what no hook reports: the
//! process dying and start-up dialogs. Harnesses without hooks are declared
//! ready when their screen, volatile parts stripped, has stopped changing
//! for [`QUIET`], harnesses that fire nothing before the first prompt
//! (codex) when their idle screen shows; that state is inferred and
//! reported as such. A harness whose start event comes before it can take
//! input (opencode loads plugins before its TUI draws; Gemini redraws after
//! it) names a `ready_screen`, awaited after the event.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::place::{self, Status};
use crate::event::Kind;
use crate::harness::{self, Harness, Readiness, dialogs};
use crate::pane::PaneId;
use crate::screen;
use crate::store::{LogCursor, Store};
use crate::tmux::Tmux;
use crate::watch::Waiter;

/// How long a hookless harness's screen must stay unchanged to count as idle.
pub const QUIET: Duration = Duration::from_millis(1500);
/// How long a screen showing the harness's idle marks must stay unchanged
/// ([`Readiness::Screen`]): the marks say it is up, the wait lets the rest
/// of the first frame land.
pub const QUIET_MARKED: Duration = Duration::from_millis(300);
/// How long a harness ready by [`Readiness::Screen`] may take, once its
/// screen is, to show the session id its process holds.
pub const SESSION_WAIT: Duration = Duration::from_secs(5);
const FIRST_LOOK: Duration = Duration::from_millis(20);
/// The longest spawn waits, after the start event, for the input box.
const INPUT_DRAWN_WAIT: Duration = Duration::from_secs(10);
const MAX_LOOK_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ready {
        session_id: Option<String>,
        /// Read off the screen rather than from the agent's own event.
        inferred: bool,
    },
    Blocked {
        kind: &'static str,
        excerpt: String,
        fix: String,
    },
    Exited {
        status: Option<i32>,
        excerpt: String,
    },
    Timeout {
        excerpt: String,
    },
}

pub struct Watch<'a> {
    pub store: &'a Store,
    pub tmux: &'a Tmux,
    pub pane: PaneId,
    pub harness: &'static Harness,
    pub readiness: Readiness,
    pub cwd: &'a str,
}

impl Watch<'_> {
    fn blocked(&self, d: &dialogs::Dialog, screen: &str) -> Outcome {
        Outcome::Blocked {
            kind: d.kind,
            excerpt: screen::tail(screen, 12),
            fix: d.fix_for(&self.pane.to_string(), self.cwd),
        }
    }

    /// `status` is None when tmux did not learn it (tmux 3.3 sometimes
    /// marks a pane dead on the pty closing and never records the status).
    fn exited(&self, status: Option<i32>, fallback: &str) -> Outcome {
        let words = place::last_words(self.tmux, self.pane);
        Outcome::Exited {
            status,
            excerpt: if words.is_empty() {
                screen::tail(fallback, 15)
            } else {
                words
            },
        }
    }

    /// After `session_start`: wait until the screen shows `rs.marker` and
    /// has been still for `rs.quiet_ms` (see [`crate::harness::ReadyScreen`]).
    /// `Some` for another outcome met on the way (a dialog, a death); at the
    /// deadline the agent counts as ready (its event said so).
    fn settle(&self, rs: crate::harness::ReadyScreen, deadline: Instant) -> Option<Outcome> {
        let quiet = Duration::from_millis(rs.quiet_ms);
        let mut stable: Option<(String, Instant)> = None;
        // A redraw raises no event: look every few tens of ms.
        while Instant::now() < deadline {
            let (status, scr) = place::look(self.tmux, self.pane);
            match status {
                Status::Gone => {
                    return Some(Outcome::Exited {
                        status: None,
                        excerpt: String::new(),
                    });
                }
                Status::Dead(st) => return Some(self.exited(st, &scr)),
                Status::Alive => {}
            }
            if let Some(d) = dialogs::detect(self.harness.name, &scr) {
                return Some(self.blocked(d, &scr));
            }
            let now = Instant::now();
            let norm = screen::strip_volatile(&scr);
            match &stable {
                Some((prev, since)) if *prev == norm => {
                    if scr.contains(rs.marker) && now.duration_since(*since) >= quiet {
                        return None;
                    }
                }
                _ => stable = Some((norm, now)),
            }
            std::thread::sleep(Duration::from_millis(40));
        }
        None
    }

    /// After the start event: wait until the harness has drawn its idle
    /// input box ([`Harness::idle_footers`]; Claude Code fires SessionStart
    /// before it, and a paste sent then can be lost), a dialog shows, or the
    /// pane dies — at most [`INPUT_DRAWN_WAIT`] (a harness that rewords its
    /// footer must not make every spawn time out). No event marks a redraw,
    /// so this polls. Returns the last look.
    fn input_drawn(&self, deadline: Instant) -> (Status, String) {
        let until = deadline.min(Instant::now() + INPUT_DRAWN_WAIT);
        let markers = self.harness.idle_footers();
        loop {
            let (status, scr) = place::look(self.tmux, self.pane);
            let drawn = markers.is_empty() || markers.iter().any(|m| scr.contains(m));
            if drawn
                || status != Status::Alive
                || dialogs::detect(self.harness.name, &scr).is_some()
                || Instant::now() >= until
            {
                return (status, scr);
            }
            std::thread::sleep(FIRST_LOOK);
        }
    }

    /// Wait until ready, blocked, exited, or `deadline`.
    pub fn wait(&self, deadline: Instant) -> Result<Outcome> {
        // Arm the watch before the first read: an event landing in between
        // either is read by the first poll or wakes the wait.
        let waiter = Waiter::new(&self.store.layout().events_dir());
        let mut cursor = LogCursor::new(self.pane, 0);
        let mut interval = FIRST_LOOK;
        let mut next_look = Instant::now() + interval;
        let mut last_screen = String::new();
        let mut stable: Option<(String, Instant)> = None;
        let mut screen_ready: Option<Instant> = None;
        loop {
            let events = cursor
                .poll(self.store)
                .with_context(|| format!("cannot read the event log of {}", self.pane))?;
            for ev in events {
                match ev.kind {
                    Some(Kind::SessionStart) => {
                        // The hook appends the event, then updates the
                        // registry, under the pane lock: taking the lock
                        // once means whoever reads the registry after spawn
                        // returns sees the session started.
                        drop(self.store.lock_pane(self.pane)?);
                        // A dialog shown after the session started blocks it
                        // just the same.
                        let (status, scr) = self.input_drawn(deadline);
                        if let Some(d) = dialogs::detect(self.harness.name, &scr) {
                            return Ok(self.blocked(d, &scr));
                        }
                        if let Status::Dead(st) = status {
                            return Ok(self.exited(st, &scr));
                        }
                        if let Some(rs) = self.harness.ready_screen
                            && let Some(other) = self.settle(rs, deadline)
                        {
                            return Ok(other);
                        }
                        return Ok(Outcome::Ready {
                            session_id: ev.session_id,
                            inferred: false,
                        });
                    }
                    Some(Kind::SessionEnd) => {
                        let (status, scr) = place::look(self.tmux, self.pane);
                        let st = match status {
                            Status::Dead(st) => st,
                            _ => None,
                        };
                        return Ok(self.exited(st, &scr));
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= next_look {
                let (status, scr) = place::look(self.tmux, self.pane);
                match status {
                    Status::Gone => {
                        return Ok(Outcome::Exited {
                            status: None,
                            excerpt: screen::tail(&last_screen, 15),
                        });
                    }
                    Status::Dead(st) => return Ok(self.exited(st, &scr)),
                    Status::Alive => {}
                }
                if let Some(d) = dialogs::detect(self.harness.name, &scr) {
                    return Ok(self.blocked(d, &scr));
                }
                let quiet_for = match self.readiness {
                    Readiness::SessionStart => None,
                    Readiness::SessionStartOrQuiet => Some(QUIET),
                    Readiness::Screen(marks) if marks.iter().all(|m| scr.contains(m)) => {
                        Some(QUIET_MARKED)
                    }
                    Readiness::Screen(_) => {
                        stable = None;
                        None
                    }
                };
                if let Some(quiet) = quiet_for {
                    let norm = screen::strip_volatile(&scr);
                    match &stable {
                        Some((prev, since)) if *prev == norm => {
                            if !norm.is_empty() && now.duration_since(*since) >= quiet {
                                let session_id = match self.readiness {
                                    Readiness::Screen(_) => harness::session_of_process(
                                        self.harness,
                                        &pane_processes(self.tmux, self.pane),
                                    ),
                                    _ => None,
                                };
                                // Codex opens its thread ~1 s after drawing
                                // the idle screen: ready once it has (a
                                // prompt typed before would wait on it), or
                                // after SESSION_WAIT without an id.
                                let waited = *screen_ready.get_or_insert(now);
                                if session_id.is_some()
                                    || !matches!(self.readiness, Readiness::Screen(_))
                                    || now.duration_since(waited) >= SESSION_WAIT
                                {
                                    return Ok(Outcome::Ready {
                                        session_id,
                                        inferred: true,
                                    });
                                }
                            }
                        }
                        _ => stable = Some((norm, now)),
                    }
                }
                last_screen = scr;
                interval = (interval * 2).min(MAX_LOOK_INTERVAL);
                next_look = now + interval;
            }
            if now >= deadline {
                return Ok(Outcome::Timeout {
                    excerpt: screen::tail(&last_screen, 12),
                });
            }
            waiter.wait(Some(next_look.min(deadline)));
        }
    }
}

/// The pane's process and all its descendants (Linux `/proc`; empty when
/// tmux or `/proc` cannot say).
fn pane_processes(tmux: &Tmux, pane: PaneId) -> Vec<u32> {
    let target = pane.to_string();
    let root = tmux
        .run([
            "display-message",
            "-p",
            "-t",
            target.as_str(),
            "#{pane_pid}",
        ])
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let mut out: Vec<u32> = root.into_iter().collect();
    let mut i = 0;
    while i < out.len() && out.len() < 256 {
        let pid = out[i];
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten();
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        i += 1;
    }
    out
}

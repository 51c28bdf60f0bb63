//! Waiting until a freshly started agent can take a prompt.
//!
//! Ready means the agent's own `session_start` event, read from its log with
//! a [`LogCursor`] and woken by inotify ([`Waiter`]). While waiting, spawn
//! also looks at the pane, at growing intervals up to every 200 ms (one tmux
//! call each; the wait has a deadline), for what no hook reports: the
//! process dying and start-up dialogs. Harnesses without hooks are declared
//! ready when their screen, volatile parts stripped, has stopped changing
//! for [`QUIET`]; that state is inferred and reported as such.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::place::{self, Status};
use crate::event::Kind;
use crate::harness::{Harness, Readiness, dialogs};
use crate::pane::PaneId;
use crate::screen;
use crate::store::{LogCursor, Store};
use crate::tmux::Tmux;
use crate::watch::Waiter;

/// How long a hookless harness's screen must stay unchanged to count as idle.
pub const QUIET: Duration = Duration::from_millis(1500);
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

    /// After the start event: wait until the harness has drawn its idle
    /// input box ([`Harness::ready_screen`]; Claude Code fires SessionStart
    /// before it, and a paste sent then can be lost), a dialog shows, or the
    /// pane dies — at most [`INPUT_DRAWN_WAIT`] (a harness that rewords its
    /// footer must not make every spawn time out). No event marks a redraw,
    /// so this polls. Returns the last look.
    fn input_drawn(&self, deadline: Instant) -> (Status, String) {
        let until = deadline.min(Instant::now() + INPUT_DRAWN_WAIT);
        let markers = self.harness.ready_screen();
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
                if self.readiness == Readiness::SessionStartOrQuiet {
                    let norm = screen::strip_volatile(&scr);
                    match &stable {
                        Some((prev, since)) if *prev == norm => {
                            if !norm.is_empty() && now.duration_since(*since) >= QUIET {
                                return Ok(Outcome::Ready {
                                    session_id: None,
                                    inferred: true,
                                });
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

//! `tell --wait`: blocking until the turn a prompt started ends.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{DIALOG_NOTIFICATIONS, RECHECK, ms};
use crate::event::Kind;
use crate::exit::Code;
use crate::pane::PaneId;
use crate::store::{LogCursor, Store};
use crate::tmux::Tmux;
use crate::watch::{Waiter, Wake};

/// What ended the wait for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    Stop,
    StopFailure,
    /// A dialog notification: the turn is blocked on someone.
    Notify,
    SessionEnd,
    /// The pane is gone.
    Exited,
    /// Nothing ended it before the deadline.
    Timeout,
}

impl EndKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Stop => "stop",
            EndKind::StopFailure => "stop_failure",
            EndKind::Notify => "notify",
            EndKind::SessionEnd => "session_end",
            EndKind::Exited => "exited",
            EndKind::Timeout => "timeout",
        }
    }
}

impl std::fmt::Display for EndKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a held turn end ([`wait_turn_end`]'s `joined`) looks at the
/// screen.
const HELD_LOOK: std::time::Duration = std::time::Duration::from_millis(300);

/// How a turn ended, for `--wait`.
#[derive(Debug, Clone, Serialize)]
pub struct TurnEnd {
    pub kind: EndKind,
    pub seq: Option<u64>,
    pub reply: Option<String>,
    pub reply_truncated: bool,
    pub notification_type: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub reason: Option<String>,
    /// Receipt → turn end, in ms.
    pub turn_ms: f64,
}

impl TurnEnd {
    pub fn code(&self) -> Code {
        match self.kind {
            EndKind::Stop => Code::Ok,
            EndKind::StopFailure | EndKind::Notify => Code::Blocked,
            EndKind::SessionEnd | EndKind::Exited => Code::Exited,
            EndKind::Timeout => Code::Timeout,
        }
    }
}

/// Block until the turn whose `prompt` event is `after` ends: its `stop`,
/// or a blocker (a dialog notification, `stop_failure`), or the session's
/// end, or the pane's disappearance, or `deadline`.
///
/// `joined`: the prompt was taken into a running turn with this
/// `prompt_id` ([`super::Receipt::joined_turn`]). That turn's own end
/// answers it only if nothing runs after it: Claude Code 2.1.3xx runs a
/// prompt typed while it waited on the API as a turn of its own (a new
/// `prompt_id`, no prompt event), and folds one typed during a tool call
/// into the running turn. So the joined turn's end is held back while the
/// screen shows the agent working; the next turn end wins, and the held
/// one is returned once the agent shows idle on two looks in a row.
pub fn wait_turn_end(
    store: &Store,
    pane: PaneId,
    after: u64,
    deadline: Instant,
    joined: Option<&str>,
) -> Result<TurnEnd> {
    let start = Instant::now();
    let tmux = Tmux::for_server(store.server());
    let waiter = Waiter::new(&store.layout().events_dir());
    let mut cursor = LogCursor::new(pane, after);
    let mut end = TurnEnd {
        kind: EndKind::Timeout,
        seq: None,
        reply: None,
        reply_truncated: false,
        notification_type: None,
        message: None,
        error: None,
        reason: None,
        turn_ms: 0.0,
    };
    let mut held: Option<TurnEnd> = None;
    let mut idle_looks = 0;
    loop {
        for ev in cursor
            .poll(store)
            .with_context(|| format!("cannot read the event log of {pane}"))?
        {
            let kind = match ev.kind {
                Some(Kind::Stop) => EndKind::Stop,
                Some(Kind::StopFailure) => EndKind::StopFailure,
                Some(Kind::Notify)
                    if ev
                        .notification_type
                        .as_deref()
                        .is_some_and(|t| DIALOG_NOTIFICATIONS.contains(&t)) =>
                {
                    EndKind::Notify
                }
                Some(Kind::SessionEnd) | Some(Kind::Exited) => EndKind::SessionEnd,
                _ => continue,
            };
            let joined_turn_end = matches!(kind, EndKind::Stop | EndKind::StopFailure)
                && joined.is_some()
                && ev.prompt_id.as_deref() == joined;
            end.kind = kind;
            end.seq = Some(ev.seq);
            end.reply_truncated = ev.truncated && ev.reply.is_some();
            end.reply = ev.reply;
            end.notification_type = ev.notification_type;
            end.message = ev.message;
            end.error = ev.error;
            end.reason = ev.reason;
            end.turn_ms = ms(start.elapsed());
            if joined_turn_end {
                held = Some(end.clone());
                idle_looks = 0;
                continue;
            }
            return Ok(end);
        }
        let now = Instant::now();
        if let Some(h) = &held {
            let working = tmux
                .capture(pane)
                .map(|s| crate::screen::working_now(&s))
                .unwrap_or(false);
            idle_looks = if working { 0 } else { idle_looks + 1 };
            if idle_looks >= 2 || now >= deadline {
                let mut h = h.clone();
                h.turn_ms = ms(start.elapsed());
                return Ok(h);
            }
            waiter.wait(Some(deadline.min(now + HELD_LOOK)));
            continue;
        }
        if now >= deadline {
            end.turn_ms = ms(start.elapsed());
            return Ok(end);
        }
        if let Wake::Timeout = waiter.wait(Some(deadline.min(now + RECHECK)))
            && tmux.pane_status(pane)?.is_none_or(|s| s.dead)
        {
            end.kind = EndKind::Exited;
            end.reason = Some(format!("pane {pane} disappeared before the turn ended"));
            end.turn_ms = ms(start.elapsed());
            return Ok(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, set_prompt};
    use std::time::Duration;

    /// Regression (issue 5): a turn end read from the log is also in the
    /// registry by the time `wait_turn_end` returns (the store writes the
    /// registry before the log line, docs/protocol.md "Writing").
    #[test]
    fn turn_end_is_in_the_registry_when_the_wait_returns() {
        let dir = tempfile::tempdir().unwrap();
        let server = crate::server::Server::new(dir.path().join("sock"), std::process::id());
        let store = Store::open_in(&dir.path().join("state"), &server).unwrap();
        let pane = PaneId(4);
        let mut prompt = Event::new(Kind::Prompt);
        set_prompt(&mut prompt, "hello");
        let prompt = store.append(pane, prompt).unwrap();

        std::thread::scope(|sc| {
            let writer = sc.spawn(|| {
                // The stop lands while wait_turn_end is already waiting.
                std::thread::sleep(Duration::from_millis(300));
                let mut stop = Event::new(Kind::Stop);
                stop.reply = Some("done".into());
                store.append(pane, stop).unwrap();
            });
            let end = wait_turn_end(
                &store,
                pane,
                prompt.seq,
                Instant::now() + Duration::from_secs(10),
                None,
            )
            .unwrap();
            assert_eq!(end.kind, EndKind::Stop);
            let rec = store.read_registry(pane).unwrap();
            assert_eq!(
                rec.last_event.and_then(|l| l.kind),
                Some(Kind::Stop),
                "the wait returned before the registry had the stop"
            );
            writer.join().unwrap();
        });
    }
}

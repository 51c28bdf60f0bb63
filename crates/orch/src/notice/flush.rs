//! The flusher (`orch-subscribe --flush S…`, started detached by a hook):
//! one per subscriber at a time, delivering everything pending as one
//! message when the subscriber can take it, exactly once.

use std::fs;
use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::inbox::{ack, pending, rate_wait, set_inflight};
use super::{Inflight, compose, take_batch};
use crate::deliver::{self, DeliverOpts, Readiness};
use crate::event::Kind;
use crate::exit::{Code, code_of};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;
use crate::time::now_ns;
use crate::tmux::Tmux;

const FLUSH_LOG_MAX_BYTES: u64 = 256 * 1024;
/// How long a flusher lets `deliver` wait for the subscriber (lock, idle)
/// and for the receipt.
const DELIVER_TIMEOUT: Duration = Duration::from_secs(15);
/// A flusher re-checks at most this many times after releasing its lock.
const MAX_ROUNDS: usize = 50;

/// Append one record to `inbox/flush.log` (bounded: rotated at 256 KiB).
pub fn flush_log(store: &Store, mut v: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert("ts".into(), now_ns().into());
        o.insert("pid".into(), std::process::id().into());
    }
    let path = store.layout().flush_log();
    if paths::ensure_private_dir(&store.layout().inbox_dir()).is_err() {
        return;
    }
    if fs::symlink_metadata(&path).is_ok_and(|m| m.len() > FLUSH_LOG_MAX_BYTES) {
        let _ = fs::rename(&path, path.with_extension("log.1"));
    }
    if let Ok(mut f) = paths::open_append(&path) {
        let _ = f.write_all(format!("{v}\n").as_bytes());
    }
}

/// Deliver what waits in the inboxes of `subscribers`, one thread each.
pub fn flush(store: &Store, subscribers: &[PaneId]) {
    let mut subs = subscribers.to_vec();
    subs.sort();
    subs.dedup();
    flush_log(store, json!({"event": "start", "subscribers": subs}));
    std::thread::scope(|scope| {
        for &s in &subs {
            scope.spawn(move || flush_subscriber(store, s));
        }
    });
    flush_log(store, json!({"event": "exit"}));
}

/// What a flusher saw when it stopped: the last notice number, and (when
/// it left notices waiting for the subscriber) the subscriber's last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    last: u64,
    event_seq: Option<u64>,
}

enum Outcome {
    /// Nothing more to do now (delivered everything, or the subscriber is
    /// busy and flagged); compare with what is there after the lock is
    /// released.
    Settled(Seen),
    /// The subscriber's pane is gone; its subscriptions were removed.
    Gone,
}

fn last_event_seq(store: &Store, pane: PaneId) -> u64 {
    store
        .read_registry(pane)
        .and_then(|r| r.last_event)
        .map_or(0, |l| l.seq)
}

fn seen_now(store: &Store, sub: PaneId, with_event: bool) -> Seen {
    let last = pending(store, sub).map_or(0, |(_, _, last)| last);
    Seen {
        last,
        event_seq: with_event.then(|| last_event_seq(store, sub)),
    }
}

/// The single-flusher loop for one subscriber. A flusher that finds the
/// lock taken leaves: the holder, after releasing it, looks again and goes
/// on if anything changed while it held it (a notice queued, or the
/// subscriber's state moved), so nothing queued meanwhile is stranded.
fn flush_subscriber(store: &Store, sub: PaneId) {
    for _ in 0..MAX_ROUNDS {
        let lock = match FileLock::try_acquire(&store.layout().flush_lock(sub)) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot take the flush lock: {e}")}),
                );
                return;
            }
        };
        let outcome = drain(store, sub);
        drop(lock);
        match outcome {
            Outcome::Gone => return,
            Outcome::Settled(seen) => {
                if seen_now(store, sub, seen.event_seq.is_some()) == seen {
                    return;
                }
            }
        }
    }
}

/// Why the subscriber cannot take a prompt now, from its registry alone.
fn not_ready(store: &Store, sub: PaneId) -> Option<String> {
    let rec = store.read_registry(sub)?;
    match deliver::readiness(Some(&rec), "") {
        Readiness::Idle => None,
        Readiness::Busy => Some("mid-turn".into()),
        Readiness::Dialog(why) => Some(format!("blocked: {why}")),
        Readiness::Ended(why) => Some(why),
    }
}

/// Flag the subscriber so its next turn end starts a flusher. Returns
/// whether it still cannot take a prompt after the flag is set (if it
/// became free in between, its hook ran before the flag: deliver now).
fn wait_for_turn_end(store: &Store, sub: PaneId) -> bool {
    if store.read_registry(sub).is_some() {
        let _ = store.update_registry(sub, |r| {
            r.inbox_waiting = true;
        });
    }
    not_ready(store, sub).is_some()
}

/// Recover from a predecessor that died mid-delivery: its `sent` event in
/// the subscriber's log says whether the batch was typed.
fn recover(store: &Store, sub: PaneId, inf: &Inflight) -> Result<()> {
    let typed = store.read_events(sub, 0)?.iter().any(|e| {
        e.kind == Some(Kind::Sent)
            && e.data
                .as_ref()
                .and_then(|d| d.get("notice_id"))
                .and_then(Value::as_str)
                == Some(inf.id.as_str())
    });
    flush_log(
        store,
        json!({"subscriber": sub, "outcome": "recovered", "upto": inf.upto, "typed": typed}),
    );
    if typed {
        ack(store, sub, inf.upto, inf.dropped, inf.ts)
    } else {
        set_inflight(store, sub, None)
    }
}

fn drain(store: &Store, sub: PaneId) -> Outcome {
    let tmux = Tmux::for_server(store.server());
    let mut alive = false;
    loop {
        let (st, pend, last) = match pending(store, sub) {
            Ok(p) => p,
            Err(e) => {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot read the inbox: {e:#}")}),
                );
                return Outcome::Settled(seen_now(store, sub, false));
            }
        };
        if let Some(inf) = &st.inflight {
            if let Err(e) = recover(store, sub, inf) {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot recover: {e:#}")}),
                );
                return Outcome::Settled(Seen {
                    last,
                    event_seq: None,
                });
            }
            continue;
        }
        let settled = |with_event: bool| {
            Outcome::Settled(Seen {
                last,
                event_seq: with_event.then(|| last_event_seq(store, sub)),
            })
        };
        if pend.is_empty() && st.dropped == 0 {
            return settled(false);
        }
        if !alive {
            match tmux.pane_status(sub) {
                Ok(Some(s)) if !s.dead => alive = true,
                Ok(_) => {
                    crate::subs::forget_pane(store, sub);
                    flush_log(
                        store,
                        json!({"subscriber": sub, "outcome": "gone", "dropped": pend.len()}),
                    );
                    return Outcome::Gone;
                }
                Err(e) => {
                    flush_log(
                        store,
                        json!({"subscriber": sub, "outcome": "failed", "reason": format!("{e:#}")}),
                    );
                    return settled(false);
                }
            }
        }
        // The event seq is read before deciding, so a turn end that lands
        // after this look changes it and sends the holder round again.
        let before = settled(true);
        if let Some(why) = not_ready(store, sub) {
            if wait_for_turn_end(store, sub) {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "waiting", "pending": pend.len(), "reason": why}),
                );
                return before;
            }
            continue;
        }
        if let Some(wait) = rate_wait(&st, now_ns()) {
            flush_log(
                store,
                json!({"subscriber": sub, "outcome": "rate-limited", "pending": pend.len(), "wait_ms": wait.as_millis() as u64}),
            );
            std::thread::sleep(wait);
            continue;
        }
        let batch = take_batch(&pend);
        let upto = batch.last().map_or(st.acked, |n| n.n);
        let text = compose(batch, st.dropped);
        let id = format!("{:x}-{}-{}", now_ns(), std::process::id(), sub.0);
        let inflight = Inflight {
            upto,
            id: id.clone(),
            ts: now_ns(),
            dropped: st.dropped,
        };
        if let Err(e) = set_inflight(store, sub, Some(inflight)) {
            flush_log(
                store,
                json!({"subscriber": sub, "outcome": "failed", "reason": format!("{e:#}")}),
            );
            return settled(false);
        }
        let mut opts = DeliverOpts::new(DELIVER_TIMEOUT);
        opts.data.insert("notice".into(), true.into());
        opts.data.insert("notice_id".into(), id.into());
        opts.data.insert("notice_upto".into(), upto.into());
        opts.data.insert("notices".into(), batch.len().into());
        match deliver::deliver(store, sub, &text, &opts) {
            Ok(receipt) => {
                let r = ack(store, sub, upto, st.dropped, now_ns());
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "delivered", "upto": upto,
                           "count": batch.len(), "status": receipt.status.as_str(),
                           "sent_seq": receipt.typed.sent_seq, "reason": receipt.reason,
                           "ack_error": r.err().map(|e| format!("{e:#}"))}),
                );
            }
            Err(e) => {
                let _ = set_inflight(store, sub, None);
                let code = code_of(&e);
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "not-delivered", "pending": pend.len(),
                           "code": code as u8, "reason": format!("{e:#}")}),
                );
                match code {
                    Code::Exited if !tmux.pane_exists(sub) => {
                        crate::subs::forget_pane(store, sub);
                        return Outcome::Gone;
                    }
                    Code::Timeout | Code::Refused | Code::Exited => {
                        wait_for_turn_end(store, sub);
                        return before;
                    }
                    _ => return settled(false),
                }
            }
        }
    }
}

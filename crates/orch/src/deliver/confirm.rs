//! Confirming a prompt typed into a busy agent (`tell --queue`) after tell
//! has returned `queued`: from the agent's own `prompt` event with the
//! prompt's hash, or — Claude Code, when the running turn took the text at a
//! tool result and fired no prompt event — from its transcript
//! ([`crate::harness::claude_injected`]), looked at by the hook at the end of
//! that turn. The turn end then names the sends it found in `data.injected`;
//! folding either into the registry takes the send off `pending_queued`
//! ([`crate::registry::PaneRecord`]), and the hook appends an audit record
//! (`action: "confirm"`). A queued prompt nothing confirms stays pending:
//! never reported as delivered.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::audit::{self, AuditRecord};
use crate::event::{Event, Kind, SCHEMA_VERSION};
use crate::harness::claude_injected::injected_hashes;
use crate::pane::PaneId;
use crate::registry::{ConfirmedBy, QueuedSend};
use crate::store::{Appended, Store};
use crate::time::now_ns;

/// Before a Claude Code turn end is recorded: which of the pane's pending
/// queued prompts its transcript shows taken into a turn, as
/// `data.injected: [{"sent_seq", "hash"}]` on the event. Each transcript
/// record confirms one send (the oldest pending with its hash), so a text
/// queued twice and taken once confirms one of them. True when pending
/// sends are left that the transcript does not show (yet): the caller then
/// starts [`watch_lagging_transcript`] once the event is recorded.
pub fn annotate_injected(store: &Store, pane: PaneId, ev: &mut Event) -> bool {
    if !matches!(ev.kind, Some(Kind::Stop | Kind::StopFailure))
        || ev.harness.as_deref() != Some("claude")
    {
        return false;
    }
    let Some(path) = ev.transcript_path.clone() else {
        return false;
    };
    let pending = match store.read_registry(pane) {
        Some(r) if !r.pending_queued.is_empty() => r.pending_queued,
        _ => return false,
    };
    let found = matched(
        &pending,
        &injected_hashes(Path::new(&path), scan_start(&pending)),
    );
    let left = found.len() < pending.len();
    if found.is_empty() {
        return left;
    }
    let list: Vec<_> = found
        .iter()
        .map(|q| json!({"sent_seq": q.sent_seq, "hash": q.hash}))
        .collect();
    let mut data = match ev.data.take() {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    data.insert("injected".into(), list.into());
    ev.data = Some(data.into());
    left
}

/// Where to start reading: the earliest offset a pending send recorded
/// (none recorded: the whole transcript).
fn scan_start(pending: &[QueuedSend]) -> u64 {
    pending
        .iter()
        .map(|q| q.transcript_offset)
        .min()
        .flatten()
        .unwrap_or(0)
}

/// The pending sends the transcript's injected messages confirm: each
/// record used once, oldest send first, and only by a send typed before it
/// was written (at or past the send's offset) — a record of the same text
/// sent earlier is not this send's.
fn matched(pending: &[QueuedSend], injected: &[(u64, String)]) -> Vec<QueuedSend> {
    let mut left: Vec<&(u64, String)> = injected.iter().collect();
    let mut out = Vec::new();
    for q in pending {
        let from = q.transcript_offset.unwrap_or(0);
        if let Some(i) = left.iter().position(|(at, h)| *h == q.hash && *at >= from) {
            left.remove(i);
            out.push(q.clone());
        }
    }
    out
}

/// After the event is recorded: an audit record for every queued prompt it
/// confirmed.
pub fn audit_confirmed(store: &Store, pane: PaneId, appended: &Appended) {
    for (q, by) in &appended.folded.confirmed {
        audit_one(store, pane, q, *by, &appended.event);
    }
}

/// The transcript lags the turn end: Claude Code 2.1.197 can write the tool
/// result and its `queued_command` line only after its Stop hook has run,
/// so a turn end may carry no `injected` although that turn took the text
/// (seen in `e2e_claude_orch::queued_prompt_taken_into_a_tool_turn_is_confirmed`
/// under load). Whether the transcript shows send `q` taken in after the
/// turn end `stop`; when it does and `q` is still pending, it leaves
/// `pending_queued` under the pane lock (so nothing confirms it twice) and
/// gets its audit record, as the hook's confirmation would. Called by a
/// waiting tell and by the detached watcher the hook starts
/// ([`watch_lagging_transcript`]); whichever comes first records it.
pub fn confirm_after_turn_end(store: &Store, pane: PaneId, q: &QueuedSend, stop: &Event) -> bool {
    let rec = store.read_registry(pane);
    let Some(path) = stop
        .transcript_path
        .clone()
        .or_else(|| rec.and_then(|r| r.transcript_path))
    else {
        return false;
    };
    let start = q.transcript_offset.unwrap_or(0);
    if matched(
        std::slice::from_ref(q),
        &injected_hashes(Path::new(&path), start),
    )
    .is_empty()
    {
        return false;
    }
    let mut taken = None;
    let _ = store.update_registry(pane, |r| {
        if let Some(i) = r
            .pending_queued
            .iter()
            .position(|p| p.sent_seq == q.sent_seq)
        {
            taken = Some(r.pending_queued.remove(i));
        }
    });
    if let Some(q) = taken {
        audit_one(store, pane, &q, ConfirmedBy::Transcript, stop);
    }
    true
}

/// How long the detached watcher looks for a lagging transcript line.
const LAG_WATCH: Duration = Duration::from_secs(20);

/// After a Claude Code turn end that left queued sends pending
/// ([`annotate_injected`] said so): start `orch-hook --confirm-queued SEQ`
/// detached (the hook itself must return at once), which looks at the
/// transcript until it catches up.
pub fn watch_lagging(store: &Store, pane: PaneId, stop: &Event) {
    let started = crate::exe::sibling("hook")
        .ok_or_else(|| anyhow::anyhow!("orch-hook not found"))
        .and_then(|exe| {
            crate::exe::spawn_detached(
                &exe,
                &["--confirm-queued".to_string(), stop.seq.to_string()],
            )
        });
    if let Err(e) = started {
        crate::store::log_error(
            store.root(),
            &format!("orch-hook {pane}: cannot watch the transcript for queued prompts: {e:#}"),
        );
    }
}

/// The detached half of [`watch_lagging`], in the agent's pane
/// environment: confirm each send still pending that the transcript shows
/// taken into the turn that ended at `stop_seq`, until none is left or
/// [`LAG_WATCH`] has passed.
pub fn watch_lagging_transcript(stop_seq: u64) -> anyhow::Result<()> {
    let (Some(server), Some(pane)) = (crate::server::Server::from_env(), PaneId::from_env()) else {
        return Ok(());
    };
    let store = Store::open(&server)?;
    let Some(stop) = store
        .read_events(pane, stop_seq.saturating_sub(1))?
        .into_iter()
        .find(|e| e.seq == stop_seq)
    else {
        return Ok(());
    };
    let until = Instant::now() + LAG_WATCH;
    while Instant::now() < until {
        let pending = store
            .read_registry(pane)
            .map(|r| r.pending_queued)
            .unwrap_or_default();
        if pending.is_empty() {
            break;
        }
        for q in &pending {
            confirm_after_turn_end(&store, pane, q, &stop);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// The audit record of one confirmed queued prompt; `by_event` is the event
/// that confirmed it (the prompt event, or the end of the turn that took it).
fn audit_one(store: &Store, pane: PaneId, q: &QueuedSend, by: ConfirmedBy, by_event: &Event) {
    let rec = AuditRecord {
        v: SCHEMA_VERSION,
        ts: now_ns(),
        action: "confirm".into(),
        server: store.server().key(),
        from: q.from,
        target: Some(pane),
        target_name: by_event.name.clone(),
        hash: q.hash.clone(),
        preview: q.preview.clone(),
        outcome: "delivered".into(),
        reason: Some(match by {
            ConfirmedBy::PromptEvent => format!(
                "the queued prompt (sent seq {}) was acknowledged by its prompt event (seq {})",
                q.sent_seq, by_event.seq
            ),
            ConfirmedBy::Transcript => format!(
                "the queued prompt (sent seq {}) was taken into the running turn, as the transcript shows; that turn ended at seq {}",
                q.sent_seq, by_event.seq
            ),
        }),
        sent_seq: Some(q.sent_seq),
        confirmed_by: Some(by.as_str().into()),
        ..Default::default()
    };
    if let Err(e) = audit::append(store.root(), &rec) {
        crate::store::log_error(
            store.root(),
            &format!("orch {pane}: cannot record a confirmation in the audit log: {e:#}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(seq: u64, hash: &str, offset: u64) -> QueuedSend {
        QueuedSend {
            sent_seq: seq,
            hash: hash.into(),
            transcript_offset: Some(offset),
            ..Default::default()
        }
    }

    fn seqs(got: &[QueuedSend]) -> Vec<u64> {
        got.iter().map(|q| q.sent_seq).collect()
    }

    #[test]
    fn each_transcript_record_confirms_one_send() {
        let pending = [q(3, "a", 0), q(5, "a", 0), q(7, "b", 0)];
        let got = matched(&pending, &[(10, "a".into()), (20, "c".into())]);
        assert_eq!(seqs(&got), [3]);
        let all = [(10, "b".into()), (20, "a".into()), (30, "a".into())];
        assert_eq!(seqs(&matched(&pending, &all)), [3, 5, 7]);
        assert!(matched(&pending, &[]).is_empty());
    }

    /// Regression: scanning from the oldest pending send's offset also
    /// reads records written before a newer send was typed; one of the same
    /// text sent earlier must not confirm it.
    #[test]
    fn a_record_written_before_the_send_is_not_its_confirmation() {
        let pending = [q(3, "old", 100), q(9, "x", 500)];
        assert!(matched(&pending, &[(200, "x".into())]).is_empty());
        assert_eq!(seqs(&matched(&pending, &[(600, "x".into())])), [9]);
    }
}

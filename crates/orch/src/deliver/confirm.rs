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
/// queued twice and taken once confirms one of them.
pub fn annotate_injected(store: &Store, pane: PaneId, ev: &mut Event) {
    if !matches!(ev.kind, Some(Kind::Stop | Kind::StopFailure))
        || ev.harness.as_deref() != Some("claude")
    {
        return;
    }
    let Some(path) = ev.transcript_path.clone() else {
        return;
    };
    let pending = match store.read_registry(pane) {
        Some(r) if !r.pending_queued.is_empty() => r.pending_queued,
        _ => return,
    };
    let found = matched(
        &pending,
        &injected_hashes(Path::new(&path), scan_start(&pending)),
    );
    if found.is_empty() {
        return;
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

/// The pending sends the transcript's injected hashes confirm: each hash
/// used once, oldest send first.
fn matched(pending: &[QueuedSend], hashes: &[String]) -> Vec<QueuedSend> {
    let mut left: Vec<&String> = hashes.iter().collect();
    let mut out = Vec::new();
    for q in pending {
        if let Some(i) = left.iter().position(|h| **h == q.hash) {
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
        let rec = AuditRecord {
            v: SCHEMA_VERSION,
            ts: now_ns(),
            action: "confirm".into(),
            server: store.server().key(),
            from: q.from,
            target: Some(pane),
            target_name: appended.event.name.clone(),
            hash: q.hash.clone(),
            preview: q.preview.clone(),
            outcome: "delivered".into(),
            reason: Some(match by {
                ConfirmedBy::PromptEvent => format!(
                    "the queued prompt (sent seq {}) was acknowledged by its prompt event (seq {})",
                    q.sent_seq, appended.event.seq
                ),
                ConfirmedBy::Transcript => format!(
                    "the queued prompt (sent seq {}) was taken into the running turn, as the transcript shows; that turn ended at seq {}",
                    q.sent_seq, appended.event.seq
                ),
            }),
            sent_seq: Some(q.sent_seq),
            confirmed_by: Some(by.as_str().into()),
            ..Default::default()
        };
        if let Err(e) = audit::append(store.root(), &rec) {
            crate::store::log_error(
                store.root(),
                &format!("orch-hook {pane}: cannot record a confirmation in the audit log: {e:#}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(seq: u64, hash: &str) -> QueuedSend {
        QueuedSend {
            sent_seq: seq,
            hash: hash.into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_transcript_record_confirms_one_send() {
        let pending = [q(3, "a"), q(5, "a"), q(7, "b")];
        let got = matched(&pending, &["a".into(), "c".into()]);
        assert_eq!(got.iter().map(|q| q.sent_seq).collect::<Vec<_>>(), [3]);
        let got = matched(&pending, &["b".into(), "a".into(), "a".into()]);
        assert_eq!(
            got.iter().map(|q| q.sent_seq).collect::<Vec<_>>(),
            [3, 5, 7]
        );
        assert!(matched(&pending, &[]).is_empty());
    }
}

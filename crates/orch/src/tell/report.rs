//! What a send reports: the receipt, and with `--wait` the turn's end.
//! Field names and order are the JSON contract (docs/tell.md).

use std::time::Duration;

use serde::Serialize;

use crate::audit::AuditRecord;
use crate::deliver::{EndKind, PromptFile, Receipt, Status, TurnEnd, Typed};
use crate::exit::Code;
use crate::pane::PaneId;
use crate::registry::ConfirmedBy;

/// One send.
#[derive(Debug, Clone, Serialize)]
pub struct TellReport {
    pub status: Status,
    pub pane: PaneId,
    pub name: Option<String>,
    #[serde(flatten)]
    pub typed: Typed,
    /// `queued` with a receipt: the `prompt_id` of the running turn the
    /// agent took the prompt into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_turn: Option<String>,
    /// What confirmed a `queued` prompt: `prompt_event`, or `transcript`
    /// (Claude Code took it into the running turn at a tool result and
    /// fired no prompt event; its transcript shows it). Absent: not
    /// confirmed (yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<ConfirmedBy>,
    /// Confirmed by the transcript: the turn end that found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected_seq: Option<u64>,
    /// Time spent waiting for the lock and for the target (only when ≥ 1 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PromptFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    /// The role matrix was overridden with --force.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub turn: Option<TurnReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_error: Option<String>,
    /// The exit code this send earns.
    #[serde(skip)]
    pub code: Code,
    /// Lines for people on stderr (what went wrong or is pending).
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// How the awaited turn ended (`--wait`).
#[derive(Debug, Clone, Serialize)]
pub struct TurnReport {
    /// `stop`, `stop_failure`, `notify`, `session_end`, `exited`; null when
    /// the wait timed out.
    pub stop_kind: Option<EndKind>,
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reply_truncated: bool,
    pub turn_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_seq: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
}

impl TellReport {
    pub(super) fn new(r: &Receipt, rec: &AuditRecord) -> TellReport {
        let mut notes = Vec::new();
        if let Some(reason) = &r.reason
            && r.status != Status::Queued
        {
            notes.push(format!("{}: {reason}", r.status.as_str()));
        }
        TellReport {
            status: r.status,
            pane: r.pane,
            name: rec.target_name.clone(),
            typed: r.typed.clone(),
            joined_turn: r.joined_turn.clone(),
            confirmed_by: (r.status == Status::Queued)
                .then_some(r.confirmed_by)
                .flatten(),
            injected_seq: r.injected_seq,
            waited_ms: (r.waited_ms >= 1.0).then_some(r.waited_ms),
            file: r.file.clone(),
            escalation: rec.escalation.clone(),
            forced: rec.forced && !rec.overrides.is_empty(),
            reason: r.reason.clone(),
            turn: None,
            wait_error: None,
            code: match r.status {
                Status::Delivered | Status::Queued => Code::Ok,
                Status::Unconfirmed => Code::Unconfirmed,
                Status::Failed => Code::Failure,
                Status::Exited => Code::Exited,
            },
            notes,
        }
    }

    pub(super) fn add_turn(&mut self, t: &TurnEnd, target: PaneId, timeout: Duration) {
        self.code = t.code();
        let timed_out = t.kind == EndKind::Timeout;
        self.turn = Some(TurnReport {
            stop_kind: (!timed_out).then_some(t.kind),
            reply: t.reply.clone(),
            reply_truncated: t.reply_truncated,
            turn_ms: t.turn_ms,
            stop_seq: t.seq,
            timed_out,
            notification_type: t.notification_type.clone(),
            message: t.message.clone(),
            error: t.error.clone(),
            end_reason: t.reason.clone(),
        });
        match t.kind {
            EndKind::Timeout => self.notes.push(format!(
                "delivered, but the turn did not end within --timeout {}s (listen for it: orch listen {target})",
                timeout.as_secs_f64()
            )),
            EndKind::Stop => {}
            _ => self.notes.push(format!(
                "the turn ended with {}: {}",
                t.kind,
                t.message
                    .clone()
                    .or(t.error.clone())
                    .or(t.reason.clone())
                    .unwrap_or_default()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The receipt's fields are one flattened struct (`Typed`) shared with
    /// `Receipt`: the report's JSON must still be flat, in the documented
    /// order (docs/tell.md).
    #[test]
    fn flattened_receipt_fields_keep_the_json_flat_and_in_order() {
        let r = Receipt {
            status: Status::Delivered,
            pane: PaneId(3),
            typed: Typed {
                receipt_ms: Some(1.5),
                enter_ms: None,
                bytes: 2,
                hash: "h".into(),
                attempts: 1,
                newline_retries: 0,
                sent_seq: 4,
                prompt_seq: Some(5),
            },
            joined_turn: None,
            confirmed_by: None,
            injected_seq: None,
            waited_ms: 0.0,
            file: None,
            reason: None,
        };
        let json = serde_json::to_string(&TellReport::new(&r, &AuditRecord::default())).unwrap();
        let keys = [
            "status",
            "pane",
            "name",
            "receipt_ms",
            "bytes",
            "hash",
            "attempts",
            "sent_seq",
            "prompt_seq",
        ];
        let at: Vec<usize> = keys
            .iter()
            .map(|k| json.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(!json.contains("typed"), "{json}");
        assert!(json.contains("\"prompt_seq\":5"), "{json}");
    }
}

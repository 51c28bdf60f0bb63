//! `orch tell --later`: put the message in the target's inbox (the
//! subscribe machinery, [`crate::notice`]) instead of typing it, and return
//! at once. The inbox's flusher types it at the target's next idle — at
//! once if it is idle now, else when its own turn-end hook finds the inbox
//! waiting — batched into one prompt with the notices pending there, and
//! exactly once (the inbox's inflight/ack protocol). Nothing is left
//! running: the flusher started here exits once it has typed the batch or
//! flagged the target.

use anyhow::Result;

use crate::audit::AuditRecord;
use crate::deliver::{Receipt, Status};
use crate::event::{Kind, prompt_hash};
use crate::exit::Fail;
use crate::notice::{self, Notice};
use crate::pane::PaneId;
use crate::store::Store;
use crate::time::now_ns;

/// Longest `--later` message: it must be typed, never swapped for a file
/// pointer (tell's paste threshold).
pub const LATER_MAX_BYTES: usize = 64 * 1024;

/// Queue `text` for `target`; the receipt says `queued` (nothing typed yet).
pub(super) fn queue(
    store: &Store,
    from: Option<PaneId>,
    target: PaneId,
    text: &str,
    rec: &mut AuditRecord,
) -> Result<Receipt> {
    if text.len() > LATER_MAX_BYTES {
        return Err(Fail::usage(format!(
            "--later takes at most {LATER_MAX_BYTES} bytes ({} given): send it with a plain tell, or put it in a file and tell the agent to read it; nothing was queued",
            text.len()
        )));
    }
    let notice = Notice {
        n: 0,
        ts: now_ns(),
        // Outside tmux the sender is the person at the operator's seat.
        peer: from.unwrap_or(target),
        name: match from {
            Some(p) => crate::target::name_of(store, p),
            None => Some("operator".into()),
        },
        kind: Kind::Sent,
        seq: 0,
        text: text.to_string(),
        detail: None,
    };
    notice::append(store, target, &notice)?;
    // Starts a flusher for the target: it types the batch now if the target
    // is idle, or flags it so its next turn end does.
    if let Err(e) = notice::spawn_flusher(&[target]) {
        crate::store::log_error(
            store.root(),
            &format!(
                "orch-tell --later {target}: cannot start the flusher (the message waits for its next turn end): {e:#}"
            ),
        );
    }
    let reason = format!(
        "in {target}'s inbox: orch types it, with any other pending notices, when {target} is next idle (see `orch subscribe --list`, inbox/flush.log)"
    );
    rec.outcome = "queued".into();
    rec.reason = Some(reason.clone());
    Ok(Receipt {
        status: Status::Queued,
        pane: target,
        receipt_ms: None,
        enter_ms: None,
        bytes: text.len(),
        hash: prompt_hash(text),
        attempts: 0,
        newline_retries: 0,
        sent_seq: 0,
        prompt_seq: None,
        joined_turn: None,
        waited_ms: 0.0,
        file: None,
        reason: Some(reason),
    })
}

//! The hook's part: turning a peer's event into notices for its
//! subscribers, and starting the flusher without waiting for it.

use anyhow::{Context, Result};

use super::Notice;
use crate::event::{Event, Kind};
use crate::pane::PaneId;
use crate::store::{Appended, Store, log_error};

/// Does this event get pushed to subscribers? (`idle_prompt` is not: it
/// follows every turn by a minute and says nothing a `stop` did not.)
fn fans_out(ev: &Event) -> bool {
    match ev.kind {
        Some(Kind::Stop | Kind::StopFailure | Kind::SessionEnd) => true,
        Some(Kind::Notify) => ev.notification_type.as_deref() != Some("idle_prompt"),
        _ => false,
    }
}

/// The hook's second half, after the store appended `appended` to
/// `pane`'s log: queue a notice for each of this pane's subscribers, and
/// wake the flusher for them and for this pane if notices were waiting for
/// it to be free. Errors are logged, never returned: the event counts.
pub fn fan_out(store: &Store, pane: PaneId, appended: &Appended) {
    let ev = &appended.event;
    let mut wake = Vec::new();
    // The loop rule: a turn a notice started ends without telling anyone.
    if fans_out(ev) && !appended.folded.ended_notice_turn {
        match queue(store, pane, ev) {
            Ok(subs) => wake = subs,
            Err(e) => log_error(
                store.root(),
                &format!("orch-hook {pane}: cannot queue notices: {e:#}"),
            ),
        }
    }
    if appended.folded.freed_waiting_inbox && !wake.contains(&pane) {
        wake.push(pane);
    }
    if !wake.is_empty()
        && let Err(e) = spawn_flusher(&wake)
    {
        log_error(
            store.root(),
            &format!("orch-hook {pane}: cannot start the notice flusher: {e:#}"),
        );
    }
}

/// Queue a notice for each subscriber of `peer` that wants `ev`'s kind.
/// Returns those subscribers. A missing `subs/<P>.json` costs one failed
/// open.
fn queue(store: &Store, peer: PaneId, ev: &Event) -> Result<Vec<PaneId>> {
    let subscribers = crate::subs::subscribers_of(store, peer)?;
    let Some(kind) = ev.kind else {
        return Ok(Vec::new());
    };
    let notice = Notice::from_event(peer, ev);
    let mut out = Vec::new();
    for s in &subscribers {
        if s.pane == peer || !s.wants(kind) || out.contains(&s.pane) {
            continue;
        }
        super::append(store, s.pane, &notice)
            .with_context(|| format!("cannot queue a notice for {}", s.pane))?;
        out.push(s.pane);
    }
    Ok(out)
}

/// Start `orch-subscribe --flush <S>…` detached, without waiting for it
/// ([`crate::exe::spawn_detached`]).
pub fn spawn_flusher(subscribers: &[PaneId]) -> Result<u32> {
    let exe = crate::exe::sibling("subscribe")
        .context("orch-subscribe is not installed next to orch-hook or on PATH")?;
    let mut args = vec!["--flush".to_string()];
    args.extend(subscribers.iter().map(|p| p.to_string()));
    crate::exe::spawn_detached(&exe, &args)
}

//! After the paste: Enter once the text shows, then the receipt — the
//! agent's own `prompt` event — with Enter (never the paste) retried while
//! the text visibly still sits in the input box.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{DeliverOpts, PASTE_SHOW_POLL, Receipt, Status, ms};
use crate::event::{Event, Kind};
use crate::pane::PaneId;
use crate::registry::{ConfirmedBy, injected_seqs};
use crate::screen;
use crate::store::{LogCursor, Store};
use crate::tmux::Tmux;
use crate::watch::Waiter;

/// Is `ev` the receipt of the prompt whose hash is `hash`? Only by the hash
/// of the normalized text ([`crate::event::normalize_prompt`]; the hook has
/// already taken off a harness's paste wrapper), never by a prefix: two
/// prompts that start alike are different prompts (docs/protocol.md,
/// "Prompt matching").
fn is_receipt(ev: &Event, hash: &str) -> bool {
    ev.prompt_hash.as_deref() == Some(hash)
}

/// Return once the pasted `typed` is visible in the pane's input area on a
/// screen that changed since `before` (the screen before the paste), or at
/// `until`, whichever comes first: whether it showed, and the last screen.
/// No event marks a redraw, so this polls (every few ms, for at most
/// [`PASTE_SHOW_WAIT`]).
pub(super) fn wait_paste_shown(
    tmux: &Tmux,
    pane: PaneId,
    typed: &str,
    before: &str,
    until: Instant,
) -> (bool, String) {
    loop {
        let screen = match tmux.capture(pane) {
            Ok(s) if s != before && screen::text_in_input(&s, typed) => return (true, s),
            Ok(s) => s,
            // The pane is gone: Enter will fail and say so.
            Err(_) => return (false, String::new()),
        };
        let now = Instant::now();
        if now >= until {
            return (false, screen);
        }
        std::thread::sleep(PASTE_SHOW_POLL.min(until - now));
    }
}

/// Before typing into a busy agent: wait until it shows it is working
/// (Claude Code: `esc to interrupt`), which it does not while input sits in
/// its box. Claude Code clears its input box only after handling an Enter
/// (a submit, or queueing a prompt during a turn), and wipes whatever was
/// pasted in the meantime: a `--queue` tell right behind another one lost
/// its text that way under load (issue 5; reproduced by pasting 0 ms after
/// an Enter). Returns the last screen; gives up at `until` and types anyway
/// (a harness that never says it is working must not stall tells).
pub(super) fn wait_input_settled(
    tmux: &Tmux,
    pane: PaneId,
    mut screen: String,
    until: Instant,
) -> String {
    while !screen::working(&screen) && Instant::now() < until {
        std::thread::sleep(PASTE_SHOW_POLL);
        match tmux.capture(pane) {
            Ok(s) => screen = s,
            Err(_) => break,
        }
    }
    screen
}

/// A paste that never showed, and a dialog on screen now: the dialog came
/// up after the readiness check (say a tool asked for permission while a
/// `--queue`d prompt was on its way), the paste went into it or nowhere,
/// and Enter would answer it (Claude Code: "Yes"). Returns the dialog's
/// excerpt when Enter must not be pressed.
pub(super) fn enter_would_answer_dialog(shown: bool, screen: &str) -> Option<String> {
    if shown {
        return None;
    }
    screen::dialog(screen)
}

/// For a harness that can take an Enter as a newline (one with an Enter
/// floor, [`crate::harness::EnterDelay`]): the screen Enter was pressed on,
/// watched until the slow check for an Enter that became a newline
/// ([`screen::enter_became_newline`]), so that Enter is pressed again at
/// once instead of after [`super::enter_window`] (Gemini CLI under load:
/// one Enter in five, each costing the full second).
pub struct NewlineWatch {
    pub screen: String,
    /// Wait this long after seeing the newline before pressing Enter again
    /// (the harness's floor: the new Enter must not land in the same
    /// just-after-a-paste window).
    pub floor: Duration,
}

/// How often the screen is looked at while a [`NewlineWatch`] is on.
const NEWLINE_POLL: Duration = Duration::from_millis(20);

/// Wait for the `prompt` event matching `typed`, pressing Enter again (only
/// Enter) when the text visibly still sits in the input box.
#[allow(clippy::too_many_arguments)]
pub fn await_receipt(
    store: &Store,
    tmux: &Tmux,
    waiter: &Waiter,
    mut cursor: LogCursor,
    typed: &str,
    pasted_at: Instant,
    deadline: Instant,
    may_retry: bool,
    running: Option<&str>,
    opts: &DeliverOpts,
    mut newline_watch: Option<NewlineWatch>,
    mut receipt: Receipt,
) -> Result<Receipt> {
    let pane = receipt.pane;
    // Counted from the (first) Enter, which may come a little after the paste.
    let mut next_check = Instant::now() + opts.enter_window;
    let mut not_retried: Option<String> = None;
    // A prompt that is not ours: the agent took *something* (perhaps our
    // text, transformed past recognition), so pressing Enter again could
    // submit a second prompt. Stop retrying.
    let mut foreign_prompt = false;
    // A Claude Code turn end that did not name this queued send: its
    // transcript may still be catching up (confirm::confirm_after_turn_end).
    let mut unnamed_end: Option<Event> = None;
    // This send as the registry keeps it pending (read now: a confirmation
    // takes it off the list).
    let pending = opts
        .confirm_queued
        .then(|| store.read_registry(pane))
        .flatten()
        .and_then(|r| {
            r.pending_queued
                .into_iter()
                .find(|q| q.sent_seq == receipt.typed.sent_seq)
        });
    loop {
        let events = match cursor.poll(store) {
            Ok(evs) => evs,
            Err(e) => {
                receipt.reason = Some(format!(
                    "the prompt was typed, but the event log of {pane} cannot be read: {e}"
                ));
                return Ok(receipt);
            }
        };
        for ev in &events {
            match ev.kind {
                Some(Kind::Prompt) => {
                    if is_receipt(ev, &receipt.typed.hash) {
                        receipt.status = Status::Delivered;
                        receipt.confirmed_by = Some(ConfirmedBy::PromptEvent);
                        receipt.typed.receipt_ms = Some(ms(pasted_at.elapsed()));
                        receipt.typed.prompt_seq = Some(ev.seq);
                        receipt.reason = None;
                        if let Some(id) = ev.prompt_id.as_deref().filter(|id| Some(*id) == running)
                        {
                            receipt.status = Status::Queued;
                            receipt.joined_turn = Some(id.to_string());
                            receipt.reason = Some(format!(
                                "{pane} acknowledged the prompt (seq {}) into its running turn (prompt_id {id}); it is answered when that turn goes on or ends",
                                ev.seq
                            ));
                        }
                        return Ok(receipt);
                    }
                    foreign_prompt = true;
                    not_retried = Some(format!(
                        "{pane} accepted a prompt that does not match (seq {})",
                        ev.seq
                    ));
                }
                // Taken into the running turn with no prompt event: the
                // turn's end found it in the transcript (confirm.rs).
                Some(Kind::Stop | Kind::StopFailure)
                    if injected_seqs(ev).contains(&receipt.typed.sent_seq) =>
                {
                    taken_into_turn(&mut receipt, ev, pasted_at, "");
                    return Ok(receipt);
                }
                Some(Kind::Stop | Kind::StopFailure)
                    if opts.confirm_queued && ev.harness.as_deref() == Some("claude") =>
                {
                    unnamed_end = Some(ev.clone());
                }
                Some(Kind::SessionEnd) | Some(Kind::Exited) => {
                    receipt.status = Status::Exited;
                    receipt.reason = Some(format!(
                        "{pane} ended its session before acknowledging the prompt (typed, never received)"
                    ));
                    return Ok(receipt);
                }
                _ => {}
            }
        }
        if let (Some(end), Some(q)) = (&unnamed_end, &pending)
            && super::confirm::confirm_after_turn_end(store, pane, q, end)
        {
            taken_into_turn(
                &mut receipt,
                end,
                pasted_at,
                ", written after that turn ended",
            );
            return Ok(receipt);
        }
        let now = Instant::now();
        if now >= deadline {
            receipt.reason = Some(format!(
                "no matching prompt event from {pane} within {:.1}s after pasting ({} Enter press(es){})",
                pasted_at.elapsed().as_secs_f64(),
                receipt.typed.attempts,
                not_retried
                    .map(|r| format!("; Enter not retried: {r}"))
                    .unwrap_or_default()
            ));
            return Ok(receipt);
        }
        let may_press =
            may_retry && !foreign_prompt && receipt.typed.attempts <= opts.max_enter_retries;
        if let Some(watch) = newline_watch
            .as_mut()
            .filter(|_| may_press && now < next_check)
        {
            let screen = tmux.capture(pane).unwrap_or_default();
            if screen::dialog(&screen).is_none()
                && screen::enter_became_newline(&watch.screen, &screen, typed)
            {
                std::thread::sleep(watch.floor);
                // The screen this Enter is pressed on: the next newline
                // would show as yet another empty line under it.
                watch.screen = tmux.capture(pane).unwrap_or(screen);
                if tmux.send_enter(pane).is_ok() {
                    receipt.typed.attempts += 1;
                    receipt.typed.newline_retries += 1;
                    next_check = Instant::now() + opts.enter_window;
                }
                continue;
            }
        }
        if now >= next_check {
            if !tmux
                .pane_status(pane)
                .is_ok_and(|s| s.is_some_and(|s| !s.dead))
            {
                receipt.status = Status::Exited;
                receipt.reason = Some(format!(
                    "pane {pane} died after the prompt was typed, before the agent acknowledged it"
                ));
                return Ok(receipt);
            }
            if may_press {
                let screen = tmux.capture(pane).unwrap_or_default();
                not_retried = if let Some(d) = screen::dialog(&screen) {
                    Some(format!("a dialog is showing ({d})"))
                } else if screen::working(&screen) {
                    Some("the agent shows it is working".into())
                } else if !screen::text_in_input(&screen, typed) {
                    Some("the text is not visible in the input box".into())
                } else if let Err(e) = tmux.send_enter(pane) {
                    Some(format!("Enter could not be re-sent ({e:#})"))
                } else {
                    receipt.typed.attempts += 1;
                    None
                };
            }
            next_check = now + opts.enter_window;
        }
        let mut until = next_check.min(deadline);
        if newline_watch.is_some() && may_press {
            until = until.min(Instant::now() + NEWLINE_POLL);
        }
        // The transcript is not watched: look at it again soon.
        if unnamed_end.is_some() {
            until = until.min(Instant::now() + TRANSCRIPT_POLL);
        }
        waiter.wait(Some(until));
    }
}

/// The transcript shows the queued prompt taken into the turn that ended
/// with `end` (no prompt event fired for it): `queued`, confirmed by the
/// transcript, answered by that turn. `lag` says when the transcript caught up.
fn taken_into_turn(receipt: &mut Receipt, end: &Event, pasted_at: Instant, lag: &str) {
    receipt.status = Status::Queued;
    receipt.confirmed_by = Some(ConfirmedBy::Transcript);
    receipt.typed.receipt_ms = Some(ms(pasted_at.elapsed()));
    receipt.injected_seq = Some(end.seq);
    receipt.joined_turn.clone_from(&end.prompt_id);
    receipt.reason = Some(format!(
        "{} took the prompt into its running turn at a tool result (no prompt event; its transcript{lag} shows it), and that turn ended at seq {}",
        receipt.pane, end.seq
    ));
}

/// How often a waiting tell looks at a transcript that lags its turn end.
const TRANSCRIPT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::set_prompt;

    /// Regression: the receipt used to match on the first 200 characters
    /// (whitespace removed), so a different prompt starting with the same
    /// text was taken as the receipt.
    #[test]
    fn a_prompt_with_the_same_start_is_not_the_receipt() {
        let head = "x".repeat(300);
        let sent = format!("{head} first ending");
        let hash = crate::event::prompt_hash(&sent);
        let mut other = Event::new(Kind::Prompt);
        set_prompt(&mut other, &format!("{head} another ending"));
        assert!(!is_receipt(&other, &hash));
        let mut same = Event::new(Kind::Prompt);
        set_prompt(&mut same, &format!("{head}   first\tending  \n"));
        assert!(is_receipt(&same, &hash));
    }

    #[test]
    fn no_enter_into_a_dialog_that_came_up_during_the_paste() {
        // Claude Code 2.1.197's permission prompt (docs/claude-code-e2e.md).
        let permission = " Bash command\n\n   touch /tmp/x\n   Run a command\n\n Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and always allow access to tmp/ from this project\n   3. No\n\n Esc to cancel · Tab to amend · ctrl+e to explain\n";
        assert!(
            enter_would_answer_dialog(false, permission)
                .unwrap()
                .contains("Do you want to proceed?")
        );
        // The paste showed: the input box has it, Enter submits it.
        assert_eq!(enter_would_answer_dialog(true, permission), None);
        let idle = "❯\u{a0}some text\n──────\n  ? for shortcuts\n";
        assert_eq!(enter_would_answer_dialog(false, idle), None);
    }
}

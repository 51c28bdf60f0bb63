//! Before anything is typed: is the pane there, alive and not a shell
//! prompt, and is its agent ready for a prompt (idle, mid-turn, showing a
//! dialog, ended)? Steps 2 and 4 of the algorithm in the module doc of
//! [`super`]; the screen heuristics themselves live in [`crate::screen`].

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Busy, DIALOG_NOTIFICATIONS, DeliverOpts, RECHECK};
use crate::event::Kind;
use crate::exit::{Code, Fail};
use crate::pane::PaneId;
use crate::registry::PaneRecord;
use crate::screen;
use crate::state::State;
use crate::store::Store;
use crate::tmux::Tmux;
use crate::watch::Waiter;

/// How often a target that only its screen shows busy is looked at again.
const SCREEN_BUSY_RECHECK: Duration = Duration::from_millis(100);

/// What the pane's state says about typing into it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Idle,
    /// Mid-turn: the last hook event is a prompt with no turn end after
    /// it, or a turn end while the screen shows the agent working again.
    Busy,
    /// A dialog is waiting for a keypress; typed keys would answer it.
    Dialog(String),
    /// The agent's session ended.
    Ended(String),
}

/// Classify a target from its registry record and its screen.
pub fn readiness(rec: Option<&PaneRecord>, screen: &str) -> Readiness {
    if let Some(excerpt) = screen::dialog(screen) {
        return Readiness::Dialog(format!("its screen shows a dialog: {excerpt}"));
    }
    let Some(rec) = rec else {
        return Readiness::Idle;
    };
    if let Some(s) = &rec.screen
        && matches!(s.state, State::BlockedDialog | State::BlockedPermission)
    {
        return Readiness::Dialog(format!(
            "it is {} ({})",
            s.state,
            screen::one_line(&s.excerpt, 120)
        ));
    }
    let Some(last) = &rec.last_event else {
        return Readiness::Idle;
    };
    match last.kind {
        Some(Kind::Notify)
            if last
                .notification_type
                .as_deref()
                .is_some_and(|t| DIALOG_NOTIFICATIONS.contains(&t)) =>
        {
            Readiness::Dialog(format!(
                "its last event is a {} notification ({})",
                last.notification_type.as_deref().unwrap_or(""),
                screen::one_line(last.message.as_deref().unwrap_or(""), 120)
            ))
        }
        Some(Kind::Prompt) => Readiness::Busy,
        // The hooks say the last turn ended, but the agent shows it is
        // working: a prompt queued during that turn now runs as a turn of
        // its own, which Claude Code 2.1.3xx starts without a prompt event.
        Some(Kind::Stop | Kind::StopFailure) if screen::working_now(screen) => Readiness::Busy,
        Some(Kind::SessionEnd) | Some(Kind::Exited) => Readiness::Ended(format!(
            "its agent session ended{}",
            rec.last_event
                .as_ref()
                .and_then(|l| l.message.clone().or(l.error.clone()))
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        _ => Readiness::Idle,
    }
}

/// Does this pane's log show hooks firing? Only then can a receipt come.
pub fn has_hooks(store: &Store, pane: PaneId, rec: Option<&PaneRecord>) -> bool {
    let hook_kind = |k: Option<Kind>| {
        matches!(
            k,
            Some(
                Kind::SessionStart
                    | Kind::Prompt
                    | Kind::Stop
                    | Kind::StopFailure
                    | Kind::Notify
                    | Kind::SessionEnd
            )
        )
    };
    if rec.is_some_and(|r| hook_kind(r.last_event.as_ref().and_then(|l| l.kind))) {
        return true;
    }
    // Spawned with orch's hooks on its command line, by a harness whose
    // hooks fire only from the first prompt on (codex): the first prompt's
    // own event is the receipt.
    let hooked_at_spawn = rec
        .filter(|r| r.spawned_ts.is_some())
        .and_then(|r| r.harness.as_deref())
        .and_then(crate::harness::find)
        .is_some_and(|h| {
            h.injects_hooks && matches!(h.readiness, crate::harness::Readiness::Screen(_))
        });
    if hooked_at_spawn {
        return true;
    }
    store
        .read_events(pane, 0)
        .map(|evs| evs.iter().any(|e| hook_kind(e.kind)))
        .unwrap_or(false)
}

/// The pane must exist, be alive, and not be a shell prompt.
pub fn check_pane(tmux: &Tmux, store: &Store, pane: PaneId) -> Result<()> {
    let status = pane_status(tmux, pane)?;
    if let Some(cmd) = at_shell_prompt(store, pane, &status.current_command, status.pid) {
        return Err(Fail::refused(format!(
            "pane {pane} is at a {cmd} prompt, not an agent: typed text would run as a command; nothing was typed"
        )));
    }
    Ok(())
}

/// The shell's name when `pane` (foreground command `current_command`, pid
/// `pid`) sits at a bare shell prompt, where typed text would run as a
/// command: a shell in front and no live agent session under it. Tell and
/// subscribe (whose notices are typed) refuse such a pane alike.
pub fn at_shell_prompt<'a>(
    store: &Store,
    pane: PaneId,
    current_command: &'a str,
    pid: u32,
) -> Option<&'a str> {
    let cmd = current_command.rsplit('/').next().unwrap_or("");
    (crate::tmux::is_shell(cmd) && !live_session_under_shell(store, pane, pid)).then_some(cmd)
}

/// Does a shell in the foreground of `pane` (pid `pid`) only wrap a live
/// agent session? Hook evidence outranks `pane_current_command` (issue 15:
/// an operator started as `bash -c '…claude…; exec bash'` showed `bash`):
/// the pane's last hook event belongs to a session that has not ended, and
/// the shell has a process running under it. Both are needed — hooks alone
/// would trust a pane whose agent was killed without a `session_end` and
/// left a bare prompt.
pub fn live_session_under_shell(store: &Store, pane: PaneId, pid: u32) -> bool {
    let live_kind = store
        .read_registry(pane)
        .and_then(|r| r.last_event)
        .and_then(|l| l.kind)
        .is_some_and(|k| {
            matches!(
                k,
                Kind::SessionStart | Kind::Prompt | Kind::Stop | Kind::StopFailure | Kind::Notify
            )
        });
    live_kind && pid != 0 && crate::agent_state::has_children(pid) == Some(true)
}

/// The pane must exist and be alive. Returns its foreground command.
pub fn check_pane_exists(tmux: &Tmux, pane: PaneId) -> Result<String> {
    pane_status(tmux, pane).map(|s| s.current_command)
}

/// The pane's status; exit 7 when it does not exist or is dead.
fn pane_status(tmux: &Tmux, pane: PaneId) -> Result<crate::tmux::PaneStatus> {
    let status = tmux.pane_status(pane)?.ok_or_else(|| {
        Fail::new(
            Code::Exited,
            format!("pane {pane} does not exist on this tmux server (its agent may have exited); nothing was typed"),
        )
    })?;
    if status.dead {
        return Err(Fail::new(
            Code::Exited,
            format!(
                "the process in pane {pane} has exited (the pane is kept dead); nothing was typed"
            ),
        )
        .into());
    }
    Ok(status)
}

pub(super) fn exited(pane: PaneId, what: &str) -> anyhow::Error {
    Fail::new(Code::Exited, format!("pane {pane} {what}")).into()
}

/// Wait until the target is ready to be typed into (see the module doc).
/// Returns whether it is mid-turn (only with `Busy::Queue`, or when telling
/// one's own pane, which cannot wait for its own turn to end), and the
/// screen it was judged by.
pub(super) fn wait_ready(
    store: &Store,
    tmux: &Tmux,
    pane: PaneId,
    opts: &DeliverOpts,
    waiter: &Waiter,
) -> Result<(bool, String)> {
    let queue = opts.busy == Busy::Queue || opts.from == Some(pane);
    loop {
        let rec = store.read_registry(pane);
        let screen = tmux.capture(pane).map_err(|_| {
            exited(
                pane,
                "disappeared while orch waited for it; nothing was typed",
            )
        })?;
        let state = readiness(rec.as_ref(), &screen);
        let recheck = match &state {
            Readiness::Idle => return Ok((false, screen)),
            Readiness::Busy if queue => return Ok((true, screen)),
            // Only the screen says so: no event marks the end of that turn's
            // display, so look again soon.
            Readiness::Busy
                if !matches!(
                    rec.as_ref()
                        .and_then(|r| r.last_event.as_ref())
                        .and_then(|l| l.kind),
                    Some(Kind::Prompt)
                ) =>
            {
                Some(SCREEN_BUSY_RECHECK)
            }
            Readiness::Busy => None,
            Readiness::Dialog(why) if !opts.wait_dialog => {
                return Err(Fail::refused(format!(
                    "{pane} is waiting for an answer to a dialog — {why}; typed keys would answer it, so nothing was typed (answer it, or retry with --wait-idle)"
                )));
            }
            Readiness::Dialog(_) => Some(RECHECK),
            Readiness::Ended(why) => {
                return Err(exited(
                    pane,
                    &format!("is not running an agent: {why}; nothing was typed"),
                ));
            }
        };
        let now = Instant::now();
        if now >= opts.deadline {
            let what = match state {
                Readiness::Dialog(why) => format!("still showing a dialog — {why}"),
                _ => "still mid-turn".into(),
            };
            return Err(Fail::timeout(format!(
                "timed out waiting for {pane}: {what}; nothing was typed (use --timeout, or --queue to type while it works)"
            )));
        }
        // Pane death has no event: look again at least every RECHECK.
        let until = opts.deadline.min(now + recheck.unwrap_or(RECHECK));
        waiter.wait(Some(until));
        check_pane(tmux, store, pane)?;
    }
}

/// The `prompt_id` of the turn a pane is in, when its last hook event is
/// that turn's prompt.
pub(super) fn running_prompt_id(
    store: &Store,
    pane: PaneId,
    rec: Option<&PaneRecord>,
) -> Option<String> {
    let last = rec?.last_event.as_ref()?;
    if last.kind != Some(Kind::Prompt) {
        return None;
    }
    store
        .read_events(pane, last.seq.saturating_sub(1))
        .ok()?
        .into_iter()
        .find(|e| e.seq == last.seq)?
        .prompt_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_from_registry() {
        use crate::registry::LastEvent;
        let mut rec = PaneRecord::default();
        assert_eq!(readiness(Some(&rec), ""), Readiness::Idle);
        rec.last_event = Some(LastEvent {
            kind: Some(Kind::Prompt),
            ..Default::default()
        });
        assert_eq!(readiness(Some(&rec), ""), Readiness::Busy);
        rec.last_event = Some(LastEvent {
            kind: Some(Kind::Notify),
            notification_type: Some("permission_prompt".into()),
            ..Default::default()
        });
        assert!(matches!(readiness(Some(&rec), ""), Readiness::Dialog(_)));
        rec.last_event = Some(LastEvent {
            kind: Some(Kind::Notify),
            notification_type: Some("idle_prompt".into()),
            ..Default::default()
        });
        assert_eq!(readiness(Some(&rec), ""), Readiness::Idle);
        rec.last_event = Some(LastEvent {
            kind: Some(Kind::SessionEnd),
            ..Default::default()
        });
        assert!(matches!(readiness(Some(&rec), ""), Readiness::Ended(_)));
        rec.last_event = None;
        rec.screen = Some(crate::registry::ScreenState {
            state: State::BlockedDialog,
            ts: 1,
            excerpt: "Do you trust".into(),
        });
        assert!(matches!(readiness(Some(&rec), ""), Readiness::Dialog(_)));
    }
}

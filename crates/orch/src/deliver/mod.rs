//! Delivering a prompt into an agent's pane: exactly once, intact, and
//! acknowledged — or an honest non-zero answer saying why not.
//!
//! The algorithm (docs/tell.md, "Delivery"):
//!
//! 1. Sanitize: strip terminal control sequences (every ESC-introduced
//!    sequence, C1 controls, C0 controls except `\n` and `\t`, DEL); CR/CRLF
//!    become LF. Text that is empty after this is refused.
//! 2. Check the pane: it must exist, be alive, and not be running a shell
//!    (typed text would run as a command).
//! 3. Take the pane's delivery lock (`panes/<N>.deliver.lock`; lock order:
//!    delivery lock, then pane lock). Two senders never interleave.
//! 4. Arm the inotify waiter on `events/`, then classify the target from its
//!    registry record and its screen: showing a dialog (permission prompt,
//!    start-up dialog) → refuse, or with `wait_dialog` wait for it to close;
//!    mid-turn (last hook event `prompt`, no `stop` yet) → wait for the turn
//!    to end, or with `queue` type anyway (the harness queues typed input);
//!    session ended → refuse as exited.
//! 5. Prompts above [`paste_max`] bytes are written to a 0600 file under the
//!    state dir and replaced by a one-line pointer to it.
//! 6. Append a `sent` event to the target's log *before* typing, so an
//!    `orch-listen <pane>` started after tell returns can never miss the
//!    reply.
//! 7. `load-buffer` into a uniquely named buffer (text on stdin, never
//!    argv or a shell), `paste-buffer -p -d` (bracketed), `send-keys Enter`.
//! 8. Receipt: wait for the target's `prompt` event whose `prompt_hash`
//!    matches (the hash of the normalized text, which tolerates how
//!    harnesses re-type whitespace; docs/protocol.md, "Prompt matching"). If none arrives within [`enter_window`] and the screen shows
//!    the text still in the input box (no dialog, not working), press Enter
//!    again — at most [`MAX_ENTER_RETRIES`] times. The paste is never
//!    repeated, so nothing is sent twice.
//!
//! A target that has never fired a hook cannot acknowledge anything: the
//! result is `unconfirmed`, never `delivered`.
//!
//! Where the steps live: [`sanitize`] (1), [`ready`] (2 and 4: the pane
//! check and the readiness wait), [`paste`] (5, and the named tmux buffers
//! of 7), [`receipt`] (8), [`turn`] (waiting for the reply, `--wait`).
//! [`deliver`] here runs them in order and owns the delivery lock.

pub mod confirm;
mod paste;
mod ready;
mod receipt;
mod sanitize;
mod turn;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::event::{Event, Kind, normalize_prompt, prompt_hash, set_prompt};
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::registry::ConfirmedBy;
use crate::store::{LogCursor, Store};
use crate::tmux::Tmux;
use crate::watch::Waiter;
pub use paste::{PromptFile, remove_stale_buffers};
use paste::{buffer_name, write_prompt_file};
pub use ready::{
    Readiness, at_shell_prompt, check_pane, check_pane_exists, has_hooks, live_session_under_shell,
    readiness,
};
use ready::{running_prompt_id, wait_ready};
pub use receipt::{NewlineWatch, await_receipt};
pub use sanitize::{INPUT_MAX, sanitize, text_from_bytes};
pub use turn::{EndKind, TurnEnd, wait_turn_end};

/// Prompts longer than this (bytes) go through a file and a pointer message.
/// Claude Code took a 20 KiB bracketed paste intact (BRIEF §5); 64 KiB keeps
/// every ordinary prompt a real paste while bounding what is pushed through
/// the terminal.
pub const DEFAULT_PASTE_MAX: usize = 64 * 1024;
pub const PASTE_MAX_ENV: &str = "ORCH_TELL_PASTE_MAX";
/// How long to wait for a receipt before checking whether Enter was
/// swallowed. The echo agent acknowledges in a few ms and Claude Code in a
/// few hundred (target ≤ 300 ms), so 1 s is well past a normal receipt.
pub const DEFAULT_ENTER_WINDOW_MS: u64 = 1000;
pub const ENTER_WINDOW_ENV: &str = "ORCH_TELL_ENTER_RETRY_MS";
/// Overrides the harness's Enter floor ([`crate::harness::EnterDelay`]),
/// in ms, for a harness that has one.
pub const ENTER_FLOOR_ENV: &str = "ORCH_TELL_ENTER_FLOOR_MS";
/// Enter is pressed at most 1 + this many times.
pub const MAX_ENTER_RETRIES: u32 = 3;
/// After the paste, give up on a receipt after this long.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(10);
/// While waiting for something that has no event (a pane's death, a dialog
/// that only the screen shows), look again this often.
pub(crate) const RECHECK: Duration = Duration::from_millis(1000);
/// How long Enter waits for a paste to show on screen. Claude Code drops an
/// Enter that arrives before it has drawn the paste — 17 of 20 times right
/// after start-up (docs/claude-code-e2e.md, "Input") — and then only the
/// 1 s retry would submit it. It draws a paste in a few tens of ms; past
/// this bound Enter is pressed anyway (a harness that never shows typed
/// text must not stall every tell).
pub(crate) const PASTE_SHOW_WAIT: Duration = Duration::from_millis(500);
/// The same for a harness with an Enter floor ([`crate::harness::EnterDelay`]):
/// Gemini CLI right after start-up drew a paste only ~650 ms after it was
/// sent (load 13), and the Enter pressed at 500 ms became a newline, found
/// only by the 1 s check.
pub(crate) const PASTE_SHOW_WAIT_FLOOR: Duration = Duration::from_millis(2000);
pub(crate) const PASTE_SHOW_POLL: Duration = Duration::from_millis(5);

/// Notification types that mean a dialog is waiting for a keypress.
pub(crate) const DIALOG_NOTIFICATIONS: &[&str] = &["permission_prompt", "elicitation_dialog"];

pub fn paste_max() -> usize {
    crate::env::positive(PASTE_MAX_ENV, DEFAULT_PASTE_MAX as u64) as usize
}

pub fn enter_window() -> Duration {
    Duration::from_millis(crate::env::positive(
        ENTER_WINDOW_ENV,
        DEFAULT_ENTER_WINDOW_MS,
    ))
}

/// What to do when the target is mid-turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Wait (up to the deadline) for the turn to end, then type.
    WaitIdle,
    /// Type now; the harness queues it after the current turn.
    Queue,
}

#[derive(Debug, Clone)]
pub struct DeliverOpts {
    /// The pane the prompt is sent as (recorded in the `sent` event).
    pub from: Option<PaneId>,
    /// Give up (nothing typed) if the target is not ready by then; also
    /// bounds the receipt wait.
    pub deadline: Instant,
    pub busy: Busy,
    /// Wait for a dialog to close instead of refusing.
    pub wait_dialog: bool,
    /// With [`Busy::Queue`] on a busy target: wait for the receipt (which
    /// only comes when the current turn ends) instead of returning `queued`.
    pub confirm_queued: bool,
    pub receipt_timeout: Duration,
    pub enter_window: Duration,
    pub max_enter_retries: u32,
    /// Extra facts recorded in the `sent` event's `data`.
    pub data: serde_json::Map<String, serde_json::Value>,
    /// The caller has just run [`check_pane`] on the target (saves a tmux
    /// call; the check is repeated after any wait anyway).
    pub pane_checked: bool,
}

impl DeliverOpts {
    pub fn new(timeout: Duration) -> DeliverOpts {
        DeliverOpts {
            from: None,
            deadline: Instant::now() + timeout,
            busy: Busy::WaitIdle,
            wait_dialog: false,
            confirm_queued: false,
            receipt_timeout: DEFAULT_RECEIPT_TIMEOUT,
            enter_window: enter_window(),
            max_enter_retries: MAX_ENTER_RETRIES,
            data: serde_json::Map::new(),
            pane_checked: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The agent acknowledged this prompt (its `prompt` event matched).
    Delivered,
    /// Typed while the agent was mid-turn (`Busy::Queue`); the receipt comes
    /// when the current turn ends.
    Queued,
    /// Typed, but no acknowledgement (no hooks, or none in time).
    Unconfirmed,
    /// tmux failed part-way (see `reason` for what reached the pane).
    Failed,
    /// The agent or its pane went away after the text was typed.
    Exited,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Queued => "queued",
            Status::Unconfirmed => "unconfirmed",
            Status::Failed => "failed",
            Status::Exited => "exited",
        }
    }
}

/// What became of the typed text: its size and hash, the Enter presses,
/// and where the send and its receipt stand in the target's log. One
/// struct, flattened into both [`Receipt`] and the tell report
/// (`crate::tell::TellReport`), so the two cannot drift apart.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    /// Paste → matching `prompt` event seen, in ms.
    pub receipt_ms: Option<f64>,
    /// Paste → the first Enter sent, in ms: orch's part of `receipt_ms`
    /// (waiting for the paste to show, the harness's Enter floor); the rest
    /// is the agent's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enter_ms: Option<f64>,
    /// Bytes of the text typed into the pane.
    pub bytes: usize,
    /// `prompt_hash` of the text typed (what the `prompt` event carries).
    pub hash: String,
    /// How many times Enter was pressed.
    pub attempts: u32,
    /// Of those, how many re-pressed an Enter the agent had visibly taken
    /// as a newline ([`NewlineWatch`]); only shown when some did.
    #[serde(skip_serializing_if = "is_zero")]
    pub newline_retries: u32,
    /// Seq of the `sent` event in the target's log.
    pub sent_seq: u64,
    /// Seq of the matching `prompt` event.
    pub prompt_seq: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub status: Status,
    pub pane: PaneId,
    #[serde(flatten)]
    pub typed: Typed,
    /// The `prompt_id` of the running turn the prompt was taken into: its
    /// prompt event came mid-turn and carries that turn's id (Claude Code
    /// 2.1.3xx acknowledges a queued prompt at once that way, and answers it
    /// after that turn, or inside it when a tool was running). The status is
    /// then `queued`, from that evidence.
    pub joined_turn: Option<String>,
    /// What confirmed the prompt: its `prompt` event, or (a `--queue`d
    /// prompt Claude Code took into the running turn at a tool result, with
    /// no prompt event) the transcript, reported by that turn's end.
    pub confirmed_by: Option<ConfirmedBy>,
    /// The turn end whose `data.injected` names this send (confirmed by
    /// the transcript): the end of the turn that took it.
    pub injected_seq: Option<u64>,
    /// Time spent waiting for the lock and for the target to be ready.
    pub waited_ms: f64,
    pub file: Option<PromptFile>,
    /// Why the status is not `delivered`.
    pub reason: Option<String>,
}

/// Block for the delivery lock until `deadline`.
fn lock_until(path: PathBuf, deadline: Instant, pane: PaneId) -> Result<FileLock> {
    FileLock::acquire_until(&path, deadline)
        .with_context(|| format!("cannot lock {}", path.display()))?
        .ok_or_else(|| {
            Fail::timeout(format!(
                "timed out waiting for another delivery to {pane} to finish; nothing was typed"
            ))
        })
}

/// Deliver `text` to `pane` (see the module doc).
///
/// `Err` means nothing was typed; it carries its exit code ([`Fail`]):
/// usage (empty text), refused (dialog, shell), exited (no such pane),
/// timeout (not ready in time), or failure. Once anything may have reached
/// the pane, the answer is always a [`Receipt`], whose status says what
/// happened (`delivered`, `queued`, `unconfirmed`, `failed`, `exited`).
pub fn deliver(store: &Store, pane: PaneId, text: &str, opts: &DeliverOpts) -> Result<Receipt> {
    let start = Instant::now();
    let clean = sanitize(text);
    if normalize_prompt(&clean).is_empty() {
        return Err(Fail::usage(
            "the text is empty once control characters are removed; nothing was sent",
        ));
    }
    let tmux = Tmux::for_server(store.server());
    if !opts.pane_checked {
        check_pane(&tmux, store, pane)?;
    }

    let _delivery = lock_until(store.layout().delivery_lock(pane), opts.deadline, pane)?;
    // Armed before the first look at the log, so no event is missed.
    let waiter = Waiter::new(&store.layout().events_dir());
    let (busy, mut screen_before) = wait_ready(store, &tmux, pane, opts, &waiter)?;
    if busy {
        screen_before = receipt::wait_input_settled(
            &tmux,
            pane,
            screen_before,
            Instant::now() + opts.enter_window,
        );
    }
    let (typed, file) = if clean.len() > paste_max() {
        let (pointer, file) = write_prompt_file(store, pane, &clean)?;
        (pointer, Some(file))
    } else {
        (clean, None)
    };
    let hash = prompt_hash(&typed);

    let mut sent = Event::new(Kind::Sent);
    sent.from = opts.from;
    set_prompt(&mut sent, &typed);
    let mut data = opts.data.clone();
    if let Some(f) = &file {
        data.insert("file".into(), f.path.display().to_string().into());
        data.insert("file_bytes".into(), f.bytes.into());
        data.insert("file_hash".into(), f.hash.clone().into());
    }
    if busy {
        data.insert("queued".into(), true.into());
        // Where the hook starts looking for the text taken into a turn
        // (confirm.rs): nothing before it can be this prompt.
        if let Some(len) = store
            .read_registry(pane)
            .and_then(|r| r.transcript_path)
            .and_then(|p| crate::harness::claude_injected::transcript_len(p.as_ref()))
        {
            data.insert("transcript_offset".into(), len.into());
        }
    }
    if !data.is_empty() {
        sent.data = Some(serde_json::Value::Object(data));
    }
    // The `sent` record comes before the text goes to tmux: waiting for the
    // pane lock (bounded by the deadline, like every wait before typing)
    // must not happen while a buffer holding the prompt sits in tmux, where
    // a tell killed meanwhile would leave it for anyone to read.
    let sent = match store.append_by(pane, sent, opts.deadline) {
        Ok(ev) => ev,
        Err(e) if crate::exit::code_of(&e) == Code::Timeout => {
            return Err(Fail::timeout(format!(
                "{e:#}; nothing was typed (use --timeout)"
            )));
        }
        Err(e) => return Err(e.context("cannot record the send; nothing was typed")),
    };
    let waited_ms = ms(start.elapsed());
    let buffer = buffer_name();
    if let Err(e) = tmux.load_buffer(&buffer, typed.as_bytes()) {
        tmux.delete_buffer(&buffer);
        return Err(e.context("cannot hand the prompt to tmux; nothing was typed"));
    }

    let mut receipt = Receipt {
        status: Status::Failed,
        pane,
        typed: Typed {
            bytes: typed.len(),
            hash: hash.clone(),
            sent_seq: sent.seq,
            ..Typed::default()
        },
        joined_turn: None,
        confirmed_by: None,
        injected_seq: None,
        waited_ms,
        file,
        reason: None,
    };
    let pasted_at = Instant::now();
    if let Err(e) = tmux.paste_buffer(&buffer, pane) {
        tmux.delete_buffer(&buffer);
        receipt.reason = Some(format!(
            "pasting into {pane} failed ({e:#}); nothing was submitted"
        ));
        return Ok(receipt);
    }
    let harness = store
        .read_registry(pane)
        .and_then(|r| r.harness.as_deref().and_then(crate::harness::find));
    let floor = harness
        .map(|h| h.enter_delay.for_text(&typed))
        .unwrap_or_default();
    // Only for a harness that has a floor at all: tests make its Enter
    // come early, to see a newline retried.
    let floor = match crate::env::positive(ENTER_FLOOR_ENV, 0) {
        0 => floor,
        n if !floor.is_zero() => Duration::from_millis(n),
        _ => floor,
    };
    // A harness with a floor reads an Enter that comes before it has drawn
    // the paste as a newline, nearly always: wait longer for the paste.
    let show_wait = if floor.is_zero() {
        PASTE_SHOW_WAIT
    } else {
        PASTE_SHOW_WAIT_FLOOR
    };
    let (shown, screen) = if !busy && harness.is_some_and(|h| h.enter_delay.enter_unseen) {
        // Idle, so no dialog can be coming up (see `EnterDelay::enter_unseen`).
        (true, screen_before.clone())
    } else {
        receipt::wait_paste_shown(&tmux, pane, &typed, &screen_before, pasted_at + show_wait)
    };
    if let Some(dialog) = receipt::enter_would_answer_dialog(shown, &screen) {
        receipt.status = Status::Unconfirmed;
        receipt.reason = Some(format!(
            "a dialog appeared in {pane} before Enter ({dialog}); Enter was not pressed, so the dialog was not answered, and the pasted text was probably discarded — answer the dialog, then tell again"
        ));
        return Ok(receipt);
    }
    // Some harnesses take an Enter right after a paste as a newline: wait
    // out the harness's floor (harness::EnterDelay), counted from when the
    // paste showed on screen — the agent has read it by then, whenever that
    // was; a loaded machine delivers the paste late, and an Enter counted
    // from the send would then land right behind it (Gemini CLI under load
    // 20: the first Enter became a newline in 18 of 35 tells).
    let shown_at = Instant::now();
    let newline_watch = (!floor.is_zero()).then(|| NewlineWatch {
        screen: screen.clone(),
        floor,
    });
    let since = if shown { shown_at } else { pasted_at };
    if let Some(rest) = floor.checked_sub(since.elapsed()) {
        std::thread::sleep(rest);
    }
    if let Err(e) = tmux.send_enter(pane) {
        receipt.reason = Some(format!(
            "the text was pasted into {pane} but Enter could not be sent ({e:#}); it sits unsubmitted in the input box"
        ));
        return Ok(receipt);
    }
    receipt.typed.attempts = 1;
    receipt.typed.enter_ms = Some(ms(pasted_at.elapsed()));
    receipt.status = Status::Unconfirmed;
    // Off the critical path: the agent is taking the prompt meanwhile.
    remove_stale_buffers(&tmux);

    let rec = store.read_registry(pane);
    if !has_hooks(store, pane, rec.as_ref()) {
        receipt.reason = Some(format!(
            "{pane} has never fired a hook (a harness without hooks, or `orch up` not run), so receipt cannot be confirmed"
        ));
        return Ok(receipt);
    }
    // Claude Code queues a prompt typed mid-turn and fires its
    // `UserPromptSubmit` when the turn ends — unless the turn runs a tool
    // first: then it hands the text to the running turn at the tool result
    // ("The user sent a new message while you were working") and no
    // `prompt` event ever fires. `queued` must not promise a receipt that
    // may never come (issue 15).
    let injects = rec.as_ref().and_then(|r| r.harness.as_deref()) == Some("claude");
    if busy && injects && !opts.confirm_queued {
        receipt.status = Status::Queued;
        receipt.reason = Some(format!(
            "{pane} is mid-turn; Claude Code submits the text when the turn ends or, if the turn runs a tool first, gives it to the running turn — confirmed later by its `prompt` event or by the transcript at that turn's end (`orch survey {pane}` lists it under `queued` until then; `tell --queue --wait` waits for it)"
        ));
        return Ok(receipt);
    }
    if busy && !opts.confirm_queued {
        receipt.status = Status::Queued;
        receipt.reason = Some(format!(
            "{pane} is mid-turn; the harness submits the prompt when the turn ends (its `prompt` event is the receipt)"
        ));
        return Ok(receipt);
    }
    let receipt_timeout = rec
        .as_ref()
        .and_then(|r| r.harness.as_deref())
        .and_then(crate::harness::find)
        .and_then(|h| h.receipt_wait)
        .map_or(opts.receipt_timeout, |w| w.max(opts.receipt_timeout));
    // The turn running as the prompt was typed: a receipt carrying its id
    // was taken into it (see `Receipt::joined_turn`).
    let running = if busy {
        running_prompt_id(store, pane, rec.as_ref())
    } else {
        None
    };
    let receipt_deadline = if busy {
        opts.deadline
    } else {
        opts.deadline.min(pasted_at + receipt_timeout)
    };
    await_receipt(
        store,
        &tmux,
        &waiter,
        LogCursor::new(pane, sent.seq),
        &typed,
        pasted_at,
        receipt_deadline,
        !busy,
        running.as_deref(),
        opts,
        newline_watch,
        receipt,
    )
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

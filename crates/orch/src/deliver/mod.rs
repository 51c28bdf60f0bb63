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

mod receipt;
mod sanitize;
mod turn;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::event::{Event, Kind, normalize_prompt, prompt_hash, set_prompt};
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::registry::PaneRecord;
use crate::screen;
use crate::state::State;
use crate::store::{LogCursor, Store};
use crate::time::now_ns;
use crate::tmux::Tmux;
use crate::watch::Waiter;
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
/// Pointer files older than this are deleted when a new one is written.
const PROMPT_FILE_KEEP: Duration = Duration::from_secs(7 * 86400);
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
/// How often a target that only its screen shows busy is looked at again.
const SCREEN_BUSY_RECHECK: Duration = Duration::from_millis(100);

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

/// A large prompt's file.
#[derive(Debug, Clone, Serialize)]
pub struct PromptFile {
    pub path: PathBuf,
    pub bytes: usize,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub status: Status,
    pub pane: PaneId,
    /// Paste → matching `prompt` event seen, in ms.
    pub receipt_ms: Option<f64>,
    /// Paste → the first Enter sent, in ms: orch's part of `receipt_ms`
    /// (waiting for the paste to show, the harness's Enter floor); the rest
    /// is the agent's.
    pub enter_ms: Option<f64>,
    /// Bytes of the text typed into the pane.
    pub bytes: usize,
    /// `prompt_hash` of the text typed (what the `prompt` event carries).
    pub hash: String,
    /// How many times Enter was pressed.
    pub attempts: u32,
    /// Of those, how many re-pressed an Enter the agent had visibly taken
    /// as a newline ([`NewlineWatch`]).
    pub newline_retries: u32,
    /// Seq of the `sent` event in the target's log.
    pub sent_seq: u64,
    /// Seq of the matching `prompt` event.
    pub prompt_seq: Option<u64>,
    /// The `prompt_id` of the running turn the prompt was taken into: its
    /// prompt event came mid-turn and carries that turn's id (Claude Code
    /// 2.1.3xx acknowledges a queued prompt at once that way, and answers it
    /// after that turn, or inside it when a tool was running). The status is
    /// then `queued`, from that evidence.
    pub joined_turn: Option<String>,
    /// Time spent waiting for the lock and for the target to be ready.
    pub waited_ms: f64,
    pub file: Option<PromptFile>,
    /// Why the status is not `delivered`.
    pub reason: Option<String>,
}

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
    let cmd = status.current_command.rsplit('/').next().unwrap_or("");
    if crate::tmux::is_shell(cmd) && !live_session_under_shell(store, pane, status.pid) {
        return Err(Fail::refused(format!(
            "pane {pane} is at a {cmd} prompt, not an agent: typed text would run as a command; nothing was typed"
        )));
    }
    Ok(())
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

static BUFFER_SEQ: AtomicU64 = AtomicU64::new(0);
const BUFFER_PREFIX: &str = "orch-";

fn buffer_name() -> String {
    format!(
        "{BUFFER_PREFIX}{}-{}",
        std::process::id(),
        BUFFER_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pid in one of our buffer names, `orch-<pid>-<n>`.
fn buffer_pid(name: &str) -> Option<u32> {
    let (pid, n) = name.strip_prefix(BUFFER_PREFIX)?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Delete paste buffers left by tells that died between loading a buffer
/// and pasting it (`paste-buffer -d` deletes it otherwise): they hold
/// prompt text, visible to anyone with `tmux list-buffers`. Buffers of live
/// processes are someone's delivery in progress and are left alone.
pub fn remove_stale_buffers(tmux: &Tmux) {
    let Ok(names) = tmux.list_buffers() else {
        return;
    };
    for name in names {
        if buffer_pid(&name)
            .is_some_and(|pid| pid != std::process::id() && !crate::server::pid_alive(pid))
        {
            tmux.delete_buffer(&name);
        }
    }
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

/// Write a large prompt to `servers/<key>/prompts/` (0600) and return the
/// pointer message that replaces it.
fn write_prompt_file(store: &Store, pane: PaneId, text: &str) -> Result<(String, PromptFile)> {
    let dir = store.layout().prompts_dir();
    paths::ensure_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prune_prompt_files(&dir);
    let path = dir.join(format!("{}-{}-{}.md", pane.0, now_ns(), std::process::id()));
    paths::write_atomic(&path, text.as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let pointer = format!(
        "Read the prompt in {} ({} bytes) and follow it.",
        path.display(),
        text.len()
    );
    Ok((
        pointer,
        PromptFile {
            path,
            bytes: text.len(),
            hash: prompt_hash(text),
        },
    ))
}

fn prune_prompt_files(dir: &std::path::Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > PROMPT_FILE_KEEP)
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn exited(pane: PaneId, what: &str) -> anyhow::Error {
    Fail::new(Code::Exited, format!("pane {pane} {what}")).into()
}

/// Wait until the target is ready to be typed into (see the module doc).
/// Returns whether it is mid-turn (only with `Busy::Queue`, or when telling
/// one's own pane, which cannot wait for its own turn to end), and the
/// screen it was judged by.
fn wait_ready(
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
        receipt_ms: None,
        enter_ms: None,
        bytes: typed.len(),
        hash: hash.clone(),
        attempts: 0,
        newline_retries: 0,
        sent_seq: sent.seq,
        prompt_seq: None,
        joined_turn: None,
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
    receipt.attempts = 1;
    receipt.enter_ms = Some(ms(pasted_at.elapsed()));
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
            "{pane} is mid-turn; Claude Code submits the text when the turn ends (its `prompt` event is the receipt) or, if the turn runs a tool first, gives it to the running turn with no prompt event, so no receipt may come — the turn's reply and its transcript (`orch survey {pane}`) show which"
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

/// The `prompt_id` of the turn a pane is in, when its last hook event is
/// that turn's prompt.
fn running_prompt_id(store: &Store, pane: PaneId, rec: Option<&PaneRecord>) -> Option<String> {
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

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
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

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
//!    matches (or whose text matches ignoring whitespace, for harnesses that
//!    reformat). If none arrives within [`enter_window`] and the screen shows
//!    the text still in the input box (no dialog, not working), press Enter
//!    again — at most [`MAX_ENTER_RETRIES`] times. The paste is never
//!    repeated, so nothing is sent twice.
//!
//! A target that has never fired a hook cannot acknowledge anything: the
//! result is `unconfirmed`, never `delivered`.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::event::{Event, Kind, normalize_prompt, prompt_hash, set_prompt};
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::registry::PaneRecord;
use crate::store::{LogCursor, Store};
use crate::time::now_ns;
use crate::tmux::Tmux;
use crate::watch::{Waiter, Wake};

/// Prompts longer than this (bytes) go through a file and a pointer message.
/// Claude Code took a 20 KiB bracketed paste intact (BRIEF §5); 64 KiB keeps
/// every ordinary prompt a real paste while bounding what is pushed through
/// the terminal.
pub const DEFAULT_PASTE_MAX: usize = 64 * 1024;
pub const PASTE_MAX_ENV: &str = "ORCH_TELL_PASTE_MAX";
/// The largest text tell accepts at all.
pub const INPUT_MAX: usize = 16 * 1024 * 1024;
/// How long to wait for a receipt before checking whether Enter was
/// swallowed. The echo agent acknowledges in a few ms and Claude Code in a
/// few hundred (target ≤ 300 ms), so 1 s is well past a normal receipt.
pub const DEFAULT_ENTER_WINDOW_MS: u64 = 1000;
pub const ENTER_WINDOW_ENV: &str = "ORCH_TELL_ENTER_RETRY_MS";
/// Enter is pressed at most 1 + this many times.
pub const MAX_ENTER_RETRIES: u32 = 3;
/// After the paste, give up on a receipt after this long.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pointer files older than this are deleted when a new one is written.
const PROMPT_FILE_KEEP: Duration = Duration::from_secs(7 * 86400);
/// While waiting for something that has no event (a pane's death, a dialog
/// that only the screen shows), look again this often.
const RECHECK: Duration = Duration::from_millis(1000);
/// How long Enter waits for a paste to show on screen. Claude Code drops an
/// Enter that arrives before it has drawn the paste — 17 of 20 times right
/// after start-up (docs/claude-code-e2e.md, "Input") — and then only the
/// 1 s retry would submit it. It draws a paste in a few tens of ms; past
/// this bound Enter is pressed anyway (a harness that never shows typed
/// text must not stall every tell).
const PASTE_SHOW_WAIT: Duration = Duration::from_millis(500);
const PASTE_SHOW_POLL: Duration = Duration::from_millis(5);

/// Foreground commands that are shells: typing there runs the text.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "ash", "busybox", "nu",
    "elvish", "xonsh", "pwsh", "-sh", "-bash", "-zsh",
];

/// Is `command` (a pane's foreground command, without its path) a shell?
/// Typing into one runs the text as a command.
pub fn is_shell(command: &str) -> bool {
    SHELLS.contains(&command)
}

/// Notification types that mean a dialog is waiting for a keypress.
const DIALOG_NOTIFICATIONS: &[&str] = &["permission_prompt", "elicitation_dialog"];

pub fn paste_max() -> usize {
    std::env::var(PASTE_MAX_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PASTE_MAX)
}

pub fn enter_window() -> Duration {
    Duration::from_millis(
        std::env::var(ENTER_WINDOW_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_ENTER_WINDOW_MS),
    )
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
    /// Bytes of the text typed into the pane.
    pub bytes: usize,
    /// `prompt_hash` of the text typed (what the `prompt` event carries).
    pub hash: String,
    /// How many times Enter was pressed.
    pub attempts: u32,
    /// Seq of the `sent` event in the target's log.
    pub sent_seq: u64,
    /// Seq of the matching `prompt` event.
    pub prompt_seq: Option<u64>,
    /// `hash` or `text` (whitespace-insensitive match).
    pub matched_by: Option<&'static str>,
    /// Time spent waiting for the lock and for the target to be ready.
    pub waited_ms: f64,
    pub file: Option<PromptFile>,
    /// Why the status is not `delivered`.
    pub reason: Option<String>,
}

/// Remove terminal control sequences: ESC-introduced sequences (CSI, OSC,
/// DCS/SOS/PM/APC strings, two-byte escapes), their 8-bit C1 forms, other
/// C1 and C0 controls except `\n` and `\t`, and DEL. CR and CRLF become LF.
/// An OSC/DCS string that has no terminator before the end of its line
/// loses only its introducer, so stray bytes cannot swallow real text.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut it = input.chars();
    while let Some(c) = it.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                let mut look = it.clone();
                if look.next() == Some('\n') {
                    it = look;
                }
                out.push('\n');
            }
            '\u{1b}' => skip_escape(&mut it),
            '\u{9b}' => skip_csi(&mut it),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut it),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_escape(it: &mut std::str::Chars<'_>) {
    let mut look = it.clone();
    match look.next() {
        Some('[') => {
            *it = look;
            skip_csi(it);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            *it = look;
            skip_string(it);
        }
        Some(c @ '\u{20}'..='\u{2f}') => {
            // nF escape: intermediates, then one final byte.
            let _ = c;
            *it = look;
            let mut look = it.clone();
            while let Some(c) = look.next() {
                match c {
                    '\u{20}'..='\u{2f}' => *it = look.clone(),
                    '\u{30}'..='\u{7e}' => {
                        *it = look;
                        return;
                    }
                    _ => return,
                }
            }
        }
        Some('\u{30}'..='\u{7e}') => *it = look,
        // A lone ESC (end of text, or before a control/non-ASCII char):
        // drop just the ESC.
        _ => {}
    }
}

fn skip_csi(it: &mut std::str::Chars<'_>) {
    let mut look = it.clone();
    while let Some(c) = look.next() {
        match c {
            '\u{20}'..='\u{3f}' => *it = look.clone(),
            '\u{40}'..='\u{7e}' => {
                *it = look;
                return;
            }
            // Malformed: the sequence ends here; the char is kept.
            _ => return,
        }
    }
}

/// Skip a control string up to BEL or ST (`ESC \` or U+009C). Unterminated
/// before a newline or the end: skip nothing more.
fn skip_string(it: &mut std::str::Chars<'_>) {
    let mut look = it.clone();
    while let Some(c) = look.next() {
        match c {
            '\u{7}' | '\u{9c}' => {
                *it = look;
                return;
            }
            '\u{1b}' => {
                let mut after = look.clone();
                if after.next() == Some('\\') {
                    look = after;
                }
                *it = look;
                return;
            }
            '\n' | '\r' => return,
            _ => {}
        }
    }
}

/// Read a prompt's bytes as text: invalid UTF-8 or oversize input is a
/// usage error (nothing is sent).
pub fn text_from_bytes(data: Vec<u8>, what: &str) -> Result<String> {
    if data.len() > INPUT_MAX {
        return Err(Fail::usage(format!(
            "{what} is {} bytes; tell accepts at most {INPUT_MAX} bytes",
            data.len()
        )));
    }
    String::from_utf8(data).map_err(|e| {
        Fail::usage(format!(
            "{what} is not UTF-8 text (invalid byte at offset {}); send text, or point the agent at the file",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// What the pane's state says about typing into it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Idle,
    /// Mid-turn: the last hook event is a prompt with no turn end after it.
    Busy,
    /// A dialog is waiting for a keypress; typed keys would answer it.
    Dialog(String),
    /// The agent's session ended.
    Ended(String),
}

/// Classify a target from its registry record and its screen.
pub fn readiness(rec: Option<&PaneRecord>, screen: &str) -> Readiness {
    if let Some(excerpt) = screen_dialog(screen) {
        return Readiness::Dialog(format!("its screen shows a dialog: {excerpt}"));
    }
    let Some(rec) = rec else {
        return Readiness::Idle;
    };
    if let Some(s) = &rec.screen
        && (s.state == "blocked:dialog" || s.state == "blocked:permission")
    {
        return Readiness::Dialog(format!("it is {} ({})", s.state, one_line(&s.excerpt, 120)));
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
                one_line(last.message.as_deref().unwrap_or(""), 120)
            ))
        }
        Some(Kind::Prompt) => Readiness::Busy,
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

fn one_line(s: &str, max: usize) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut t: String = joined.chars().take(max).collect();
    t.push('…');
    t
}

/// Lines of the screen with box-drawing borders and outer space removed,
/// non-empty only.
fn content_lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| {
            l.trim_matches(|c: char| c.is_whitespace() || ('\u{2500}'..='\u{257f}').contains(&c))
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// A numbered menu option: `1. Yes`, `❯ 2. No`.
fn option_line(l: &str) -> Option<bool> {
    let (cursor, rest) = match l.strip_prefix(['❯', '›', '▶']) {
        Some(r) => (true, r.trim_start()),
        None => (false, l),
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    (digits > 0 && rest[digits..].starts_with(". ")).then_some(cursor)
}

/// A selection dialog at the bottom of the screen: a block of numbered
/// options, one of them under the menu cursor (`❯ 1. Yes`), with at most two
/// lines (a footer like "Esc to cancel") below it. Claude Code's permission,
/// trust, API-key and bypass dialogs, and the echo agent's, all look like
/// this; a prompt in an input box does not (no cursor mark), and neither
/// does an answered dialog scrolled up by later output. Returns the excerpt.
pub fn screen_dialog(screen: &str) -> Option<String> {
    let lines = content_lines(screen);
    let last_option = lines.iter().rposition(|l| option_line(l).is_some())?;
    if lines.len() - 1 - last_option > 2 {
        return None;
    }
    let mut first = last_option;
    while first > 0 && option_line(&lines[first - 1]).is_some() {
        first -= 1;
    }
    if !lines[first..=last_option]
        .iter()
        .any(|l| option_line(l) == Some(true))
    {
        return None;
    }
    // Include the question (and what it is about) above the options.
    let from = first.saturating_sub(3);
    Some(one_line(&lines[from..=last_option].join(" / "), 240))
}

/// The harness shows that it is working on a turn (Claude Code and the echo
/// agent print "esc to interrupt" while busy).
pub fn screen_working(screen: &str) -> bool {
    let lines = content_lines(screen);
    lines
        .iter()
        .rev()
        .take(6)
        .any(|l| l.to_ascii_lowercase().contains("esc to interrupt"))
}

/// Is `text` still sitting in the input area (the bottom of the screen)?
/// Compares the end of its last line, ignoring whitespace (harnesses wrap
/// and indent), and accepts Claude Code's collapsed-paste placeholder.
pub fn text_in_input(screen: &str, text: &str) -> bool {
    let lines = content_lines(screen);
    let bottom = lines[lines.len().saturating_sub(8)..].join("");
    let bottom: String = bottom.chars().filter(|c| !c.is_whitespace()).collect();
    if bottom.contains("[Pastedtext") {
        return true;
    }
    let last = text
        .lines()
        .rev()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let n = last.chars().count();
    let tail: String = last.chars().skip(n.saturating_sub(24)).collect();
    !tail.is_empty() && bottom.contains(&tail)
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
    store
        .read_events(pane, 0)
        .map(|evs| evs.iter().any(|e| hook_kind(e.kind)))
        .unwrap_or(false)
}

/// The pane must exist, be alive, and not be a shell prompt.
pub fn check_pane(tmux: &Tmux, pane: PaneId) -> Result<()> {
    let cmd = check_pane_exists(tmux, pane)?;
    let cmd = cmd.rsplit('/').next().unwrap_or("");
    if SHELLS.contains(&cmd) {
        return Err(Fail::refused(format!(
            "pane {pane} is at a {cmd} prompt, not an agent: typed text would run as a command; nothing was typed"
        )));
    }
    Ok(())
}

/// The pane must exist and be alive. Returns its foreground command.
pub fn check_pane_exists(tmux: &Tmux, pane: PaneId) -> Result<String> {
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
    Ok(status.current_command)
}

static BUFFER_SEQ: AtomicU64 = AtomicU64::new(0);

fn buffer_name() -> String {
    format!(
        "orch-{}-{}",
        std::process::id(),
        BUFFER_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Block for the lock until `deadline`. The lock is taken on a helper thread
/// so a timeout can be reported; if that thread wins after we gave up, it
/// drops the lock at once (its receiver is gone).
fn lock_until(path: PathBuf, deadline: Instant, pane: PaneId) -> Result<FileLock> {
    if let Some(l) =
        FileLock::try_acquire(&path).with_context(|| format!("cannot lock {}", path.display()))?
    {
        return Ok(l);
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = FileLock::acquire(&path);
        let _ = tx.send(r);
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r.context("cannot take the delivery lock"),
        Err(_) => Err(Fail::timeout(format!(
            "timed out waiting for another delivery to {pane} to finish; nothing was typed"
        ))),
    }
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
        check_pane(tmux, pane)?;
    }
}

fn matches_text(ev: &Event, hash: &str, squashed_prefix: &str) -> Option<&'static str> {
    if ev.prompt_hash.as_deref() == Some(hash) {
        return Some("hash");
    }
    let got: String = ev
        .prompt
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(squashed_prefix.chars().count())
        .collect();
    (!squashed_prefix.is_empty() && got == squashed_prefix).then_some("text")
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
        check_pane(&tmux, pane)?;
    }

    let _delivery = lock_until(store.layout().delivery_lock(pane), opts.deadline, pane)?;
    // Armed before the first look at the log, so no event is missed.
    let waiter = Waiter::new(&store.layout().events_dir());
    let (busy, mut screen_before) = wait_ready(store, &tmux, pane, opts, &waiter)?;
    if busy {
        screen_before = wait_input_settled(
            &tmux,
            pane,
            screen_before,
            Instant::now() + opts.enter_window,
        );
    }
    let waited_ms = ms(start.elapsed());

    let (typed, file) = if clean.len() > paste_max() {
        let (pointer, file) = write_prompt_file(store, pane, &clean)?;
        (pointer, Some(file))
    } else {
        (clean, None)
    };
    let hash = prompt_hash(&typed);
    let buffer = buffer_name();
    tmux.load_buffer(&buffer, typed.as_bytes())
        .context("cannot hand the prompt to tmux; nothing was typed")?;

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
    let sent = match store.append(pane, sent) {
        Ok(ev) => ev,
        Err(e) => {
            tmux.delete_buffer(&buffer);
            return Err(e.context("cannot record the send; nothing was typed"));
        }
    };

    let mut receipt = Receipt {
        status: Status::Failed,
        pane,
        receipt_ms: None,
        bytes: typed.len(),
        hash: hash.clone(),
        attempts: 0,
        sent_seq: sent.seq,
        prompt_seq: None,
        matched_by: None,
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
    let (shown, screen) = wait_paste_shown(
        &tmux,
        pane,
        &typed,
        &screen_before,
        pasted_at + PASTE_SHOW_WAIT,
    );
    if let Some(dialog) = enter_would_answer_dialog(shown, &screen) {
        receipt.status = Status::Unconfirmed;
        receipt.reason = Some(format!(
            "a dialog appeared in {pane} before Enter ({dialog}); Enter was not pressed, so the dialog was not answered, and the pasted text was probably discarded — answer the dialog, then tell again"
        ));
        return Ok(receipt);
    }
    if let Err(e) = tmux.send_enter(pane) {
        receipt.reason = Some(format!(
            "the text was pasted into {pane} but Enter could not be sent ({e:#}); it sits unsubmitted in the input box"
        ));
        return Ok(receipt);
    }
    receipt.attempts = 1;
    receipt.status = Status::Unconfirmed;

    let rec = store.read_registry(pane);
    if !has_hooks(store, pane, rec.as_ref()) {
        receipt.reason = Some(format!(
            "{pane} has never fired a hook (a harness without hooks, or `orch up` not run), so receipt cannot be confirmed"
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
    let receipt_deadline = if busy {
        opts.deadline
    } else {
        opts.deadline.min(pasted_at + opts.receipt_timeout)
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
        opts,
        receipt,
    )
}

/// Return once the pasted `typed` is visible in the pane's input area on a
/// screen that changed since `before` (the screen before the paste), or at
/// `until`, whichever comes first: whether it showed, and the last screen.
/// No event marks a redraw, so this polls (every few ms, for at most
/// [`PASTE_SHOW_WAIT`]).
fn wait_paste_shown(
    tmux: &Tmux,
    pane: PaneId,
    typed: &str,
    before: &str,
    until: Instant,
) -> (bool, String) {
    loop {
        let screen = match tmux.capture(pane) {
            Ok(s) if s != before && text_in_input(&s, typed) => return (true, s),
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
fn wait_input_settled(tmux: &Tmux, pane: PaneId, mut screen: String, until: Instant) -> String {
    while !screen_working(&screen) && Instant::now() < until {
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
fn enter_would_answer_dialog(shown: bool, screen: &str) -> Option<String> {
    if shown {
        return None;
    }
    screen_dialog(screen)
}

/// Wait for the `prompt` event matching `typed`, pressing Enter again (only
/// Enter) when the text visibly still sits in the input box.
#[allow(clippy::too_many_arguments)]
fn await_receipt(
    store: &Store,
    tmux: &Tmux,
    waiter: &Waiter,
    mut cursor: LogCursor,
    typed: &str,
    pasted_at: Instant,
    deadline: Instant,
    may_retry: bool,
    opts: &DeliverOpts,
    mut receipt: Receipt,
) -> Result<Receipt> {
    let pane = receipt.pane;
    let squashed: String = normalize_prompt(typed)
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(200)
        .collect();
    // Counted from the (first) Enter, which may come a little after the paste.
    let mut next_check = Instant::now() + opts.enter_window;
    let mut not_retried: Option<String> = None;
    // A prompt that is not ours: the agent took *something* (perhaps our
    // text, transformed past recognition), so pressing Enter again could
    // submit a second prompt. Stop retrying.
    let mut foreign_prompt = false;
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
                    if let Some(how) = matches_text(ev, &receipt.hash, &squashed) {
                        receipt.status = Status::Delivered;
                        receipt.receipt_ms = Some(ms(pasted_at.elapsed()));
                        receipt.prompt_seq = Some(ev.seq);
                        receipt.matched_by = Some(how);
                        receipt.reason = None;
                        return Ok(receipt);
                    }
                    foreign_prompt = true;
                    not_retried = Some(format!(
                        "{pane} accepted a prompt that does not match (seq {})",
                        ev.seq
                    ));
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
        let now = Instant::now();
        if now >= deadline {
            receipt.reason = Some(format!(
                "no matching prompt event from {pane} within {:.1}s after pasting ({} Enter press(es){})",
                pasted_at.elapsed().as_secs_f64(),
                receipt.attempts,
                not_retried
                    .map(|r| format!("; Enter not retried: {r}"))
                    .unwrap_or_default()
            ));
            return Ok(receipt);
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
            if may_retry && !foreign_prompt && receipt.attempts <= opts.max_enter_retries {
                let screen = tmux.capture(pane).unwrap_or_default();
                not_retried = if let Some(d) = screen_dialog(&screen) {
                    Some(format!("a dialog is showing ({d})"))
                } else if screen_working(&screen) {
                    Some("the agent shows it is working".into())
                } else if !text_in_input(&screen, typed) {
                    Some("the text is not visible in the input box".into())
                } else if let Err(e) = tmux.send_enter(pane) {
                    Some(format!("Enter could not be re-sent ({e:#})"))
                } else {
                    receipt.attempts += 1;
                    None
                };
            }
            next_check = now + opts.enter_window;
        }
        waiter.wait(Some(next_check.min(deadline)));
    }
}

/// How a turn ended, for `--wait`.
#[derive(Debug, Clone, Serialize)]
pub struct TurnEnd {
    /// `stop`, `stop_failure`, `notify` (a dialog), `session_end`,
    /// `exited` (pane gone), or `timeout`.
    pub kind: &'static str,
    pub seq: Option<u64>,
    pub reply: Option<String>,
    pub reply_truncated: bool,
    pub notification_type: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub reason: Option<String>,
    /// Receipt → turn end, in ms.
    pub turn_ms: f64,
}

impl TurnEnd {
    pub fn code(&self) -> Code {
        match self.kind {
            "stop" => Code::Ok,
            "stop_failure" | "notify" => Code::Blocked,
            "session_end" | "exited" => Code::Exited,
            _ => Code::Timeout,
        }
    }
}

/// Block until the turn whose `prompt` event is `after` ends: its `stop`,
/// or a blocker (a dialog notification, `stop_failure`), or the session's
/// end, or the pane's disappearance, or `deadline`.
pub fn wait_turn_end(
    store: &Store,
    pane: PaneId,
    after: u64,
    deadline: Instant,
) -> Result<TurnEnd> {
    let start = Instant::now();
    let tmux = Tmux::for_server(store.server());
    let waiter = Waiter::new(&store.layout().events_dir());
    let mut cursor = LogCursor::new(pane, after);
    let mut end = TurnEnd {
        kind: "timeout",
        seq: None,
        reply: None,
        reply_truncated: false,
        notification_type: None,
        message: None,
        error: None,
        reason: None,
        turn_ms: 0.0,
    };
    loop {
        for ev in cursor
            .poll(store)
            .with_context(|| format!("cannot read the event log of {pane}"))?
        {
            let kind = match ev.kind {
                Some(Kind::Stop) => "stop",
                Some(Kind::StopFailure) => "stop_failure",
                Some(Kind::Notify)
                    if ev
                        .notification_type
                        .as_deref()
                        .is_some_and(|t| DIALOG_NOTIFICATIONS.contains(&t)) =>
                {
                    "notify"
                }
                Some(Kind::SessionEnd) | Some(Kind::Exited) => "session_end",
                _ => continue,
            };
            end.kind = kind;
            end.seq = Some(ev.seq);
            end.reply_truncated = ev.truncated && ev.reply.is_some();
            end.reply = ev.reply;
            end.notification_type = ev.notification_type;
            end.message = ev.message;
            end.error = ev.error;
            end.reason = ev.reason;
            end.turn_ms = ms(start.elapsed());
            return Ok(end);
        }
        let now = Instant::now();
        if now >= deadline {
            end.turn_ms = ms(start.elapsed());
            return Ok(end);
        }
        if let Wake::Timeout = waiter.wait(Some(deadline.min(now + RECHECK)))
            && tmux.pane_status(pane)?.is_none_or(|s| s.dead)
        {
            end.kind = "exited";
            end.reason = Some(format!("pane {pane} disappeared before the turn ended"));
            end.turn_ms = ms(start.elapsed());
            return Ok(end);
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_keeps_text() {
        assert_eq!(sanitize("hello"), "hello");
        assert_eq!(sanitize("a\r\nb\rc\n\td"), "a\nb\nc\n\td");
        assert_eq!(sanitize("x\x1b]2;pwned\x07y"), "xy");
        assert_eq!(sanitize("x\x1b]0;t\x1b\\y"), "xy");
        assert_eq!(sanitize("red\x1b[31;1mtext\x1b[0m"), "redtext");
        assert_eq!(sanitize("paste\x1b[201~end"), "pasteend");
        assert_eq!(sanitize("a\x03b\x00c\x7fd\x08e"), "abcde");
        assert_eq!(sanitize("reset\x1bc!"), "reset!");
        assert_eq!(sanitize("charset\x1b(Bok"), "charsetok");
        assert_eq!(sanitize("c1\u{9b}31mx\u{85}y"), "c1xy");
        assert_eq!(sanitize("osc8 \u{9d}8;;http://x\u{9c}link"), "osc8 link");
        assert_eq!(sanitize("dcs\x1bPq#0;2\x1b\\done"), "dcsdone");
        assert_eq!(sanitize("trailing esc\x1b"), "trailing esc");
        assert_eq!(sanitize("héllo 🎉 — ok"), "héllo 🎉 — ok");
        // An unterminated string loses only its introducer.
        assert_eq!(sanitize("a\x1b]2;title\nnext line"), "a2;title\nnext line");
        // Nothing that reaches the pane is a control character.
        let nasty: String = (0u8..=0x7f)
            .map(char::from)
            .chain('\u{80}'..='\u{9f}')
            .collect();
        assert!(
            sanitize(&nasty)
                .chars()
                .all(|c| c == '\n' || c == '\t' || !(c.is_control()))
        );
    }

    #[test]
    fn dialogs_on_screen() {
        let echo_perm = "echo> [[permission]] go\nworking… (esc to interrupt)\necho wants to run: touch ./echo-was-here\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n\n\n";
        assert!(
            screen_dialog(echo_perm)
                .unwrap()
                .contains("Do you want to proceed?")
        );
        let answered =
            "Do you want to proceed?\n❯ 1. Yes\n  2. No\n(allowed)\necho: go [..]\necho> \n";
        assert_eq!(screen_dialog(answered), None);
        let claude = "╭──────────────╮\n│ Bash command │\n│   touch x    │\n│ Do you want to proceed? │\n│ ❯ 1. Yes │\n│   2. Yes, and don't ask again │\n│   3. No, and tell Claude what to do differently (esc) │\n╰──────────────╯\n";
        assert!(screen_dialog(claude).is_some());
        let trust = "Do you trust the files in this folder?\n\n  /tmp/x\n\n❯ 1. Yes, proceed\n  2. No, exit\n\nEnter to confirm · Esc to exit\n";
        assert!(screen_dialog(trust).is_some());
        let input_list = "╭────╮\n│ > 1. first │\n│   2. second │\n╰────╯\n  ? for shortcuts\n";
        assert_eq!(screen_dialog(input_list), None);
        assert_eq!(screen_dialog("echo> \n"), None);
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

    /// Regression (issue 5): a turn end read from the log is also in the
    /// registry by the time `wait_turn_end` returns (the store writes the
    /// registry before the log line, docs/protocol.md "Writing").
    #[test]
    fn turn_end_is_in_the_registry_when_the_wait_returns() {
        let dir = tempfile::tempdir().unwrap();
        let server = crate::server::Server {
            socket: dir.path().join("sock"),
            pid: std::process::id(),
        };
        let store = Store::open_in(&dir.path().join("state"), &server).unwrap();
        let pane = PaneId(4);
        let mut prompt = Event::new(Kind::Prompt);
        set_prompt(&mut prompt, "hello");
        let prompt = store.append(pane, prompt).unwrap();

        std::thread::scope(|sc| {
            let writer = sc.spawn(|| {
                // The stop lands while wait_turn_end is already waiting.
                std::thread::sleep(Duration::from_millis(300));
                let mut stop = Event::new(Kind::Stop);
                stop.reply = Some("done".into());
                store.append(pane, stop).unwrap();
            });
            let end = wait_turn_end(
                &store,
                pane,
                prompt.seq,
                Instant::now() + Duration::from_secs(10),
            )
            .unwrap();
            assert_eq!(end.kind, "stop");
            let rec = store.read_registry(pane).unwrap();
            assert_eq!(
                rec.last_event.and_then(|l| l.kind),
                Some(Kind::Stop),
                "the wait returned before the registry had the stop"
            );
            writer.join().unwrap();
        });
    }

    #[test]
    fn input_box_and_working() {
        assert!(text_in_input(
            "banner\necho> hello there\n\n",
            "hello there"
        ));
        assert!(!text_in_input(
            "echo> hello\nworking… (esc to interrupt)\necho: x\necho> \nfoo\nbar\nbaz\nqux\nquux\n",
            "hello"
        ));
        assert!(text_in_input(
            "> [Pasted text #1 +161 lines]\n",
            "long\ntext"
        ));
        assert!(screen_working("echo> hi\nworking… (esc to interrupt)\n"));
        assert!(!screen_working("echo> \n"));
    }

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
            state: "blocked:dialog".into(),
            ts: 1,
            excerpt: "Do you trust".into(),
        });
        assert!(matches!(readiness(Some(&rec), ""), Readiness::Dialog(_)));
    }
}

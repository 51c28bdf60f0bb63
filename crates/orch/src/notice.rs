//! Push notices: how a peer's own hook tells its subscribers "%7 finished"
//! with no background process. `docs/subscribe.md` is the description of
//! the layout and rules; this module implements the delivery half (the
//! subscriptions themselves are [`crate::subscribe`]).
//!
//! ```text
//! <server dir>/inbox/<S>.jsonl        notices waiting for subscriber %S (append-only)
//! <server dir>/inbox/<S>.state.json   its cursor: acked, inflight, recent deliveries
//! <server dir>/inbox/<S>.lock         guards the two files above (held for microseconds)
//! <server dir>/inbox/<S>.flush.lock   held by the one flusher delivering to %S
//! <server dir>/inbox/flush.log        what flushers did (bounded), with their pids
//! ```
//!
//! 1. The peer's `orch-hook` records its event ([`record`]), reads
//!    `subs/<P>.json` (a missing file is the fast path: one failed open),
//!    appends one [`Notice`] per interested subscriber to that subscriber's
//!    inbox, and forks `orch-subscribe --flush <S>…` into a new session with
//!    stdio on /dev/null, without waiting for it ([`spawn_flusher`]).
//! 2. The flusher takes the subscriber's flush lock with `try_lock` (a
//!    second flusher just leaves: the holder loops until nothing changed
//!    while it held the lock). If the subscriber is mid-turn or blocked, the
//!    notices stay and the subscriber's registry record is flagged
//!    `inbox_waiting`; its own next turn end (hook) sees the flag and starts
//!    a flusher. Otherwise everything pending goes as ONE message through
//!    [`crate::deliver::deliver`].
//! 3. Exactly once: before typing, the flusher writes `inflight` (the last
//!    notice number and a unique id) to the state file; `deliver` records a
//!    `sent` event carrying that id before it types. After the receipt,
//!    `acked` moves past the batch. A flusher that finds a stale `inflight`
//!    (its predecessor died) looks for the id in the subscriber's log: there
//!    → it was typed, ack it; absent → nothing was typed, deliver again.
//! 4. Loops: the turn end (`stop`, `stop_failure`) of a turn whose prompt
//!    was a notice never fans out; subscriptions that would form a cycle
//!    are refused; deliveries per subscriber are rate limited (beyond the
//!    limit they batch).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::deliver::{self, DeliverOpts, Readiness};
use crate::event::{Event, Kind};
use crate::exit::{Code, code_of};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::registry::PaneRecord;
use crate::store::{Store, log_error};
use crate::time::now_ns;
use crate::tmux::Tmux;

/// Every notice starts with this, so a turn it starts is recognisable.
pub const NOTICE_PREFIX: &str = "[orch] ";
/// How a single notice ends: it is context, not a question.
pub const NOTICE_SUFFIX: &str = "(notice from orch; no reply needed)";
/// Registry key (in `extra`): the current turn was started by a notice.
pub const NOTICE_TURN_KEY: &str = "notice_turn";
/// Registry key (in `extra`): notices wait for this pane's next turn end.
pub const INBOX_WAITING_KEY: &str = "inbox_waiting";
/// Longest preview of a reply/message in one notice line (chars).
pub const PREVIEW_CHARS: usize = 200;
/// Undelivered notices one inbox holds; beyond this new ones are counted
/// (and reported in the next message) instead of stored.
pub const INBOX_MAX_PENDING: u64 = 1000;
/// At most this many notices, and this many bytes, go in one message (the
/// rest follow in the next one): well under tell's paste threshold, so a
/// notice is always typed, never replaced by a file pointer.
pub const BATCH_MAX_ENTRIES: usize = 50;
pub const BATCH_MAX_BYTES: usize = 16 * 1024;
/// `N/SECS`: at most N deliveries to one subscriber per SECS seconds.
pub const RATE_ENV: &str = "ORCH_SUBSCRIBE_RATE";
pub const DEFAULT_RATE: (usize, u64) = (6, 60);
/// Above this many bytes of already-delivered notices, an inbox is
/// rewritten with only the pending ones.
const COMPACT_BYTES: u64 = 64 * 1024;
const FLUSH_LOG_MAX_BYTES: u64 = 256 * 1024;
/// How long a flusher lets `deliver` wait for the subscriber (lock, idle)
/// and for the receipt.
const DELIVER_TIMEOUT: Duration = Duration::from_secs(15);
/// A flusher re-checks at most this many times after releasing its lock.
const MAX_ROUNDS: usize = 50;

// ---------------------------------------------------------------------------
// Records.

/// One line of an inbox: an event of a peer, ready to be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Position in this inbox, from 1, contiguous.
    pub n: u64,
    /// When the peer's hook queued it (ns).
    pub ts: u64,
    pub peer: PaneId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub kind: Kind,
    /// The event's seq in the peer's log.
    pub seq: u64,
    /// First line of the reply / message, at most [`PREVIEW_CHARS`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// notification type, error code, or session end reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `<S>.state.json`: the inbox's cursor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InboxState {
    #[serde(default)]
    pub v: u32,
    /// Every notice with `n <= acked` has been typed into the subscriber.
    #[serde(default)]
    pub acked: u64,
    /// A delivery that was started and not yet acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflight: Option<Inflight>,
    /// When recent deliveries happened (ns), for the rate limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<u64>,
    /// Notices not stored because the inbox was full, not yet reported.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inflight {
    /// The last notice of the batch being typed.
    pub upto: u64,
    /// Unique id, also in the `sent` event's `data.notice_id`.
    pub id: String,
    pub ts: u64,
    /// How many dropped notices the message reported.
    #[serde(default)]
    pub dropped: u64,
}

/// First non-empty line of `s`, control characters removed, bounded; `…`
/// marks that there was more.
pub fn first_line(s: &str) -> String {
    let mut lines = s.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return String::new();
    };
    let mut out: String = first
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(PREVIEW_CHARS)
        .collect();
    if first.chars().count() > PREVIEW_CHARS || lines.next().is_some() {
        out.push('…');
    }
    out
}

impl Notice {
    /// The notice for `ev`, an event of `peer` (numbered when appended).
    pub fn from_event(peer: PaneId, ev: &Event) -> Notice {
        let kind = ev.kind.unwrap_or(Kind::Error);
        let (text, detail) = match kind {
            Kind::Stop => (ev.reply.as_deref().map(first_line), None),
            Kind::StopFailure => (
                ev.message.as_deref().map(first_line),
                ev.error.as_deref().map(first_line),
            ),
            Kind::Notify => (
                ev.message.as_deref().map(first_line),
                ev.notification_type.clone(),
            ),
            Kind::SessionEnd => (None, ev.reason.clone()),
            _ => (None, None),
        };
        Notice {
            n: 0,
            ts: now_ns(),
            peer,
            name: ev.name.clone(),
            kind,
            seq: ev.seq,
            text: text.unwrap_or_default(),
            detail: detail.map(|d| first_line(&d)).filter(|d| !d.is_empty()),
        }
    }

    /// One line: `%7 (reviewer) finished: <reply>`.
    pub fn line(&self) -> String {
        let who = match &self.name {
            Some(n) if !n.is_empty() => format!("{} ({})", self.peer, first_line(n)),
            _ => self.peer.to_string(),
        };
        let detail = self
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        let text = if self.text.is_empty() {
            String::new()
        } else {
            format!(": {}", self.text)
        };
        match self.kind {
            Kind::Stop if self.text.is_empty() => format!("{who} finished (no reply text)"),
            Kind::Stop => format!("{who} finished{text}"),
            Kind::StopFailure => format!("{who} failed{detail}{text}"),
            Kind::Notify => format!("{who} needs attention{detail}{text}"),
            Kind::SessionEnd => format!("{who} ended its session{detail}"),
            k => format!("{who}: {k}{detail}{text}"),
        }
    }
}

/// The message typed for a batch: one line for one notice, a list for
/// several; always starting with [`NOTICE_PREFIX`].
pub fn compose(batch: &[Notice], dropped: u64) -> String {
    if batch.len() == 1 && dropped == 0 {
        return format!("{NOTICE_PREFIX}{} {NOTICE_SUFFIX}", batch[0].line());
    }
    let mut s = format!(
        "{NOTICE_PREFIX}{} notices (read-only context from orch; no reply needed):",
        batch.len() as u64 + dropped
    );
    for n in batch {
        s.push_str("\n- ");
        s.push_str(&n.line());
    }
    if dropped > 0 {
        s.push_str(&format!(
            "\n- ({dropped} further notices were dropped: {INBOX_MAX_PENDING} were already waiting)"
        ));
    }
    s
}

/// Is this prompt text a notice (so its turn must not fan out)?
pub fn is_notice_text(prompt: &str) -> bool {
    prompt.trim_start().starts_with(NOTICE_PREFIX)
}

/// The leading notices that fit in one message.
pub fn take_batch(pending: &[Notice]) -> &[Notice] {
    let mut bytes = 0;
    let mut k = 0;
    for n in pending.iter().take(BATCH_MAX_ENTRIES) {
        bytes += n.line().len() + 3;
        if k > 0 && bytes > BATCH_MAX_BYTES {
            break;
        }
        k += 1;
    }
    &pending[..k]
}

// ---------------------------------------------------------------------------
// The inbox files. Every read-modify-write happens under `<S>.lock`, which
// is held only for file operations (never while typing).

fn lock_inbox(store: &Store, pane: PaneId) -> io::Result<FileLock> {
    let p = store.layout().inbox_lock(pane);
    match FileLock::acquire(&p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            paths::ensure_private_dir(&store.layout().inbox_dir())?;
            FileLock::acquire(&p)
        }
        r => r,
    }
}

fn read_state(store: &Store, pane: PaneId) -> InboxState {
    fs::read(store.layout().inbox_state(pane))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

fn write_state(store: &Store, pane: PaneId, st: &InboxState) -> Result<()> {
    let mut st = st.clone();
    st.v = 1;
    let p = store.layout().inbox_state(pane);
    paths::write_atomic(&p, &serde_json::to_vec(&st)?, 0o600)
        .with_context(|| format!("cannot write {}", p.display()))
}

/// Parse an inbox file: its notices, and whether it ends mid-line (a writer
/// died while appending).
fn parse_inbox(data: &[u8]) -> (Vec<Notice>, bool) {
    let torn = data.last().is_some_and(|&b| b != b'\n');
    let mut out: Vec<Notice> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(n) = serde_json::from_slice::<Notice>(line)
            && out.last().is_none_or(|l| n.n > l.n)
        {
            out.push(n);
        }
    }
    (out, torn)
}

/// The notices in an inbox file, whether it is torn, and its size.
fn read_inbox(store: &Store, pane: PaneId) -> io::Result<(Vec<Notice>, bool, u64)> {
    let data = match fs::read(store.layout().inbox(pane)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), false, 0)),
        Err(e) => return Err(e),
    };
    let (notices, torn) = parse_inbox(&data);
    Ok((notices, torn, data.len() as u64))
}

/// Append `notice` to `sub`'s inbox, numbering it. Called by hooks, so it
/// keeps to a few syscalls: the file is opened once (read + append), and
/// the cursor is read only when the file cannot answer (empty: the
/// numbering continues from `acked`; as many lines as the cap: the inbox
/// may be full). A non-empty file's last line is the newest notice, and
/// every pending notice is in the file.
pub fn append(store: &Store, sub: PaneId, notice: &Notice) -> Result<()> {
    let _lock = lock_inbox(store, sub).context("cannot lock the inbox")?;
    let p = store.layout().inbox(sub);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&p)
        .with_context(|| format!("cannot open {}", p.display()))?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", p.display()))?;
    let (notices, torn) = parse_inbox(&data);
    let last = match notices.last() {
        Some(l) if (notices.len() as u64) < INBOX_MAX_PENDING => l.n,
        _ => {
            let mut st = read_state(store, sub);
            let last = notices.last().map_or(0, |n| n.n).max(st.acked);
            if last - st.acked >= INBOX_MAX_PENDING {
                st.dropped += 1;
                return write_state(store, sub, &st);
            }
            last
        }
    };
    let mut n = notice.clone();
    n.n = last + 1;
    let mut line = Vec::with_capacity(256);
    if torn {
        line.push(b'\n');
    }
    serde_json::to_writer(&mut line, &n)?;
    line.push(b'\n');
    file.write_all(&line)
        .with_context(|| format!("cannot append to {}", p.display()))
}

/// What the inbox holds now: its state, the undelivered notices, and the
/// number of the last notice ever queued.
pub fn pending(store: &Store, sub: PaneId) -> Result<(InboxState, Vec<Notice>, u64)> {
    let _lock = lock_inbox(store, sub)?;
    let st = read_state(store, sub);
    let (notices, _, _) = read_inbox(store, sub)?;
    let last = notices.last().map_or(0, |n| n.n).max(st.acked);
    let pending = notices.into_iter().filter(|n| n.n > st.acked).collect();
    Ok((st, pending, last))
}

fn set_inflight(store: &Store, sub: PaneId, inflight: Option<Inflight>) -> Result<()> {
    let _lock = lock_inbox(store, sub)?;
    let mut st = read_state(store, sub);
    st.inflight = inflight;
    write_state(store, sub, &st)
}

/// Mark everything up to `upto` delivered, then drop delivered lines.
fn ack(store: &Store, sub: PaneId, upto: u64, dropped_reported: u64, at: u64) -> Result<()> {
    let _lock = lock_inbox(store, sub)?;
    let mut st = read_state(store, sub);
    st.acked = st.acked.max(upto);
    st.inflight = None;
    st.dropped = st.dropped.saturating_sub(dropped_reported);
    let (_, window) = rate();
    st.recent.push(at);
    st.recent
        .retain(|&t| at.saturating_sub(t) < window.as_nanos() as u64);
    // The cursor is written before lines are removed: a crash in between
    // leaves delivered lines behind (skipped by the cursor), never a
    // cursor that points at renumbered notices.
    write_state(store, sub, &st)?;
    let (notices, _, size) = read_inbox(store, sub)?;
    let p = store.layout().inbox(sub);
    if notices.iter().all(|n| n.n <= st.acked) {
        let _ = fs::remove_file(&p);
    } else if size > COMPACT_BYTES {
        let mut data = Vec::new();
        for n in notices.iter().filter(|n| n.n > st.acked) {
            serde_json::to_writer(&mut data, n)?;
            data.push(b'\n');
        }
        paths::write_atomic(&p, &data, 0o600)?;
    }
    Ok(())
}

/// `(deliveries, window)` from [`RATE_ENV`] (`N/SECS`).
pub fn rate() -> (usize, Duration) {
    let parsed = std::env::var(RATE_ENV).ok().and_then(|v| {
        let (n, secs) = v.split_once('/')?;
        let n: usize = n.trim().parse().ok().filter(|&n| n > 0)?;
        let secs: f64 = secs.trim().parse().ok().filter(|s: &f64| *s > 0.0)?;
        Some((n, Duration::from_secs_f64(secs)))
    });
    parsed.unwrap_or((DEFAULT_RATE.0, Duration::from_secs(DEFAULT_RATE.1)))
}

/// How long until one more delivery fits the rate limit (None: now).
fn rate_wait(st: &InboxState, now: u64) -> Option<Duration> {
    let (max, window) = rate();
    let window = window.as_nanos() as u64;
    let mut recent: Vec<u64> = st
        .recent
        .iter()
        .copied()
        .filter(|&t| now.saturating_sub(t) < window)
        .collect();
    if recent.len() < max {
        return None;
    }
    recent.sort();
    let oldest_that_counts = recent[recent.len() - max];
    Some(Duration::from_nanos(
        (oldest_that_counts + window)
            .saturating_sub(now)
            .max(1_000_000),
    ))
}

// ---------------------------------------------------------------------------
// The hook's part.

/// Does this event get pushed to subscribers? (`idle_prompt` is not: it
/// follows every turn by a minute and says nothing a `stop` did not.)
fn fans_out(ev: &Event) -> bool {
    match ev.kind {
        Some(Kind::Stop | Kind::StopFailure | Kind::SessionEnd) => true,
        Some(Kind::Notify) => ev.notification_type.as_deref() != Some("idle_prompt"),
        _ => false,
    }
}

/// Does this event mean the pane can take a prompt now (so its waiting
/// notices should be flushed)?
fn frees_pane(ev: &Event) -> bool {
    match ev.kind {
        Some(Kind::Stop | Kind::StopFailure | Kind::SessionStart) => true,
        Some(Kind::Notify) => ev.notification_type.as_deref() == Some("idle_prompt"),
        _ => false,
    }
}

/// Record a hook event for `pane` (what `orch-hook` calls in place of
/// [`Store::append`]) and push notices: to this pane's subscribers, and
/// into this pane if notices were waiting for it to be free. Errors after
/// the event is recorded are logged, never returned: the event counts.
pub fn record(store: &Store, pane: PaneId, ev: Event) -> Result<Event> {
    let kind = ev.kind;
    let prompt_is_notice = ev.prompt.as_deref().is_some_and(is_notice_text);
    let frees = frees_pane(&ev);
    let mut notice_turn = false;
    let mut waiting = false;
    let ev = store.append_with(pane, ev, |rec: &mut PaneRecord| {
        match kind {
            Some(Kind::Prompt) if prompt_is_notice => {
                rec.extra.insert(NOTICE_TURN_KEY.into(), Value::Bool(true));
            }
            Some(Kind::Prompt) => {
                rec.extra.remove(NOTICE_TURN_KEY);
            }
            Some(Kind::Stop | Kind::StopFailure) => {
                notice_turn = rec.extra.remove(NOTICE_TURN_KEY).is_some();
            }
            _ => {}
        }
        if frees {
            waiting = rec.extra.remove(INBOX_WAITING_KEY).is_some();
        }
    })?;
    let mut wake = Vec::new();
    // The loop rule: a turn a notice started ends without telling anyone.
    if fans_out(&ev) && !notice_turn {
        match fan_out(store, pane, &ev) {
            Ok(subs) => wake = subs,
            Err(e) => log_error(
                store.root(),
                &format!("orch-hook {pane}: cannot queue notices: {e:#}"),
            ),
        }
    }
    if waiting && !wake.contains(&pane) {
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
    Ok(ev)
}

/// Queue a notice for each subscriber of `peer` that wants `ev`'s kind.
/// Returns those subscribers. A missing `subs/<P>.json` costs one failed
/// open.
fn fan_out(store: &Store, peer: PaneId, ev: &Event) -> Result<Vec<PaneId>> {
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
        append(store, s.pane, &notice)
            .with_context(|| format!("cannot queue a notice for {}", s.pane))?;
        out.push(s.pane);
    }
    Ok(out)
}

/// Start `orch-subscribe --flush <S>…` detached, without waiting for it:
/// `fork`, then in the child `setsid` (a new session: no signal aimed at
/// the agent's process group or terminal reaches it), stdio onto
/// /dev/null, `execv`. Every other inherited descriptor is closed on exec,
/// so the agent waiting for this hook's pipes to close is never held up by
/// the flusher. A plain fork returns to the hook at once, where
/// `posix_spawn` (std's `Command`) would block it until the child had
/// exec'd — milliseconds on a loaded machine. The child is orphaned when
/// the hook exits.
pub fn spawn_flusher(subscribers: &[PaneId]) -> Result<u32> {
    use nix::libc;
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    let exe = crate::exe::sibling("subscribe")
        .context("orch-subscribe is not installed next to orch-hook or on PATH")?;
    let path = CString::new(exe.as_os_str().as_bytes()).context("odd path to orch-subscribe")?;
    let mut argv = vec![path.clone(), CString::new("--flush")?];
    for p in subscribers {
        argv.push(CString::new(p.to_string())?);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("cannot open /dev/null")?;
    let null_fd = devnull.as_raw_fd();
    close_inherited_on_exec();
    // SAFETY: between fork and exec the child calls only async-signal-safe
    // functions (setsid, dup2, execv, _exit) on data prepared before the
    // fork, so this is sound even if the caller had other threads.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("cannot fork the notice flusher"),
        0 => unsafe {
            libc::setsid();
            libc::dup2(null_fd, 0);
            libc::dup2(null_fd, 1);
            libc::dup2(null_fd, 2);
            libc::execv(path.as_ptr(), argv_ptrs.as_ptr());
            libc::_exit(127)
        },
        pid => Ok(pid as u32),
    }
}

/// Mark descriptors this process inherited (beyond stdio) close-on-exec:
/// the agent may have leaked one of its pipes into the hook, and a flusher
/// holding it would keep the agent waiting.
fn close_inherited_on_exec() {
    let Ok(rd) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a descriptor number only changes its flag; an
        // fd that is already closed (the read_dir's own) returns EBADF.
        unsafe {
            let flags = nix::libc::fcntl(fd, nix::libc::F_GETFD);
            if flags >= 0 && flags & nix::libc::FD_CLOEXEC == 0 {
                nix::libc::fcntl(fd, nix::libc::F_SETFD, flags | nix::libc::FD_CLOEXEC);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The flusher.

/// Append one record to `inbox/flush.log` (bounded: rotated at 256 KiB).
pub fn flush_log(store: &Store, mut v: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert("ts".into(), now_ns().into());
        o.insert("pid".into(), std::process::id().into());
    }
    let path = store.layout().flush_log();
    if paths::ensure_private_dir(&store.layout().inbox_dir()).is_err() {
        return;
    }
    if fs::metadata(&path).is_ok_and(|m| m.len() > FLUSH_LOG_MAX_BYTES) {
        let _ = fs::rename(&path, path.with_extension("log.1"));
    }
    if let Ok(mut f) = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
    {
        let _ = f.write_all(format!("{v}\n").as_bytes());
    }
}

/// Deliver what waits in the inboxes of `subscribers`, one thread each.
pub fn flush(store: &Store, subscribers: &[PaneId]) {
    let mut subs = subscribers.to_vec();
    subs.sort();
    subs.dedup();
    flush_log(store, json!({"event": "start", "subscribers": subs}));
    std::thread::scope(|scope| {
        for &s in &subs {
            scope.spawn(move || flush_subscriber(store, s));
        }
    });
    flush_log(store, json!({"event": "exit"}));
}

/// What a flusher saw when it stopped: the last notice number, and (when
/// it left notices waiting for the subscriber) the subscriber's last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    last: u64,
    event_seq: Option<u64>,
}

enum Outcome {
    /// Nothing more to do now (delivered everything, or the subscriber is
    /// busy and flagged); compare with what is there after the lock is
    /// released.
    Settled(Seen),
    /// The subscriber's pane is gone; its subscriptions were removed.
    Gone,
}

fn last_event_seq(store: &Store, pane: PaneId) -> u64 {
    store
        .read_registry(pane)
        .and_then(|r| r.last_event)
        .map_or(0, |l| l.seq)
}

fn seen_now(store: &Store, sub: PaneId, with_event: bool) -> Seen {
    let last = pending(store, sub).map_or(0, |(_, _, last)| last);
    Seen {
        last,
        event_seq: with_event.then(|| last_event_seq(store, sub)),
    }
}

/// The single-flusher loop for one subscriber. A flusher that finds the
/// lock taken leaves: the holder, after releasing it, looks again and goes
/// on if anything changed while it held it (a notice queued, or the
/// subscriber's state moved), so nothing queued meanwhile is stranded.
fn flush_subscriber(store: &Store, sub: PaneId) {
    for _ in 0..MAX_ROUNDS {
        let lock = match FileLock::try_acquire(&store.layout().flush_lock(sub)) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot take the flush lock: {e}")}),
                );
                return;
            }
        };
        let outcome = drain(store, sub);
        drop(lock);
        match outcome {
            Outcome::Gone => return,
            Outcome::Settled(seen) => {
                if seen_now(store, sub, seen.event_seq.is_some()) == seen {
                    return;
                }
            }
        }
    }
}

/// Why the subscriber cannot take a prompt now, from its registry alone.
fn not_ready(store: &Store, sub: PaneId) -> Option<String> {
    let rec = store.read_registry(sub)?;
    match deliver::readiness(Some(&rec), "") {
        Readiness::Idle => None,
        Readiness::Busy => Some("mid-turn".into()),
        Readiness::Dialog(why) => Some(format!("blocked: {why}")),
        Readiness::Ended(why) => Some(why),
    }
}

/// Flag the subscriber so its next turn end starts a flusher. Returns
/// whether it still cannot take a prompt after the flag is set (if it
/// became free in between, its hook ran before the flag: deliver now).
fn wait_for_turn_end(store: &Store, sub: PaneId) -> bool {
    if store.read_registry(sub).is_some() {
        let _ = store.update_registry(sub, |r| {
            r.extra.insert(INBOX_WAITING_KEY.into(), Value::Bool(true));
        });
    }
    not_ready(store, sub).is_some()
}

/// Recover from a predecessor that died mid-delivery: its `sent` event in
/// the subscriber's log says whether the batch was typed.
fn recover(store: &Store, sub: PaneId, inf: &Inflight) -> Result<()> {
    let typed = store.read_events(sub, 0)?.iter().any(|e| {
        e.kind == Some(Kind::Sent)
            && e.data
                .as_ref()
                .and_then(|d| d.get("notice_id"))
                .and_then(Value::as_str)
                == Some(inf.id.as_str())
    });
    flush_log(
        store,
        json!({"subscriber": sub, "outcome": "recovered", "upto": inf.upto, "typed": typed}),
    );
    if typed {
        ack(store, sub, inf.upto, inf.dropped, inf.ts)
    } else {
        set_inflight(store, sub, None)
    }
}

fn drain(store: &Store, sub: PaneId) -> Outcome {
    let tmux = Tmux::for_server(store.server());
    let mut alive = false;
    loop {
        let (st, pend, last) = match pending(store, sub) {
            Ok(p) => p,
            Err(e) => {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot read the inbox: {e:#}")}),
                );
                return Outcome::Settled(seen_now(store, sub, false));
            }
        };
        if let Some(inf) = &st.inflight {
            if let Err(e) = recover(store, sub, inf) {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "failed", "reason": format!("cannot recover: {e:#}")}),
                );
                return Outcome::Settled(Seen {
                    last,
                    event_seq: None,
                });
            }
            continue;
        }
        let settled = |with_event: bool| {
            Outcome::Settled(Seen {
                last,
                event_seq: with_event.then(|| last_event_seq(store, sub)),
            })
        };
        if pend.is_empty() && st.dropped == 0 {
            return settled(false);
        }
        if !alive {
            match tmux.pane_status(sub) {
                Ok(Some(s)) if !s.dead => alive = true,
                Ok(_) => {
                    crate::subs::forget_pane(store, sub);
                    flush_log(
                        store,
                        json!({"subscriber": sub, "outcome": "gone", "dropped": pend.len()}),
                    );
                    return Outcome::Gone;
                }
                Err(e) => {
                    flush_log(
                        store,
                        json!({"subscriber": sub, "outcome": "failed", "reason": format!("{e:#}")}),
                    );
                    return settled(false);
                }
            }
        }
        // The event seq is read before deciding, so a turn end that lands
        // after this look changes it and sends the holder round again.
        let before = settled(true);
        if let Some(why) = not_ready(store, sub) {
            if wait_for_turn_end(store, sub) {
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "waiting", "pending": pend.len(), "reason": why}),
                );
                return before;
            }
            continue;
        }
        if let Some(wait) = rate_wait(&st, now_ns()) {
            flush_log(
                store,
                json!({"subscriber": sub, "outcome": "rate-limited", "pending": pend.len(), "wait_ms": wait.as_millis() as u64}),
            );
            std::thread::sleep(wait);
            continue;
        }
        let batch = take_batch(&pend);
        let upto = batch.last().map_or(st.acked, |n| n.n);
        let text = compose(batch, st.dropped);
        let id = format!("{:x}-{}-{}", now_ns(), std::process::id(), sub.0);
        let inflight = Inflight {
            upto,
            id: id.clone(),
            ts: now_ns(),
            dropped: st.dropped,
        };
        if let Err(e) = set_inflight(store, sub, Some(inflight)) {
            flush_log(
                store,
                json!({"subscriber": sub, "outcome": "failed", "reason": format!("{e:#}")}),
            );
            return settled(false);
        }
        let mut opts = DeliverOpts::new(DELIVER_TIMEOUT);
        opts.data.insert("notice".into(), true.into());
        opts.data.insert("notice_id".into(), id.into());
        opts.data.insert("notice_upto".into(), upto.into());
        opts.data.insert("notices".into(), batch.len().into());
        match deliver::deliver(store, sub, &text, &opts) {
            Ok(receipt) => {
                let r = ack(store, sub, upto, st.dropped, now_ns());
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "delivered", "upto": upto,
                           "count": batch.len(), "status": receipt.status.as_str(),
                           "sent_seq": receipt.sent_seq, "reason": receipt.reason,
                           "ack_error": r.err().map(|e| format!("{e:#}"))}),
                );
            }
            Err(e) => {
                let _ = set_inflight(store, sub, None);
                let code = code_of(&e);
                flush_log(
                    store,
                    json!({"subscriber": sub, "outcome": "not-delivered", "pending": pend.len(),
                           "code": code as u8, "reason": format!("{e:#}")}),
                );
                match code {
                    Code::Exited if !tmux.pane_exists(sub) => {
                        crate::subs::forget_pane(store, sub);
                        return Outcome::Gone;
                    }
                    Code::Timeout | Code::Refused | Code::Exited => {
                        wait_for_turn_end(store, sub);
                        return before;
                    }
                    _ => return settled(false),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(n: u64, kind: Kind, text: &str) -> Notice {
        Notice {
            n,
            ts: 1,
            peer: PaneId(7),
            name: Some("reviewer".into()),
            kind,
            seq: n,
            text: text.into(),
            detail: None,
        }
    }

    #[test]
    fn lines_and_messages() {
        let one = notice(1, Kind::Stop, "all tests pass");
        assert_eq!(one.line(), "%7 (reviewer) finished: all tests pass");
        let msg = compose(std::slice::from_ref(&one), 0);
        assert_eq!(
            msg,
            "[orch] %7 (reviewer) finished: all tests pass (notice from orch; no reply needed)"
        );
        assert!(is_notice_text(&msg));
        let mut n2 = notice(2, Kind::Notify, "needs Bash");
        n2.detail = Some("permission_prompt".into());
        n2.name = None;
        assert_eq!(
            n2.line(),
            "%7 needs attention (permission_prompt): needs Bash"
        );
        let msg = compose(&[one, n2], 3);
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(lines.len(), 4, "{msg}");
        assert!(lines[0].starts_with("[orch] 5 notices"), "{msg}");
        assert!(lines[3].contains("3 further notices were dropped"), "{msg}");
        assert!(!is_notice_text("please review [orch] notes"));
    }

    #[test]
    fn first_line_is_bounded_and_clean() {
        assert_eq!(first_line("\n\n  hello \nworld"), "hello…");
        assert_eq!(first_line("one"), "one");
        assert_eq!(first_line("a\tb\x1bc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(first_line(&long).chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(first_line("   "), "");
    }

    #[test]
    fn batches_are_bounded() {
        let many: Vec<Notice> = (1..=120)
            .map(|i| notice(i, Kind::Stop, &"y".repeat(150)))
            .collect();
        assert_eq!(take_batch(&many).len(), BATCH_MAX_ENTRIES);
        let huge: Vec<Notice> = (1..=5)
            .map(|i| notice(i, Kind::Stop, &"z".repeat(BATCH_MAX_BYTES)))
            .collect();
        // One oversize notice still goes, alone.
        assert_eq!(take_batch(&huge).len(), 1);
    }

    #[test]
    fn rate_wait_counts_the_window() {
        let st = InboxState {
            recent: vec![10, 20, 30, 40, 50, 60],
            ..Default::default()
        };
        // Default 6 per 60 s: the sixth delivery in the window blocks.
        let w = rate_wait(&st, 100).unwrap();
        assert!(w > Duration::from_secs(59), "{w:?}");
        let later = 10 + 61_000_000_000;
        assert_eq!(rate_wait(&st, later), None);
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let server = crate::server::Server {
            socket: dir.path().join("sock"),
            pid: 1,
        };
        let store = Store::open_in(&dir.path().join("state"), &server).unwrap();
        (dir, store)
    }

    #[test]
    fn inbox_numbers_acks_and_compacts() {
        let (_d, store) = temp_store();
        let s = PaneId(3);
        for i in 0..3 {
            append(&store, s, &notice(0, Kind::Stop, &format!("t{i}"))).unwrap();
        }
        let (st, pend, last) = pending(&store, s).unwrap();
        assert_eq!((st.acked, last), (0, 3));
        assert_eq!(pend.iter().map(|n| n.n).collect::<Vec<_>>(), [1, 2, 3]);
        ack(&store, s, 2, 0, now_ns()).unwrap();
        let (_, pend, _) = pending(&store, s).unwrap();
        assert_eq!(pend.iter().map(|n| n.n).collect::<Vec<_>>(), [3]);
        ack(&store, s, 3, 0, now_ns()).unwrap();
        assert!(
            !&store.layout().inbox(s).exists(),
            "fully acked inbox removed"
        );
        // Numbering carries on from the cursor.
        append(&store, s, &notice(0, Kind::Stop, "t4")).unwrap();
        let (_, pend, last) = pending(&store, s).unwrap();
        assert_eq!((pend[0].n, last), (4, 4));
    }

    #[test]
    fn torn_line_does_not_swallow_the_next_notice() {
        let (_d, store) = temp_store();
        let s = PaneId(4);
        append(&store, s, &notice(0, Kind::Stop, "a")).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(store.layout().inbox(s))
            .unwrap();
        f.write_all(br#"{"n":2,"ts":1,"pe"#).unwrap();
        append(&store, s, &notice(0, Kind::Stop, "b")).unwrap();
        let (_, pend, _) = pending(&store, s).unwrap();
        assert_eq!(
            pend.iter()
                .map(|n| (n.n, n.text.as_str()))
                .collect::<Vec<_>>(),
            [(1, "a"), (2, "b")]
        );
    }

    #[test]
    fn a_full_inbox_counts_instead_of_growing() {
        let (_d, store) = temp_store();
        let s = PaneId(5);
        let st = InboxState {
            acked: 10,
            ..Default::default()
        };
        paths::ensure_private_dir(&store.layout().inbox_dir()).unwrap();
        write_state(&store, s, &st).unwrap();
        let mut data = Vec::new();
        for i in 11..=10 + INBOX_MAX_PENDING {
            let mut n = notice(i, Kind::Stop, "x");
            n.n = i;
            serde_json::to_writer(&mut data, &n).unwrap();
            data.push(b'\n');
        }
        fs::write(store.layout().inbox(s), &data).unwrap();
        append(&store, s, &notice(0, Kind::Stop, "overflow")).unwrap();
        let (st, pend, _) = pending(&store, s).unwrap();
        assert_eq!(pend.len() as u64, INBOX_MAX_PENDING);
        assert_eq!(st.dropped, 1);
    }
}

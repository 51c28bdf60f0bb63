//! The inbox files of one subscriber: the notices waiting for it and its
//! delivery cursor. Every read-modify-write happens under `<S>.lock`, which
//! is held only for file operations (never while typing).

use std::fs;
use std::io::{self, Read, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{DEFAULT_RATE, INBOX_MAX_PENDING, Notice, RATE_ENV};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;

/// Above this many bytes of already-delivered notices, an inbox is
/// rewritten with only the pending ones.
const COMPACT_BYTES: u64 = 64 * 1024;

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

fn lock_inbox(store: &Store, pane: PaneId) -> io::Result<FileLock> {
    let p = store.layout().inbox_lock(pane);
    match FileLock::acquire(&p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            paths::ensure_private_dir(&store.layout().inbox_dir()).map_err(io::Error::other)?;
            FileLock::acquire(&p)
        }
        r => r,
    }
}

pub(super) fn read_state(store: &Store, pane: PaneId) -> InboxState {
    paths::read(&store.layout().inbox_state(pane))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

pub(super) fn write_state(store: &Store, pane: PaneId, st: &InboxState) -> Result<()> {
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
    let data = match paths::read(&store.layout().inbox(pane)) {
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
    let mut file =
        paths::open_append(&p).with_context(|| format!("cannot open {}", p.display()))?;
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
    let line = crate::store::json_line(&n, torn)?;
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

pub(super) fn set_inflight(store: &Store, sub: PaneId, inflight: Option<Inflight>) -> Result<()> {
    let _lock = lock_inbox(store, sub)?;
    let mut st = read_state(store, sub);
    st.inflight = inflight;
    write_state(store, sub, &st)
}

/// Mark everything up to `upto` delivered, then drop delivered lines.
pub(super) fn ack(
    store: &Store,
    sub: PaneId,
    upto: u64,
    dropped_reported: u64,
    at: u64,
) -> Result<()> {
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
pub(super) fn rate_wait(st: &InboxState, now: u64) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;
    use crate::notice::tests::notice;
    use crate::time::now_ns;
    use std::fs::OpenOptions;

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
        let server = crate::server::Server::new(dir.path().join("sock"), 1);
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

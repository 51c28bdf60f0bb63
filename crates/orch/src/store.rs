//! One tmux server's event logs and registry records, and the rules that
//! keep them consistent (docs/protocol.md, "Writing" and "Reading"): the
//! pane lock, sequence numbers, rotation, torn lines, cursors. Where the
//! files are is [`crate::layout`].
//!
//! Only logs live in `events/`, so a listener watching that one directory is
//! woken by appends and nothing else.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::event::Event;
use crate::exit::Fail;
use crate::layout::Layout;
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::registry::{Folded, PaneRecord};
use crate::server::Server;
use crate::time::now_ns;

/// Rotate a pane's log once it passes this size (bytes). A pane keeps at
/// most two generations, so its history is bounded by twice this.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 4 * 1024 * 1024;
pub const LOG_MAX_ENV: &str = "ORCH_LOG_MAX_BYTES";
const ERROR_LOG_MAX_BYTES: u64 = 1024 * 1024;

/// An event as written, and what folding it into the registry found.
#[derive(Debug, Clone)]
pub struct Appended {
    pub event: Event,
    pub folded: Folded,
}

/// One tmux server's state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    layout: Layout,
    server: Server,
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn log_max_bytes() -> u64 {
    crate::env::positive(LOG_MAX_ENV, DEFAULT_LOG_MAX_BYTES)
}

impl Store {
    /// Open (creating if needed, mode 0700) the state of `server`.
    pub fn open(server: &Server) -> Result<Store> {
        let root = crate::layout::state_dir()?;
        Store::open_in(&root, server)
    }

    pub fn open_in(root: &Path, server: &Server) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
            layout: Layout::new(root, &server.key()),
            server: server.clone(),
        };
        let l = &store.layout;
        // Every open checks the root and the server dir (one lstat each):
        // a dir someone else owns or can write is refused (docs/protocol.md,
        // "Ownership and links"), even when it already exists.
        let fresh = !l.server_json().exists();
        for d in [
            &store.root,
            &l.dir().to_path_buf(),
            &l.events_dir(),
            &l.panes_dir(),
        ] {
            paths::ensure_private_dir(d)?;
        }
        if fresh {
            let info = serde_json::json!({
                "socket": server.socket, "pid": server.pid,
                "instance": server.instance, "created_ts": now_ns()
            });
            let _ = paths::write_atomic(&l.server_json(), info.to_string().as_bytes(), 0o600);
        }
        Ok(store)
    }

    /// The store of the server we run under (see [`Server::current`]).
    pub fn current() -> Result<Store> {
        Store::open(&Server::current()?)
    }

    pub fn server(&self) -> &Server {
        &self.server
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The server's state directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }
    /// Where this server's files are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The pane lock: guards the pane's log and registry record.
    /// Lock order: delivery lock, then pane lock; never the reverse.
    pub fn lock_pane(&self, pane: PaneId) -> Result<FileLock> {
        let p = self.layout.pane_lock(pane);
        FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
    }

    /// Append `ev` to `pane`'s log (assigning `seq`, `ts`, `pane`) and fold
    /// it into the registry record. Returns the event as written.
    pub fn append(&self, pane: PaneId, ev: Event) -> Result<Event> {
        self.append_with(pane, ev, |_| {})
    }

    /// Like [`Store::append`], but waiting for the pane lock only until
    /// `deadline`: past it, a [`Fail::timeout`] and nothing written. (A
    /// sender's `--timeout` must cover every wait before it types.)
    pub fn append_by(&self, pane: PaneId, ev: Event, deadline: Instant) -> Result<Event> {
        let p = self.layout.pane_lock(pane);
        let lock = FileLock::acquire_until(&p, deadline)
            .with_context(|| format!("cannot lock {}", p.display()))?
            .ok_or_else(|| {
                Fail::timeout(format!(
                    "timed out waiting for the pane lock of {pane} ({}), held by another orch process",
                    p.display()
                ))
            })?;
        self.write_event_locked(&lock, pane, ev, |_| {})
            .map(|a| a.event)
    }

    /// Like [`Store::append`], also applying `update` to the registry record
    /// under the same lock.
    pub fn append_with(
        &self,
        pane: PaneId,
        ev: Event,
        update: impl FnOnce(&mut PaneRecord),
    ) -> Result<Event> {
        self.write_event(pane, ev, update).map(|a| a.event)
    }

    /// Append a hook's event: like [`Store::append`], also saying which
    /// notice flags the fold consumed ([`Folded`]), for
    /// [`crate::notice::fan_out`].
    pub fn record(&self, pane: PaneId, ev: Event) -> Result<Appended> {
        self.write_event(pane, ev, |_| {})
    }

    fn write_event(
        &self,
        pane: PaneId,
        ev: Event,
        update: impl FnOnce(&mut PaneRecord),
    ) -> Result<Appended> {
        let lock = self.lock_pane(pane)?;
        self.write_event_locked(&lock, pane, ev, update)
    }

    /// The write itself; `_lock` is `pane`'s pane lock, held by the caller.
    fn write_event_locked(
        &self,
        _lock: &FileLock,
        pane: PaneId,
        mut ev: Event,
        update: impl FnOnce(&mut PaneRecord),
    ) -> Result<Appended> {
        let path = self.layout.log(pane);
        let mut file = open_log_for_append(&path)?;
        let size = file.metadata()?.len();
        let (mut last, ends_clean) = last_seq_in(&file, size)?;
        if last.is_none() {
            // Fresh generation after rotation: the sequence carries on.
            if let Ok(old) = paths::open_read(&self.layout.rotated_log(pane)) {
                let len = old.metadata()?.len();
                last = last_seq_in(&old, len)?.0;
            }
        }
        let mut torn = !ends_clean;
        if size > log_max_bytes() {
            fs::rename(&path, self.layout.rotated_log(pane))
                .with_context(|| format!("cannot rotate {}", path.display()))?;
            file = open_log_for_append(&path)?;
            torn = false;
        }
        let mut rec = self.read_registry(pane).unwrap_or_default();
        ev.seq = last.unwrap_or(0) + 1;
        ev.ts = now_ns();
        ev.pane = Some(pane);
        if ev.name.is_none() {
            ev.name.clone_from(&rec.name);
        }
        // The registry is written first: whoever sees the event in the log
        // (a listener, tell waiting for a turn end) and then looks at the
        // registry (survey) must find the event already folded in.
        rec.server = self.server.key();
        let folded = rec.observe(&ev);
        update(&mut rec);
        let registry = self.write_registry(&rec, pane);

        let line = json_line(&ev, torn)?;
        // The event matters more than the summary: append it even if the
        // registry could not be written (a full disk can refuse the
        // registry's temp file yet take the line). A written line is a
        // success — callers act on it (tell types after its `sent`) — so the
        // registry failure is only logged.
        file.write_all(&line)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        if let Err(e) = registry {
            log_error(
                &self.root,
                &format!(
                    "{pane}: event seq {} was logged, but its registry summary was not updated: {e:#}",
                    ev.seq
                ),
            );
        }
        Ok(Appended { event: ev, folded })
    }

    pub fn read_registry(&self, pane: PaneId) -> Option<PaneRecord> {
        let data = paths::read(&self.layout.registry(pane)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Write a registry record. The caller holds the pane lock.
    pub fn write_registry(&self, rec: &PaneRecord, pane: PaneId) -> Result<()> {
        let mut rec = rec.clone();
        rec.pane = Some(pane);
        rec.v = crate::event::SCHEMA_VERSION;
        if rec.server.is_empty() {
            rec.server = self.server.key();
        }
        let data = serde_json::to_vec(&rec)?;
        let p = self.layout.registry(pane);
        paths::write_atomic(&p, &data, 0o600)
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// Read-modify-write a registry record under the pane lock.
    pub fn update_registry(
        &self,
        pane: PaneId,
        f: impl FnOnce(&mut PaneRecord),
    ) -> Result<PaneRecord> {
        let _lock = self.lock_pane(pane)?;
        let mut rec = self.read_registry(pane).unwrap_or_default();
        if rec.created_ts == 0 {
            rec.created_ts = now_ns();
        }
        f(&mut rec);
        self.write_registry(&rec, pane)?;
        Ok(rec)
    }

    /// Every pane this server has state for (registry or log), sorted.
    pub fn known_panes(&self) -> Vec<PaneId> {
        let mut panes = Vec::new();
        for dir in [self.layout.panes_dir(), self.layout.events_dir()] {
            if let Ok(rd) = fs::read_dir(dir) {
                for e in rd.flatten() {
                    if let Some(p) = crate::layout::pane_of_file(&e.file_name().to_string_lossy()) {
                        panes.push(p);
                    }
                }
            }
        }
        panes.sort();
        panes.dedup();
        panes
    }

    /// Every registry record, sorted by pane.
    pub fn list_registry(&self) -> Vec<PaneRecord> {
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(self.layout.panes_dir()) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if let Some(pane) = crate::layout::pane_of_registry(&name)
                    && let Some(r) = self.read_registry(pane)
                {
                    out.push(r);
                }
            }
        }
        out.sort_by_key(|r| r.pane);
        out
    }

    /// All retained events of `pane` with `seq > after`, oldest first.
    pub fn read_events(&self, pane: PaneId, after: u64) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        for p in [self.layout.rotated_log(pane), self.layout.log(pane)] {
            match paths::read(&p) {
                Ok(data) => parse_complete_lines(&data, |ev| {
                    if ev.seq > after && out.last().is_none_or(|l: &Event| ev.seq > l.seq) {
                        out.push(ev);
                    }
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
            }
        }
        Ok(out)
    }

    /// The seq of the newest event of `pane` (0 if none).
    pub fn last_seq(&self, pane: PaneId) -> Result<u64> {
        for p in [self.layout.log(pane), self.layout.rotated_log(pane)] {
            if let Ok(f) = paths::open_read(&p) {
                let len = f.metadata()?.len();
                if let (Some(s), _) = last_seq_in(&f, len)? {
                    return Ok(s);
                }
            }
        }
        Ok(0)
    }

    /// The newest event of `pane` that `want` accepts, searching back from
    /// the end of the current log (not the rotated one): cheap for "what
    /// was the last hook event", which is near the end.
    pub fn last_event_where(
        &self,
        pane: PaneId,
        want: impl Fn(&Event) -> bool,
    ) -> Result<Option<Event>> {
        let path = self.layout.log(pane);
        let f = match paths::open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let size = f.metadata()?.len();
        let mut window = size.min(64 * 1024);
        while window > 0 {
            let start = size - window;
            let mut buf = vec![0u8; window as usize];
            f.read_exact_at(&mut buf, start)?;
            let mut lines: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
            lines.pop(); // after the last newline: empty, or a torn record
            // The first piece may start mid-line unless the window reaches 0.
            let skip = usize::from(start > 0);
            let found = lines
                .iter()
                .skip(skip)
                .rev()
                .filter_map(|l| serde_json::from_slice::<Event>(l).ok())
                .find(|e| want(e));
            if found.is_some() || start == 0 {
                return Ok(found);
            }
            window = (window * 4).min(size);
        }
        Ok(None)
    }

    /// Delete everything orch keeps for `pane`, including its subscription
    /// file and inbox (other panes' subscriptions to it are GC's job:
    /// [`crate::subs::collect_garbage`]).
    pub fn remove_pane(&self, pane: PaneId) {
        for p in self.layout.pane_files(pane) {
            let _ = fs::remove_file(p);
        }
    }
}

fn open_log_for_append(path: &Path) -> Result<File> {
    paths::open_append(path).with_context(|| format!("cannot open {}", path.display()))
}

/// The seq of the last parseable record in the first `size` bytes of `f`,
/// and whether those bytes end with a newline (false means a writer died
/// mid-record). An unterminated tail that parses counts: it is a whole
/// record cut just before its `\n` (a full disk, a kill), which readers
/// will take once the next writer ends its line, so its seq must not be
/// given out again. Reads backwards in growing windows, so the usual cost
/// is one 4 KiB read.
fn last_seq_in(f: &File, size: u64) -> io::Result<(Option<u64>, bool)> {
    if size == 0 {
        return Ok((None, true));
    }
    let mut window = size.min(4096);
    let mut ends_clean;
    let mut tail_checked = false;
    loop {
        let start = size - window;
        let mut buf = vec![0u8; window as usize];
        f.read_exact_at(&mut buf, start)?;
        ends_clean = buf.last() == Some(&b'\n');
        let mut lines: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
        // The last piece is after the final newline: empty, or a torn record.
        let tail = lines.pop().unwrap_or_default();
        // The first piece may start mid-line unless the window reaches 0.
        let first_complete = if start == 0 { 0 } else { 1 };
        if !tail_checked && (start == 0 || !lines.is_empty()) {
            tail_checked = true;
            if !ends_clean && let Ok(s) = serde_json::from_slice::<SeqOnly>(tail) {
                return Ok((Some(s.seq), false));
            }
        }
        for line in lines.iter().skip(first_complete).rev() {
            if let Ok(s) = serde_json::from_slice::<SeqOnly>(line) {
                return Ok((Some(s.seq), ends_clean));
            }
        }
        if start == 0 {
            return Ok((None, ends_clean));
        }
        window = (window * 4).min(size);
    }
}

/// One record as a line to append to a JSON-lines file. After a `torn`
/// last line (a writer died mid-line) the line starts with a newline that
/// ends the fragment, so it stays one unparseable line instead of
/// corrupting this one.
pub(crate) fn json_line(record: &impl serde::Serialize, torn: bool) -> serde_json::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(256);
    if torn {
        line.push(b'\n');
    }
    serde_json::to_writer(&mut line, record)?;
    line.push(b'\n');
    Ok(line)
}

/// Call `f` for every newline-terminated line of `data` that parses as an
/// event; torn or foreign lines are skipped.
pub fn parse_complete_lines(data: &[u8], mut f: impl FnMut(Event)) {
    let end = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => i,
        None => return,
    };
    for line in data[..end].split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        if let Ok(ev) = serde_json::from_slice::<Event>(line)
            && ev.seq > 0
        {
            f(ev);
        }
    }
}

/// Follows one pane's log from a sequence number onwards, across rotations,
/// never yielding a record twice or a half-written one.
#[derive(Debug)]
pub struct LogCursor {
    pub pane: PaneId,
    /// Highest seq already yielded.
    pub seq: u64,
    open: Option<OpenLog>,
}

#[derive(Debug)]
struct OpenLog {
    file: File,
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
}

impl LogCursor {
    /// A cursor that will yield events with `seq > after`.
    pub fn new(pane: PaneId, after: u64) -> LogCursor {
        LogCursor {
            pane,
            seq: after,
            open: None,
        }
    }

    /// New complete events since the last call.
    pub fn poll(&mut self, store: &Store) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        let path = store.layout.log(self.pane);
        if self.open.is_none() {
            // First look: replay the rotated generation too, if the cursor
            // may reach back into it.
            if let Ok(data) = paths::read(&store.layout.rotated_log(self.pane)) {
                self.take_lines(&data, &mut out);
            }
        }
        loop {
            let current_ino = match fs::symlink_metadata(&path) {
                Ok(m) => Some(m.ino()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            if let Some(open) = &mut self.open {
                let mut chunk = Vec::new();
                open.file.seek(SeekFrom::Start(open.offset))?;
                open.file.read_to_end(&mut chunk)?;
                open.offset += chunk.len() as u64;
                let mut data = std::mem::take(&mut open.partial);
                data.extend_from_slice(&chunk);
                let keep_from = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let tail = data[keep_from..].to_vec();
                data.truncate(keep_from);
                if let Some(o) = &mut self.open {
                    o.partial = tail;
                }
                self.take_lines(&data, &mut out);
                let same = self.open.as_ref().map(|o| o.ino) == current_ino;
                if same || current_ino.is_none() {
                    break;
                }
                // Rotated under us: the old file is complete (writers only
                // open the log under the lock), so move to the new one.
                self.open = None;
            }
            match paths::open_read(&path) {
                Ok(file) => {
                    let ino = file.metadata()?.ino();
                    self.open = Some(OpenLog {
                        file,
                        ino,
                        offset: 0,
                        partial: Vec::new(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn take_lines(&mut self, data: &[u8], out: &mut Vec<Event>) {
        parse_complete_lines(data, |ev| {
            if ev.seq > self.seq {
                self.seq = ev.seq;
                out.push(ev);
            }
        });
    }
}

/// Append one line to `$ORCH_STATE_DIR/errors.log` (bounded: rotated at
/// 1 MiB). Hooks report their own failures here instead of to the agent.
pub fn log_error(root: &Path, msg: &str) {
    let path = crate::layout::errors_log(root);
    if paths::ensure_private_dir(root).is_err() {
        return;
    }
    if let Ok(m) = fs::symlink_metadata(&path)
        && m.len() > ERROR_LOG_MAX_BYTES
    {
        let _ = fs::rename(&path, crate::layout::rotated(&path));
    }
    if let Ok(mut f) = paths::open_append(&path) {
        let line = serde_json::json!({"ts": now_ns(), "pid": std::process::id(), "error": msg});
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    fn store(dir: &Path) -> Store {
        Store::open_in(dir, &Server::new(dir.join("sock"), 1)).unwrap()
    }

    /// The newest event `want` accepts, also when it sits behind a record
    /// larger than the first window read from the end of the log.
    #[test]
    fn last_event_where_searches_back_past_big_records() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let pane: PaneId = "%4".parse().unwrap();
        assert_eq!(s.last_event_where(pane, |_| true).unwrap(), None);
        let mut n = Event::new(Kind::Notify);
        n.source = Some("PermissionRequest".into());
        s.append(pane, n).unwrap();
        let mut big = Event::new(Kind::Sent);
        big.prompt = Some("x".repeat(200 * 1024));
        s.append(pane, big).unwrap();
        s.append(pane, Event::new(Kind::Sent)).unwrap();
        let found = s
            .last_event_where(pane, |e| e.kind != Some(Kind::Sent))
            .unwrap()
            .unwrap();
        assert_eq!((found.seq, found.kind), (1, Some(Kind::Notify)));
        assert_eq!(found.source.as_deref(), Some("PermissionRequest"));
        let last = s.last_event_where(pane, |_| true).unwrap().unwrap();
        assert_eq!(last.seq, 3);
        assert_eq!(
            s.last_event_where(pane, |e| e.kind == Some(Kind::Stop))
                .unwrap(),
            None
        );
    }
}

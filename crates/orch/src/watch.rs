//! Waiting for appends without polling.
//!
//! One inotify instance (via `notify`) watching one directory. Callers arm
//! the watch *before* checking the logs, then re-check after each wake, so
//! an append that lands between the check and the wait is never missed.
//!
//! Only changes wake a waiter: a file created, written, removed or renamed.
//! inotify also reports opens and reads (the kernel has no "modified only"
//! watch that notify exposes), and a reader's own reads of the directory it
//! watches would otherwise wake it again at once: an idle `survey --watch`
//! redrew ten times a second that way.
//!
//! Fallback: where inotify is unavailable or the kernel refuses an instance
//! or a watch (`EMFILE`: `fs.inotify.max_user_instances`; `ENOSPC`:
//! `fs.inotify.max_user_watches`), or when `ORCH_POLL=1` is set, the waiter
//! sleeps for a short interval (`ORCH_POLL_MS`, default 50 ms) between
//! checks and says so once per process on stderr. Correctness does not
//! depend on which mode runs: readers are cursor-based and only need to be
//! woken.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};

pub const POLL_ENV: &str = "ORCH_POLL";
pub const POLL_MS_ENV: &str = "ORCH_POLL_MS";

/// What woke a waiter.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// These paths changed (may be empty when the watcher lost track, e.g.
    /// an inotify queue overflow: re-check everything).
    Changed(Vec<PathBuf>),
    /// The deadline passed.
    Timeout,
}

pub struct Waiter {
    mode: Mode,
}

enum Mode {
    Inotify {
        _watcher: notify::RecommendedWatcher,
        rx: Receiver<notify::Result<notify::Event>>,
    },
    Poll(Duration),
}

impl Waiter {
    /// Watch `dir` (not recursively). Never fails: falls back to polling.
    pub fn new(dir: &Path) -> Waiter {
        let poll = Duration::from_millis(crate::env::positive(POLL_MS_ENV, 50));
        if std::env::var(POLL_ENV).is_ok_and(|v| v == "1") {
            say_polling(&format!("{POLL_ENV}=1 is set"), poll);
            return Waiter {
                mode: Mode::Poll(poll),
            };
        }
        match arm(dir) {
            Ok((w, rx)) => Waiter {
                mode: Mode::Inotify { _watcher: w, rx },
            },
            Err(e) => {
                say_polling(&format!("inotify unavailable ({})", hint(&e)), poll);
                Waiter {
                    mode: Mode::Poll(poll),
                }
            }
        }
    }

    pub fn is_polling(&self) -> bool {
        matches!(self.mode, Mode::Poll(_))
    }

    /// Block until something changes or `deadline` passes. Drains every
    /// pending notification so a burst costs one wake.
    pub fn wait(&self, deadline: Option<Instant>) -> Wake {
        match &self.mode {
            Mode::Poll(interval) => {
                let mut d = *interval;
                if let Some(dl) = deadline {
                    let left = dl.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Wake::Timeout;
                    }
                    d = d.min(left);
                }
                std::thread::sleep(d);
                Wake::Changed(Vec::new())
            }
            Mode::Inotify { rx, .. } => {
                let mut paths = Vec::new();
                let mut rescan = false;
                let mut take = |r: notify::Result<notify::Event>| match r {
                    Ok(ev) if !ev.need_rescan() && !is_change(&ev.kind) => false,
                    Ok(ev) if !ev.need_rescan() && !ev.paths.is_empty() => {
                        paths.extend(ev.paths);
                        true
                    }
                    _ => {
                        rescan = true;
                        true
                    }
                };
                // Opens and reads are drained without waking the caller.
                let mut woken = false;
                while !woken {
                    let next = match deadline {
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(dl) => rx.recv_timeout(dl.saturating_duration_since(Instant::now())),
                    };
                    match next {
                        Ok(r) => woken = take(r),
                        Err(RecvTimeoutError::Timeout) => return Wake::Timeout,
                        // The watcher thread died: behave like a poller.
                        Err(RecvTimeoutError::Disconnected) => {
                            std::thread::sleep(Duration::from_millis(50));
                            return Wake::Changed(Vec::new());
                        }
                    }
                }
                while let Ok(r) = rx.try_recv() {
                    take(r);
                }
                if rescan {
                    paths.clear();
                }
                paths.sort();
                paths.dedup();
                Wake::Changed(paths)
            }
        }
    }
}

/// Did this notification change a file (created, written, removed,
/// renamed)? Opens, reads, closes and metadata changes did not.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(_) => true,
        EventKind::Any | EventKind::Other => true,
    }
}

/// Say once per process that waiting falls back to polling, and why.
fn say_polling(why: &str, every: Duration) {
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        eprintln!(
            "orch: {why}; polling every {} ms instead of waiting on inotify",
            every.as_millis()
        );
    });
}

type Armed = (
    notify::RecommendedWatcher,
    Receiver<notify::Result<notify::Event>>,
);

fn arm(dir: &Path) -> notify::Result<Armed> {
    let (tx, rx) = channel();
    let mut w = notify::recommended_watcher(move |r| {
        let _ = tx.send(r);
    })?;
    w.watch(dir, RecursiveMode::NonRecursive)?;
    Ok((w, rx))
}

/// Turn a watcher error into advice a person can act on.
pub fn hint(e: &notify::Error) -> String {
    let text = e.to_string();
    if let notify::ErrorKind::MaxFilesWatch = e.kind {
        return "the kernel's inotify watch limit is reached; raise it with \
                `sysctl fs.inotify.max_user_watches=524288`"
            .into();
    }
    if let notify::ErrorKind::Io(io) = &e.kind {
        match io.raw_os_error() {
            Some(libc_emfile) if libc_emfile == nix::errno::Errno::EMFILE as i32 => {
                return "too many inotify instances; raise \
                        `sysctl fs.inotify.max_user_instances` (default 128)"
                    .into();
            }
            Some(e) if e == nix::errno::Errno::ENOSPC as i32 => {
                return "the kernel's inotify watch limit is reached; raise it with \
                        `sysctl fs.inotify.max_user_watches=524288`"
                    .into();
            }
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_opens_are_not_changes() {
        use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, RenameMode};
        assert!(!is_change(&EventKind::Access(AccessKind::Any)));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::Any
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn a_refused_watch_falls_back_to_polling() {
        let dir = tempfile::tempdir().unwrap();
        let w = Waiter::new(&dir.path().join("missing"));
        assert!(w.is_polling());
        let start = Instant::now();
        let wake = w.wait(Some(start + Duration::from_millis(30)));
        assert_eq!(
            wake,
            Wake::Changed(Vec::new()),
            "a poller wakes to re-check"
        );
    }

    #[test]
    fn an_idle_reader_of_its_own_directory_is_not_woken() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.jsonl"), b"x\n").unwrap();
        let w = Waiter::new(dir.path());
        assert!(!w.is_polling());
        // What a survey frame does: list the directory, read a log.
        let _ = std::fs::read_dir(dir.path()).unwrap().count();
        let _ = std::fs::read(dir.path().join("1.jsonl")).unwrap();
        let wake = w.wait(Some(Instant::now() + Duration::from_millis(300)));
        assert_eq!(wake, Wake::Timeout);
        std::fs::write(dir.path().join("1.jsonl"), b"y\n").unwrap();
        assert!(matches!(
            w.wait(Some(Instant::now() + Duration::from_secs(5))),
            Wake::Changed(_)
        ));
    }
}

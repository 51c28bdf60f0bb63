//! Exclusive file locks (std `File::lock`, i.e. `flock(2)`).
//!
//! Lock files live beside the state they guard and are never renamed. GC may
//! unlink a lock file while someone waits on it; after acquiring we check the
//! file is still linked (`st_nlink > 0`, as jj does) and retry on a fresh one
//! if not, so two processes can never both "hold" a pane through different
//! inodes. Lock files are opened without following links
//! ([`crate::paths::open_lock`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// Held until dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Block until the lock on `path` is ours (creating the file 0600).
    pub fn acquire(path: &Path) -> io::Result<FileLock> {
        loop {
            let file = crate::paths::open_lock(path)?;
            file.lock()?;
            if file.metadata()?.nlink() > 0 {
                return Ok(FileLock {
                    file,
                    path: path.to_path_buf(),
                });
            }
        }
    }

    /// Take the lock if free now; `None` if someone else holds it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<FileLock>> {
        let file = crate::paths::open_lock(path)?;
        match file.try_lock() {
            Ok(()) if file.metadata()?.nlink() > 0 => Ok(Some(FileLock {
                file,
                path: path.to_path_buf(),
            })),
            Ok(()) => Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Block for the lock until `deadline`; `None` if it did not come by
    /// then. flock has no timeout, so the blocking wait runs on a helper
    /// thread; if that thread wins after we gave up, it drops the lock at
    /// once (its receiver is gone).
    pub fn acquire_until(path: &Path, deadline: Instant) -> io::Result<Option<FileLock>> {
        if let Some(l) = FileLock::try_acquire(path)? {
            return Ok(Some(l));
        }
        let (tx, rx) = mpsc::channel();
        let owned = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(FileLock::acquire(&owned));
        });
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

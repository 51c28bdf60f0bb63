//! Private directories and safe file access in the state dir (where files
//! are is [`crate::layout`]).
//!
//! The rules (docs/protocol.md, "Ownership and links"):
//!
//! - The state root and every directory under it must be a real directory
//!   (not a symlink), owned by the effective user, and not writable by
//!   group or others; otherwise orch refuses, as tmux does for its socket
//!   dir. Anyone else who can write there could forge what orch types
//!   into an agent.
//! - Files in it are opened with `O_NOFOLLOW` (a planted symlink is never
//!   followed, a dangling one never creates its target) and `O_NONBLOCK`
//!   (a planted FIFO never blocks a hook), then checked with `fstat`: a
//!   regular file, owned by us, with one link.
//! - Temp files are created `O_CREAT|O_EXCL|O_NOFOLLOW` under a random
//!   name, then renamed over the target (rename replaces a link, never
//!   writes through it).

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::Fail;

/// Flags every state-dir open carries.
const SAFE_FLAGS: i32 = libc_flags();

const fn libc_flags() -> i32 {
    nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC
}

/// Create `dir` (and missing parents) mode 0700, then check that it is
/// ours: a directory (not a link), owned by the effective user, not
/// writable by group or others. A dir that fails the check is refused
/// (exit 4) with a message naming the fix; nothing is written into it.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) => check_private_dir(dir, &m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir(dir)?;
            let m = fs::symlink_metadata(dir)?;
            check_private_dir(dir, &m)
        }
        Err(e) => Err(e.into()),
    }
}

/// Create `dir` (and parents) with mode 0700 if missing, without checking
/// an existing one: for directories that are not orch's state (a person's
/// config dirs, where another owner can be legitimate).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The ownership/mode rule for one state directory (see the module doc).
pub fn check_private_dir(dir: &Path, m: &fs::Metadata) -> anyhow::Result<()> {
    let d = dir.display();
    if m.file_type().is_symlink() {
        return Err(Fail::refused(format!(
            "state dir {d} is a symbolic link; orch only uses a real directory it owns: remove the link (or set ORCH_STATE_DIR to a private dir) and run again"
        )));
    }
    if !m.is_dir() {
        return Err(Fail::refused(format!(
            "state dir {d} is not a directory; move it aside (or set ORCH_STATE_DIR to a private dir) and run again"
        )));
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return Err(Fail::refused(format!(
            "state dir {d} is owned by uid {}, not by you (uid {me}); another user could forge what orch types: remove it (or set ORCH_STATE_DIR to a dir you own) and run again",
            m.uid()
        )));
    }
    let mode = m.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Fail::refused(format!(
            "state dir {d} is writable by group or others (mode {mode:o}); another user could forge what orch types: chmod 700 {d} and run again"
        )));
    }
    Ok(())
}

/// Is `f` a regular file we own with at most one link? (The `fstat` half
/// of every state-dir open.)
fn check_file(f: &File, path: &Path) -> io::Result<()> {
    let m = f.metadata()?;
    let bad = |what: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {what}; orch does not use it", path.display()),
        )
    };
    if !m.file_type().is_file() {
        return Err(bad("not a regular file".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return Err(bad(format!("owned by uid {}, not {me}", m.uid())));
    }
    if m.nlink() > 1 {
        return Err(bad("has other hard links".into()));
    }
    Ok(())
}

/// Open a state-dir file with `opts` plus the safe flags, then check it.
pub fn open_with(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    let f = opts.custom_flags(SAFE_FLAGS).open(path)?;
    check_file(&f, path)?;
    Ok(f)
}

/// Open a state-dir file for reading.
pub fn open_read(path: &Path) -> io::Result<File> {
    open_with(path, OpenOptions::new().read(true))
}

/// Read a whole state-dir file (`fs::read` without following links).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = open_read(path)?;
    let mut buf = Vec::with_capacity(f.metadata().map(|m| m.len() as usize).unwrap_or(0));
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Open (creating 0600) a state-dir file for appending; also readable.
pub fn open_append(path: &Path) -> io::Result<File> {
    open_with(
        path,
        OpenOptions::new()
            .append(true)
            .read(true)
            .create(true)
            .mode(0o600),
    )
}

/// Open (creating 0600) a lock file.
pub fn open_lock(path: &Path) -> io::Result<File> {
    open_with(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600),
    )
}

/// 64 random bits: std's `RandomState` is seeded from the OS once per
/// thread; mixing in a counter and the clock makes every call distinct.
pub fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u64(crate::time::now_ns());
    h.write_u32(std::process::id());
    h.finish()
}

/// The name of a temp file beside `path`: `.<name>.<pid>.<random>.tmp`.
/// The pid lets GC tell a killed writer's leftover from a live one's
/// ([`stale_temp`]).
fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    dir.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        random_u64()
    ))
}

/// Create a fresh temp file beside `path` (`O_CREAT|O_EXCL|O_NOFOLLOW`,
/// a new random name if one is taken).
pub fn create_temp(path: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let tmp = temp_path(path);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(SAFE_FLAGS)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temp name")))
}

/// Is `name` (in a directory orch writes) a temp file whose writer is gone:
/// its pid is not alive, or it is older than `max_age_ns`? Matches this
/// module's names and the older `.<name>.orch-<pid>.tmp`.
pub fn stale_temp(name: &str, mtime_ns: u64, now_ns: u64, max_age_ns: u64) -> bool {
    let Some(body) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    if now_ns.saturating_sub(mtime_ns) > max_age_ns {
        return true;
    }
    let pid = body.rsplit('.').find_map(|part| {
        part.strip_prefix("orch-")
            .unwrap_or(part)
            .parse::<i32>()
            .ok()
    });
    match pid {
        Some(pid) if pid > 0 => matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        ),
        _ => false,
    }
}

/// Remove stale temp files ([`stale_temp`]) directly in `dir`.
pub fn remove_stale_temps(dir: &Path, max_age_ns: u64) -> usize {
    let now = crate::time::now_ns();
    let mut n = 0;
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') || !name.ends_with(".tmp") {
            continue;
        }
        let Ok(m) = e.metadata() else { continue };
        let mtime = (m.mtime().max(0) as u64) * 1_000_000_000 + m.mtime_nsec().max(0) as u64;
        if stale_temp(&name, mtime, now, max_age_ns) && fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

/// Write `data` to `path` atomically: a temp file in the same directory,
/// then rename. Readers see either the old file or the new one, never a
/// torn one. No fsync: state is advisory and rebuilt from logs (see
/// [`write_durable`] for a person's files).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_via_temp(path, data, mode, false, None)
}

/// Like [`write_atomic`], for files that are someone's settings: the data
/// is synced before the rename, and (when running as root) the file keeps
/// its `owner` (uid, gid).
pub fn write_durable(
    path: &Path,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    write_via_temp(path, data, mode, true, owner)
}

/// A temp file holding the new content, ready to be renamed over its
/// target (see [`prepare_temp`]). Removed when dropped unless installed.
#[derive(Debug)]
pub struct PreparedTemp {
    tmp: Option<PathBuf>,
    target: PathBuf,
}

impl PreparedTemp {
    /// Rename the temp file over the target.
    pub fn install(mut self) -> io::Result<()> {
        let tmp = self.tmp.take().expect("installed once");
        let r = fs::rename(&tmp, &self.target);
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r
    }
}

impl Drop for PreparedTemp {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = fs::remove_file(t);
        }
    }
}

/// Write `data` into a fresh temp file beside `path` (synced when `sync`,
/// given `mode` and, when root, `owner`), without renaming it yet: the
/// caller can check the target once more just before
/// [`PreparedTemp::install`].
pub fn prepare_temp(
    path: &Path,
    data: &[u8],
    mode: u32,
    sync: bool,
    owner: Option<(u32, u32)>,
) -> io::Result<PreparedTemp> {
    let (tmp, mut f) = create_temp(path, mode)?;
    let prepared = PreparedTemp {
        tmp: Some(tmp),
        target: path.to_path_buf(),
    };
    f.write_all(data)?;
    if sync {
        f.sync_all()?;
    }
    // The umask may have cut bits off the mode the file was created with.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    if let Some((uid, gid)) = owner
        && nix::unistd::geteuid().is_root()
    {
        let _ = nix::unistd::fchown(
            &f,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        );
    }
    Ok(prepared)
}

/// The temp file is removed on any failure, so a failed write leaves the
/// old file alone.
fn write_via_temp(
    path: &Path,
    data: &[u8],
    mode: u32,
    sync: bool,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    prepare_temp(path, data, mode, sync, owner)?.install()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_fresh_and_parse_back() {
        let a = temp_path(Path::new("/d/3.json"));
        let b = temp_path(Path::new("/d/3.json"));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".3.json.") && name.ends_with(".tmp"),
            "{name}"
        );
        // Our own pid is alive, and the file is young: not stale.
        assert!(!stale_temp(&name, 100, 100, 1_000));
        // Old enough: stale whatever the pid.
        assert!(stale_temp(&name, 0, 2_000, 1_000));
        assert!(!stale_temp("3.json", 0, u64::MAX, 1));
    }

    #[test]
    fn writes_never_follow_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let p = dir.path().join("f.jsonl");
        std::os::unix::fs::symlink(&outside, &p).unwrap();
        assert!(open_append(&p).is_err());
        assert!(read(&p).is_err());
        write_atomic(&p, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
        // A dangling link never creates its target.
        let q = dir.path().join("g.lock");
        std::os::unix::fs::symlink(dir.path().join("created"), &q).unwrap();
        assert!(open_lock(&q).is_err());
        assert!(!dir.path().join("created").exists());
    }
}

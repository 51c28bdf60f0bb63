//! Private directories and atomic writes: the state dir and every
//! directory under it are created 0700, files in it 0600 (where files
//! are is [`crate::layout`]).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Create `dir` (and parents) with mode 0700 if missing.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
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

/// The temp file is removed on any failure, so a failed write leaves the
/// old file alone.
fn write_via_temp(
    path: &Path,
    data: &[u8],
    mode: u32,
    sync: bool,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.orch-{}.tmp", std::process::id()));
    let r = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        if let Some((uid, gid)) = owner
            && nix::unistd::geteuid().is_root()
        {
            let _ = nix::unistd::chown(
                &tmp,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            );
        }
        fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

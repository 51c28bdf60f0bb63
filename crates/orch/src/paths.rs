//! Where orch keeps its state and config.
//!
//! State: `$ORCH_STATE_DIR`, else the XDG state dir (`~/.local/state/orch`).
//! Config: `$ORCH_CONFIG_DIR`, else the XDG config dir (`~/.config/orch`).
//! The overrides exist so tests (and people with odd setups) never touch a
//! real home. The state dir is created 0700; files in it are 0600.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub const STATE_ENV: &str = "ORCH_STATE_DIR";
pub const CONFIG_ENV: &str = "ORCH_CONFIG_DIR";

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "orch")
}

/// The state root, without creating it.
pub fn state_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(STATE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dirs = project_dirs().context("cannot find a home directory; set ORCH_STATE_DIR")?;
    Ok(dirs
        .state_dir()
        .map(Path::to_path_buf)
        // macOS has no XDG state dir; keep state beside the data.
        .unwrap_or_else(|| dirs.data_local_dir().to_path_buf()))
}

/// The config root, without creating it.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dirs = project_dirs().context("cannot find a home directory; set ORCH_CONFIG_DIR")?;
    Ok(dirs.config_dir().to_path_buf())
}

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
/// fsync-free (state is advisory and rebuilt from logs), then rename.
/// Readers see either the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    let r = f.write_all(data).and_then(|_| {
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)
    });
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

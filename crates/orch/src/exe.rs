//! Finding orch's other binaries. They are installed side by side, so the
//! one next to the running binary wins (an install dir works without PATH
//! and a test build runs its own siblings), then PATH.

use std::path::PathBuf;

/// `orch-<sub>` next to the running binary, else on PATH; absolute.
pub fn sibling(sub: &str) -> Option<PathBuf> {
    let bin = format!("orch-{sub}");
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join(&bin);
        if p.is_file() {
            return Some(p);
        }
    }
    let p = which::which(&bin).ok()?;
    Some(std::path::absolute(&p).unwrap_or(p))
}

//! Starting the agent process in its pane.
//!
//! tmux caps one command at about 16 KiB, and an appended system prompt
//! (fleet prompt + outfit) can be longer. So spawn writes the agent's argv
//! and environment to a private file (0600, in the 0700 state dir) and has
//! the pane run `orch-spawn --exec-launch <file>`, which reads the file,
//! deletes it and `exec`s the agent: no shell, no size limit, and the
//! agent replaces the trampoline (same pid).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::exit::Code;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchFile {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Variables removed from what the pane inherited from the tmux server.
    pub unset: Vec<String>,
}

pub fn write(path: &Path, lf: &LaunchFile) -> Result<()> {
    let data = serde_json::to_vec(lf)?;
    crate::paths::write_atomic(path, &data, 0o600)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Read a launch file, refusing (exit 4) one that anyone but us could have
/// written or swapped: it is opened without following links and must be a
/// regular file we own, with one link and no group/other bits. Whoever
/// could plant it would run a command as us.
pub fn read(path: &Path) -> Result<LaunchFile> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: String| {
        crate::exit::Fail::refused(format!(
            "launch file {}: {why}; not running it (start the agent again with orch spawn)",
            path.display()
        ))
    };
    let mut f = crate::paths::open_read(path).map_err(|e| refuse(e.to_string()))?;
    let mode = f.metadata()?.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "mode {mode:o} lets others read or write it"
        )));
    }
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .with_context(|| format!("cannot read launch file {}", path.display()))?;
    serde_json::from_slice(&data)
        .with_context(|| format!("launch file {} is not valid", path.display()))
}

/// The trampoline: only returns if the agent could not be started.
pub fn exec(path: &Path) -> Result<Code> {
    let lf = read(path);
    let _ = std::fs::remove_file(path);
    let lf = lf?;
    let Some((prog, args)) = lf.argv.split_first() else {
        anyhow::bail!("launch file {} has an empty command", path.display());
    };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args);
    for k in &lf.unset {
        cmd.env_remove(k);
    }
    cmd.envs(&lf.env);
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {prog}")))
}

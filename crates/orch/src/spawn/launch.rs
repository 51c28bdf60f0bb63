//! Starting the agent process in its pane.
//!
//! tmux caps one command at about 16 KiB, and an appended system prompt
//! (fleet prompt + outfit) can be longer. So spawn writes the agent's argv
//! and orch's own variables to a private file (0600, in the 0700 state dir)
//! and has the pane run `orch-spawn --exec-launch <file>`, which reads the
//! file, deletes it and `exec`s the agent: no shell, no size limit, and the
//! agent replaces the trampoline (same pid).
//!
//! The spawner's own environment (provider keys, proxies, cloud settings)
//! never touches the disk: spawn writes it into a FIFO next to the launch
//! file, which the trampoline reads before it `exec`s. Not
//! `tmux split-window -e`, whose values anyone can read in the tmux
//! client's `/proc/<pid>/cmdline`, and not the tmux server's environment,
//! which other panes would inherit. A pipe's contents live only in the
//! kernel's buffer between two processes of the same user.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::exit::Code;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchFile {
    pub argv: Vec<String>,
    /// orch's own variables (role, name, parent, harness and outfit env).
    pub env: BTreeMap<String, String>,
    /// Variables removed from what the pane inherited from the tmux server.
    pub unset: Vec<String>,
    /// The FIFO the spawner's environment arrives through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_fifo: Option<PathBuf>,
    /// The spawner's environment: sent through `env_fifo`, never written.
    #[serde(skip)]
    pub inherited: BTreeMap<String, String>,
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

/// Make the private FIFO the environment goes through (0600; a stale one
/// from a killed spawn is replaced).
pub fn make_env_fifo(path: &Path) -> Result<()> {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Hand `env` to the trampoline through `fifo`: wait (until `deadline`)
/// for it to open the reading end, write, close, remove the FIFO.
pub fn send_env(fifo: &Path, env: &BTreeMap<String, String>, deadline: Instant) -> Result<()> {
    let data = serde_json::to_vec(env)?;
    let result = (|| {
        let mut f = loop {
            // Non-blocking: ENXIO while nobody reads, so a trampoline that
            // never started cannot hang spawn.
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(fifo)
            {
                Ok(f) => break f,
                Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => {
                    if Instant::now() >= deadline {
                        anyhow::bail!(
                            "the agent's trampoline never read its environment from {}",
                            fifo.display()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e).with_context(|| format!("cannot open {}", fifo.display())),
            }
        };
        set_blocking(&f)?;
        f.write_all(&data)
            .with_context(|| format!("cannot write the environment to {}", fifo.display()))
    })();
    let _ = std::fs::remove_file(fifo);
    result
}

fn set_blocking(f: &std::fs::File) -> Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(f, FcntlArg::F_GETFL)?);
    fcntl(f, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
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
    if let Some(fifo) = &lf.env_fifo {
        let mut data = Vec::new();
        std::fs::File::open(fifo)
            .and_then(|mut f| f.read_to_end(&mut data))
            .with_context(|| format!("cannot read the environment from {}", fifo.display()))?;
        let _ = std::fs::remove_file(fifo);
        let inherited: BTreeMap<String, String> = serde_json::from_slice(&data)
            .with_context(|| format!("the environment from {} is not valid", fifo.display()))?;
        cmd.envs(&inherited);
    }
    for k in &lf.unset {
        cmd.env_remove(k);
    }
    cmd.envs(&lf.env);
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {prog}")))
}

//! Finding orch's other binaries. They are installed side by side, so the
//! one next to the running binary wins (an install dir works without PATH
//! and a test build runs its own siblings), then PATH. Hooks start the
//! slow parts of their work as detached siblings ([`spawn_detached`]).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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

/// Start `exe ARGS…` detached, without waiting for it:
/// `fork`, then in the child `setsid` (a new session: no signal aimed at
/// the agent's process group or terminal reaches it), stdio onto
/// /dev/null, `execv`. Every other inherited descriptor is closed on exec,
/// so the agent waiting for this hook's pipes to close is never held up by
/// the flusher. A plain fork returns to the hook at once, where
/// `posix_spawn` (std's `Command`) would block it until the child had
/// exec'd — milliseconds on a loaded machine. The child is orphaned when
/// the hook exits.
pub fn spawn_detached(exe: &Path, args: &[String]) -> Result<u32> {
    use nix::libc;
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    let path = CString::new(exe.as_os_str().as_bytes()).context("odd program path")?;
    let mut argv = vec![path.clone()];
    for a in args {
        argv.push(CString::new(a.as_str()).context("an argument holds a NUL byte")?);
    }
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("cannot open /dev/null")?;
    let null_fd = devnull.as_raw_fd();
    close_inherited_on_exec();
    // SAFETY: between fork and exec the child calls only async-signal-safe
    // functions (setsid, dup2, execv, _exit) on data prepared before the
    // fork, so this is sound even if the caller had other threads.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()).context("cannot fork"),
        0 => unsafe {
            libc::setsid();
            libc::dup2(null_fd, 0);
            libc::dup2(null_fd, 1);
            libc::dup2(null_fd, 2);
            libc::execv(path.as_ptr(), argv_ptrs.as_ptr());
            libc::_exit(127)
        },
        pid => Ok(pid as u32),
    }
}

/// Mark descriptors this process inherited (beyond stdio) close-on-exec:
/// the agent may have leaked one of its pipes into the hook, and a flusher
/// holding it would keep the agent waiting.
fn close_inherited_on_exec() {
    let Ok(rd) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a descriptor number only changes its flag; an
        // fd that is already closed (the read_dir's own) returns EBADF.
        unsafe {
            let flags = nix::libc::fcntl(fd, nix::libc::F_GETFD);
            if flags >= 0 && flags & nix::libc::FD_CLOEXEC == 0 {
                nix::libc::fcntl(fd, nix::libc::F_SETFD, flags | nix::libc::FD_CLOEXEC);
            }
        }
    }
}

//! The hook's part: turning a peer's event into notices for its
//! subscribers, and starting the flusher without waiting for it.

use std::fs::{self, OpenOptions};
use std::io;

use anyhow::{Context, Result};

use super::Notice;
use crate::event::{Event, Kind};
use crate::pane::PaneId;
use crate::store::{Appended, Store, log_error};

/// Does this event get pushed to subscribers? (`idle_prompt` is not: it
/// follows every turn by a minute and says nothing a `stop` did not.)
fn fans_out(ev: &Event) -> bool {
    match ev.kind {
        Some(Kind::Stop | Kind::StopFailure | Kind::SessionEnd) => true,
        Some(Kind::Notify) => ev.notification_type.as_deref() != Some("idle_prompt"),
        _ => false,
    }
}

/// The hook's second half, after the store appended `appended` to
/// `pane`'s log: queue a notice for each of this pane's subscribers, and
/// wake the flusher for them and for this pane if notices were waiting for
/// it to be free. Errors are logged, never returned: the event counts.
pub fn fan_out(store: &Store, pane: PaneId, appended: &Appended) {
    let ev = &appended.event;
    let mut wake = Vec::new();
    // The loop rule: a turn a notice started ends without telling anyone.
    if fans_out(ev) && !appended.folded.ended_notice_turn {
        match queue(store, pane, ev) {
            Ok(subs) => wake = subs,
            Err(e) => log_error(
                store.root(),
                &format!("orch-hook {pane}: cannot queue notices: {e:#}"),
            ),
        }
    }
    if appended.folded.freed_waiting_inbox && !wake.contains(&pane) {
        wake.push(pane);
    }
    if !wake.is_empty()
        && let Err(e) = spawn_flusher(&wake)
    {
        log_error(
            store.root(),
            &format!("orch-hook {pane}: cannot start the notice flusher: {e:#}"),
        );
    }
}

/// Queue a notice for each subscriber of `peer` that wants `ev`'s kind.
/// Returns those subscribers. A missing `subs/<P>.json` costs one failed
/// open.
fn queue(store: &Store, peer: PaneId, ev: &Event) -> Result<Vec<PaneId>> {
    let subscribers = crate::subs::subscribers_of(store, peer)?;
    let Some(kind) = ev.kind else {
        return Ok(Vec::new());
    };
    let notice = Notice::from_event(peer, ev);
    let mut out = Vec::new();
    for s in &subscribers {
        if s.pane == peer || !s.wants(kind) || out.contains(&s.pane) {
            continue;
        }
        super::append(store, s.pane, &notice)
            .with_context(|| format!("cannot queue a notice for {}", s.pane))?;
        out.push(s.pane);
    }
    Ok(out)
}

/// Start `orch-subscribe --flush <S>…` detached, without waiting for it:
/// `fork`, then in the child `setsid` (a new session: no signal aimed at
/// the agent's process group or terminal reaches it), stdio onto
/// /dev/null, `execv`. Every other inherited descriptor is closed on exec,
/// so the agent waiting for this hook's pipes to close is never held up by
/// the flusher. A plain fork returns to the hook at once, where
/// `posix_spawn` (std's `Command`) would block it until the child had
/// exec'd — milliseconds on a loaded machine. The child is orphaned when
/// the hook exits.
pub fn spawn_flusher(subscribers: &[PaneId]) -> Result<u32> {
    let exe = crate::exe::sibling("subscribe")
        .context("orch-subscribe is not installed next to orch-hook or on PATH")?;
    let mut args = vec!["--flush".to_string()];
    args.extend(subscribers.iter().map(|p| p.to_string()));
    spawn_detached(&exe, &args).context("cannot start the notice flusher")
}

/// Start `exe ARGS…` detached, the way [`spawn_flusher`] does (fork,
/// `setsid`, stdio on /dev/null, inherited descriptors closed on exec),
/// for other work a hook hands off (codex's failed-turn watch).
pub(crate) fn spawn_detached(exe: &std::path::Path, args: &[String]) -> Result<u32> {
    use nix::libc;
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    let path = CString::new(exe.as_os_str().as_bytes()).context("odd program path")?;
    let mut argv = vec![path.clone()];
    for a in args {
        argv.push(CString::new(a.as_str())?);
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

//! The far end of a hop: `orch __remote`, run by ssh with the header on
//! stdin. It checks the client's version, sets who is asking (alias,
//! origin, role) in the environment, and becomes the subcommand, which
//! inherits the rest of stdin.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, Result};

use super::wire;
use super::{ALIAS_ENV, FROM_ENV};
use crate::exit::{Code, Fail};
use crate::roles::ROLE_ENV;

/// The subcommands another host may run here. `up`, `down` and `hook`
/// change this host's installation or are the agents' own; `echo` is an
/// agent, not a command.
pub const REMOTE_SUBCOMMANDS: &[&str] =
    &["spawn", "tell", "listen", "survey", "subscribe", "doctor"];

/// Read the header and exec the subcommand; returns only on error.
pub fn serve() -> Result<Code> {
    // Unbuffered fd 0: the header is read exactly and the rest of the pipe
    // is left to the subcommand.
    let mut stdin = unsafe_stdin();
    let h = wire::read(&mut stdin).map_err(|e| Fail::usage(e.to_string()))?;
    drop_without_close(stdin);

    let mine = env!("CARGO_PKG_VERSION");
    if !compatible(&h.version, mine) {
        return Err(Fail::usage(format!(
            "orch on this host is {mine} but the caller's is {}: install the same version on both (./install.sh from the same checkout)",
            h.version
        )));
    }
    let Some((sub, rest)) = h.argv.split_first() else {
        return Err(Fail::usage("orch __remote: empty command"));
    };
    if !REMOTE_SUBCOMMANDS.contains(&sub.as_str()) {
        return Err(Fail::usage(format!(
            "`orch {sub}` cannot run on another host; remote commands: {}",
            REMOTE_SUBCOMMANDS.join(", ")
        )));
    }
    if sub == "spawn" && rest.iter().any(|a| a == "--headless") {
        ensure_tmux_server()?;
    }
    let path = crate::exe::sibling(sub).ok_or_else(|| {
        Fail::new(
            Code::Failure,
            format!("orch-{sub} is not installed next to orch on this host; rerun ./install.sh"),
        )
    })?;
    let mut cmd = Command::new(&path);
    cmd.args(rest)
        .env(ALIAS_ENV, &h.alias)
        .env(FROM_ENV, &h.from);
    if let Some(role) = h.role.filter(|r| !r.is_empty()) {
        cmd.env(ROLE_ENV, role);
    }
    if h.hangup {
        return run_until_hangup(cmd, stdin_fd());
    }
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {}", path.display())))
}

/// Same major and minor (for 0.x: the same minor) — the JSON contracts
/// change only with a minor.
pub fn compatible(theirs: &str, mine: &str) -> bool {
    let mm = |v: &str| {
        let mut it = v.split('.');
        (it.next().map(str::to_owned), it.next().map(str::to_owned))
    };
    mm(theirs) == mm(mine)
}

/// `spawn --headless` on a host with no tmux server starts one (an
/// `orch-headless` session) rather than failing.
fn ensure_tmux_server() -> Result<()> {
    if crate::server::Server::current().is_ok() {
        return Ok(());
    }
    let st = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            "orch-headless",
            "-x",
            "200",
            "-y",
            "50",
        ])
        .status()
        .context("cannot run tmux on this host; install it (apt-get install tmux)")?;
    if !st.success() {
        return Err(Fail::new(Code::Failure, "cannot start a tmux server on this host").into());
    }
    Ok(())
}

/// Run the command with no stdin while watching ours: when the client hangs
/// up (EOF), stop the command rather than leave it waiting here.
fn run_until_hangup(mut cmd: Command, mut ours: std::fs::File) -> Result<Code> {
    use std::io::Read;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .spawn()
        .context("cannot start the command")?;
    let pid = child.id();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        while ours.read(&mut sink).is_ok_and(|n| n > 0) {}
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    });
    let st = child.wait().context("waiting for the command")?;
    Ok(st
        .code()
        .map(Code::from_exit_status)
        .unwrap_or(Code::Failure))
}

fn stdin_fd() -> std::fs::File {
    unsafe_stdin()
}

fn unsafe_stdin() -> std::fs::File {
    // SAFETY: fd 0 is open for the life of the process; the File is never
    // closed (drop_without_close), so the exec'd command inherits it.
    unsafe { std::fs::File::from_raw_fd(0) }
}

fn drop_without_close(f: std::fs::File) {
    let _ = f.into_raw_fd();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_compatible_within_a_minor() {
        assert!(compatible("0.1.0", "0.1.7"));
        assert!(!compatible("0.2.0", "0.1.7"));
        assert!(!compatible("1.1.0", "0.1.0"));
    }
}

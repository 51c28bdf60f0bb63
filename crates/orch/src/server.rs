//! Which tmux server a pane belongs to.
//!
//! Pane ids restart at `%0` when a tmux server restarts and collide across
//! servers, so all pane state is keyed by the server first. tmux exports
//! `TMUX=<socket path>,<server pid>,<session index>` into every pane, so a
//! hook learns its server without running tmux.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A tmux server: its socket and the pid of the server process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub socket: PathBuf,
    pub pid: u32,
}

impl Server {
    /// Parse a `TMUX` value. The socket path may itself contain commas, so
    /// split from the right.
    pub fn parse_tmux_env(value: &str) -> Option<Server> {
        let mut parts = value.rsplitn(3, ',');
        let _session = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let socket = parts.next().filter(|s| !s.is_empty())?;
        Some(Server {
            socket: PathBuf::from(socket),
            pid,
        })
    }

    /// The server of the pane we run in, from `TMUX`, without any tmux call.
    pub fn from_env() -> Option<Server> {
        std::env::var("TMUX")
            .ok()
            .and_then(|v| Server::parse_tmux_env(&v))
    }

    /// The server of the pane we run in, or else the server plain `tmux`
    /// would talk to (one tmux call). `ORCH_TMUX_SOCKET` selects a socket
    /// explicitly (like `tmux -S`).
    pub fn current() -> Result<Server> {
        if let Some(s) = Server::from_env() {
            return Ok(s);
        }
        let mut cmd = Command::new("tmux");
        if let Some(sock) = std::env::var_os("ORCH_TMUX_SOCKET").filter(|s| !s.is_empty()) {
            cmd.arg("-S").arg(sock);
        }
        let out = cmd
            .args(["display-message", "-p", "#{socket_path},#{pid},0"])
            .output()
            .context("cannot run tmux; is it installed? (apt-get install tmux)")?;
        if !out.status.success() {
            bail!("no tmux server found: run orch inside tmux, or start one with `tmux new -d`");
        }
        let line = String::from_utf8_lossy(&out.stdout);
        Server::parse_tmux_env(line.trim())
            .with_context(|| format!("tmux printed an unexpected server identity: {line:?}"))
    }

    /// The directory name for this server's state: `<socket name>-<pid>`,
    /// readable and unique among live servers (two live servers cannot
    /// share a pid).
    pub fn key(&self) -> String {
        let name = self
            .socket
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tmux".into());
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{clean}-{}", self.pid)
    }

    /// Is the server process still alive?
    pub fn is_alive(&self) -> bool {
        pid_alive(self.pid)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

/// Is process `pid` alive? (Signal 0: no signal is sent; EPERM means it
/// exists but belongs to someone else.)
pub fn pid_alive(pid: u32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match kill(Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tmux_env() {
        let s = Server::parse_tmux_env("/tmp/tmux-0/default,1234,0").unwrap();
        assert_eq!(s.socket, PathBuf::from("/tmp/tmux-0/default"));
        assert_eq!(s.pid, 1234);
        assert_eq!(s.key(), "default-1234");
    }

    #[test]
    fn socket_with_commas() {
        let s = Server::parse_tmux_env("/tmp/a,b/sock,77,3").unwrap();
        assert_eq!(s.socket, PathBuf::from("/tmp/a,b/sock"));
        assert_eq!(s.pid, 77);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Server::parse_tmux_env("").is_none());
        assert!(Server::parse_tmux_env("nonsense").is_none());
        assert!(Server::parse_tmux_env("/s,notapid,0").is_none());
        assert!(Server::parse_tmux_env(",12,0").is_none());
    }
}

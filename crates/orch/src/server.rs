//! Which tmux server a pane belongs to.
//!
//! Pane ids restart at `%0` when a tmux server restarts and collide across
//! servers, so all pane state is keyed by the server first. tmux exports
//! `TMUX=<socket path>,<server pid>,<session index>` into every pane, so a
//! hook learns its server without running tmux.
//!
//! A pid alone does not name a server: a server restarted in a fresh PID
//! namespace (a container with a persistent state volume) can get the pid
//! of its predecessor. So the key also carries the server's *instance*: a
//! hash of its socket's inode and mtime, from one `stat` (tmux creates the
//! socket when it starts; attaching changes only its ctime). A `TMUX` whose
//! socket is not a socket names no server at all.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A tmux server: its socket, the pid of the server process, and the
/// instance of its socket (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub socket: PathBuf,
    pub pid: u32,
    /// [`socket_instance`] of the socket when this value was made; `None`
    /// when the socket did not exist.
    pub instance: Option<String>,
}

/// `<8 hex>`: FNV-1a 64 of `"<inode>.<mtime s>.<mtime ns>"` of the socket,
/// folded to 32 bits; `None` unless `socket` is a unix socket.
pub fn socket_instance(socket: &Path) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(socket).ok()?;
    if !m.file_type().is_socket() {
        return None;
    }
    let h =
        crate::event::fnv1a64(format!("{}.{}.{}", m.ino(), m.mtime(), m.mtime_nsec()).as_bytes());
    Some(format!("{:08x}", (h ^ (h >> 32)) as u32))
}

impl Server {
    /// The server on `socket` with `pid`, its instance read off the socket.
    pub fn new(socket: impl Into<PathBuf>, pid: u32) -> Server {
        let socket = socket.into();
        Server {
            instance: socket_instance(&socket),
            socket,
            pid,
        }
    }

    /// Parse a `TMUX` value. The socket path may itself contain commas, so
    /// split from the right. The instance is read off the socket.
    pub fn parse_tmux_env(value: &str) -> Option<Server> {
        let mut parts = value.rsplitn(3, ',');
        let _session = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let socket = parts.next().filter(|s| !s.is_empty())?;
        Some(Server::new(socket, pid))
    }

    /// The server of the pane we run in, from `TMUX`, without any tmux call.
    /// A `TMUX` that does not name a live socket (junk, or a server that is
    /// gone) is no server: nothing is recorded under it.
    pub fn from_env() -> Option<Server> {
        std::env::var("TMUX")
            .ok()
            .and_then(|v| Server::parse_tmux_env(&v))
            .filter(|s| s.instance.is_some())
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

    /// The directory name for this server's state:
    /// `<socket name>-<pid>-<instance>`, readable, unique among live
    /// servers (two live servers cannot share a socket) and new for a
    /// restarted server even when it got the same pid.
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
        match &self.instance {
            Some(i) => format!("{clean}-{}-{i}", self.pid),
            None => format!("{clean}-{}", self.pid),
        }
    }

    /// Is this still the server it was (the same socket instance), as far
    /// as one `stat` can tell? `false` when its socket is now another
    /// server's; `true` when the socket is gone (a dead server is the pid
    /// check's job).
    pub fn same_instance(&self) -> bool {
        match socket_instance(&self.socket) {
            Some(now) => self.instance.as_deref() == Some(now.as_str()),
            None => true,
        }
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
/// exists but belongs to someone else.) A zombie is not: a killed server
/// whose parent is an init that does not reap (many containers' PID 1)
/// stays one, and signal 0 still succeeds on it.
pub fn pid_alive(pid: u32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let exists = match kill(Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    exists && !is_zombie(pid)
}

/// Is `pid` a zombie (Linux `/proc/<pid>/stat` state `Z`)? Elsewhere: no.
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command may contain spaces and parentheses: the state
            // follows the last `)`.
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|st| st == "Z")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tmux_env() {
        let s = Server::parse_tmux_env("/nonexistent/tmux-0/default,1234,0").unwrap();
        assert_eq!(s.socket, PathBuf::from("/nonexistent/tmux-0/default"));
        assert_eq!(s.pid, 1234);
        assert_eq!(s.instance, None);
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

    #[test]
    fn restarted_server_with_the_same_pid_gets_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("default");
        let _a = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let first = Server::new(&sock, 42);
        assert!(first.instance.is_some());
        assert!(first.key().starts_with("default-42-"), "{}", first.key());
        assert!(first.same_instance());
        // The server dies and a new one with the same pid binds the socket.
        std::fs::remove_file(&sock).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let _b = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let second = Server::new(&sock, 42);
        assert_ne!(first.key(), second.key());
        assert!(!first.same_instance());
        // A regular file where the socket should be is no server.
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(Server::new(&file, 1).instance, None);
    }
}

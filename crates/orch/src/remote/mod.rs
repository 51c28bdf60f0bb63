//! Other hosts over OpenSSH: `orch --host DEST …`, `DEST:NAME` targets and
//! `survey --hosts`.
//!
//! No transport of orch's own and no daemon: every remote command is one
//! `ssh DEST` running the remote orch, which has its own state dir, tmux
//! server and hooks exactly as a local one. What crosses the hop:
//!
//! - The ssh command line is a constant ([`transport::REMOTE_COMMAND`]): it
//!   finds the remote orch and runs `orch __remote`. No argument, name or
//!   prompt is ever part of it, so no remote shell interprets user text.
//! - The argv, and who is asking, travel on stdin as one framed JSON
//!   header ([`wire`]); whatever follows it on stdin (a prompt given as
//!   `-`) is the command's own stdin.
//! - Output comes back as it is, each JSON object line gaining a `host`
//!   field, so a caller tells which host an agent or event is on.
//!
//! Addressing: a target `DEST:NAME` or `DEST:%7` (names cannot contain `:`,
//! pane ids start with `%`, so anything with a `:` names a host). On the
//! remote side the host's own alias ([`ALIAS_ENV`]) is stripped, so the
//! arguments travel unchanged.

pub mod fanout;
pub mod hosts;
pub mod serve;
pub mod survey;
pub mod transport;
pub mod wire;

pub use hosts::{HostEntry, Hosts};
pub use transport::Remote;

/// Set by `orch __remote` for the command it runs: the name the caller
/// used for this host, so `DEST:NAME` targets resolve locally here.
pub const ALIAS_ENV: &str = "ORCH_HOST_ALIAS";
/// Set by `orch __remote`: who asked (`user@host`, and the pane), for the
/// audit log.
pub const FROM_ENV: &str = "ORCH_REMOTE_FROM";
/// The ssh command line to use instead of `ssh` (`ssh -F ~/.ssh/orch_config`).
pub const SSH_ENV: &str = "ORCH_SSH";

/// Split `DEST:TARGET` into its host and the target on that host. A target
/// without a host, or whose host is this one's own alias (we are the remote
/// end of a hop), is local: `(None, target)`.
pub fn split_target(target: &str) -> (Option<&str>, &str) {
    match target.split_once(':') {
        Some((dest, rest)) if !dest.is_empty() && !dest.starts_with('%') => {
            if std::env::var(ALIAS_ENV).is_ok_and(|a| a == dest) {
                (None, rest)
            } else {
                (Some(dest), rest)
            }
        }
        _ => (None, target),
    }
}

/// The host a list of targets lives on: `Ok(None)` when all are local,
/// `Ok(Some(dest))` when all name the same host, an error naming the fix
/// when they mix hosts (the caller may then fan out itself).
pub fn common_host<'a>(targets: impl IntoIterator<Item = &'a str>) -> HostSet<'a> {
    let mut set = HostSet::default();
    for t in targets {
        let (host, _) = split_target(t);
        match host {
            None => set.local = true,
            Some(h) if !set.remote.contains(&h) => set.remote.push(h),
            Some(_) => {}
        }
    }
    set
}

/// Which hosts a command's targets are on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostSet<'a> {
    pub local: bool,
    pub remote: Vec<&'a str>,
}

impl<'a> HostSet<'a> {
    /// The single remote host when every target is on it.
    pub fn only_remote(&self) -> Option<&'a str> {
        match (self.local, self.remote.as_slice()) {
            (false, [one]) => Some(one),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_a_colon_name_a_host() {
        assert_eq!(split_target("box:reviewer"), (Some("box"), "reviewer"));
        assert_eq!(
            split_target("me@dev.example:%7"),
            (Some("me@dev.example"), "%7")
        );
        assert_eq!(split_target("reviewer"), (None, "reviewer"));
        assert_eq!(split_target("%7"), (None, "%7"));
        assert_eq!(split_target(":x"), (None, ":x"));
    }

    #[test]
    fn host_sets() {
        let s = common_host(["a:x", "a:y"]);
        assert_eq!(s.only_remote(), Some("a"));
        let s = common_host(["a:x", "y"]);
        assert_eq!(s.only_remote(), None);
        assert!(s.local);
        let s = common_host(["a:x", "b:y"]);
        assert_eq!(s.remote, vec!["a", "b"]);
    }
}

//! Exit codes shared by every orch binary, and the error type that carries one.
//!
//! A model driving orch branches on these, so they are part of the contract
//! (documented in `docs/protocol.md`, "Exit codes"). A timeout must be
//! distinguishable from a failure: a model re-arms a listener that timed out,
//! but reports one that failed.

use std::fmt;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// The command did what was asked.
    Ok = 0,
    /// Something went wrong at run time (I/O, tmux, a dead pane…).
    Failure = 1,
    /// The command line or its input is invalid; nothing was changed.
    Usage = 2,
    /// `--timeout` expired before the awaited event arrived.
    Timeout = 3,
    /// Refused by policy or state: role matrix, a pane showing a dialog,
    /// a subscription loop. Nothing was typed or changed.
    Refused = 4,
    /// The action happened but could not be confirmed (e.g. a prompt was
    /// pasted but the agent never acknowledged it).
    Unconfirmed = 5,
    /// The agent is blocked (permission prompt, start-up dialog, rate limit)
    /// and needs a person or the operator.
    Blocked = 6,
    /// The agent exited or its pane is gone.
    Exited = 7,
}

impl Code {
    pub const ALL: [Code; 8] = [
        Code::Ok,
        Code::Failure,
        Code::Usage,
        Code::Timeout,
        Code::Refused,
        Code::Unconfirmed,
        Code::Blocked,
        Code::Exited,
    ];

    /// The code another orch binary exited with (unknown codes: failure).
    pub fn from_exit_status(status: i32) -> Code {
        Code::ALL
            .into_iter()
            .find(|c| *c as i32 == status)
            .unwrap_or(Code::Failure)
    }
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

/// An error that knows which exit code it maps to. Anything else that
/// bubbles up through `anyhow` exits with [`Code::Failure`].
#[derive(Debug)]
pub struct Fail {
    pub code: Code,
    pub msg: String,
}

impl Fail {
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        Fail {
            code,
            msg: msg.into(),
        }
    }
    pub fn usage(msg: impl Into<String>) -> anyhow::Error {
        Fail::new(Code::Usage, msg).into()
    }
    pub fn refused(msg: impl Into<String>) -> anyhow::Error {
        Fail::new(Code::Refused, msg).into()
    }
    pub fn timeout(msg: impl Into<String>) -> anyhow::Error {
        Fail::new(Code::Timeout, msg).into()
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Fail {}

/// The exit code for an error chain: the first [`Fail`] in it, else failure.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|e| e.downcast_ref::<Fail>().map(|f| f.code))
        .unwrap_or(Code::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_map_back() {
        assert_eq!(Code::from_exit_status(5), Code::Unconfirmed);
        assert_eq!(Code::from_exit_status(0), Code::Ok);
        assert_eq!(Code::from_exit_status(99), Code::Failure);
        for c in Code::ALL {
            assert_eq!(Code::from_exit_status(c as i32), c);
        }
    }
}

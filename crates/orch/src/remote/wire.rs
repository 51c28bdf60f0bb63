//! The header a client writes on the remote command's stdin, before the
//! command's own stdin: `ORCH-REMOTE <len>\n` then `<len>` bytes of JSON.
//! The length prefix lets the remote end read exactly the header and leave
//! the rest of the pipe to the command it runs.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

const MAGIC: &str = "ORCH-REMOTE";
/// Headers are small (an argv, a prompt given as arguments); anything
/// bigger is not ours.
const MAX_HEADER: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The client's orch version; the remote end refuses another minor.
    pub version: String,
    /// `["tell", "reviewer", "--wait", "…"]`: a subcommand and its args.
    pub argv: Vec<String>,
    /// The name the client used for this host (its targets' `DEST:` part).
    pub alias: String,
    /// `user@host %3` of the client, for the remote audit log.
    pub from: String,
    /// The client's role (its pane's), which the remote end enforces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The client keeps stdin open until it has what it wants: EOF after
    /// the header means it hung up (a first-of-several listen that another
    /// host won), and the far end stops the command.
    #[serde(default)]
    pub hangup: bool,
}

pub fn write(w: &mut impl Write, h: &Header) -> io::Result<()> {
    let body = serde_json::to_vec(h)?;
    writeln!(w, "{MAGIC} {}", body.len())?;
    w.write_all(&body)
}

/// Read a header without reading one byte past it (the prefix line byte by
/// byte, then exactly the body).
pub fn read(r: &mut impl Read) -> io::Result<Header> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 64 {
        if r.read(&mut b)? == 0 {
            return Err(bad("stdin ended before the header"));
        }
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
    }
    let line = String::from_utf8_lossy(&line);
    let len: usize = line
        .strip_prefix(MAGIC)
        .map(str::trim)
        .and_then(|n| n.parse().ok())
        .filter(|&n| n <= MAX_HEADER)
        .ok_or_else(|| bad("stdin does not start with an orch header"))?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| bad(&format!("bad header: {e}")))
}

fn bad(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("orch __remote is run by `orch --host`, not by hand: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_leaves_the_rest_unread() {
        let h = Header {
            version: "0.1.0".into(),
            argv: vec!["tell".into(), "x".into(), "it's $(rm -rf ~)\n`x`".into()],
            alias: "box".into(),
            from: "me@laptop %1".into(),
            role: Some("operator".into()),
            hangup: false,
        };
        let mut buf = Vec::new();
        write(&mut buf, &h).unwrap();
        buf.extend_from_slice(b"the prompt on stdin");
        let mut r = &buf[..];
        assert_eq!(read(&mut r).unwrap(), h);
        assert_eq!(r, b"the prompt on stdin");
    }

    #[test]
    fn a_stray_stdin_is_refused() {
        let mut r = &b"hello\n"[..];
        assert!(read(&mut r).is_err());
    }
}

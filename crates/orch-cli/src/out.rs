//! Writing to stdout. Everything is rendered into one buffer first and
//! written with one call, so a closed stdout surfaces as a plain
//! `io::Error` (BrokenPipe), which `main_with` turns into a clean exit.

use std::io::{self, Write};

use serde::Serialize;

/// `text` as it is, flushed.
pub fn text(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// `value` as one line of JSON.
pub fn json_line(value: &impl Serialize) -> io::Result<()> {
    let mut s = serde_json::to_string(value).map_err(io::Error::other)?;
    s.push('\n');
    text(&s)
}

/// `value` as JSON: one line, or indented for people with `pretty`.
pub fn json(value: &impl Serialize, pretty: bool) -> io::Result<()> {
    if !pretty {
        return json_line(value);
    }
    let mut s = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    s.push('\n');
    text(&s)
}

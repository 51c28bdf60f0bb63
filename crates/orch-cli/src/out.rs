//! Writing to stdout. Everything is rendered into one buffer first and
//! written with one call, so a closed stdout surfaces as a plain
//! `io::Error` (BrokenPipe), which `main_with` turns into a clean exit.

use std::io::{self, IsTerminal, Write};

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

/// An `up`/`down` report: nothing with `--quiet`; else JSON, or for people
/// its text (`text`, only rendered then) and then the dry-run diff. One
/// function, so the two commands cannot drift in what their flags mean.
pub fn install_report(
    report: &impl Serialize,
    (quiet, json, pretty): (bool, bool, bool),
    text: impl FnOnce() -> String,
    diff: Option<&str>,
) -> io::Result<()> {
    if quiet {
        return Ok(());
    }
    if !for_person(json, pretty) {
        return json_line(report);
    }
    let mut text = text();
    if let Some(diff) = diff.filter(|d| !d.is_empty()) {
        text.push('\n');
        text.push_str(diff);
    }
    self::text(&text)
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

/// Does `up`/`down`/`doctor` print for a person? With `--json`, no; with
/// `--pretty`, yes; else when stdout is a terminal (piped output, the way
/// a model or a script reads it, stays JSON).
pub fn for_person(json: bool, pretty: bool) -> bool {
    !json && (pretty || io::stdout().is_terminal())
}

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

/// `--pretty`/`--json` of the commands whose default depends on the
/// terminal (up, down, doctor): one definition, so they cannot drift.
#[derive(Debug, clap::Args)]
pub struct Format {
    /// Human-readable output (the default on a terminal).
    #[arg(long, conflicts_with = "json")]
    pub pretty: bool,
    /// JSON output (the default when stdout is not a terminal).
    #[arg(long)]
    pub json: bool,
}

impl Format {
    pub fn for_person(&self) -> bool {
        for_person(self.json, self.pretty)
    }
}

/// What `up` and `down` report: JSON, or a text for people and the
/// dry-run diff after it.
pub trait InstallReport: Serialize {
    fn text(&self) -> String;
    fn diff(&self) -> Option<&str>;
}

impl InstallReport for orch::install::up::UpReport {
    fn text(&self) -> String {
        self.pretty()
    }
    fn diff(&self) -> Option<&str> {
        self.diff.as_deref()
    }
}

impl InstallReport for orch::install::down::DownReport {
    fn text(&self) -> String {
        self.pretty()
    }
    fn diff(&self) -> Option<&str> {
        self.diff.as_deref()
    }
}

/// An `up`/`down` report: nothing with `--quiet`; else JSON, or for people
/// its text and then the dry-run diff. One function, so the two commands
/// cannot drift in what their output flags mean.
pub fn install_report(report: &impl InstallReport, quiet: bool, format: &Format) -> io::Result<()> {
    if quiet {
        return Ok(());
    }
    if !format.for_person() {
        return json_line(report);
    }
    let mut text = report.text();
    let diff = report.diff();
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

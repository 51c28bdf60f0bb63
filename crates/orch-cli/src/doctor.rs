//! `orch-doctor`: prove the installed hooks fire (`orch::install::doctor`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::install::doctor::DoctorRequest;
use orch::time::parse_duration;

use crate::out;

/// Check that orch is installed and its hooks really fire.
#[derive(Debug, Parser)]
#[command(
    name = "orch-doctor",
    version,
    about = "Check that orch's hooks really fire, and report what is broken",
    after_help = "Checks: tmux >= 3.0; each of orch's Claude Code hook entries is present and\n\
unchanged since `orch up`; each one, run exactly as registered (sh -c) with a\n\
synthetic payload in a pane of a private temporary tmux server, records its\n\
event in orch's state; skills installed and unmodified; orch's binaries on\n\
PATH; the state dir is private (0700, yours).\n\n\
Exit codes: 0 healthy, 1 not healthy (the report lists each problem).\n\n\
Examples:\n  \
  orch doctor --pretty\n  \
  orch doctor --no-probe     # static checks only, run nothing"
)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub format: out::Format,
    /// Don't run the hooks; only check what is installed.
    #[arg(long)]
    pub no_probe: bool,
    /// Give the hook probe this many seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Internal: run the probe plan in DIR (inside the private tmux pane).
    #[arg(long, value_name = "DIR", hide = true)]
    pub probe_run: Option<PathBuf>,
}

pub fn run(a: DoctorArgs) -> Result<Code> {
    if let Some(dir) = &a.probe_run {
        orch::install::doctor::probe_run(dir)?;
        return Ok(Code::Ok);
    }
    let report = orch::install::doctor::doctor(&DoctorRequest {
        no_probe: a.no_probe,
        timeout: a.timeout,
    })?;
    if a.format.for_person() {
        out::text(&report.pretty())?;
    } else {
        out::json_line(&report)?;
    }
    if report.healthy {
        return Ok(Code::Ok);
    }
    eprintln!("orch-doctor: {}", report.summary());
    Ok(Code::Failure)
}

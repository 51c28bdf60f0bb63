//! `orch-survey`: what every agent is doing (`orch::survey`).

use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::survey::{GcMode, SurveyRequest, render};
use orch::time::parse_duration;

use crate::out;

/// Show what every agent is doing.
#[derive(Debug, Parser)]
#[command(
    name = "orch-survey",
    version,
    about = "Show what every agent is doing: state, age, last prompt/reply, tokens, blockers",
    after_help = "Prints one JSON object ({\"agents\": [...], \"counts\": {...}, ...}; fields in docs/survey.md).\n\n\
States: starting idle working blocked:permission blocked:dialog blocked:rate-limit exited gone\n\
Status line symbols: ◌ starting  ⚙ working  ✓ idle  ⚠ blocked (any)  ✗ exited\n\n\
Exit codes: 0 printed, 2 bad arguments or unknown agent, 1 other failure (e.g. no tmux server).\n\n\
Examples:\n  \
  orch-survey                        # every live agent, JSON\n  \
  orch-survey --pretty               # a table\n  \
  orch-survey reviewer %7            # just these agents\n  \
  orch-survey --state blocked        # every blocked:* agent\n  \
  orch-survey --role worker --since 5m\n  \
  orch-survey --watch                # live table, redrawn on every event (at least every 2 s)\n  \
  orch-survey --status-line          # ⚙3 ✓2 ⚠1 (see share/tmux/orch-status.conf)"
)]
pub struct SurveyArgs {
    /// Only these agents: pane ids (%12), names, or `self`.
    #[arg(value_name = "AGENT")]
    pub targets: Vec<String>,
    /// An aligned table for people instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Redraw the table live: on every event, and at least every SECS seconds [default: 2].
    #[arg(
        long,
        value_name = "SECS",
        num_args = 0..=1,
        default_missing_value = "2",
        value_parser = watch_interval
    )]
    pub watch: Option<Duration>,
    /// One compact line for the tmux status bar, e.g. `⚙3 ✓2 ⚠1`.
    #[arg(long, conflicts_with = "pretty")]
    pub status_line: bool,
    /// Only agents with these roles (operator, worker, observer; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    pub role: Vec<String>,
    /// Only agents in these states; a prefix before `:` matches a family, so
    /// `blocked` matches every blocked:* state (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "STATE,…")]
    pub state: Vec<String>,
    /// Only agents whose state changed within DURATION (e.g. 30s, 5m, 2h, 1d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Include agents whose panes are gone (kept for the GC grace period,
    /// `ORCH_GC_GRACE_SECS`, default 60 s) with their last known info.
    #[arg(long)]
    pub all: bool,
}

/// `--watch`'s period: a duration from 0.1 s to a day. The hint is for
/// `--watch reviewer`, where clap gives the name to `--watch`.
fn watch_interval(s: &str) -> Result<Duration, String> {
    parse_duration(s)
        .ok()
        .filter(|d| (0.1..=86400.0).contains(&d.as_secs_f64()))
        .ok_or_else(|| {
            format!(
                "--watch takes seconds between redraws (0.1 to 86400), not {s:?}; \
                 put agent names before --watch or write --watch=SECS"
            )
        })
}

pub fn run(a: SurveyArgs) -> Result<Code> {
    let req = SurveyRequest {
        targets: a.targets,
        role: a.role,
        state: a.state,
        since: a.since,
        all: a.all,
    };
    // The status line is a glance: it writes nothing (see GcMode).
    let gc = if a.status_line {
        GcMode::ReadOnly
    } else {
        GcMode::Collect
    };
    if let Some(every) = a.watch {
        return orch::survey::watch(&req, gc, every, &mut |r| {
            out::text(&render::frame(r, every, a.status_line))
        });
    }
    let report = orch::survey::survey(&req, gc)?;
    if a.status_line {
        out::text(&format!("{}\n", render::status_line(&report.counts)))?;
    } else if a.pretty {
        let width = render::terminal_width().unwrap_or(160);
        out::text(&render::render_table(&report, width, render::use_colour()))?;
    } else {
        out::json_line(&report)?;
    }
    Ok(Code::Ok)
}

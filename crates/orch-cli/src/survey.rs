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
  orch-survey --hosts box,gpu --pretty  # this host's agents and theirs, over ssh\n  \
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
    /// Also survey these hosts over ssh (comma-separated ssh destinations or
    /// hosts.json names); without a list, every host in hosts.json. Each
    /// agent gains a `host` field (`local` for this one).
    #[arg(long, value_delimiter = ',', value_name = "HOST,…", num_args = 0..=1, default_missing_value = "")]
    pub hosts: Option<Vec<String>>,
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
    if a.hosts.is_some() {
        return run_hosts(a);
    }
    let req = request(&a);
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

/// The library request: the filters (display flags stay in the CLI).
fn request(a: &SurveyArgs) -> SurveyRequest {
    SurveyRequest {
        targets: a.targets.clone(),
        role: a.role.clone(),
        state: a.state.clone(),
        since: a.since,
        all: a.all,
    }
}

/// `--hosts`: this host and the others, merged (`orch::remote::survey`).
fn run_hosts(a: SurveyArgs) -> Result<Code> {
    let mut hosts: Vec<String> = a.hosts.clone().unwrap_or_default();
    hosts.retain(|h| !h.trim().is_empty());
    if hosts.is_empty() {
        hosts = orch::remote::Hosts::load(&orch::layout::config_dir()?)?.names();
    }
    if hosts.is_empty() {
        return Err(orch::exit::Fail::usage(
            "--hosts needs hosts: --hosts box,gpu, or list them in $ORCH_CONFIG_DIR/hosts.json (docs/remote.md)",
        ));
    }
    for h in &hosts {
        orch::remote::hosts::check_name(h)?;
    }
    // The filters travel to every host; display flags stay here.
    let mut remote_args = a.targets.clone();
    for (flag, vals) in [("--role", &a.role), ("--state", &a.state)] {
        if !vals.is_empty() {
            remote_args.push(format!("{flag}={}", vals.join(",")));
        }
    }
    if let Some(d) = a.since {
        remote_args.push(format!("--since={}s", d.as_secs().max(1)));
    }
    if a.all {
        remote_args.push("--all".into());
    }
    let req = request(&a);
    let take = || -> Result<orch::remote::survey::MultiReport> {
        let local =
            orch::survey::survey(&req, GcMode::Collect).and_then(|r| Ok(serde_json::to_value(r)?));
        orch::remote::survey::survey_hosts(local, &hosts, &remote_args)
    };
    if let Some(every) = a.watch {
        loop {
            let r = take()?;
            out::text(&format!(
                "\x1b[H\x1b[2J{}",
                orch::remote::survey::render(&r)
            ))?;
            std::thread::sleep(every);
        }
    }
    let r = take()?;
    if a.pretty {
        out::text(&orch::remote::survey::render(&r))?;
    } else {
        out::json_line(&r)?;
    }
    Ok(Code::Ok)
}

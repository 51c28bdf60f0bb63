//! `orch-tell`: deliver a prompt exactly once, optionally wait for the
//! reply (`orch::tell`).

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::tell::{OperatorReport, TargetOutcome, TellReport, TellRequest, Told};
use orch::time::parse_duration;
use serde_json::Value;

use crate::out;

/// Deliver a prompt to an agent, exactly once, and optionally wait for the reply.
#[derive(Debug, Parser)]
#[command(
    name = "orch-tell",
    version,
    about = "Deliver a prompt to an agent, exactly once, and optionally wait for the reply",
    after_help = "TARGET: a pane id (%12), an agent name, `operator`, `self` or `parent`;\n\
  HOST:TARGET (box:reviewer) on another host, over ssh (docs/remote.md).\n\
TEXT: the remaining arguments joined by spaces, `-` to read stdin, or --file F.\n\
Text starting with `-` needs `--` before it (orch-tell %3 -- -v means verbose).\n\n\
Prints one JSON object: {\"status\":\"delivered\",\"pane\":\"%3\",\"name\":…,\"receipt_ms\":…,\n\
\"bytes\":…,\"hash\":…,\"attempts\":…} (+ \"reply\", \"stop_kind\" with --wait).\n\n\
Exit codes: 0 delivered (or queued; with --wait: the turn ended with a reply),\n\
  1 failure, 2 bad arguments or text, 3 timed out (nothing typed, or with --wait\n\
  the reply did not come in time), 4 refused (role matrix, a dialog on screen, a\n\
  shell prompt, bad escalation axis; for non-operators also a pane that is not a\n\
  known agent, or `!`/`/` text into Claude Code), 5 typed but unconfirmed,\n\
  6 the turn ended blocked (permission dialog, API error), 7 pane or agent gone.\n\
If anything was typed, stdout has the JSON saying what happened; if stdout is\n\
empty, nothing was typed (the one-line error on stderr says why).\n\n\
Fan-out: --to a,b,%7 or --all [--role R] tells each target in parallel and\n\
prints one JSON line per target (a target nothing was typed into gets\n\
{\"status\":\"refused\"|…,\"target\":…,\"code\":4,\"reason\":…}); the exit code\n\
is the highest of the targets' codes. With --wait every reply is collected.\n\n\
Examples:\n  \
  orch-tell --to auth,rev,%7 'Rebase on main' --wait\n  \
  orch-tell --all --role worker 'Stop and report'\n  \
  orch-tell reviewer 'Review the diff in src/auth.rs' --wait\n  \
  git diff | orch-tell %7 -\n  \
  orch-tell operator --escalate architecture 'Split the store into two crates?'\n  \
  orch-tell --claim-operator                 # run in the operator's pane\n  \
  orch-tell --audit --since 1h --pretty"
)]
pub struct TellArgs {
    /// Who to tell: %12, an agent name, operator, self or parent.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// The prompt (joined by spaces), or `-` to read it from stdin.
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// Fan out: tell each of these (comma-separated) in parallel; then
    /// every positional word is text. One JSON line per target.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "TARGET,…",
        conflicts_with = "all"
    )]
    pub to: Vec<String>,
    /// Fan out to every live agent you may tell (not yourself, not the
    /// operator); every positional word is text. One JSON line per target.
    #[arg(long)]
    pub all: bool,
    /// With --all: only agents with this role (worker, observer, operator…).
    #[arg(long, value_name = "ROLE", requires = "all")]
    pub role: Option<String>,
    /// Read the prompt from this file (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// After delivery, wait for that turn to end and include its reply.
    #[arg(long)]
    pub wait: bool,
    /// Give up after this many seconds in total (waiting for the target to
    /// be idle, for the receipt, and with --wait for the reply).
    // 100 s: below Claude Code's 2-minute Bash tool limit, so a model calling
    // tell gets orch's clear timeout rather than a killed tool.
    #[arg(long, value_name = "SECS", default_value = "100", value_parser = parse_duration)]
    pub timeout: Duration,
    /// If the target is mid-turn, type now (the harness queues it) instead
    /// of waiting for the turn to end.
    #[arg(long)]
    pub queue: bool,
    /// Put the message in the target's inbox and return at once: orch
    /// types it at the target's next idle, batched with its pending notices.
    #[arg(long, conflicts_with_all = ["queue", "wait"])]
    pub later: bool,
    /// If the target shows a permission or start-up dialog, wait for it to
    /// be answered instead of refusing.
    #[arg(long)]
    pub wait_idle: bool,
    /// Override the role matrix, and for non-operators the known-agent and
    /// `!`/`/`-into-Claude-Code guards (recorded in the audit log).
    #[arg(long)]
    pub force: bool,
    /// Mark a question to the operator with its axis: taste, architecture,
    /// ethics or reversibility.
    #[arg(long, value_name = "AXIS")]
    pub escalate: Option<String>,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Send as this pane (default: the pane tell runs in, TMUX_PANE). Only
    /// the operator may send as another pane.
    #[arg(long, value_name = "PANE")]
    pub from: Option<String>,
    /// Record this pane (or --from) as the operator of this tmux server.
    #[arg(long, conflicts_with_all = ["release_operator", "audit", "wait", "escalate", "queue"])]
    pub claim_operator: bool,
    /// Remove the operator claim.
    #[arg(long, conflicts_with_all = ["audit", "wait", "escalate", "queue"])]
    pub release_operator: bool,
    /// Print the audit log (JSON lines; --pretty for a table) and exit.
    #[arg(long, conflicts_with_all = ["wait", "escalate", "queue", "file"])]
    pub audit: bool,
    /// With --audit: only sends from or to this pane (id or name).
    #[arg(long, value_name = "PANE", requires = "audit")]
    pub pane: Option<String>,
    /// With --audit: only records newer than this (90s, 10m, 2h, 3d).
    #[arg(long, value_name = "DURATION", requires = "audit", value_parser = parse_duration)]
    pub since: Option<Duration>,
}

pub fn run(a: TellArgs) -> Result<Code> {
    if let Some(host) = crate::remote::host_of(a.target.as_deref()) {
        return crate::remote::forward(&host, "tell", crate::remote::raw_args());
    }
    let pretty = a.pretty;
    let told = orch::tell::tell(&TellRequest {
        target: a.target,
        to: a.to,
        all: a.all,
        role: a.role,
        text: a.text,
        file: a.file,
        wait: a.wait,
        timeout: a.timeout,
        queue: a.queue,
        later: a.later,
        wait_idle: a.wait_idle,
        force: a.force,
        escalate: a.escalate,
        from: a.from,
        claim_operator: a.claim_operator,
        release_operator: a.release_operator,
        audit: a.audit,
        pane: a.pane,
        since: a.since,
    })?;
    match told {
        Told::Sent(r) => {
            if pretty {
                out::text(&pretty_send(&r))?;
            } else {
                out::json_line(&r)?;
            }
            for note in &r.notes {
                eprintln!("orch-tell: {note}");
            }
            Ok(r.code)
        }
        Told::Many(outcomes) => {
            let mut text = String::new();
            for o in &outcomes {
                match o {
                    TargetOutcome::Sent(r) if pretty => text.push_str(&pretty_send(r)),
                    TargetOutcome::Sent(r) => {
                        text.push_str(&serde_json::to_string(r)?);
                        text.push('\n');
                    }
                    TargetOutcome::Failed(l) if pretty => {
                        text.push_str(&format!("{} {}: {}\n", l.status, l.target, l.reason));
                    }
                    TargetOutcome::Failed(l) => {
                        text.push_str(&serde_json::to_string(l)?);
                        text.push('\n');
                    }
                }
            }
            out::text(&text)?;
            for o in &outcomes {
                match o {
                    TargetOutcome::Sent(r) => {
                        for note in &r.notes {
                            eprintln!("orch-tell: {}: {note}", r.pane);
                        }
                    }
                    TargetOutcome::Failed(l) => eprintln!("orch-tell: {}: {}", l.target, l.reason),
                }
            }
            Ok(orch::tell::worst(&outcomes))
        }
        Told::Operator(r) => {
            if pretty {
                out::text(&pretty_operator(&r))?;
            } else {
                out::json_line(&r)?;
            }
            Ok(Code::Ok)
        }
        Told::Audit(records) => {
            let mut text = String::new();
            for r in &records {
                if pretty {
                    text.push_str(&orch::audit::describe(r));
                } else {
                    text.push_str(&r.to_string());
                }
                text.push('\n');
            }
            out::text(&text)?;
            Ok(Code::Ok)
        }
    }
}

fn pretty_send(r: &TellReport) -> String {
    let mut s = String::new();
    let who = match &r.name {
        Some(n) => format!("{} ({n})", r.pane),
        None => r.pane.to_string(),
    };
    let _ = write!(s, "{} to {who}", r.status.as_str());
    if let Some(ms) = r.typed.receipt_ms {
        let _ = write!(s, " — receipt in {ms} ms");
    }
    let _ = writeln!(
        s,
        ", {} bytes, {} Enter press(es)",
        r.typed.bytes, r.typed.attempts
    );
    if let Some(f) = &r.file {
        let _ = writeln!(s, "  via file {} ({} bytes)", f.path.display(), f.bytes);
    }
    if let Some(reason) = r.reason.as_deref().filter(|r| !r.is_empty()) {
        let _ = writeln!(s, "  {reason}");
    }
    if let Some(t) = &r.turn {
        match t.stop_kind {
            Some(k) => {
                let _ = writeln!(s, "turn ended: {k} after {} ms", Value::from(t.turn_ms));
            }
            None => s.push_str("turn still running (timed out waiting)\n"),
        }
        if let Some(reply) = &t.reply {
            let _ = writeln!(s, "reply:\n{reply}");
        }
    }
    s
}

fn pretty_operator(r: &OperatorReport) -> String {
    let pane = r.pane.map(|p| p.to_string());
    format!(
        "{} {}\n",
        r.status,
        pane.as_deref().unwrap_or("(no operator)")
    )
}

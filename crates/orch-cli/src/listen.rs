//! `orch-listen`: block until agents finish a turn or need attention
//! (`orch::listen`).

use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::listen::ListenRequest;
use orch::time::parse_duration;

/// Wait for agents to finish a turn or need attention.
#[derive(Debug, Parser)]
#[command(
    name = "orch-listen",
    version,
    about = "Wait for agents to finish a turn or need attention (no polling)",
    after_help = "Prints each matching event as one JSON object per line.\n\n\
Which events are returned:\n  \
  named targets, no --since: per target, the first turn end after the last prompt\n  \
    that pane received, so `orch tell %3 …` followed by `orch listen %3` can never\n  \
    miss a fast reply; with several, the first target to have one is returned;\n  \
  --all a b c: one such event per target, returning once every target has one\n  \
    (exit 7 if any of them is gone; on timeout, what arrived is printed and\n  \
    stderr names who is missing, exit 3);\n  \
  --any: events that happen after listen starts;\n  \
  --since SEQ: every matching event with a sequence number above SEQ (replay).\n\
Targets on other hosts: HOST:PANE (box:reviewer), over ssh; each event then has\n\
  a \"host\" field, and targets on several hosts are listened to in parallel\n\
  (docs/remote.md). Subscriptions (`orch subscribe`) do not cross hosts.\n\n\
A named target whose pane is gone or dead ends the wait with an `exited` event\n\
(seq 0, reason pane_gone/pane_dead) once its log has nothing more to report.\n\n\
Exit codes: 0 event printed, 1 failure, 2 bad arguments, 3 timed out,\n\
  7 the agent is gone: the event printed is session_end or exited, a --stream's\n\
  targets have all died, or the pane does not exist (nothing printed).\n\n\
Examples:\n  \
  orch-listen %3                    # next turn end of pane %3\n  \
  orch-listen reviewer --timeout 600\n  \
  orch-listen --all auth rev db --timeout 100   # every one of them done\n  \
  orch-listen --any --stream        # every agent, forever, JSON lines\n  \
  orch-listen %3 --since 0 --stream --kinds prompt,stop --timeout 1"
)]
pub struct ListenArgs {
    /// Panes to listen to: pane ids (%12), agent names, or HOST:NAME on another host.
    #[arg(value_name = "PANE")]
    pub targets: Vec<String>,
    /// Listen to every pane on this tmux server (except your own and observers).
    #[arg(long, conflicts_with = "targets")]
    pub any: bool,
    /// Keep printing events (JSON lines) until the timeout or a signal.
    #[arg(long)]
    pub stream: bool,
    /// Fan-in: wait until every named target has had a turn end after its
    /// last prompt (or died); one event per target.
    #[arg(long, conflicts_with_all = ["any", "stream"])]
    pub all: bool,
    /// Comma-separated event kinds to report
    /// [default: stop,stop_failure,notify,session_end].
    #[arg(long, value_delimiter = ',', value_name = "KIND,…")]
    pub kinds: Vec<String>,
    /// Replay: report events with a sequence number above SEQ (per pane).
    #[arg(long, value_name = "SEQ", conflicts_with = "new")]
    pub since: Option<u64>,
    /// Only events that happen after listen starts, even for one target.
    #[arg(long)]
    pub new: bool,
    /// Give up after this many seconds (exit code 3).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// With --any, include the pane listen runs in.
    #[arg(long)]
    pub include_self: bool,
    /// With --any, include panes whose role is observer.
    #[arg(long)]
    pub include_observers: bool,
}

pub fn run(a: ListenArgs) -> Result<Code> {
    let hosts = orch::remote::common_host(a.targets.iter().map(String::as_str));
    if let Some(host) = hosts.only_remote() {
        return crate::remote::forward(host, "listen", crate::remote::raw_args());
    }
    if !hosts.remote.is_empty() {
        return orch::remote::fanout::listen(
            &crate::remote::raw_args(),
            &a.targets,
            !a.stream,
            &mut crate::remote::print_line,
        );
    }
    let req = ListenRequest {
        targets: a.targets,
        any: a.any,
        stream: a.stream,
        all: a.all,
        kinds: a.kinds,
        since: a.since,
        new: a.new,
        timeout: a.timeout,
        include_self: a.include_self,
        include_observers: a.include_observers,
    };
    orch::listen::listen(&req, &mut |ev| crate::out::json_line(ev))
}

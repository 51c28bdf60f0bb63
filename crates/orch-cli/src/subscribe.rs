//! `orch-subscribe`: push notices from peers into a pane
//! (`orch::subscribe`).

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::subscribe::{Reply, SubscribeRequest};

use crate::out;

/// Make this pane receive notices when chosen peers finish or need attention.
#[derive(Debug, Parser)]
#[command(
    name = "orch-subscribe",
    version,
    about = "Have a pane receive notices when chosen peers finish (no background process)",
    after_help = "PEER / --for: a pane id (%7), an agent name, parent or operator.\n\n\
When a peer finishes a turn, its own hook types one line into the subscriber:\n  \
[orch] %7 (reviewer) finished: <first line of its reply> (notice from orch; no reply needed)\n\
Notices that arrive while the subscriber is busy are delivered together, as one\n\
message, when its turn ends. A turn started by a notice never sends notices on.\n\
Self-subscriptions and cycles (A gets B's notices and B gets A's) are refused.\n\n\
Prints JSON (--pretty for people). Exit codes: 0 ok, 1 failure, 2 bad arguments,\n\
4 refused (self, cycle, subscriber at a shell prompt), 7 a pane does not exist.\n\n\
Examples:\n  \
orch-subscribe reviewer                      # in an agent's pane: tell me when reviewer finishes\n  \
orch-subscribe %7 %9 --kinds stop,notify     # also when they need attention\n  \
orch-subscribe --for %3 backend              # on behalf of pane %3\n  \
orch-subscribe --list --pretty\n  \
orch-subscribe --unsub reviewer\n  \
orch-subscribe --cancel"
)]
pub struct SubscribeArgs {
    /// Peers whose events this pane should hear about.
    #[arg(value_name = "PEER")]
    pub peers: Vec<String>,
    /// Event kinds to push: stop (default), notify, stop_failure,
    /// session_end. Comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub kinds: Vec<String>,
    /// The subscriber: act on behalf of this pane instead of the pane this
    /// runs in (TMUX_PANE).
    #[arg(long = "for", value_name = "PANE")]
    pub for_pane: Option<String>,
    /// List the subscriber's subscriptions, its subscribers and pending
    /// notices (with --all: every subscription on this tmux server).
    #[arg(long, conflicts_with_all = ["unsub", "cancel", "kinds"])]
    pub list: bool,
    /// With --list: every subscription on this tmux server.
    #[arg(long, requires = "list", conflicts_with = "for_pane")]
    pub all: bool,
    /// Stop receiving notices about these peers.
    #[arg(long, value_name = "PEER", num_args = 1.., conflicts_with_all = ["cancel", "kinds"])]
    pub unsub: Vec<String>,
    /// Remove every subscription of the subscriber.
    #[arg(long, conflicts_with = "kinds")]
    pub cancel: bool,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Internal: deliver the notices waiting for these panes (orch-hook
    /// starts this, detached).
    #[arg(long, hide = true, value_name = "PANE", num_args = 1.., exclusive = true)]
    pub flush: Vec<String>,
}

pub fn run(a: SubscribeArgs) -> Result<Code> {
    let reply = orch::subscribe::run(SubscribeRequest {
        peers: a.peers,
        kinds: a.kinds,
        for_pane: a.for_pane,
        list: a.list,
        all: a.all,
        unsub: a.unsub,
        cancel: a.cancel,
        pretty: a.pretty,
        flush: a.flush,
    })?;
    match reply {
        Reply::Json(v) => out::json_line(&v)?,
        Reply::Text(t) => out::text(&t)?,
    }
    Ok(Code::Ok)
}

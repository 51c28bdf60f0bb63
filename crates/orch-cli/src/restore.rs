//! `orch-restore`: bring back the agents of a tmux server that died
//! (`orch::restore`).

use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::restore::RestoreRequest;
use orch::time::parse_duration;

use crate::out;

/// Bring back the agents of a tmux server that died (crash, kill-server, reboot).
#[derive(Debug, Parser)]
#[command(
    name = "orch-restore",
    version,
    about = "Bring back the agents of a tmux server that died, each resuming its own session",
    after_help = "Run it in the new tmux server (in the operator's pane). Every agent that was\n\
alive when the old server died comes back with its name, role, parent (the old\n\
operator is this server's claimed operator, else this pane), cwd or worktree,\n\
harness, outfit and model, resuming its session; subscriptions come back too.\n\
Agents stopped on purpose (orch spawn --stop, /exit) stay stopped. Running it\n\
again changes nothing. Each agent gets its own window (headless outside tmux).\n\n\
Prints one JSON line per agent: {\"status\": \"restored\"|\"would-restore\"|\n\
\"already-restored\"|\"failed\", \"name\", \"old_pane\", \"pane\", \"session_id\", \"ready_ms\", …}.\n\n\
A dead server's state is kept for restore for 7 days (ORCH_RESTORE_KEEP_SECS), at\n\
most the 10 newest, and collected once restored (by orch survey's GC pass).\n\n\
Exit codes: 0 every agent restored (or nothing to do: said on stderr), 1 some failed,\n\
2 bad arguments (unknown --from or --only).\n\n\
Examples:\n  \
  orch-restore --dry-run            # what would come back\n  \
  orch-restore                      # the newest dead server's agents\n  \
  orch-restore --only reviewer      # just one\n  \
  orch-restore --from default-4242  # a chosen dead server (keys: --list)"
)]
pub struct RestoreArgs {
    /// Only the agents with these names.
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub only: Vec<String>,
    /// Restore from this dead server (its key, `<socket>-<pid>`) instead of the newest.
    #[arg(long, value_name = "KEY")]
    pub from: Option<String>,
    /// Say what would be restored; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// List the dead servers whose state is kept, newest first, and exit.
    #[arg(long, conflicts_with_all = ["only", "from", "dry_run"])]
    pub list: bool,
    /// Give each agent this long to get ready [default: 90 s].
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

pub fn run(a: RestoreArgs) -> Result<Code> {
    if a.list {
        let root = orch::layout::state_dir()?;
        for d in orch::restore::dead_servers(&root) {
            out::json_line(&serde_json::json!({
                "key": d.key, "socket": d.server.socket, "pid": d.server.pid, "created_ts": d.created_ts,
            }))?;
        }
        return Ok(Code::Ok);
    }
    orch::restore::restore(
        &RestoreRequest {
            from: a.from,
            only: a.only,
            dry_run: a.dry_run,
            timeout: a.timeout,
        },
        &mut |r| Ok(out::json_line(r)?),
    )
}

//! `orch-hook`: what agents' hooks run (`orch::hook`). Never writes to
//! stdout and always exits 0, whatever its arguments.

use clap::Parser;
use orch::hook::HookRequest;

/// Record an agent hook event for the pane this runs in.
#[derive(Debug, Parser)]
#[command(
    name = "orch-hook",
    version,
    about = "Record an agent hook event (called by agents' hooks, not by people)",
    after_help = "Reads the hook's JSON payload on stdin. Never prints to stdout; always exits 0.\n\
                  Events: session_start prompt stop stop_failure notify session_end\n\
                  (harness names such as Stop or UserPromptSubmit are accepted too).\n\
                  Problems are logged to $ORCH_STATE_DIR/errors.log.\n\n\
                  Example (what `orch up` registers for Claude Code's Stop hook):\n  \
                  orch-hook stop"
)]
pub struct HookArgs {
    /// The event: orch's name (stop) or the harness's (Stop). When omitted,
    /// the payload's `hook_event_name` is used.
    pub event: Option<String>,
    /// The payload as an argument instead of stdin (codex's notify passes it so).
    pub payload: Option<String>,
    /// Which agent harness fired the hook (claude, codex, gemini, pi, echo…).
    #[arg(long, env = "ORCH_HARNESS")]
    pub harness: Option<String>,
    /// The hook was passed by orch-spawn on the agent's command line; in
    /// such a pane only these record, so each event is recorded once
    /// (docs/protocol.md, "Hooks").
    #[arg(long)]
    pub spawned: bool,
    /// Internal: deliver this alert to the person (run detached by orch).
    #[arg(long, value_name = "JSON", hide = true)]
    pub alert: Option<String>,
    /// Internal: watch a Codex rollout for the end of a turn whose model
    /// request failed (started by orch-hook itself, detached).
    #[arg(long, num_args = 3, value_names = ["TRANSCRIPT", "OFFSET", "TURN"], hide = true)]
    pub watch_codex_turn: Option<Vec<String>>,
    /// Internal: confirm queued prompts from a Claude Code transcript that
    /// lags the turn end at this seq (started by orch-hook itself, detached).
    #[arg(long, value_name = "STOP_SEQ", hide = true)]
    pub confirm_queued: Option<u64>,
}

/// The whole `orch-hook` process: parse, record, exit 0. A panic message on
/// stderr would reach the agent's UI, so panics are silenced too (the event
/// is lost, the agent is not).
pub fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    match HookArgs::try_parse() {
        Ok(HookArgs {
            alert: Some(json), ..
        }) => {
            let _ = std::panic::catch_unwind(|| orch::alert::deliver(&json));
        }
        Ok(HookArgs {
            watch_codex_turn: Some(w),
            ..
        }) => {
            let offset = w[1].parse().unwrap_or(0);
            let _ = std::panic::catch_unwind(|| {
                if let Err(e) = orch::harness::codex_watch::watch(w[0].as_ref(), offset, &w[2])
                    && let Ok(root) = orch::layout::state_dir()
                {
                    orch::store::log_error(&root, &format!("orch-hook --watch-codex-turn: {e:#}"));
                }
            });
        }
        Ok(HookArgs {
            confirm_queued: Some(seq),
            ..
        }) => {
            let _ = std::panic::catch_unwind(|| {
                if let Err(e) = orch::deliver::confirm::watch_lagging_transcript(seq)
                    && let Ok(root) = orch::layout::state_dir()
                {
                    orch::store::log_error(&root, &format!("orch-hook --confirm-queued: {e:#}"));
                }
            });
        }
        Ok(a) => {
            let req = HookRequest {
                event: a.event,
                payload: a.payload,
                harness: a.harness,
                spawned: a.spawned,
            };
            let _ = std::panic::catch_unwind(|| orch::hook::run(req));
        }
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                // A person asked; they get the answer on stdout.
                let _ = e.print();
            } else if let Ok(root) = orch::layout::state_dir() {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or("").to_string();
                orch::store::log_error(&root, &format!("orch-hook: bad arguments: {first}"));
            }
        }
    }
}

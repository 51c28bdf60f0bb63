//! `orch-echo`: the built-in echo agent (`orch::echo`).

use anyhow::Result;
use clap::Parser;
use orch::echo::EchoOptions;
use orch::exit::Code;

/// The built-in echo agent.
#[derive(Debug, Parser)]
#[command(
    name = "orch-echo",
    version,
    about = "The built-in echo agent: answers deterministically, fires orch's hooks (no API key needed)",
    after_help = "Reply to a prompt P: `echo: <first line of P, ≤ 80 chars> [<bytes> bytes, <lines> lines, <hash>]`.\n\
Directives inside a prompt: [[slow:MS]] [[permission]] [[fail]] [[exit]]. `/exit` quits.\n\n\
Example:\n  orch spawn echo --name demo && orch tell demo --wait 'hello'"
)]
pub struct EchoArgs {
    /// How long an ordinary turn takes, in milliseconds.
    #[arg(long, default_value_t = 150, value_name = "MS")]
    pub turn_ms: u64,
    /// Ignore the first N Enter keys (simulates a swallowed Enter).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub swallow_enter: u32,
    /// Draw a bracketed paste only MS ms after it ends, and drop Enter keys
    /// that arrive before then (what Claude Code does right after start-up).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub paste_draw_ms: u64,
    /// Show a start-up trust dialog and wait for an answer before starting.
    #[arg(long)]
    pub dialog: bool,
    /// Exit with an error at once (simulates an agent that fails to start).
    #[arg(long)]
    pub exit_immediately: bool,
    /// Fire no hooks (behaves like a harness orch can only watch on screen).
    #[arg(long)]
    pub no_hooks: bool,
    /// Use this session id (as `claude --session-id`).
    #[arg(long, value_name = "ID")]
    pub session_id: Option<String>,
    /// Resume a session (as `claude --resume`): fires session_start with
    /// source `resume`.
    #[arg(long, value_name = "ID", conflicts_with = "session_id")]
    pub resume: Option<String>,
    /// Accepted for parity with real harnesses; shown in the banner.
    #[arg(long)]
    pub model: Option<String>,
    /// Accepted for parity with real harnesses (the fleet prompt); its size is shown.
    #[arg(long, value_name = "TEXT")]
    pub append_system_prompt: Option<String>,
}

pub fn run(a: EchoArgs) -> Result<Code> {
    orch::echo::run(EchoOptions {
        turn_ms: a.turn_ms,
        swallow_enter: a.swallow_enter,
        paste_draw_ms: a.paste_draw_ms,
        dialog: a.dialog,
        exit_immediately: a.exit_immediately,
        no_hooks: a.no_hooks,
        session_id: a.session_id,
        resume: a.resume,
        model: a.model,
        append_system_prompt: a.append_system_prompt,
    })
}

//! `orch-bench <bench> [options]`: measure orch against the targets in the
//! brief and print the figures (recorded in docs/performance.md). Build
//! everything in release first, so the binaries under test sit next to this
//! one:
//!
//! ```text
//! cargo build --release && target/release/orch-bench all
//! ```
//!
//! Each bench lives in its own module and runs in a temp state dir (and,
//! where needed, a private tmux server).

use std::process::ExitCode;

mod agents;
mod claude;
mod codex;
mod fleet;
mod gemini;
mod harness_timing;
mod hook;
mod listen;
mod remote;
mod restore;
mod spawn;
mod stats;
mod stress;
mod subscribe;
mod survey;
mod tell;
mod world;

type Bench = fn(&[String]) -> anyhow::Result<()>;

const BENCHES: &[(&str, &str, Bench)] = &[
    ("hook", "orch-hook stop wall time (≤ 2 ms median)", |_| {
        hook::run()
    }),
    (
        "wake",
        "append → listener awake latency (≤ 5 ms p99)",
        |_| listen::wake(),
    ),
    (
        "burst",
        "50 panes × 200 events, 10 stream listeners (0 lost/dup)",
        |_| listen::burst(),
    ),
    (
        "idle",
        "idle listener wake-ups and RSS (0, ≤ 4 MiB)",
        |_| listen::idle(),
    ),
    (
        "survey",
        "orch-survey wall time at 10/50/200 panes (≤ 50 ms at 200)",
        survey::main,
    ),
    (
        "spawn",
        "spawn-to-ready of the echo agent, headless and split",
        |a| spawn::run(a.to_vec()),
    ),
    (
        "subscribe",
        "orch-hook stop with 0, 1 and 5 subscribers (--runs N)",
        subscribe::run,
    ),
    (
        "tell",
        "tell → receipt on echo agents, one by one and 20 at once",
        tell::run,
    ),
    (
        "remote",
        "tell --wait / listen wake / survey --hosts over a real sshd (--runs N)",
        remote::run,
    ),
    (
        "restore",
        "orch restore of 10 echo agents after kill-server (--agents N --rounds R)",
        restore::run,
    ),
    (
        "stress",
        "kill storms, a full disk, the settings race (all 0 lost)",
        stress::run,
    ),
    (
        "fleet",
        "tell --to 50 echo agents (wall, receipt p50/p99); listen --all wake",
        fleet::run,
    ),
    (
        "claude",
        "tell → receipt on real Claude Code panes (≤ 300 ms median)",
        claude::run,
    ),
    (
        "pi",
        "spawn → ready and tell → receipt on real pi panes",
        |a| agents::run("pi", a),
    ),
    (
        "opencode",
        "spawn → ready and tell → receipt on real opencode panes",
        |a| agents::run("opencode", a),
    ),
    (
        "gemini",
        "spawn → ready and tell → receipt on real Gemini CLI panes",
        gemini::run,
    ),
    (
        "codex",
        "spawn → ready and tell → receipt on real Codex panes",
        codex::run,
    ),
];

fn usage() -> String {
    let mut s = String::from("usage: orch-bench all | <bench> [options]\nbenches:\n");
    for (name, what, _) in BENCHES {
        s.push_str(&format!("  {name:<10}{what}\n"));
    }
    s
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(which) = args.next() else {
        print!("{}", usage());
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    if which == "-h" || which == "--help" {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let mut ran = false;
    for (name, _, f) in BENCHES {
        if which == *name || which == "all" {
            ran = true;
            println!("== {name}");
            if let Err(e) = f(if which == "all" { &[] } else { &rest }) {
                eprintln!("orch-bench {name}: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !ran {
        eprintln!("orch-bench: unknown bench {which:?}\n{}", usage());
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

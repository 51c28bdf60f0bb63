//! `orch-bench <bench>`: measure orch against the targets in the brief and
//! print the figures. Build everything in release first:
//!
//! ```text
//! cargo build --release && target/release/orch-bench all
//! ```
//!
//! Benchmarks find orch's binaries next to their own executable and run in
//! a temp state dir (and, where needed, a private tmux server).

mod common;
mod hook;
mod listen;

use std::process::ExitCode;

const BENCHES: &[(&str, fn() -> anyhow::Result<()>)] = &[
    ("hook", hook::run),
    ("wake", listen::wake),
    ("burst", listen::burst),
    ("idle", listen::idle),
];

fn main() -> ExitCode {
    let which: Vec<String> = std::env::args().skip(1).collect();
    if which.is_empty() || which.iter().any(|w| w == "-h" || w == "--help") {
        let names: Vec<_> = BENCHES.iter().map(|(n, _)| *n).collect();
        eprintln!("usage: orch-bench all | {}", names.join(" | "));
        return ExitCode::from(2);
    }
    for (name, f) in BENCHES {
        if which.iter().any(|w| w == name || w == "all") {
            println!("== {name}");
            if let Err(e) = f() {
                eprintln!("orch-bench {name}: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

//! `orch-bench <bench> [options]`: one module per benchmark, each printing
//! its figures. Build in release mode together with the binaries it runs:
//!
//! ```text
//! cargo build --release -p orch-cli -p orch-bench
//! target/release/orch-bench spawn --runs 25
//! ```

mod spawn;

use std::process::ExitCode;

const USAGE: &str = "usage: orch-bench <bench> [options]\n\nbenches:\n  spawn [--runs N]   spawn-to-ready time of the echo agent (headless and split)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("spawn") => spawn::run(args.collect()),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orch-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

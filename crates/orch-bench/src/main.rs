//! `orch-bench <name> [options]`: run one benchmark against the orch
//! binaries built next to this one (build them together:
//! `cargo build --release -p orch-cli -p orch-bench`). Each benchmark lives
//! in its own module and prints its figures; docs/performance.md records
//! them with the command that produced them.

mod tell;

use std::process::ExitCode;

const BENCHES: &[(&str, &str)] = &[(
    "tell",
    "tell → receipt latency on echo agents, sequential and 20 in parallel",
)];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        return usage();
    };
    let rest: Vec<String> = args.collect();
    let result = match name.as_str() {
        "tell" => tell::run(&rest),
        "-h" | "--help" | "help" => return usage(),
        other => {
            eprintln!("orch-bench: unknown benchmark {other:?}");
            return usage();
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

fn usage() -> ExitCode {
    eprintln!("usage: orch-bench <benchmark> [options]\n\nbenchmarks:");
    for (n, about) in BENCHES {
        eprintln!("  {n:<8} {about}");
    }
    ExitCode::from(2)
}

//! `orch-bench <bench> [options]`: run one benchmark and print its figures.
//! Each bench lives in its own module; build with
//! `cargo build --release -p orch-cli -p orch-bench` so the binaries under
//! test sit next to this one.

use std::process::ExitCode;

mod survey;

const BENCHES: &[(&str, &str)] = &[(
    "survey",
    "orch-survey wall time at 10/50/200 panes (target ≤ 50 ms at 200)",
)];

fn usage() -> String {
    let mut s = String::from("usage: orch-bench <bench> [options]\nbenches:\n");
    for (name, what) in BENCHES {
        s.push_str(&format!("  {name:<10}{what}\n"));
    }
    s
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let bench = args.next();
    let rest: Vec<String> = args.collect();
    let result = match bench.as_deref() {
        Some("survey") => survey::main(&rest),
        Some("-h" | "--help") | None => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("orch-bench: unknown bench {other:?}\n{}", usage());
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

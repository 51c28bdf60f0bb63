use std::process::ExitCode;

fn main() -> ExitCode {
    orch::cli::main_with("orch-survey", orch::survey::run)
}

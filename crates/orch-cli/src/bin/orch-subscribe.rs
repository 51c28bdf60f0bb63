use std::process::ExitCode;

fn main() -> ExitCode {
    orch::cli::main_with("orch-subscribe", orch::subscribe::run)
}

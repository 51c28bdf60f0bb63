use std::process::ExitCode;

fn main() -> ExitCode {
    orch::cli::main_with("orch-echo", orch::echo::run)
}

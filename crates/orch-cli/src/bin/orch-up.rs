use std::process::ExitCode;

fn main() -> ExitCode {
    orch::cli::main_with("orch-up", orch::install::up::run)
}

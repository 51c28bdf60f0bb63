use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-up", orch::install::up::run)
}

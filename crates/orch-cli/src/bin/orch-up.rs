use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-up", orch_cli::up::run)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-down", orch_cli::down::run)
}

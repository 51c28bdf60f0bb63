use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-down", orch::install::down::run)
}

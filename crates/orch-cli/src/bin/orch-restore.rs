use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-restore", orch_cli::restore::run)
}

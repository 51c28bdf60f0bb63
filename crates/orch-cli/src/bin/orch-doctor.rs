use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-doctor", orch_cli::doctor::run)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-survey", orch_cli::survey::run)
}

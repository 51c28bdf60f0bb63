use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-tell", orch_cli::tell::run)
}

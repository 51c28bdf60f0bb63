use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-answer", orch_cli::answer::run)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-spawn", orch_cli::spawn::run)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch::cli::main_with("orch-spawn", orch::spawn::run)
}

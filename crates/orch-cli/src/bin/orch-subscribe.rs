use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-subscribe", orch_cli::subscribe::run)
}

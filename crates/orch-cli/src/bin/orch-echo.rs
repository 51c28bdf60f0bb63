use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-echo", orch_cli::echo::run)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch", orch_cli::umbrella::umbrella)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    orch_cli::main_with("orch-listen", orch_cli::listen::run)
}

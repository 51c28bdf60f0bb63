//! orch's binaries: each parses its arguments (clap derive), calls one
//! function of the `orch` library and prints what it returns. This crate
//! owns everything about the command line — the flags, their help, error
//! printing and exit codes — and nothing about the protocol.

pub mod answer;
pub mod doctor;
pub mod down;
pub mod echo;
pub mod hook;
pub mod listen;
pub mod out;
pub mod remote;
pub mod restore;
pub mod spawn;
pub mod subscribe;
pub mod survey;
pub mod tell;
pub mod umbrella;
pub mod up;

use std::io::ErrorKind;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use orch::exit::{Code, code_of};

/// Run a binary: parse `A`, call `run`, print errors as `name: message`
/// (one line), map them to documented exit codes. A closed stdout (e.g.
/// `orch survey | head -1`) is a clean exit, not an error.
pub fn main_with<A: Parser>(name: &str, run: impl FnOnce(A) -> Result<Code>) -> ExitCode {
    let args = match A::try_parse() {
        Ok(a) => a,
        Err(e) => return clap_error(name, e),
    };
    match run(args) {
        Ok(code) => code.into(),
        Err(err) => report(name, &err),
    }
}

/// Print an error chain on one line and pick its exit code.
pub fn report(name: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("{name}: {err:#}");
    code_of(err).into()
}

/// Is a closed stdout anywhere in the chain? serde_json's error does not
/// expose the io error it wraps as a source, so it is asked directly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let io = e.downcast_ref::<std::io::Error>().map(|io| io.kind());
        let json = e
            .downcast_ref::<serde_json::Error>()
            .and_then(|j| j.io_error_kind());
        io.or(json) == Some(ErrorKind::BrokenPipe)
    })
}

/// clap's errors are several lines; orch's errors are one. Help and version
/// go to stdout as usual.
fn clap_error(name: &str, e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return Code::Usage.into();
    }
    let text = e.render().to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    eprintln!("{name}: {first} (see `{name} --help`)");
    Code::Usage.into()
}

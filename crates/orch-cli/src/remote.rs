//! Running a command on another host: `orch --host DEST …`, `DEST:NAME`
//! targets, `survey --hosts` (`orch::remote` does the work).

use std::io::Write;

use anyhow::Result;
use orch::exit::Code;
use orch::remote::transport::Input;
use orch::remote::{Remote, split_target};

/// This process's arguments after the program name, as typed.
pub fn raw_args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Run `orch-<sub> ARGS` on host `alias`, printing what it prints.
/// Standard input is passed on only when the arguments read it (`-`).
pub fn forward(alias: &str, sub: &str, args: Vec<String>) -> Result<Code> {
    let remote = Remote::resolve(alias)?;
    let input = if args.iter().any(|a| a == "-") {
        Input::Inherit
    } else {
        Input::None
    };
    let mut argv = vec![sub.to_string()];
    argv.extend(args);
    remote.run(&argv, input, &mut print_line)
}

/// The host of a target, if it names one other than this host.
pub fn host_of(target: Option<&str>) -> Option<String> {
    target.and_then(|t| split_target(t).0.map(str::to_string))
}

/// One line to stdout, flushed (remote streams are read live).
pub fn print_line(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

/// Remove `--NAME VALUE` / `--NAME=VALUE` (a flag of ours that the far
/// end must not see) from `args`.
pub fn without_option(args: Vec<String>, name: &str) -> Vec<String> {
    let long = format!("--{name}");
    let eq = format!("--{name}=");
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a);
            out.extend(it.by_ref());
            break;
        }
        if a == long {
            it.next();
        } else if !a.starts_with(&eq) {
            out.push(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_host_flag_is_removed_and_nothing_else() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            without_option(
                s(&["echo", "--host", "box", "--name", "a", "--", "--host", "x"]),
                "host"
            ),
            s(&["echo", "--name", "a", "--", "--host", "x"])
        );
        assert_eq!(
            without_option(s(&["--host=box", "echo"]), "host"),
            s(&["echo"])
        );
    }
}

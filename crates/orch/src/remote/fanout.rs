//! A listen whose targets are on several hosts: one listener per host (the
//! local one as a child `orch-listen`, each remote one over ssh), their
//! lines merged as they arrive. First-of-several returns with the first
//! line and hangs up on the rest; a stream runs until every part ends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use anyhow::{Context, Result};

use super::split_target;
use super::transport::{Input, Remote};
use crate::exit::{Code, Fail};

enum Msg {
    Line(String),
    Done(Result<Code>),
}

/// The part of `args` one host sees: every argument except the targets
/// that belong to other hosts. (`targets` are the positional targets as
/// written; an option value spelled exactly like another host's target is
/// not expected.)
pub fn args_for(host: Option<&str>, args: &[String], targets: &[String]) -> Vec<String> {
    args.iter()
        .filter(|a| !targets.contains(a) || split_target(a).0 == host)
        .cloned()
        .collect()
}

/// Run `orch listen` split across the hosts of `targets`.
/// `first_wins`: return after the first event (one-shot listen).
pub fn listen(
    args: &[String],
    targets: &[String],
    first_wins: bool,
    out: &mut dyn FnMut(&str),
) -> Result<Code> {
    let set = super::common_host(targets.iter().map(String::as_str));
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut kills: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
    let mut parts = 0;

    if set.local {
        let local_args = args_for(None, args, targets);
        let bin = crate::exe::sibling("listen")
            .ok_or_else(|| Fail::new(Code::Failure, "orch-listen is not installed next to orch"))?;
        let mut child = Command::new(bin)
            .args(&local_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start orch-listen")?;
        let stdout = child.stdout.take().expect("piped");
        let pid = child.id();
        let t = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = t.send(Msg::Line(super::transport::tag_host(
                    &l,
                    super::survey::LOCAL,
                )));
            }
            let code = child
                .wait()
                .map(|s| {
                    s.code()
                        .map(Code::from_exit_status)
                        .unwrap_or(Code::Failure)
                })
                .context("waiting for orch-listen");
            let _ = t.send(Msg::Done(code));
        });
        kills.push(Box::new(move || term(pid)));
        parts += 1;
    }
    for host in &set.remote {
        let remote = Remote::resolve(host)?;
        let mut argv = vec!["listen".to_string()];
        argv.extend(args_for(Some(host), args, targets));
        let t = tx.clone();
        let (pid_tx, pid_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = remote.run_reporting_pid(&argv, Input::None, &pid_tx, &mut |l| {
                let _ = t.send(Msg::Line(l.to_string()));
            });
            let _ = t.send(Msg::Done(r));
        });
        if let Ok(pid) = pid_rx.recv() {
            kills.push(Box::new(move || term(pid)));
        }
        parts += 1;
    }
    drop(tx);

    let mut worst = Code::Ok;
    let mut first_err = None;
    let mut done = 0;
    while done < parts {
        match rx.recv() {
            Ok(Msg::Line(l)) => {
                out(&l);
                if first_wins {
                    for k in kills.drain(..) {
                        k();
                    }
                    return Ok(Code::Ok);
                }
            }
            Ok(Msg::Done(Ok(c))) => {
                done += 1;
                if c as u8 > worst as u8 {
                    worst = c;
                }
            }
            Ok(Msg::Done(Err(e))) => {
                done += 1;
                eprintln!("orch-listen: {e:#}");
                first_err.get_or_insert(e);
                worst = Code::Failure.max_by(worst);
            }
            Err(_) => break,
        }
    }
    match (first_err, worst) {
        (Some(e), _) if parts == 1 => Err(e),
        _ => Ok(worst),
    }
}

fn term(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
}

trait MaxBy {
    fn max_by(self, other: Code) -> Code;
}

impl MaxBy for Code {
    fn max_by(self, other: Code) -> Code {
        if self as u8 >= other as u8 {
            self
        } else {
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_sees_only_its_own_targets() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let args = s(&["a:x", "b:y", "z", "--stream", "--kind", "stop"]);
        let targets = s(&["a:x", "b:y", "z"]);
        assert_eq!(
            args_for(Some("a"), &args, &targets),
            s(&["a:x", "--stream", "--kind", "stop"])
        );
        assert_eq!(
            args_for(None, &args, &targets),
            s(&["z", "--stream", "--kind", "stop"])
        );
    }
}

//! One remote command over ssh: the ssh argv (BatchMode, connection
//! sharing), the fixed remote command line, the header on stdin, output
//! lines tagged with the host, and ssh's failures turned into one-line
//! errors that name the fix.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};

use anyhow::{Context, Result};
use serde_json::Value;

use super::hosts::{self, Hosts};
use super::wire::{self, Header};
use super::{SSH_ENV, split_target};
use crate::exit::{Code, Fail};

/// What runs on the remote host, whatever its login shell: `sh -c` with a
/// constant script (no quotes or backslashes inside, so fish, csh and POSIX
/// shells all pass it to `sh` unchanged). A non-interactive ssh gets a
/// minimal PATH, so the usual install dirs are added.
pub const REMOTE_COMMAND: &str =
    "sh -c 'PATH=\"$HOME/.local/bin:$HOME/.cargo/bin:$PATH\"; export PATH; exec orch __remote'";

/// Exit status of `sh` when the command is not found.
const NOT_FOUND: i32 = 127;
/// Exit status of ssh itself failing (connection, auth, host key).
const SSH_FAILED: i32 = 255;

/// A host, as dialled.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The name targets use (`box` in `box:reviewer`).
    pub alias: String,
    /// What ssh dials (hosts.json `dest`, else the alias).
    pub dest: String,
    /// The remote orch binary (hosts.json `orch`), else found on its PATH.
    pub orch: Option<String>,
}

/// How the remote command's stdin is fed after the header.
pub enum Input {
    /// Nothing (the remote command sees EOF).
    None,
    /// This process's stdin, copied through (a prompt given as `-`).
    Inherit,
}

impl Remote {
    /// The host `alias`, with its hosts.json entry if it has one.
    pub fn resolve(alias: &str) -> Result<Remote> {
        hosts::check_name(alias)?;
        let hosts = Hosts::load(&crate::layout::config_dir()?)?;
        let e = hosts.get(alias);
        let dest = e.dest.unwrap_or_else(|| alias.to_string());
        hosts::check_name(&dest)?;
        Ok(Remote {
            alias: alias.to_string(),
            dest,
            orch: e.orch,
        })
    }

    fn remote_command(&self) -> String {
        match &self.orch {
            Some(p) => REMOTE_COMMAND.replace("exec orch ", &format!("exec {p} ")),
            None => REMOTE_COMMAND.to_string(),
        }
    }

    /// The ssh argv: `$ORCH_SSH` (or `ssh`), never prompting, sharing one
    /// connection per destination under the state dir unless the user's
    /// ssh config already shares its own.
    pub fn ssh_command(&self) -> Result<Command> {
        let base = ssh_base()?;
        let mut cmd = Command::new(&base[0]);
        cmd.args(&base[1..]);
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
        if let Some(sock) = self.control_path(&base)? {
            cmd.arg("-o").arg("ControlMaster=auto");
            cmd.arg("-o").arg(format!("ControlPath={}", sock.display()));
            cmd.arg("-o").arg("ControlPersist=600");
        }
        // `--` so a destination can never be read as an option (it is
        // checked not to start with `-` too).
        cmd.arg("--").arg(&self.dest).arg(self.remote_command());
        Ok(cmd)
    }

    /// Our connection-sharing socket, unless the user's config (as
    /// `ssh -G` resolves it) has its own, or the path would be too long
    /// for a unix socket.
    fn control_path(&self, base: &[String]) -> Result<Option<PathBuf>> {
        let out = Command::new(&base[0])
            .args(&base[1..])
            .arg("-G")
            .arg("--")
            .arg(&self.dest)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = out
            && out.status.success()
        {
            let conf = String::from_utf8_lossy(&out.stdout);
            let own = conf.lines().any(|l| {
                l.strip_prefix("controlpath ")
                    .is_some_and(|v| v.trim() != "none")
            });
            if own {
                return Ok(None);
            }
        }
        let dir = crate::layout::ssh_control_dir(&crate::layout::state_dir()?);
        // %C is 40 hex digits; sun_path holds 108 bytes.
        if dir.as_os_str().len() + 42 > 104 {
            return Ok(None);
        }
        crate::paths::ensure_private_dir(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Some(dir.join("%C")))
    }

    /// Run `argv` (a subcommand and its arguments) on this host. Every
    /// stdout line goes to `out` as it arrives, JSON objects with a `host`
    /// field added; the remote command's stderr is passed on, except that
    /// ssh's own failures become one error naming the fix. Returns the
    /// remote command's exit code.
    pub fn run(&self, argv: &[String], input: Input, out: &mut dyn FnMut(&str)) -> Result<Code> {
        let (tx, _rx) = std::sync::mpsc::channel();
        self.run_reporting_pid(argv, input, &tx, out)
    }

    /// [`Remote::run`], sending the ssh process's pid on `pid` once it runs
    /// (so a caller can hang up on it).
    pub fn run_reporting_pid(
        &self,
        argv: &[String],
        input: Input,
        pid: &std::sync::mpsc::Sender<u32>,
        out: &mut dyn FnMut(&str),
    ) -> Result<Code> {
        let mut cmd = self.ssh_command()?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| -> anyhow::Error {
            Fail::new(
                Code::Failure,
                format!(
                    "cannot run ssh ({e}): install OpenSSH's client, or set {SSH_ENV} to your ssh command"
                ),
            )
            .into()
        })?;
        let _ = pid.send(child.id());
        let header = Header {
            version: env!("CARGO_PKG_VERSION").to_string(),
            argv: argv.to_vec(),
            alias: self.alias.clone(),
            from: who_am_i(),
            role: crate::roles::own_role_name(),
            hangup: matches!(input, Input::None),
        };
        let mut stdin = child.stdin.take().expect("piped");
        // With `Input::None` the pipe is handed back and kept open until
        // the command ends: its EOF tells the far end we hung up (see
        // serve::serve).
        let feeder = std::thread::spawn(move || -> std::io::Result<Option<ChildStdin>> {
            wire::write(&mut stdin, &header)?;
            match input {
                Input::Inherit => {
                    std::io::copy(&mut std::io::stdin().lock(), &mut stdin)?;
                    Ok(None)
                }
                Input::None => Ok(Some(stdin)),
            }
        });
        let mut err = child.stderr.take().expect("piped");
        let errs = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        for line in stdout.lines() {
            let line = line.context("reading the remote output")?;
            out(&tag_host(&line, &self.alias));
        }
        let status = child.wait().context("waiting for ssh")?;
        // A broken stdin pipe only means the remote command did not read it;
        // a held one is closed here, once the command has ended.
        drop(feeder.join());
        let stderr = errs.join().unwrap_or_default();
        match status.code() {
            Some(SSH_FAILED) => Err(Fail::new(
                Code::Failure,
                format!(
                    "cannot reach {} over ssh: {}; check that `ssh {} true` works without a prompt (orch runs ssh with BatchMode=yes), or set {SSH_ENV}",
                    self.dest,
                    last_line(&stderr).unwrap_or("ssh failed"),
                    self.dest
                ),
            )
            .into()),
            Some(NOT_FOUND) => Err(Fail::new(
                Code::Failure,
                format!(
                    "orch is not installed on {} (not on its PATH, ~/.local/bin or ~/.cargo/bin): install it there (git clone the orch repository, then ./install.sh), or give its path as \"orch\" for this host in hosts.json",
                    self.dest
                ),
            )
            .into()),
            code => {
                if !stderr.is_empty() {
                    eprint!("{stderr}");
                }
                Ok(code.map(Code::from_exit_status).unwrap_or(Code::Failure))
            }
        }
    }
}

/// `$ORCH_SSH` split into words (no shell), else `ssh`.
fn ssh_base() -> Result<Vec<String>> {
    match std::env::var(SSH_ENV).ok().filter(|s| !s.trim().is_empty()) {
        None => Ok(vec!["ssh".into()]),
        Some(line) => crate::shellwords::split(&line)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| {
                Fail::usage(format!(
                    "{SSH_ENV}={line:?} is not a simple command line: give a program and its arguments, e.g. {SSH_ENV}='ssh -F ~/.ssh/orch_config'"
                ))
            }),
    }
}

/// `user@host %3`: who is asking, for the remote audit log.
fn who_am_i() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| nix::unistd::getuid().to_string());
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    match std::env::var("TMUX_PANE") {
        Ok(p) if !p.is_empty() => format!("{user}@{host} {p}"),
        _ => format!("{user}@{host}"),
    }
}

/// Add `"host"` to a JSON object line (unless it has one); anything else
/// (a `--pretty` table) passes unchanged.
pub fn tag_host(line: &str, host: &str) -> String {
    if !line.starts_with('{') {
        return line.to_string();
    }
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(mut m)) => {
            m.entry("host").or_insert_with(|| Value::from(host));
            Value::Object(m).to_string()
        }
        _ => line.to_string(),
    }
}

fn last_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// The host of `target` when it names one, resolved.
pub fn remote_of(target: &str) -> Result<Option<Remote>> {
    match split_target(target) {
        (Some(h), _) => Ok(Some(Remote::resolve(h)?)),
        (None, _) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_command_line_holds_no_user_text_and_no_quote_inside() {
        let inner = REMOTE_COMMAND
            .strip_prefix("sh -c '")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap();
        assert!(!inner.contains('\'') && !inner.contains('\\'), "{inner}");
    }

    #[test]
    fn json_lines_gain_a_host_field() {
        let v: Value = serde_json::from_str(&tag_host(r#"{"pane":"%1"}"#, "box")).unwrap();
        assert_eq!(v, serde_json::json!({"host": "box", "pane": "%1"}));
        assert_eq!(tag_host("NAME  STATE", "box"), "NAME  STATE");
        assert_eq!(tag_host(r#"{"host":"x"}"#, "box"), r#"{"host":"x"}"#);
    }
}

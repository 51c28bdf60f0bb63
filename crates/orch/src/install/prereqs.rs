//! What orch needs around it: tmux 3.0 or newer, and the agent CLIs it
//! can drive (reported, with how to get the missing ones).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

/// An agent CLI orch can drive, and how to get it.
pub const AGENT_CLIS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("pi", "npm install -g @mariozechner/pi-coding-agent"),
    ("opencode", "npm install -g opencode-ai"),
];

/// What each agent CLI adds once installed (for people: a missing one is
/// optional, not a failure).
pub fn adds(name: &str) -> &'static str {
    match name {
        "claude" => "Claude Code agents (orch spawn claude) and the operator seat",
        "codex" => "Codex agents (orch spawn codex)",
        "gemini" => "Gemini CLI agents (orch spawn gemini)",
        "pi" => "pi agents (orch spawn pi)",
        "opencode" => "opencode agents (orch spawn opencode)",
        _ => "another agent harness",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentCli {
    pub name: &'static str,
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

pub fn agent_clis() -> Vec<AgentCli> {
    AGENT_CLIS
        .iter()
        .map(|(name, hint)| {
            let path = which::which(name).ok();
            AgentCli {
                name,
                hint: if path.is_none() { Some(hint) } else { None },
                path,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct TmuxCheck {
    pub version: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// orch needs tmux 3.0 or newer.
pub fn check_tmux() -> TmuxCheck {
    match crate::tmux::version() {
        Ok((maj, min)) if (maj, min) >= (3, 0) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: true,
            problem: None,
        },
        Ok((maj, min)) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: false,
            problem: Some(format!(
                "tmux {maj}.{min} is too old: orch needs tmux 3.0 or newer"
            )),
        },
        Err(e) => TmuxCheck {
            version: None,
            ok: false,
            problem: Some(format!("{e:#}")),
        },
    }
}

/// `PATH` as a fresh login shell sets it: what a new tmux pane gets
/// (tmux starts login shells, and `/etc/profile` often resets PATH, so a
/// directory added only in the current shell is lost there). `$SHELL -l -c`
/// with only HOME, USER, LOGNAME, SHELL and TERM; `None` when that shell
/// cannot tell within a few seconds.
pub fn login_shell_path() -> Option<String> {
    use std::process::Command;
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| s.starts_with('/'))
        .unwrap_or_else(|| "/bin/sh".into());
    let mut cmd = Command::new(&shell);
    cmd.args(["-l", "-c", "printf '\\n%s' \"$PATH\""])
        .env_clear();
    for k in ["HOME", "USER", "LOGNAME", "TERM"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("SHELL", &shell)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().ok()?;
    // A profile that hangs must not hang doctor.
    wait_bounded(&mut child, Duration::from_secs(5))?;
    let out = child.wait_with_output().ok()?;
    // Whatever a profile prints comes before the last line.
    let text = String::from_utf8_lossy(&out.stdout);
    text.rsplit('\n')
        .next()
        .map(str::to_string)
        .filter(|p| !p.is_empty())
}

/// Is `dir` on the `PATH` string `path`?
pub fn path_has(path: &str, dir: &std::path::Path) -> bool {
    let want = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    path.split(':').filter(|p| !p.is_empty()).any(|p| {
        let p = std::path::Path::new(p);
        p == dir || std::fs::canonicalize(p).is_ok_and(|c| c == want)
    })
}

/// Wait for `child` at most `limit`; past it (or when waiting fails) kill
/// and reap it: `None`. The programs asked (`claude plugin --help`, a login
/// shell printing PATH) answer in milliseconds, so a short poll is the
/// simplest bounded wait without another thread.
pub(super) fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

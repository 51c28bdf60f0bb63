//! Talking to tmux: always by argv (no shell ever sees user text), always to
//! one explicit server socket.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

use crate::pane::PaneId;
use crate::server::Server;

/// A tmux server to run commands against.
#[derive(Debug, Clone)]
pub struct Tmux {
    socket: Option<PathBuf>,
}

/// One row of `list-panes -a`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    pub pane: PaneId,
    pub session: String,
    pub window: u32,
    pub index: u32,
    /// pid of the pane's first process (the agent, or the shell running it).
    pub pid: u32,
    pub current_command: String,
    /// The pane's process exited but the pane was kept (`remain-on-exit`).
    pub dead: bool,
    pub width: u32,
    pub height: u32,
    /// When the pane's process exited (Unix seconds), for dead panes on
    /// tmux versions that report it (3.3+).
    pub dead_time: Option<u64>,
    pub cwd: String,
}

/// What `pane_status` reports about one pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneStatus {
    /// The pane's process exited but the pane was kept (`remain-on-exit`).
    pub dead: bool,
    /// The foreground process of the pane's terminal (`bash`, `claude`, …).
    pub current_command: String,
    /// The pane's own process (`pane_pid`; 0 when tmux did not say).
    pub pid: u32,
}

impl PaneInfo {
    /// `session:window.pane`, how people address panes.
    pub fn location(&self) -> String {
        format!("{}:{}.{}", self.session, self.window, self.index)
    }
}

const LIST_FORMAT: &str = "#{pane_id}\t#{session_name}\t#{window_index}\t#{pane_index}\t#{pane_pid}\t#{pane_current_command}\t#{pane_dead}\t#{pane_width}\t#{pane_height}\t#{pane_dead_time}\t#{pane_current_path}";

impl Tmux {
    pub fn for_server(server: &Server) -> Tmux {
        Tmux {
            socket: Some(server.socket.clone()),
        }
    }

    /// A `tmux` command aimed at this server.
    pub fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        if let Some(s) = &self.socket {
            c.arg("-S").arg(s);
        }
        c
    }

    /// Run tmux with `args`; stdout on success, stderr in the error.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self
            .command()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tmux; is it installed? (apt-get install tmux)")?;
        check(&args, out)
    }

    /// Every pane of the server, in one call.
    pub fn list_panes(&self) -> Result<Vec<PaneInfo>> {
        let out = self.run(["list-panes", "-a", "-F", LIST_FORMAT])?;
        Ok(out.lines().filter_map(parse_pane_line).collect())
    }

    /// Does this pane exist on the server right now?
    pub fn pane_exists(&self, pane: PaneId) -> bool {
        self.run([
            "display-message",
            "-p",
            "-t",
            &pane.to_string(),
            "#{pane_id}",
        ])
        .map(|o| o.trim() == pane.to_string())
        .unwrap_or(false)
    }

    /// The visible screen of a pane, as text (no escape sequences).
    pub fn capture(&self, pane: PaneId) -> Result<String> {
        self.run(["capture-pane", "-p", "-J", "-t", &pane.to_string()])
    }

    /// Whether `pane` exists and what runs in it; `None` if it does not
    /// exist. (`display-message -t` quietly falls back to another pane for
    /// an unknown target, so the answer's pane id is checked.)
    pub fn pane_status(&self, pane: PaneId) -> Result<Option<PaneStatus>> {
        let out = self.run([
            "display-message",
            "-p",
            "-t",
            &pane.to_string(),
            "#{pane_id}\t#{pane_dead}\t#{pane_pid}\t#{pane_current_command}",
        ])?;
        let line = out.trim_end_matches('\n');
        let mut f = line.splitn(4, '\t');
        if f.next() != Some(pane.to_string().as_str()) {
            return Ok(None);
        }
        let dead = f.next() == Some("1");
        let pid = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Ok(Some(PaneStatus {
            dead,
            current_command: f.next().unwrap_or("").to_string(),
            pid,
        }))
    }

    /// Put `data` into the paste buffer `name`, fed on stdin (never through
    /// argv, where tmux would treat a lone `;` as a command separator).
    pub fn load_buffer(&self, name: &str, data: &[u8]) -> Result<()> {
        use std::io::Write;
        let mut child = self
            .command()
            .args(["load-buffer", "-b", name, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run tmux; is it installed? (apt-get install tmux)")?;
        let mut stdin = child
            .stdin
            .take()
            .context("tmux load-buffer has no stdin")?;
        let written = stdin.write_all(data);
        drop(stdin);
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "tmux load-buffer failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        written.context("cannot write the prompt to tmux load-buffer")
    }

    /// Paste buffer `name` into `pane` as a bracketed paste (`-p`: the
    /// application sees one paste, so its newlines do not submit) and delete
    /// the buffer (`-d`).
    pub fn paste_buffer(&self, name: &str, pane: PaneId) -> Result<()> {
        self.run([
            "paste-buffer",
            "-p",
            "-d",
            "-b",
            name,
            "-t",
            &pane.to_string(),
        ])
        .map(drop)
    }

    /// The names of the server's paste buffers.
    pub fn list_buffers(&self) -> Result<Vec<String>> {
        let out = self.run(["list-buffers", "-F", "#{buffer_name}"])?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// Delete a paste buffer (ignoring a buffer that is already gone).
    pub fn delete_buffer(&self, name: &str) {
        let _ = self.run(["delete-buffer", "-b", name]);
    }

    /// Press Enter in `pane`.
    pub fn send_enter(&self, pane: PaneId) -> Result<()> {
        self.run(["send-keys", "-t", &pane.to_string(), "Enter"])
            .map(drop)
    }
}

fn check(args: &[std::ffi::OsString], out: Output) -> Result<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let what = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    bail!("tmux {what} failed: {}", err.trim())
}

fn parse_pane_line(line: &str) -> Option<PaneInfo> {
    // The path comes last so a tab inside it survives the split.
    let f: Vec<&str> = line.splitn(11, '\t').collect();
    if f.len() < 11 {
        return None;
    }
    Some(PaneInfo {
        pane: f[0].parse().ok()?,
        session: f[1].to_string(),
        window: f[2].parse().ok()?,
        index: f[3].parse().ok()?,
        pid: f[4].parse().unwrap_or(0),
        current_command: f[5].to_string(),
        dead: f[6] == "1",
        width: f[7].parse().unwrap_or(0),
        height: f[8].parse().unwrap_or(0),
        dead_time: f[9].parse().ok().filter(|&t| t > 0),
        cwd: f[10].to_string(),
    })
}

/// Is `command` (a pane's foreground command, as tmux reports it) a shell?
/// Typing there runs the text as a command, and a shell in an agent's pane
/// means the agent has finished. A login shell's `-` and a path are
/// ignored.
pub fn is_shell(command: &str) -> bool {
    let c = command.trim_start_matches('-');
    let c = c.rsplit('/').next().unwrap_or(c);
    const SHELLS: &[&str] = &[
        "sh", "bash", "zsh", "fish", "dash", "ash", "ksh", "mksh", "pdksh", "tcsh", "csh", "yash",
        "busybox", "nu", "elvish", "xonsh", "pwsh",
    ];
    SHELLS.contains(&c)
}

/// tmux's version as (major, minor), e.g. "tmux 3.3a" → (3, 3).
pub fn version() -> Result<(u32, u32)> {
    let out = Command::new("tmux")
        .arg("-V")
        .output()
        .context("tmux is not installed (apt-get install tmux / brew install tmux)")?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
        .context("cannot read tmux's version from `tmux -V`")
}

pub fn parse_version(s: &str) -> Option<(u32, u32)> {
    let v = s.split_whitespace().nth(1)?;
    let v = v.strip_prefix("next-").unwrap_or(v);
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor: String = it
        .next()
        .unwrap_or("0")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells() {
        assert!(is_shell("-bash") && is_shell("/bin/zsh") && is_shell("pwsh"));
        assert!(!is_shell("claude") && !is_shell("node"));
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(parse_version("tmux 2.9"), Some((2, 9)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn pane_lines() {
        let p = parse_pane_line("%3\tmain\t1\t0\t4242\tbash\t0\t80\t24\t\t/tmp/a\tb").unwrap();
        assert_eq!(p.pane, PaneId(3));
        assert_eq!(p.dead_time, None);
        let d = parse_pane_line("%4\tmain\t2\t0\t4243\tsleep\t1\t80\t24\t1700000000\t/").unwrap();
        assert!(d.dead);
        assert_eq!(d.dead_time, Some(1_700_000_000));
        assert_eq!(p.location(), "main:1.0");
        assert_eq!(p.cwd, "/tmp/a\tb");
        assert!(parse_pane_line("nonsense").is_none());
    }
}

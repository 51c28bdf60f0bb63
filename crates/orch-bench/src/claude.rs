//! `orch-bench claude`: tell → receipt latency on a real Claude Code pane
//! (target ≤ 300 ms median).
//!
//! The pinned CLI from the end-to-end cache (`.ci/install-claude-code.sh`
//! puts it in `target/e2e-cache`; `$ORCH_E2E_CACHE` or `--claude PATH`
//! override), running offline against the mock Messages API of the e2e
//! tests (the same source file, instant text replies), in a private tmux
//! server with a scratch `HOME`/`CLAUDE_CONFIG_DIR`. Agents are started with
//! `orch-spawn claude`, prompts sent with `orch-tell --wait`.
//!
//! Two figures, both `receipt_ms` as orch-tell reports it (paste → the
//! agent's matching `prompt` event seen), plus its Enter presses:
//! - first tell: `--spawns K` fresh agents, each told once right after
//!   spawn reports it ready (when Claude Code is most likely to drop an
//!   early Enter);
//! - steady: `--tells N` tells one after another to one agent, each waiting
//!   for the reply before the next.
//!
//! Nothing here asserts a timing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../orch-cli/tests/it/support/mock_api.rs"]
mod mock_api;

use crate::common::{Stats, bin};

const API_KEY: &str = "sk-ant-api03-orch-bench-key-0123456789abcdefghijklmnop";

struct Opts {
    spawns: usize,
    tells: usize,
    claude: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        spawns: 5,
        tells: 30,
        claude: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| -> Result<String> {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--spawns" => o.spawns = val("--spawns")?.parse()?,
            "--tells" => o.tells = val("--tells")?.parse()?,
            "--claude" => o.claude = Some(val("--claude")?.into()),
            "-h" | "--help" => {
                println!("orch-bench claude [--spawns K (5)] [--tells N (30)] [--claude PATH]");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} (see orch-bench claude --help)"),
        }
    }
    Ok(o)
}

/// The installed CLI: `target/e2e-cache` next to this binary's profile
/// dir, or `$ORCH_E2E_CACHE`.
fn find_claude() -> Option<PathBuf> {
    let cache = std::env::var_os("ORCH_E2E_CACHE")
        .map(PathBuf::from)
        .or_else(|| Some(bin("x").parent()?.parent()?.join("e2e-cache")))?;
    let pkg = cache.join("node_modules/@anthropic-ai");
    let mut candidates = vec![pkg.join("claude-code/bin/claude.exe")];
    if let Ok(rd) = std::fs::read_dir(&pkg) {
        for e in rd.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with("claude-code-linux-")
            {
                candidates.push(e.path().join("claude"));
            }
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A private tmux server, scratch Claude config and project dir; the mock.
struct World {
    dir: tempfile::TempDir,
    socket: PathBuf,
    pid: u32,
    path: String,
    project: PathBuf,
    mock: mock_api::MockApi,
}

impl World {
    fn new(claude: &Path) -> Result<World> {
        for b in ["orch-spawn", "orch-tell", "orch-hook"] {
            if !bin(b).is_file() {
                bail!(
                    "{b} is not next to orch-bench; build both: cargo build --release -p orch-cli -p orch-bench"
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("orch-bench-claude")
            .tempdir()?;
        let d = dir.path();
        let claude_dir = d.join("claude-bin");
        std::fs::create_dir_all(&claude_dir)?;
        std::os::unix::fs::symlink(claude, claude_dir.join("claude"))?;
        let project = d.join("project");
        std::fs::create_dir_all(&project)?;
        let project = project.canonicalize()?;
        let config = d.join("home/.claude");
        std::fs::create_dir_all(&config)?;
        // Start-up answered in advance (docs/claude-code-e2e.md).
        let state = json!({
            "hasCompletedOnboarding": true,
            "projects": {project.display().to_string(): {"hasTrustDialogAccepted": true}},
            "customApiKeyResponses": {"approved": [&API_KEY[API_KEY.len() - 20..]], "rejected": []},
        });
        std::fs::write(config.join(".claude.json"), state.to_string())?;
        let path = format!(
            "{}:{}:{}",
            claude_dir.display(),
            bin("x").parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let mut w = World {
            socket: d.join("tmux.sock"),
            pid: 0,
            path,
            project,
            mock: mock_api::MockApi::start(),
            dir,
        };
        let st = w
            .base(Command::new("tmux"))
            .arg("-S")
            .arg(&w.socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "bench"])
            .args(["-x", "200", "-y", "50"])
            .status()?;
        if !st.success() {
            bail!("cannot start a private tmux server");
        }
        w.pid = w
            .tmux(&["display-message", "-p", "#{pid}"])?
            .trim()
            .parse()?;
        Ok(w)
    }

    /// orch's and Claude's environment, nothing from the caller's shell.
    fn base(&self, mut c: Command) -> Command {
        let d = self.dir.path();
        c.env_clear()
            .env("PATH", &self.path)
            .env("HOME", d.join("home"))
            .env("CLAUDE_CONFIG_DIR", d.join("home/.claude"))
            .env("ORCH_STATE_DIR", d.join("state"))
            .env("ORCH_CONFIG_DIR", d.join("config"))
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("ANTHROPIC_BASE_URL", self.mock.url())
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .stdin(Stdio::null());
        if self.pid != 0 {
            c.env("TMUX", format!("{},{},0", self.socket.display(), self.pid))
                .env("ORCH_TMUX_SOCKET", &self.socket);
        }
        c
    }

    fn tmux(&self, args: &[&str]) -> Result<String> {
        let out = self
            .base(Command::new("tmux"))
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!("tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `orch-spawn claude`; the pane id.
    fn spawn(&self) -> Result<String> {
        let out = self
            .base(Command::new(bin("orch-spawn")))
            .args(["claude", "--window", "--timeout", "60", "--cwd"])
            .arg(&self.project)
            .output()?;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() {
            bail!(
                "orch-spawn claude failed: {v} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(v["pane"]
            .as_str()
            .context("no pane in spawn's output")?
            .to_string())
    }

    /// `orch-tell --wait`; (receipt_ms, Enter presses).
    fn tell(&self, pane: &str, text: &str) -> Result<(f64, u64)> {
        let mut child = self
            .base(Command::new(bin("orch-tell")))
            .args([pane, "-", "--wait", "--timeout", "60"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().unwrap().write_all(text.as_bytes())?;
        let out = child.wait_with_output()?;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() || v["status"] != "delivered" {
            bail!(
                "orch-tell to {pane}: {v} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok((
            v["receipt_ms"].as_f64().context("no receipt_ms")?,
            v["attempts"].as_u64().unwrap_or(0),
        ))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn report(what: &str, receipts: &[f64], presses: &[u64]) {
    let stats = Stats::new(
        receipts
            .iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect(),
    );
    let retried = presses.iter().filter(|&&n| n > 1).count();
    println!(
        "{what:<34} {}  (Enter retried in {retried} of {})",
        stats.line(),
        presses.len()
    );
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let Some(claude) = o.claude.clone().or_else(find_claude) else {
        println!(
            "SKIPPED: no Claude Code CLI in the e2e cache; run .ci/install-claude-code.sh (or pass --claude PATH)"
        );
        return Ok(());
    };
    let version = Command::new(&claude).arg("--version").output()?;
    println!(
        "claude: {} ({})",
        claude.display(),
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let w = World::new(&claude)?;
    let started = Instant::now();

    let (mut first, mut first_presses) = (Vec::new(), Vec::new());
    for i in 0..o.spawns {
        let pane = w.spawn()?;
        let (ms, n) = w.tell(&pane, &format!("first prompt to agent {i}"))?;
        first.push(ms);
        first_presses.push(n);
        w.tmux(&["kill-pane", "-t", &pane])?;
    }
    if !first.is_empty() {
        report("first tell after spawn", &first, &first_presses);
    }

    let (mut steady, mut presses) = (Vec::new(), Vec::new());
    if o.tells > 0 {
        let pane = w.spawn()?;
        for i in 0..o.tells {
            let (ms, n) = w.tell(&pane, &format!("prompt number {i} of the steady run"))?;
            steady.push(ms);
            presses.push(n);
        }
        report("steady, one agent", &steady, &presses);
    }
    let mut all = first.clone();
    all.extend(&steady);
    let mut all_presses = first_presses.clone();
    all_presses.extend(&presses);
    report("all tells", &all, &all_presses);
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

//! `orch-bench claude`: tell → receipt latency on a real Claude Code pane
//! (target ≤ 300 ms median), and spawn → ready.
//!
//! The tested CLIs from the end-to-end cache (`.ci/install-agent.sh claude`
//! and `claude-newest` put them in `target/e2e-cache`; `--cli pinned|newest`
//! picks one, both by default; `$ORCH_E2E_CACHE` or `--claude PATH`
//! override), running offline against the test kit's mock Messages API
//! (instant replies) in the kit's Claude world: a private tmux server, a
//! scratch `HOME`/`CLAUDE_CONFIG_DIR` with start-up answered. Agents are
//! started with `orch-spawn claude`, prompts sent with `orch-tell --wait`.
//!
//! `ready_ms` as orch-spawn reports it (launch → Claude's SessionStart and
//! its idle footer drawn), for every agent started. Then two figures, both
//! `receipt_ms` as orch-tell reports it (paste → the
//! agent's matching `prompt` event seen), plus its Enter presses:
//! - first tell: `--spawns K` fresh agents, each told once right after
//!   spawn reports it ready (when Claude Code is most likely to drop an
//!   early Enter);
//! - steady: `--tells N` tells one after another to one agent, each waiting
//!   for the reply before the next.
//!
//! Nothing here asserts a timing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use orch_testkit::claude::{ClaudeEnv, ClaudeOpts, ClaudeVersion, find_installed};
use orch_testkit::output::output_with_stdin;
use serde_json::Value;

use crate::stats::Stats;

struct Opts {
    spawns: usize,
    tells: usize,
    claude: Option<PathBuf>,
    versions: Vec<ClaudeVersion>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        spawns: 5,
        tells: 30,
        claude: None,
        versions: vec![ClaudeVersion::Pinned, ClaudeVersion::Newest],
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
            "--cli" => {
                o.versions = match val("--cli")?.as_str() {
                    "pinned" => vec![ClaudeVersion::Pinned],
                    "newest" => vec![ClaudeVersion::Newest],
                    "both" => vec![ClaudeVersion::Pinned, ClaudeVersion::Newest],
                    other => bail!("--cli takes pinned, newest or both, not {other:?}"),
                }
            }
            "-h" | "--help" => {
                println!(
                    "orch-bench claude [--spawns K (5)] [--tells N (30)] [--cli pinned|newest|both (both)] [--claude PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} (see orch-bench claude --help)"),
        }
    }
    Ok(o)
}

/// `orch-spawn claude`; the pane id and `ready_ms`.
fn spawn(w: &ClaudeEnv) -> Result<(String, f64)> {
    let out = w
        .cmd("orch-spawn")
        .args(["claude", "--window", "--timeout", "60", "--cwd"])
        .arg(&w.project)
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() {
        bail!(
            "orch-spawn claude failed: {v} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((
        v["pane"]
            .as_str()
            .context("no pane in spawn's output")?
            .to_string(),
        v["ready_ms"].as_f64().context("no ready_ms")?,
    ))
}

/// `orch-tell --wait`; (receipt_ms, Enter presses).
fn tell(w: &ClaudeEnv, pane: &str, text: &str) -> Result<(f64, u64)> {
    let mut c = w.cmd("orch-tell");
    c.args([pane, "-", "--wait", "--timeout", "60"]);
    let out = output_with_stdin(&mut c, text.as_bytes());
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

fn stats(ms: &[f64]) -> Stats {
    Stats::new(
        ms.iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect(),
    )
}

fn report(what: &str, receipts: &[f64], presses: &[u64]) {
    let stats = stats(receipts);
    let retried = presses.iter().filter(|&&n| n > 1).count();
    println!(
        "{what:<34} {}  (Enter retried in {retried} of {})",
        stats.line(),
        presses.len()
    );
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    orch_testkit::bins::require(&["orch-spawn", "orch-tell", "orch-hook"])
        .map_err(anyhow::Error::msg)?;
    for v in o.versions.clone() {
        run_one(&o, v)?;
    }
    Ok(())
}

fn run_one(o: &Opts, v: ClaudeVersion) -> Result<()> {
    let Some(claude) = o.claude.clone().or_else(|| find_installed(v)) else {
        println!(
            "SKIPPED: no {} Claude Code CLI in the e2e cache; run .ci/install-agent.sh {} (or pass --claude PATH)",
            v.agent(),
            v.agent()
        );
        return Ok(());
    };
    let w = ClaudeEnv::start(v, claude, ClaudeOpts::default(), "orch-bench-claude")
        .map_err(anyhow::Error::msg)?;
    // In the private world: even `--version` may touch its config dir.
    let version = w.command(&w.claude).arg("--version").output()?;
    println!(
        "claude ({}): {} ({})",
        v.agent(),
        w.claude.display(),
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let started = Instant::now();

    let mut ready = Vec::new();
    let (mut first, mut first_presses) = (Vec::new(), Vec::new());
    for i in 0..o.spawns {
        let (pane, ready_ms) = spawn(&w)?;
        ready.push(ready_ms);
        let (ms, n) = tell(&w, &pane, &format!("first prompt to agent {i}"))?;
        first.push(ms);
        first_presses.push(n);
        w.tmux(&["kill-pane", "-t", &pane]);
    }
    if !first.is_empty() {
        report("first tell after spawn", &first, &first_presses);
    }

    let (mut steady, mut presses) = (Vec::new(), Vec::new());
    if o.tells > 0 {
        let (pane, ready_ms) = spawn(&w)?;
        ready.push(ready_ms);
        for i in 0..o.tells {
            let (ms, n) = tell(&w, &pane, &format!("prompt number {i} of the steady run"))?;
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
    if !ready.is_empty() {
        println!(
            "{:<34} {}",
            "spawn -> ready (ready_ms)",
            stats(&ready).line()
        );
    }
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

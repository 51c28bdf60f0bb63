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

use std::time::Instant;

use anyhow::{Result, bail};
use orch_testkit::AgentWorld;
use orch_testkit::claude::{ClaudeEnv, ClaudeOpts, ClaudeVersion, find_installed};

use crate::harness_timing::{self, Harness, Receipts, Runs, first_tells, report_ms, steady_tells};
use crate::stats::flags;

struct Opts {
    runs: Runs,
    versions: Vec<ClaudeVersion>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let f = flags(
        args,
        &["--spawns", "--tells", "--cli", "--claude"],
        "orch-bench claude [--spawns K (5)] [--tells N (30)] [--cli pinned|newest|both (both)] [--claude PATH]",
    )?;
    Ok(Opts {
        runs: Runs::read(&f, "--claude")?,
        versions: match f.value("--cli").unwrap_or("both") {
            "pinned" => vec![ClaudeVersion::Pinned],
            "newest" => vec![ClaudeVersion::Newest],
            "both" => vec![ClaudeVersion::Pinned, ClaudeVersion::Newest],
            other => bail!("--cli takes pinned, newest or both, not {other:?}"),
        },
    })
}

impl Harness for ClaudeEnv {
    fn name(&self) -> &'static str {
        "claude"
    }
    fn world(&self) -> &AgentWorld {
        &self.world
    }
    fn spawn_flags(&self) -> Vec<&str> {
        vec!["--timeout", "60"]
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    harness_timing::require_orch()?;
    for v in o.versions.clone() {
        run_one(&o, v)?;
    }
    Ok(())
}

fn run_one(o: &Opts, v: ClaudeVersion) -> Result<()> {
    let Some(claude) = o.runs.cli.clone().or_else(|| find_installed(v)) else {
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

    let (mut ready, first) = first_tells(&w, o.runs.spawns)?;
    if !first.is_empty() {
        first.report("first tell after spawn");
    }

    let mut steady = Receipts::default();
    if o.runs.tells > 0 {
        let (pane, ready_ms) = w.spawn()?;
        ready.push(ready_ms);
        steady = steady_tells(&w, &pane, o.runs.tells)?;
        steady.report("steady, one agent");
    }
    first.and(&steady).report("all tells");
    if !ready.is_empty() {
        report_ms("spawn -> ready (ready_ms)", &ready);
    }
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

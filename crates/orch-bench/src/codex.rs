//! `orch-bench codex`: spawn → ready and tell → receipt on a real Codex
//! pane (receipt target ≤ 300 ms median).
//!
//! The pinned CLI (`.ci/agent-versions`, installed into the e2e cache on
//! first use; `--codex PATH` overrides), offline against the test kit's
//! mock Responses API (instant replies) in the kit's Codex world: a private
//! tmux server and `CODEX_HOME`. Agents are started with `orch-spawn codex`,
//! prompts sent with `orch-tell --wait`.
//!
//! Figures:
//! - spawn → ready: `ready_ms` as orch-spawn reports it (pane made → the
//!   idle screen and the thread lock seen), over `--spawns K` agents, each
//!   then told once (the first tell's receipt);
//! - steady receipts: `--tells N` tells one after another to one agent;
//! - 4 KiB multi-line pastes: `--pastes M` more tells to it.
//!
//! `receipt_ms` is paste → Codex's own `UserPromptSubmit` event seen.
//! Nothing here asserts a timing.

use std::time::Instant;

use anyhow::Result;
use orch_testkit::AgentWorld;
use orch_testkit::codex::CodexEnv;
use orch_testkit::output::big_prompt;
use serde_json::Value;

use crate::harness_timing::{self, Harness, Receipts, Runs, first_tells, report_ms, steady_tells};
use crate::stats::flags;

struct Opts {
    runs: Runs,
    /// 4 KiB multi-line pastes after the steady tells.
    pastes: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let f = flags(
        args,
        &["--spawns", "--tells", "--pastes", "--codex"],
        "orch-bench codex [--spawns K (5)] [--tells N (30)] [--pastes M (5)] [--codex PATH]",
    )?;
    Ok(Opts {
        runs: Runs::read(&f, "--codex")?,
        pastes: f.number("--pastes")?.unwrap_or(5),
    })
}

impl Harness for CodexEnv {
    fn name(&self) -> &'static str {
        "codex"
    }
    fn world(&self) -> &AgentWorld {
        &self.world
    }
    fn spawn_flags(&self) -> Vec<&str> {
        vec!["--timeout", "60"]
    }
    /// Codex's thread is its session: a spawn without one is not ready.
    fn spawned(&self, report: &Value) -> bool {
        !report["session_id"].is_null()
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let Some(codex) = o
        .runs
        .cli
        .clone()
        .or_else(|| orch_testkit::agents::agent_bin("codex"))
    else {
        println!("SKIPPED: no Codex CLI (npm missing?); pass --codex PATH");
        return Ok(());
    };
    harness_timing::require_orch()?;
    let w = CodexEnv::start(codex, "orch-bench-codex").map_err(anyhow::Error::msg)?;
    let version = w.command(&w.codex).arg("--version").output()?;
    println!(
        "codex: {} ({})",
        w.codex.display(),
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let started = Instant::now();

    let (ready, first) = first_tells(&w, o.runs.spawns)?;
    if !ready.is_empty() {
        report_ms("spawn → ready", &ready);
        first.report("first tell after spawn");
    }

    let mut steady = Receipts::default();
    if o.runs.tells + o.pastes > 0 {
        let (pane, _) = w.spawn()?;
        steady = steady_tells(&w, &pane, o.runs.tells)?;
        if !steady.is_empty() {
            steady.report("steady, one agent");
        }
        let mut big = Receipts::default();
        for i in 0..o.pastes {
            let text = big_prompt(&format!("4 KiB paste number {i}"), 4096, "END");
            big.push(w.tell(&pane, &text)?);
        }
        if !big.is_empty() {
            big.report("4 KiB multi-line paste");
        }
    }
    first.and(&steady).report("all short tells");
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

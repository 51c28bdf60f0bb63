//! `orch-bench gemini`: spawn → ready and tell → receipt on real Gemini CLI
//! panes (target ≤ 300 ms median receipt).
//!
//! The pinned CLI (`.ci/agent-versions`, installed into the e2e cache by
//! `.ci/install-agent.sh gemini`; `ORCH_AGENT_VERSION_GEMINI=latest` or
//! `--gemini PATH` for another), offline against the test kit's Gemini mock
//! (instant replies, streamed in chunks), in the kit's Gemini world
//! ([`orch_testkit::gemini::GeminiEnv`]). Agents are started with
//! `orch-spawn gemini`, prompts sent with `orch-tell --wait`.
//!
//! Figures: `ready_ms` as orch-spawn reports it (spawn → the agent's own
//! `session_start`, then its input box steady), and `receipt_ms` as
//! orch-tell reports it (paste → the matching `prompt` event from Gemini's
//! `BeforeAgent` hook; it includes Gemini's Enter floor of 100 ms after a
//! paste, `harness::gemini`), first tell after each spawn and a steady run.
//!
//! Nothing here asserts a timing.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use orch_testkit::AgentWorld;
use orch_testkit::gemini::GeminiEnv;
use serde_json::Value;

use crate::harness_timing::{self, Harness, Receipts, Runs, first_tells, report_ms, steady_tells};
use crate::stats::flags;

fn parse(args: &[String]) -> Result<Runs> {
    let f = flags(
        args,
        &["--spawns", "--tells", "--gemini"],
        "orch-bench gemini [--spawns K (5)] [--tells N (30)] [--gemini PATH]",
    )?;
    Runs::read(&f, "--gemini")
}

impl Harness for GeminiEnv {
    fn name(&self) -> &'static str {
        "gemini"
    }
    fn world(&self) -> &AgentWorld {
        &self.world
    }
    fn spawn_flags(&self) -> Vec<&str> {
        vec!["--timeout", "120"]
    }
    /// Ready by its own event, not inferred from the screen.
    fn spawned(&self, report: &Value) -> bool {
        report["inferred"] != true
    }
    /// By orch, as a user would.
    fn stop(&self, pane: &str) -> Result<()> {
        let out = self.cmd("orch-spawn").args(["--stop", pane]).output()?;
        if !out.status.success() {
            bail!(
                "orch-spawn --stop {pane}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// The CLI in the e2e cache, never installing it (`orch-bench all` must
/// not reach the registry), unless a version override asks for one.
fn installed() -> Option<PathBuf> {
    use orch_testkit::agents;
    if agents::version_override("gemini").is_some() {
        return agents::agent_bin("gemini");
    }
    let v = agents::pinned_version("gemini")?;
    let p = agents::cache_dir().join(format!("gemini-{v}/node_modules/.bin/gemini"));
    p.exists().then_some(p)
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let Some(gemini) = o.cli.clone().or_else(installed) else {
        println!("SKIPPED: no Gemini CLI (see .ci/install-agent.sh gemini, or pass --gemini PATH)");
        return Ok(());
    };
    harness_timing::require_orch()?;
    let w = GeminiEnv::start(gemini, "orch-bench-gemini").map_err(anyhow::Error::msg)?;
    let version = w.command(&w.gemini).arg("--version").output()?;
    println!(
        "gemini: {} ({}), hooks {:?}",
        w.gemini.display(),
        String::from_utf8_lossy(&version.stdout).trim(),
        w.hooks
    );
    let started = Instant::now();

    let (ready, first) = first_tells(&w, o.spawns)?;
    if !ready.is_empty() {
        report_ms("spawn → ready", &ready);
        first.report("first tell after spawn");
    }

    let mut steady = Receipts::default();
    if o.tells > 0 {
        let (pane, _) = w.spawn()?;
        steady = steady_tells(&w, &pane, o.tells)?;
        steady.report("steady, one agent");
        w.stop(&pane)?;
    }
    first.and(&steady).report("all tells");
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

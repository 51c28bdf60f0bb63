//! `orch-bench pi` / `orch-bench opencode`: spawn → ready and tell →
//! receipt on the real CLI (the pinned version from the e2e cache,
//! `.ci/install-agent.sh NAME`), offline against the kit's Chat
//! Completions mock (instant replies), in the kit's world for that CLI.
//!
//! - spawn → ready: `ready_ms` as `orch-spawn` reports it, for `--spawns K`
//!   fresh agents, each told once right after (the first tell);
//! - tell → receipt: `receipt_ms` as `orch-tell --wait` reports it (paste →
//!   the agent's matching `prompt` event), for the first tells and for
//!   `--tells N` tells one after another to one agent.
//!
//! Nothing here asserts a timing.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use orch_testkit::AgentWorld;
use orch_testkit::opencode::OpencodeEnv;
use orch_testkit::pi::PiEnv;
use serde_json::Value;

use crate::harness_timing::{
    self, Harness, Receipt, Receipts, first_tells, report_ms, steady_tells, tell_wait,
};
use crate::stats::numbers;

/// The world of one CLI.
enum World {
    Pi(PiEnv),
    Opencode(OpencodeEnv),
}

impl World {
    /// What the pane logged and shows, to say why a tell failed.
    fn describe(&self, pane: &str) -> String {
        let env = self.world();
        let events: Vec<String> = env
            .events(pane)
            .iter()
            .map(|e| format!("{} {} {}", e["seq"], e["kind"], e["ts"]))
            .collect();
        format!(
            "events: {events:?}\nscreen:\n{}",
            env.try_capture(pane).unwrap_or_default()
        )
    }
}

impl Harness for World {
    fn name(&self) -> &'static str {
        match self {
            World::Pi(_) => "pi",
            World::Opencode(_) => "opencode",
        }
    }
    fn world(&self) -> &AgentWorld {
        match self {
            World::Pi(w) => &w.world,
            World::Opencode(w) => &w.world,
        }
    }
    fn spawn_flags(&self) -> Vec<&str> {
        let model = match self {
            World::Pi(_) => orch_testkit::pi::MODEL,
            World::Opencode(_) => orch_testkit::opencode::MODEL,
        };
        vec!["--timeout", "240", "--model", model]
    }
    /// The agent waits for its first prompt.
    fn spawned(&self, report: &Value) -> bool {
        report["state"] == "idle"
    }
    fn tell_timeout(&self) -> u32 {
        120
    }
    fn tell(&self, pane: &str, text: &str) -> Result<Receipt> {
        tell_wait(self, pane, text).map_err(|e| {
            // Look again once the agent had time to catch up.
            std::thread::sleep(Duration::from_secs(15));
            anyhow!("{e:#}\n{}", self.describe(pane))
        })
    }
}

pub fn run(harness: &str, args: &[String]) -> Result<()> {
    let usage = format!("orch-bench {harness} [--spawns K (3)] [--tells N (20)]");
    let n = numbers(args, &["--spawns", "--tells"], &usage)?;
    let (spawns, tells) = (n[0].unwrap_or(3), n[1].unwrap_or(20));
    harness_timing::require_orch()?;
    let w = match harness {
        "pi" => PiEnv::new().map(World::Pi),
        _ => OpencodeEnv::new().map(World::Opencode),
    };
    let Some(w) = w else {
        println!("SKIPPED: the {harness} CLI cannot be installed here (see above)");
        return Ok(());
    };
    let started = Instant::now();
    let (mut ready, first) = first_tells(&w, spawns)?;
    let mut steady = Receipts::default();
    if tells > 0 {
        let (pane, ms) = w.spawn()?;
        ready.push(ms);
        steady = steady_tells(&w, &pane, tells)?;
        w.stop(&pane)?;
    }
    report_ms("spawn -> ready", &ready);
    first.report("tell -> receipt, first");
    steady.report("tell -> receipt, steady");
    first.and(&steady).report("tell -> receipt, all");
    println!("({:.1} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

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

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use orch_testkit::opencode::OpencodeEnv;
use orch_testkit::output::output_with_stdin;
use orch_testkit::pi::PiEnv;
use serde_json::Value;

use crate::stats::{Stats, numbers};

/// The world of one CLI.
enum World {
    Pi(PiEnv),
    Opencode(OpencodeEnv),
}

impl World {
    fn cmd(&self, name: &str) -> Command {
        match self {
            World::Pi(w) => w.cmd(name),
            World::Opencode(w) => w.cmd(name),
        }
    }
    fn project(&self) -> &Path {
        match self {
            World::Pi(w) => &w.project,
            World::Opencode(w) => &w.project,
        }
    }
    fn model(&self) -> &'static str {
        match self {
            World::Pi(_) => orch_testkit::pi::MODEL,
            World::Opencode(_) => orch_testkit::opencode::MODEL,
        }
    }
    fn env(&self) -> &orch_testkit::TestEnv {
        match self {
            World::Pi(w) => &w.env,
            World::Opencode(w) => &w.env,
        }
    }
    fn kill(&self, pane: &str) {
        let _ = self.env().try_tmux(&["kill-pane", "-t", pane]);
    }
    /// What the pane logged and shows, to say why a tell failed.
    fn describe(&self, pane: &str) -> String {
        let env = self.env();
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

/// `orch-spawn NAME`; (pane, ready_ms).
fn spawn(w: &World, harness: &str) -> Result<(String, f64)> {
    let out = w
        .cmd("orch-spawn")
        .args([
            harness,
            "--window",
            "--timeout",
            "240",
            "--model",
            w.model(),
            "--cwd",
        ])
        .arg(w.project())
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || v["state"] != "idle" {
        bail!(
            "orch-spawn {harness} failed: {v} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((
        v["pane"].as_str().context("no pane")?.to_string(),
        v["ready_ms"].as_f64().context("no ready_ms")?,
    ))
}

/// `orch-tell --wait`; (receipt_ms, enter_ms).
fn tell(w: &World, pane: &str, text: &str) -> Result<(f64, f64)> {
    let mut c = w.cmd("orch-tell");
    c.args([pane, "-", "--wait", "--timeout", "120"]);
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
        v["enter_ms"].as_f64().unwrap_or(f64::NAN),
    ))
}

fn line(what: &str, ms: &[f64]) {
    let stats = Stats::new(
        ms.iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect(),
    );
    println!("{what:<28} {}  (n={})", stats.line(), ms.len());
}

pub fn run(harness: &str, args: &[String]) -> Result<()> {
    let usage = format!("orch-bench {harness} [--spawns K (3)] [--tells N (20)]");
    let n = numbers(args, &["--spawns", "--tells"], &usage)?;
    let (spawns, tells) = (n[0].unwrap_or(3), n[1].unwrap_or(20));
    orch_testkit::bins::require(&["orch-spawn", "orch-tell", "orch-hook"])
        .map_err(anyhow::Error::msg)?;
    let w = match harness {
        "pi" => PiEnv::new().map(World::Pi),
        _ => OpencodeEnv::new().map(World::Opencode),
    };
    let Some(w) = w else {
        println!("SKIPPED: the {harness} CLI cannot be installed here (see above)");
        return Ok(());
    };
    let started = Instant::now();
    let (mut ready, mut first, mut enters) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..spawns {
        let (pane, ms) = spawn(&w, harness)?;
        ready.push(ms);
        match tell(&w, &pane, &format!("first prompt to agent {i}")) {
            Ok((ms, enter)) => {
                first.push(ms);
                enters.push(enter);
            }
            Err(e) => {
                // Look again once the agent had time to catch up.
                std::thread::sleep(Duration::from_secs(15));
                bail!("{e:#}\n{}", w.describe(&pane));
            }
        }
        w.kill(&pane);
    }
    let mut steady = Vec::new();
    if tells > 0 {
        let (pane, ms) = spawn(&w, harness)?;
        ready.push(ms);
        for i in 0..tells {
            let (ms, enter) = tell(&w, &pane, &format!("prompt number {i} of the steady run"))?;
            steady.push(ms);
            enters.push(enter);
        }
        w.kill(&pane);
    }
    line("spawn -> ready", &ready);
    line("tell -> receipt, first", &first);
    line("tell -> receipt, steady", &steady);
    let mut all = first;
    all.extend(&steady);
    line("tell -> receipt, all", &all);
    // orch's part of each receipt: paste → the first Enter.
    enters.retain(|e| e.is_finite());
    line("paste -> Enter, all", &enters);
    println!("({:.1} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

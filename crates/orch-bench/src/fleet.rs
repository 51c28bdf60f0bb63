//! `orch-bench fleet`: fan-out and fan-in on echo agents in a private tmux
//! server (issue 15).
//!
//! - fan-out: one `orch tell --to p1,…,pN TEXT` to `--agents N` agents,
//!   `--rounds R` times: the command's wall time, and each target's
//!   `receipt_ms` (paste → its prompt event) across all rounds;
//! - fan-in: every agent is told a turn that takes `--turn-ms` ms, then
//!   `orch listen --all p1 … pN` starts; its wake is the time from the last
//!   target's `stop` event (its `ts`) to listen's exit.
//!
//! Nothing here asserts a timing.

use std::process::Stdio;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::stats::{numbers, percentile};
use crate::world;

fn summary(name: &str, mut xs: Vec<f64>) -> Value {
    xs.sort_by(f64::total_cmp);
    let p = |q: f64| (percentile(&xs, q) * 10.0).round() / 10.0;
    println!(
        "  {name:<34} n={:<4} median {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        xs.len(),
        p(50.0),
        p(99.0),
        p(100.0)
    );
    serde_json::json!({"n": xs.len(), "median": p(50.0), "p99": p(99.0), "max": p(100.0)})
}

pub fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("orch-bench fleet [--agents N (50)] [--rounds R (5)] [--turn-ms T (500)]");
        return Ok(());
    }
    let n = numbers(
        args,
        &["--agents", "--rounds", "--turn-ms"],
        "see orch-bench fleet --help",
    )?;
    let (agents, rounds, turn_ms) = (n[0].unwrap_or(50), n[1].unwrap_or(5), n[2].unwrap_or(500));
    let world = world::with_tmux(
        None,
        &["orch-tell", "orch-listen", "orch-echo", "orch-hook"],
    )?;
    let panes: Vec<String> = (0..agents)
        .map(|_| world.start_echo("--turn-ms 0"))
        .collect();
    let to = panes.join(",");

    println!("fan-out: orch tell --to <{agents} echo agents>, {rounds} rounds");
    let (mut walls, mut receipts) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let t = Instant::now();
        let out = world
            .cmd("orch-tell")
            .args(["--to", &to, &format!("fan-out round {r}")])
            .output()?;
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if !out.status.success() || lines.len() != agents {
            bail!(
                "round {r}: exit {:?}, {} lines: {}",
                out.status.code(),
                lines.len(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for l in &lines {
            receipts.push(l["receipt_ms"].as_f64().context("no receipt_ms")?);
        }
        // Let every turn end before the next round (turns take ~0 ms).
        let mut args = vec!["--all".to_string()];
        args.extend(panes.iter().cloned());
        args.extend(["--timeout".into(), "30".into()]);
        world
            .cmd("orch-listen")
            .args(&args)
            .stdout(Stdio::null())
            .status()?;
    }
    let wall = summary("tell --to wall (all delivered)", walls);
    let receipt = summary("per-target receipt_ms", receipts);

    println!("fan-in: orch listen --all <{agents} agents>, turns of {turn_ms} ms");
    let text = format!("fan-in [[slow:{turn_ms}]]");
    let out = world.cmd("orch-tell").args(["--to", &to, &text]).output()?;
    if !out.status.success() {
        bail!("fan-in tell: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut args = vec!["--all".to_string()];
    args.extend(panes.iter().cloned());
    args.extend(["--timeout".into(), "60".into()]);
    let out = world.cmd("orch-listen").args(&args).output()?;
    let exited_ns = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if events.len() != agents {
        bail!("listen --all printed {} events", events.len());
    }
    let last = events
        .iter()
        .filter_map(|e| e["ts"].as_u64())
        .max()
        .unwrap_or(0);
    let wake_ms = exited_ns.saturating_sub(last) as f64 / 1e6;
    println!("  listen --all wake after the last turn end: {wake_ms:.1} ms (to process exit)");
    println!(
        "{}",
        serde_json::json!({"bench": "fleet", "agents": agents,
            "fan_out": {"wall_ms": wall, "receipt_ms": receipt},
            "fan_in": {"turn_ms": turn_ms, "wake_ms": (wake_ms * 10.0).round() / 10.0}})
    );
    Ok(())
}

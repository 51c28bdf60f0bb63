//! `orch-bench restore`: how long `orch restore` takes to bring back a
//! fleet of echo agents after their tmux server died.
//!
//! Per round: a private tmux server, `--agents N` named echo agents
//! spawned headless (each told once, so there is a conversation to
//! resume), the server killed and a new one started on the same socket,
//! then `orch-restore` timed from start to exit; its per-agent `ready_ms`
//! are collected too. Nothing here asserts a timing.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::stats::{numbers, percentile};
use crate::world;

pub fn run(args: &[String]) -> Result<()> {
    let n = numbers(
        args,
        &["--agents", "--rounds"],
        "orch-bench restore [--agents N (10)] [--rounds R (3)]",
    )?;
    let (agents, rounds) = (n[0].unwrap_or(10), n[1].unwrap_or(3));
    if agents == 0 || rounds == 0 {
        bail!("--agents and --rounds must be at least 1");
    }
    let mut walls = Vec::new();
    let mut readies = Vec::new();
    for _ in 0..rounds {
        let mut w = world::with_tmux(
            None,
            &[
                "orch-spawn",
                "orch-echo",
                "orch-hook",
                "orch-tell",
                "orch-restore",
            ],
        )?;
        for i in 0..agents {
            let name = format!("a{i}");
            let out = w
                .cmd("orch-spawn")
                .args([
                    "echo",
                    "--headless",
                    "--name",
                    &name,
                    "--",
                    "--turn-ms",
                    "10",
                ])
                .output()?;
            if !out.status.success() {
                bail!("spawn: {}", String::from_utf8_lossy(&out.stderr));
            }
            let out = w
                .cmd("orch-tell")
                .args([&name, "--wait", "hello"])
                .output()?;
            if !out.status.success() {
                bail!("tell: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        w.restart_tmux();
        let t = Instant::now();
        let out = w.cmd("orch-restore").output()?;
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        if !out.status.success() {
            bail!("restore: {}", String::from_utf8_lossy(&out.stderr));
        }
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .context("restore printed something else than JSON lines")?;
        if lines.len() != agents || lines.iter().any(|l| l["status"] != "restored") {
            bail!("not every agent was restored: {lines:?}");
        }
        readies.extend(lines.iter().filter_map(|l| l["ready_ms"].as_f64()));
    }
    walls.sort_by(|a, b| a.total_cmp(b));
    readies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "orch-restore of {agents} echo agents, {rounds} rounds: wall median {:.0} ms (min {:.0}, max {:.0}); per-agent ready_ms median {:.0}, p90 {:.0}",
        percentile(&walls, 50.0),
        walls[0],
        walls[walls.len() - 1],
        percentile(&readies, 50.0),
        percentile(&readies, 90.0)
    );
    Ok(())
}

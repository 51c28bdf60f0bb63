//! Spawn-to-ready time of the echo agent.
//!
//! A private tmux server and state dir; `orch-spawn echo` run `--runs` times
//! per placement (a headless window, and a split off a pane as an operator
//! would), each pane killed afterwards. Reports, per placement, the
//! `ready_ms` orch-spawn prints (from its start to the agent's
//! `session_start`) and the wall time of the whole orch-spawn process.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::stats::{numbers, percentile};
use crate::world;

fn summary(name: &str, xs: &mut [f64]) -> String {
    xs.sort_by(|a, b| a.total_cmp(b));
    format!(
        "{name:<28} median {:>6.1} ms   p90 {:>6.1} ms   min {:>6.1} ms   max {:>6.1} ms",
        percentile(xs, 50.0),
        percentile(xs, 90.0),
        xs[0],
        xs[xs.len() - 1]
    )
}

pub fn run(args: Vec<String>) -> Result<()> {
    let runs = numbers(&args, &["--runs"], "spawn takes --runs N")?[0].unwrap_or(25);
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let world = world::with_tmux(None, &["orch-spawn", "orch-echo", "orch-hook"])?;
    let spawn = orch_testkit::bin("orch-spawn");
    let caller = world.pane_format("bench:0", "#{pane_id}");

    println!(
        "orch-bench spawn: {runs} spawns of the echo agent per placement ({})",
        spawn.display()
    );
    for (label, extra, from) in [
        ("headless", vec!["--headless"], None),
        (
            "split (--position right)",
            vec!["--position", "right"],
            Some(&caller),
        ),
    ] {
        let mut ready = Vec::with_capacity(runs);
        let mut wall = Vec::with_capacity(runs);
        for _ in 0..runs {
            let mut c = world.command(&spawn);
            c.arg("echo").args(&extra);
            if let Some(p) = from {
                c.env("TMUX_PANE", p);
            }
            let t = Instant::now();
            let out = c.output()?;
            wall.push(t.elapsed().as_secs_f64() * 1000.0);
            let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
                format!(
                    "orch-spawn printed no JSON: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            if v["state"] != "idle" {
                bail!("spawn did not become ready: {v}");
            }
            ready.push(v["ready_ms"].as_f64().context("no ready_ms")?);
            let pane = v["pane"].as_str().context("no pane")?;
            world.tmux(&["kill-pane", "-t", pane]);
        }
        println!("{label}:");
        println!("  {}", summary("ready_ms (reported)", &mut ready));
        println!("  {}", summary("orch-spawn wall time", &mut wall));
    }
    // Ending the world waits for the killed agents' last hooks.
    Ok(())
}

//! `orch-bench tell`: how long from `orch-tell` pasting a prompt to the
//! agent's acknowledgement (its `prompt` event), on echo agents in a private
//! tmux server.
//!
//! Two runs:
//! - sequential: one agent, `--seq N` tells one after another;
//! - parallel: `--agents M` agents, `--rounds R` rounds in which M
//!   `orch-tell` processes (one per agent) start at once.
//!
//! Figures: `receipt_ms` as orch-tell reports it (paste → matching prompt
//! event seen), and the wall time of each orch-tell process as seen from
//! outside (start → exit, including its own checks and the wait for the
//! agent's previous turn to end). Nothing here asserts a timing.

use std::process::{Child, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use orch_testkit::TestEnv;
use serde_json::Value;

use crate::stats::{numbers, percentile};
use crate::world;

struct Opts {
    seq: usize,
    agents: usize,
    rounds: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("orch-bench tell [--seq N (200)] [--agents M (20)] [--rounds R (10)]");
        std::process::exit(0);
    }
    let n = numbers(
        args,
        &["--seq", "--agents", "--rounds"],
        "see orch-bench tell --help",
    )?;
    Ok(Opts {
        seq: n[0].unwrap_or(200),
        agents: n[1].unwrap_or(20),
        rounds: n[2].unwrap_or(10),
    })
}

fn tell(world: &TestEnv, pane: &str, text: &str) -> Result<Child> {
    Ok(world
        .cmd("orch-tell")
        .args([pane, text])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// One finished tell: its reported receipt and its wall time.
fn finish(child: Child, started: Instant) -> Result<(f64, f64)> {
    let out = child.wait_with_output()?;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "orch-tell printed no JSON (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if v["status"] != "delivered" {
        bail!("not delivered: {v}");
    }
    let receipt = v["receipt_ms"].as_f64().context("no receipt_ms")?;
    Ok((receipt, wall))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    percentile(sorted, p * 100.0)
}

fn summary(name: &str, xs: Vec<f64>) -> Value {
    let mut xs: Vec<f64> = xs.into_iter().map(|x| (x * 10.0).round() / 10.0).collect();
    xs.sort_by(f64::total_cmp);
    let s = serde_json::json!({
        "n": xs.len(),
        "median": pct(&xs, 0.5),
        "p90": pct(&xs, 0.9),
        "p99": pct(&xs, 0.99),
        "max": xs[xs.len() - 1],
    });
    println!(
        "  {name:<28} n={:<4} median {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        xs.len(),
        s["median"].as_f64().unwrap(),
        s["p90"].as_f64().unwrap(),
        s["p99"].as_f64().unwrap(),
        s["max"].as_f64().unwrap()
    );
    s
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let world = world::with_tmux(None, &["orch-tell", "orch-echo", "orch-hook"])?;

    println!("tell → receipt, sequential: 1 echo agent, {} tells", o.seq);
    let pane = world.start_echo("--turn-ms 0");
    for i in 0..5 {
        let t = Instant::now();
        finish(tell(&world, &pane, &format!("warm-up {i}"))?, t)?;
    }
    let (mut receipts, mut walls) = (Vec::new(), Vec::new());
    for i in 0..o.seq {
        let t = Instant::now();
        let (r, w) = finish(tell(&world, &pane, &format!("sequential prompt {i}"))?, t)?;
        receipts.push(r);
        walls.push(w);
    }
    let seq_receipt = summary("receipt_ms", receipts);
    let seq_wall = summary("orch-tell wall ms", walls);

    println!(
        "tell → receipt, parallel: {} echo agents told at once, {} rounds",
        o.agents, o.rounds
    );
    let mut panes = Vec::new();
    for _ in 0..o.agents {
        panes.push(world.start_echo("--turn-ms 0"));
    }
    let (mut receipts, mut walls, mut rounds) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..o.rounds {
        let round = Instant::now();
        let children: Vec<(Child, Instant)> = panes
            .iter()
            .map(|p| {
                let t = Instant::now();
                tell(&world, p, &format!("parallel round {r} for {p}")).map(|c| (c, t))
            })
            .collect::<Result<_>>()?;
        for (c, t) in children {
            let (rc, w) = finish(c, t)?;
            receipts.push(rc);
            walls.push(w);
        }
        rounds.push(round.elapsed().as_secs_f64() * 1000.0);
    }
    let par_receipt = summary("receipt_ms", receipts);
    let par_wall = summary("orch-tell wall ms", walls);
    let par_round = summary("round (all delivered) ms", rounds);
    println!(
        "{}",
        serde_json::json!({
            "bench": "tell",
            "sequential": {"receipt_ms": seq_receipt, "wall_ms": seq_wall},
            "parallel": {"agents": o.agents, "receipt_ms": par_receipt,
                         "wall_ms": par_wall, "round_ms": par_round},
        })
    );
    Ok(())
}

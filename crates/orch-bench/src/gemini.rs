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
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use orch_testkit::gemini::GeminiEnv;
use orch_testkit::output::output_with_stdin;
use serde_json::Value;

use crate::stats::Stats;

struct Opts {
    spawns: usize,
    tells: usize,
    gemini: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        spawns: 5,
        tells: 30,
        gemini: None,
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
            "--gemini" => o.gemini = Some(val("--gemini")?.into()),
            "-h" | "--help" => {
                println!("orch-bench gemini [--spawns K (5)] [--tells N (30)] [--gemini PATH]");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} (see orch-bench gemini --help)"),
        }
    }
    Ok(o)
}

/// `orch-spawn gemini`; (pane id, ready_ms).
fn spawn(w: &GeminiEnv) -> Result<(String, f64)> {
    let out = w
        .cmd("orch-spawn")
        .args(["gemini", "--window", "--timeout", "120", "--cwd"])
        .arg(&w.project)
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || v["inferred"] == true {
        bail!(
            "orch-spawn gemini failed (or was not ready by its own event): {v} {}",
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

/// `orch-tell --wait`; (receipt_ms, Enter presses, enter_ms).
fn tell(w: &GeminiEnv, pane: &str, text: &str) -> Result<(f64, u64, f64)> {
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
        v["enter_ms"].as_f64().unwrap_or(f64::NAN),
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
    let retried = presses.iter().filter(|&&n| n > 1).count();
    println!(
        "{what:<34} {}  (Enter retried in {retried} of {})",
        stats(receipts).line(),
        presses.len()
    );
}

fn stop(w: &GeminiEnv, pane: &str) -> Result<()> {
    let out = w.cmd("orch-spawn").args(["--stop", pane]).output()?;
    if !out.status.success() {
        bail!(
            "orch-spawn --stop {pane}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
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
    let Some(gemini) = o.gemini.clone().or_else(installed) else {
        println!("SKIPPED: no Gemini CLI (see .ci/install-agent.sh gemini, or pass --gemini PATH)");
        return Ok(());
    };
    orch_testkit::bins::require(&["orch-spawn", "orch-tell", "orch-hook"])
        .map_err(anyhow::Error::msg)?;
    let w = GeminiEnv::start(gemini, "orch-bench-gemini").map_err(anyhow::Error::msg)?;
    let version = w.command(&w.gemini).arg("--version").output()?;
    println!(
        "gemini: {} ({}), hooks {:?}",
        w.gemini.display(),
        String::from_utf8_lossy(&version.stdout).trim(),
        w.hooks
    );
    let started = Instant::now();

    let (mut ready, mut first, mut first_presses) = (Vec::new(), Vec::new(), Vec::new());
    let mut enters = Vec::new();
    for i in 0..o.spawns {
        let (pane, ready_ms) = spawn(&w)?;
        ready.push(ready_ms);
        let (ms, n, enter) = tell(&w, &pane, &format!("first prompt to agent {i}"))?;
        first.push(ms);
        enters.push(enter);
        first_presses.push(n);
        stop(&w, &pane)?;
    }
    if !ready.is_empty() {
        println!("{:<34} {}", "spawn → ready", stats(&ready).line());
        report("first tell after spawn", &first, &first_presses);
    }

    let (mut steady, mut presses) = (Vec::new(), Vec::new());
    if o.tells > 0 {
        let (pane, _) = spawn(&w)?;
        for i in 0..o.tells {
            let (ms, n, enter) = tell(&w, &pane, &format!("prompt number {i} of the steady run"))?;
            steady.push(ms);
            enters.push(enter);
            presses.push(n);
        }
        report("steady, one agent", &steady, &presses);
        stop(&w, &pane)?;
    }
    let mut all = first.clone();
    all.extend(&steady);
    let mut all_presses = first_presses.clone();
    all_presses.extend(&presses);
    report("all tells", &all, &all_presses);
    // orch's part of each receipt: paste → the first Enter.
    enters.retain(|e| e.is_finite());
    if !enters.is_empty() {
        println!("{:<34} {}", "paste → first Enter", stats(&enters).line());
    }
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

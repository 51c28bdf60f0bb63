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

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use orch_testkit::codex::CodexEnv;
use orch_testkit::output::{big_prompt, output_with_stdin};
use serde_json::Value;

use crate::stats::Stats;

struct Opts {
    spawns: usize,
    tells: usize,
    pastes: usize,
    codex: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        spawns: 5,
        tells: 30,
        pastes: 5,
        codex: None,
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
            "--pastes" => o.pastes = val("--pastes")?.parse()?,
            "--codex" => o.codex = Some(val("--codex")?.into()),
            "-h" | "--help" => {
                println!(
                    "orch-bench codex [--spawns K (5)] [--tells N (30)] [--pastes M (5)] [--codex PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} (see orch-bench codex --help)"),
        }
    }
    Ok(o)
}

/// `orch-spawn codex`; (pane id, ready_ms).
fn spawn(w: &CodexEnv) -> Result<(String, f64)> {
    let out = w
        .cmd("orch-spawn")
        .args(["codex", "--window", "--timeout", "60", "--cwd"])
        .arg(&w.project)
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || v["session_id"].is_null() {
        bail!(
            "orch-spawn codex failed: {v} {}",
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

/// `orch-tell --wait`; (receipt_ms, Enter presses).
fn tell(w: &CodexEnv, pane: &str, text: &str) -> Result<(f64, u64)> {
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

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let Some(codex) = o
        .codex
        .clone()
        .or_else(|| orch_testkit::agents::agent_bin("codex"))
    else {
        println!("SKIPPED: no Codex CLI (npm missing?); pass --codex PATH");
        return Ok(());
    };
    orch_testkit::bins::require(&["orch-spawn", "orch-tell", "orch-hook"])
        .map_err(anyhow::Error::msg)?;
    let w = CodexEnv::start(codex, "orch-bench-codex").map_err(anyhow::Error::msg)?;
    let version = w.command(&w.codex).arg("--version").output()?;
    println!(
        "codex: {} ({})",
        w.codex.display(),
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let started = Instant::now();

    let (mut ready, mut first, mut first_presses) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..o.spawns {
        let (pane, ready_ms) = spawn(&w)?;
        ready.push(ready_ms);
        let (ms, n) = tell(&w, &pane, &format!("first prompt to agent {i}"))?;
        first.push(ms);
        first_presses.push(n);
        w.tmux(&["kill-pane", "-t", &pane]);
    }
    if !ready.is_empty() {
        println!("{:<34} {}", "spawn → ready", stats(&ready).line());
        report("first tell after spawn", &first, &first_presses);
    }

    let (mut steady, mut presses) = (Vec::new(), Vec::new());
    let (mut big, mut big_presses) = (Vec::new(), Vec::new());
    if o.tells + o.pastes > 0 {
        let (pane, _) = spawn(&w)?;
        for i in 0..o.tells {
            let (ms, n) = tell(&w, &pane, &format!("prompt number {i} of the steady run"))?;
            steady.push(ms);
            presses.push(n);
        }
        if !steady.is_empty() {
            report("steady, one agent", &steady, &presses);
        }
        for i in 0..o.pastes {
            let text = big_prompt(&format!("4 KiB paste number {i}"), 4096, "END");
            let (ms, n) = tell(&w, &pane, &text)?;
            big.push(ms);
            big_presses.push(n);
        }
        if !big.is_empty() {
            report("4 KiB multi-line paste", &big, &big_presses);
        }
    }
    let mut all = first.clone();
    all.extend(&steady);
    let mut all_presses = first_presses.clone();
    all_presses.extend(&presses);
    report("all short tells", &all, &all_presses);
    println!(
        "({} main turns at the mock; {:.1} s in all)",
        w.mock.main_turns().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

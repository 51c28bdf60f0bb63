//! `orch-bench survey`: how long one survey takes with N agent panes.
//!
//! For each N: a private tmux server with N `sleep` panes, each with a
//! registry record and an event log like a real agent's (session start, a
//! 300-byte prompt, a 2 KiB reply), and every other pane a Claude Code
//! transcript of ~256 KiB. Then, R times each:
//! - `lib`: `orch::survey::collect` in this process (registry + one
//!   `list-panes` + GC + token caches);
//! - `json`, `pretty`, `status`: the `orch-survey` binary end to end
//!   (process start, the survey, output to a pipe), as a person or the
//!   status bar runs it.
//!
//! The first `lib` run, with empty token caches, is reported apart (`cold`):
//! it reads every transcript once. Later runs find the transcripts unchanged
//! (one `stat` each); `--grow` appends an assistant entry to every
//! transcript before each run, so the incremental read is measured too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use orch::event::{Event, Kind, set_prompt};
use orch::pane::PaneId;
use orch::store::Store;
use orch::survey::{Filters, GcMode, collect};
use orch::tmux::Tmux;

use orch_testkit::TestEnv;

use crate::stats::Stats;
use crate::world;

struct Opts {
    sizes: Vec<usize>,
    runs: usize,
    grow: bool,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        sizes: vec![10, 50, 200],
        runs: 30,
        grow: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--panes" => {
                let v = it.next().context("--panes needs a list, e.g. 10,50,200")?;
                o.sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().context("--panes: not a number"))
                    .collect::<Result<_>>()?;
            }
            "--runs" => {
                o.runs = it
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs: not a number")?;
            }
            "--grow" => o.grow = true,
            "-h" | "--help" => {
                println!(
                    "orch-bench survey [--panes 10,50,200] [--runs 30] [--grow]\n\
                     Times orch-survey with N agent panes on a private tmux server."
                );
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} (see orch-bench survey --help)"),
        }
    }
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(o)
}

/// A private tmux server whose `panes` panes all run `sleep`.
fn start_server(panes: usize) -> Result<TestEnv> {
    let world = world::with_tmux(Some("sleep 3600"), &["orch-survey"])?;
    // The session's first pane is one agent; the rest are new windows,
    // made in batches of one tmux invocation each.
    let mut left = panes.saturating_sub(1);
    while left > 0 {
        let batch = left.min(100);
        let mut args: Vec<&str> = Vec::new();
        for i in 0..batch {
            if i > 0 {
                args.push(";");
            }
            args.extend(["new-window", "-d", "sleep 3600"]);
        }
        world.try_tmux(&args).map_err(anyhow::Error::msg)?;
        left -= batch;
    }
    Ok(world)
}

fn assistant_line(i: usize, n: usize) -> String {
    serde_json::json!({
        "type": "assistant", "isSidechain": false, "sessionId": "bench",
        "message": {"id": format!("msg_{i}_{n}"), "model": "claude-opus-4-8", "role": "assistant",
            "content": [{"type": "text", "text": "x".repeat(400)}],
            "usage": {"input_tokens": 6, "cache_creation_input_tokens": 300,
                      "cache_read_input_tokens": 40_000 + n as u64, "output_tokens": 250}}
    })
    .to_string()
}

/// Fill the state like N agents that each ran a turn.
fn populate(store: &Store, panes: &[PaneId], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut transcripts = Vec::new();
    let tool_result = serde_json::json!({"type": "user", "message": {"role": "user",
        "content": [{"type": "tool_result", "content": "y".repeat(3000)}]}})
    .to_string();
    for (i, &p) in panes.iter().enumerate() {
        let claude = i % 2 == 0;
        let mut start = Event::new(Kind::SessionStart);
        start.harness = Some(if claude { "claude" } else { "echo" }.into());
        start.session_id = Some(format!("session-{i}"));
        start.cwd = Some("/home/dev/project".into());
        if claude {
            let t = dir.join(format!("transcript-{i}.jsonl"));
            let mut f = std::fs::File::create(&t)?;
            let mut n = 0;
            while f.metadata()?.len() < 256 * 1024 {
                writeln!(f, "{tool_result}")?;
                writeln!(f, "{}", assistant_line(i, n))?;
                n += 1;
            }
            start.transcript_path = Some(t.display().to_string());
            transcripts.push(t);
        }
        store.append(p, start)?;
        let mut prompt = Event::new(Kind::Prompt);
        set_prompt(&mut prompt, &format!("task {i}: {}", "p".repeat(300)));
        store.append(p, prompt)?;
        if i % 3 != 0 {
            let mut stop = Event::new(Kind::Stop);
            stop.reply = Some(format!("done {i}: {}", "r".repeat(2048)));
            store.append(p, stop)?;
        }
        store.update_registry(p, |r| {
            r.name = Some(format!("agent-{i}"));
            r.role = Some(orch::roles::Role::Worker);
        })?;
    }
    Ok(transcripts)
}

fn grow(transcripts: &[PathBuf], round: usize) -> Result<()> {
    for (i, t) in transcripts.iter().enumerate() {
        let mut f = std::fs::OpenOptions::new().append(true).open(t)?;
        writeln!(f, "{}", assistant_line(i, 100_000 + round))?;
    }
    Ok(())
}

/// Milliseconds, for the table.
fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub fn main(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    orch_testkit::bins::require(&["orch-survey"]).map_err(anyhow::Error::msg)?;
    let bin = orch_testkit::bin("orch-survey");
    println!(
        "orch-survey benchmark: {} runs per figure, times in ms (median / p90 / min / max){}",
        opts.runs,
        if opts.grow {
            "; every transcript grows before each run"
        } else {
            ""
        }
    );
    println!(
        "{:>6}  {:<8} {:>8} {:>8} {:>8} {:>8}",
        "panes", "what", "median", "p90", "min", "max"
    );
    for &n in &opts.sizes {
        let world = start_server(n)?;
        let server = world::server(&world);
        let store = world::store(&world);
        let tmux = Tmux::for_server(&server);
        let panes: Vec<PaneId> = tmux.list_panes()?.iter().map(|p| p.pane).collect();
        if panes.len() != n {
            bail!("asked tmux for {n} panes, got {}", panes.len());
        }
        let transcripts = populate(&store, &panes, world.dir.path())?;
        let filters = Filters::default();

        let t = Instant::now();
        let first = collect(&store, &tmux, &filters, GcMode::Collect)?;
        let cold = t.elapsed();
        if first.agents.len() != n {
            bail!("survey saw {} agents, expected {n}", first.agents.len());
        }

        let mut lib = Vec::new();
        for r in 0..opts.runs {
            if opts.grow {
                grow(&transcripts, r)?;
            }
            let t = Instant::now();
            let rep = collect(&store, &tmux, &filters, GcMode::Collect)?;
            lib.push(t.elapsed());
            assert_eq!(rep.agents.len(), n);
        }

        let bin_runs = |extra: &[&str]| -> Result<Vec<Duration>> {
            let mut v = Vec::new();
            for r in 0..opts.runs {
                if opts.grow {
                    grow(&transcripts, 10_000 + r)?;
                }
                let t = Instant::now();
                let out = world
                    .command(&bin)
                    .args(extra)
                    .stderr(Stdio::inherit())
                    .output()?;
                v.push(t.elapsed());
                if !out.status.success() || out.stdout.is_empty() {
                    bail!("orch-survey {extra:?} failed");
                }
            }
            Ok(v)
        };
        let json = bin_runs(&[])?;
        let pretty = bin_runs(&["--pretty"])?;
        let status = bin_runs(&["--status-line"])?;

        println!(
            "{n:>6}  {:<8} {:>8} {:>8} {:>8} {:>8}",
            "cold",
            ms(cold),
            "-",
            "-",
            "-"
        );
        for (what, v) in [
            ("lib", lib),
            ("json", json),
            ("pretty", pretty),
            ("status", status),
        ] {
            let s = Stats::new(v);
            println!(
                "{n:>6}  {what:<8} {:>8} {:>8} {:>8} {:>8}",
                ms(s.pct(50.0)),
                ms(s.pct(90.0)),
                ms(s.min()),
                ms(s.max())
            );
        }
        drop(world);
    }
    Ok(())
}

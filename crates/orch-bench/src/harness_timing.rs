//! The timing runs every real-harness bench shares (`claude`, `codex`,
//! `gemini`, `pi`, `opencode`): start agents with `orch-spawn`, tell them
//! with `orch-tell --wait`, and summarise what the two commands report
//! (`ready_ms`, `receipt_ms` and the Enter presses). What differs per
//! harness (the world, the spawn flags, what counts as a good spawn, how an
//! agent is stopped) is the bench's [`Harness`].
//!
//! Nothing here asserts a timing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use orch_testkit::AgentWorld;
use orch_testkit::output::output_with_stdin;
use serde_json::Value;

use crate::stats::{Flags, Stats};

/// What every harness bench takes: `--spawns K` agents started and told
/// once (5), `--tells N` steady tells to one agent (30), and `--<harness>
/// PATH`, a CLI to run instead of the installed one.
pub struct Runs {
    pub spawns: usize,
    pub tells: usize,
    pub cli: Option<PathBuf>,
}

impl Runs {
    /// From `f`, which took `--spawns`, `--tells` and `cli_flag`.
    pub fn read(f: &Flags, cli_flag: &str) -> Result<Runs> {
        Ok(Runs {
            spawns: f.number("--spawns")?.unwrap_or(5),
            tells: f.number("--tells")?.unwrap_or(30),
            cli: f.value(cli_flag).map(PathBuf::from),
        })
    }
}

/// The binaries every harness run drives, or why it cannot run.
pub fn require_orch() -> Result<()> {
    orch_testkit::bins::require(&["orch-spawn", "orch-tell", "orch-hook"])
        .map_err(anyhow::Error::msg)
}

/// One harness's world, as the shared runs drive it: what differs per
/// harness is said by the required items, the rest is the same for all.
pub trait Harness {
    /// The harness as `orch-spawn` names it.
    fn name(&self) -> &'static str;
    /// The world its agents run in.
    fn world(&self) -> &AgentWorld;
    /// `orch-spawn`'s flags besides the harness, placement and cwd.
    fn spawn_flags(&self) -> Vec<&str>;

    /// Whether `orch-spawn`'s JSON is a spawn this bench counts (beyond
    /// its exit code): the harness's own ready signal.
    fn spawned(&self, _report: &Value) -> bool {
        true
    }

    /// How long a tell may wait for the reply, in seconds.
    fn tell_timeout(&self) -> u32 {
        60
    }

    /// Start one agent in a window of its own; (pane id, `ready_ms`).
    fn spawn(&self) -> Result<(String, f64)> {
        let name = self.name();
        let mut c = self.world().cmd("orch-spawn");
        c.args([name, "--window"])
            .args(self.spawn_flags())
            .arg("--cwd")
            .arg(&self.world().project);
        let out = c.output()?;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() || !self.spawned(&v) {
            bail!(
                "orch-spawn {name} failed: {v} {}",
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

    /// Tell `pane` one prompt and wait for the reply.
    fn tell(&self, pane: &str, text: &str) -> Result<Receipt> {
        tell_wait(self, pane, text)
    }

    /// End an agent the run is done with.
    fn stop(&self, pane: &str) -> Result<()> {
        let _ = self.world().try_tmux(&["kill-pane", "-t", pane]);
        Ok(())
    }
}

/// What `orch-tell --wait` reported for one tell.
#[derive(Clone, Copy)]
pub struct Receipt {
    pub ms: f64,
    /// Enter presses it took (1 unless an Enter was retried).
    pub presses: u64,
}

/// `orch-tell PANE - --wait` with `text` on stdin.
pub fn tell_wait<H: Harness + ?Sized>(h: &H, pane: &str, text: &str) -> Result<Receipt> {
    let mut c = h.world().cmd("orch-tell");
    c.args([
        pane,
        "-",
        "--wait",
        "--timeout",
        &h.tell_timeout().to_string(),
    ]);
    let out = output_with_stdin(&mut c, text.as_bytes());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() || v["status"] != "delivered" {
        bail!(
            "orch-tell to {pane}: {v} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Receipt {
        ms: v["receipt_ms"].as_f64().context("no receipt_ms")?,
        presses: v["attempts"].as_u64().unwrap_or(0),
    })
}

/// A series of receipts.
#[derive(Clone, Default)]
pub struct Receipts(Vec<Receipt>);

impl Receipts {
    pub fn push(&mut self, r: Receipt) {
        self.0.push(r);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These and then `more`.
    pub fn and(&self, more: &Receipts) -> Receipts {
        Receipts(self.0.iter().chain(&more.0).copied().collect())
    }

    /// `what`, the receipt figures and how often Enter was retried.
    pub fn report(&self, what: &str) {
        let ms: Vec<f64> = self.0.iter().map(|r| r.ms).collect();
        let retried = self.0.iter().filter(|r| r.presses > 1).count();
        println!(
            "{what:<34} {}  (Enter retried in {retried} of {})",
            ms_stats(&ms).line(),
            self.0.len()
        );
    }
}

/// Figures of millisecond values as the commands report them.
pub fn ms_stats(ms: &[f64]) -> Stats {
    Stats::new(
        ms.iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect(),
    )
}

/// `what` and the figures of `ms`.
pub fn report_ms(what: &str, ms: &[f64]) {
    println!("{what:<34} {}", ms_stats(ms).line());
}

/// `spawns` fresh agents, each told once as soon as spawn reports it ready
/// (when an agent is most likely to drop an early Enter), then stopped;
/// their `ready_ms` and the first tells' receipts.
pub fn first_tells(h: &impl Harness, spawns: usize) -> Result<(Vec<f64>, Receipts)> {
    let (mut ready, mut first) = (Vec::new(), Receipts::default());
    for i in 0..spawns {
        let (pane, ready_ms) = h.spawn()?;
        ready.push(ready_ms);
        first.push(h.tell(&pane, &format!("first prompt to agent {i}"))?);
        h.stop(&pane)?;
    }
    Ok((ready, first))
}

/// `tells` tells one after another to `pane`, each waiting for the reply
/// before the next.
pub fn steady_tells(h: &impl Harness, pane: &str, tells: usize) -> Result<Receipts> {
    let mut steady = Receipts::default();
    for i in 0..tells {
        steady.push(h.tell(pane, &format!("prompt number {i} of the steady run"))?);
    }
    Ok(steady)
}

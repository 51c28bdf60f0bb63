//! Spawn-to-ready time of the echo agent.
//!
//! A private tmux server and state dir; `orch-spawn echo` run `--runs` times
//! per placement (a headless window, and a split off a pane as an operator
//! would), each pane killed afterwards. Reports, per placement, the
//! `ready_ms` orch-spawn prints (from its start to the agent's
//! `session_start`) and the wall time of the whole orch-spawn process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

struct Server<'a> {
    socket: &'a Path,
}

impl Server<'_> {
    fn tmux(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tmux")?;
        if !out.status.success() {
            bail!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, xs: &mut [f64]) -> String {
    xs.sort_by(|a, b| a.total_cmp(b));
    format!(
        "{name:<28} median {:>6.1} ms   p90 {:>6.1} ms   min {:>6.1} ms   max {:>6.1} ms",
        percentile(xs, 0.5),
        percentile(xs, 0.9),
        xs[0],
        xs[xs.len() - 1]
    )
}

pub fn run(args: Vec<String>) -> Result<()> {
    let mut runs = 25usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .context("--runs needs a positive number")?
            }
            other => bail!("unknown option {other:?} (spawn takes --runs N)"),
        }
    }
    let spawn = orch::cli::find_subcommand("spawn")
        .context("orch-spawn not found next to orch-bench: cargo build --release -p orch-cli")?;
    let dir = tempfile::Builder::new().prefix("orch-bench").tempdir()?;
    let socket = dir.path().join("tmux.sock");
    let state = dir.path().join("state");
    let config = dir.path().join("config");
    let path = format!(
        "{}:{}",
        spawn.parent().unwrap_or(Path::new(".")).display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let st = Command::new("tmux")
        .arg("-S")
        .arg(&socket)
        .args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "bench",
            "-x",
            "200",
            "-y",
            "50",
        ])
        .env("ORCH_STATE_DIR", &state)
        .env("ORCH_CONFIG_DIR", &config)
        .env("PATH", &path)
        .stdin(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("cannot start a private tmux server");
    }
    let server = Server { socket: &socket };
    let pid = server.tmux(&["display-message", "-p", "#{pid}"])?;
    let caller = server.tmux(&["display-message", "-p", "-t", "bench:0", "#{pane_id}"])?;
    let tmux_env = format!("{},{pid},0", socket.display());

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
            let mut c = Command::new(&spawn);
            c.arg("echo")
                .args(&extra)
                .env_clear()
                .env("PATH", &path)
                .env("TMUX", &tmux_env)
                .env("ORCH_STATE_DIR", &state)
                .env("ORCH_CONFIG_DIR", &config)
                .env("HOME", dir.path())
                .stdin(Stdio::null());
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
            server.tmux(&["kill-pane", "-t", pane])?;
        }
        println!("{label}:");
        println!("  {}", summary("ready_ms (reported)", &mut ready));
        println!("  {}", summary("orch-spawn wall time", &mut wall));
    }
    // Killed echo agents fire their session_end hook as they go; let those
    // land before the temp dir is removed, or they recreate it.
    drop(server);
    std::thread::sleep(std::time::Duration::from_millis(300));
    Ok(())
}

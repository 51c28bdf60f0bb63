//! `orch-bench remote`: what a hop over ssh costs, against a real sshd on
//! 127.0.0.1 (orch_testkit::ssh; both "hosts" are this machine, so event
//! timestamps and arrival times share one clock). With a warm connection:
//!
//! - `tell --wait` wall time to a local echo agent and to one on `box`;
//! - stream-listener wake (event's `ts` → line read by the caller), local
//!   and over ssh;
//! - `survey --hosts` over 3 host names (all dialling `box`'s sshd).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use orch_testkit::ssh::SshHosts;
use serde_json::Value;

use crate::stats::{Stats, numbers};
use crate::world;

pub fn run(args: &[String]) -> Result<()> {
    let n = numbers(args, &["--runs"], "orch-bench remote [--runs N (50)]")?[0].unwrap_or(50);
    let local = world::with_tmux(
        None,
        &[
            "orch",
            "orch-tell",
            "orch-listen",
            "orch-echo",
            "orch-spawn",
            "orch-survey",
        ],
    )?;
    let hosts = SshHosts::start(&local).context("no sshd here (apt-get install openssh-server)")?;
    let mine = local.start_echo("--turn-ms 20");
    let out = hosts.spawn_echo(&local, "rev");
    if !out.status.success() {
        bail!(
            "remote spawn failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let tell = |target: &str, i: usize| -> Result<Duration> {
        let t = Instant::now();
        let out = hosts
            .cmd(&local, "orch-tell")
            .args([target, "--wait", &format!("bench {i}")])
            .output()?;
        if !out.status.success() {
            bail!("tell {target}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(t.elapsed())
    };
    // Warm: the connection master, caches.
    for i in 0..3 {
        tell(&mine, i)?;
        tell("box:rev", i)?;
    }
    let (mut l, mut r) = (Vec::new(), Vec::new());
    for i in 0..n {
        l.push(tell(&mine, i)?);
        r.push(tell("box:rev", i)?);
    }
    let (l, r) = (Stats::new(l), Stats::new(r));
    println!("tell --wait local   {}", l.line());
    println!("tell --wait remote  {}", r.line());
    println!(
        "remote overhead: median {:.1} ms, p90 {:.1} ms",
        ms(r.pct(50.0)) - ms(l.pct(50.0)),
        ms(r.pct(90.0)) - ms(l.pct(90.0))
    );

    for (label, target) in [("local", mine.as_str()), ("remote", "box:rev")] {
        let mut child = hosts
            .cmd(&local, "orch-listen")
            .args([
                target,
                "--stream",
                "--new",
                "--kinds",
                "stop",
                "--timeout",
                "600",
            ])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        std::thread::sleep(Duration::from_millis(500));
        let mut wakes = Vec::new();
        for i in 0..n {
            let out = hosts
                .cmd(&local, "orch-tell")
                .args([target, &format!("wake {i}")])
                .output()?;
            if !out.status.success() {
                bail!("tell: {}", String::from_utf8_lossy(&out.stderr));
            }
            let line = lines.next().context("listener ended")??;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
            let ev: Value = serde_json::from_str(&line)?;
            let ts = ev["ts"].as_u64().context("event without ts")?;
            wakes.push(Duration::from_nanos(now.saturating_sub(ts)));
        }
        let _ = child.kill();
        let _ = child.wait();
        println!("listen wake {label:<6} {}", Stats::new(wakes).line());
    }

    std::fs::create_dir_all(&local.config)?;
    std::fs::write(
        local.config.join("hosts.json"),
        r#"{"hosts": {"h1": {"dest": "box"}, "h2": {"dest": "box"}, "h3": {"dest": "box"}}}"#,
    )?;
    let mut s = Vec::new();
    for _ in 0..(n / 2).max(5) {
        let t = Instant::now();
        let out = hosts
            .cmd(&local, "orch-survey")
            .args(["--hosts"])
            .output()?;
        if !out.status.success() {
            bail!("survey --hosts: {}", String::from_utf8_lossy(&out.stderr));
        }
        s.push(t.elapsed());
    }
    println!("survey --hosts h1,h2,h3 (+local) {}", Stats::new(s).line());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

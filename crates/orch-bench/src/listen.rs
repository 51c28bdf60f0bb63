//! Listener benchmarks: wake latency, a burst with many stream listeners,
//! and an idle listener's cost.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use orch::event::{Event, Kind};
use orch::pane::PaneId;
use orch::time::now_ns;
use orch_testkit::{Lines, TestEnv};

use crate::stats::{Stats, ms};
use crate::world::{self, store};

fn spawn_stream(world: &TestEnv, args: &[&str]) -> anyhow::Result<(Child, Lines)> {
    let mut child = world
        .cmd("orch-listen")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let lines = Lines::of(&mut child);
    Ok((child, lines))
}

fn stop_event(text: &str) -> Event {
    let mut ev = Event::new(Kind::Stop);
    ev.reply = Some(text.to_string());
    ev
}

/// Appended (by the library, as orch-hook does) → printed by a blocked
/// `orch-listen --stream` → read here. Includes the pipe hop, so it is an
/// upper bound on the wake itself.
pub fn wake() -> anyhow::Result<()> {
    const N: usize = 1000;
    let world = world::fake();
    let store = store(&world);
    let (mut child, rx) = spawn_stream(&world, &["--any", "--stream", "--timeout", "600"])?;
    // Warm-up until the listener reports one: proves it is armed.
    loop {
        let _ = store.append(PaneId(1), stop_event("warm"));
        if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            break;
        }
    }
    while rx.recv_timeout(Duration::from_millis(100)).is_ok() {}
    let mut lat = Vec::with_capacity(N);
    for i in 0..N {
        let ev = store.append(PaneId(1 + (i % 4) as u32), stop_event("x"))?;
        let line = rx.recv_timeout(Duration::from_secs(10))?;
        let got = now_ns();
        let seen: serde_json::Value = serde_json::from_str(&line)?;
        anyhow::ensure!(seen["ts"] == ev.ts, "listener returned an unexpected event");
        lat.push(Duration::from_nanos(got - ev.ts));
        // Space events out so each one is a separate wake, not a batch.
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stats = Stats::new(lat);
    println!("append → stream listener printed → read: {}", stats.line());
    println!(
        "target ≤ 5ms p99: {}",
        if stats.pct(99.0) <= Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
    // One-shot: a fresh `orch-listen %P` per event, blocked before it lands.
    let mut one = Vec::new();
    for i in 0..100u32 {
        let pane = PaneId(100 + i);
        let (mut c, rx) = spawn_stream(&world, &[&pane.to_string(), "--new", "--timeout", "30"])?;
        std::thread::sleep(Duration::from_millis(30));
        let ev = store.append(pane, stop_event("one-shot"))?;
        rx.recv_timeout(Duration::from_secs(10))?;
        one.push(Duration::from_nanos(now_ns() - ev.ts));
        let _ = c.wait();
    }
    println!(
        "append → one-shot listener printed → read: {}",
        Stats::new(one).line()
    );
    Ok(())
}

/// 50 panes × 200 events appended concurrently (50 writer threads, each
/// taking the pane lock per append as orch-hook does) with 10
/// `--any --stream` listeners. Counts lost, duplicated and out-of-order
/// events per listener.
pub fn burst() -> anyhow::Result<()> {
    const PANES: u32 = 50;
    const EVENTS: u64 = 200;
    const LISTENERS: usize = 10;
    let world = world::fake();
    let store = store(&world);
    let mut listeners = Vec::new();
    for _ in 0..LISTENERS {
        listeners.push(spawn_stream(
            &world,
            &["--any", "--stream", "--timeout", "600"],
        )?);
    }
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let writers: Vec<_> = (0..PANES)
        .map(|p| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..EVENTS {
                    store
                        .append(PaneId(p), stop_event(&format!("{p}-{i}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let written = start.elapsed();
    let total = (PANES as u64 * EVENTS) as usize;
    println!(
        "wrote {total} events from {PANES} threads in {} ({:.0} events/s)",
        ms(written),
        total as f64 / written.as_secs_f64()
    );
    for (i, (mut child, lines)) in listeners.into_iter().enumerate() {
        // Up to `total`, and any duplicates that follow.
        let got = lines.json(total, Duration::from_secs(120));
        let mut per_pane: HashMap<String, Vec<u64>> = HashMap::new();
        for v in &got {
            per_pane
                .entry(v["pane"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(v["seq"].as_u64().unwrap_or(0));
        }
        let _ = child.kill();
        let _ = child.wait();
        let (mut lost, mut dup, mut disorder) = (0u64, 0u64, 0u64);
        for p in 0..PANES {
            let seqs = per_pane.remove(&PaneId(p).to_string()).unwrap_or_default();
            let mut seen = std::collections::HashSet::new();
            for w in seqs.windows(2) {
                if w[1] <= w[0] {
                    disorder += 1;
                }
            }
            for s in &seqs {
                if !seen.insert(*s) {
                    dup += 1;
                }
            }
            lost += (1..=EVENTS).filter(|s| !seen.contains(s)).count() as u64;
        }
        println!(
            "listener {i}: received {} lost {lost} duplicated {dup} out-of-order {disorder}",
            got.len()
        );
    }
    Ok(())
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Context switches summed over all threads of `pid`: each is a wake-up.
fn wakeups(pid: u32) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            for l in s.lines() {
                if l.starts_with("voluntary_ctxt_switches")
                    || l.starts_with("nonvoluntary_ctxt_switches")
                {
                    total += l
                        .split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
    total
}

/// An idle `orch-listen --any`: wake-ups over 10 s and resident memory.
pub fn idle() -> anyhow::Result<()> {
    let world = world::fake();
    let store = store(&world);
    let _ = store.append(PaneId(1), stop_event("exists"));
    let (mut child, _rx) = spawn_stream(&world, &["--any", "--stream", "--timeout", "600"])?;
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id();
    let before = wakeups(pid);
    std::thread::sleep(Duration::from_secs(10));
    let after = wakeups(pid);
    let rss = proc_status(pid, "VmRSS:");
    let hwm = proc_status(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "idle orch-listen --any over 10s: {} wake-ups; VmRSS {} KiB (peak {} KiB)",
        after - before,
        rss,
        hwm
    );
    let _ = now_ns();
    Ok(())
}

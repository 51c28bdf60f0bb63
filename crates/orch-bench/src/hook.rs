//! `orch-hook stop` wall time on a realistic Stop payload, as the agent
//! experiences it: process spawn to exit. A `true`-like baseline (the same
//! spawn with a binary that exits at once) separates the OS's process cost
//! from orch's.

use std::path::Path;
use std::time::Duration;

use orch_testkit::{TestEnv, bin};

use crate::stats::{Stats, ms};
use crate::world::{self, time_baseline, time_hook};

const RUNS: usize = 500;

fn time_runs(world: &TestEnv, hook: &Path, payload: &[u8]) -> anyhow::Result<Stats> {
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        times.push(time_hook(world, hook, &format!("%{}", i % 8), payload)?);
    }
    Ok(Stats::new(times))
}

pub fn run() -> anyhow::Result<()> {
    let world = world::fake();
    // A real captured Stop payload, with a reply of typical length.
    let payload = serde_json::json!({
        "session_id": "6ec41ded-570c-408c-9194-db002a5c5f27",
        "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/6ec41ded-570c-408c-9194-db002a5c5f27.jsonl",
        "cwd": "/home/dev/proj",
        "prompt_id": "cac7e6df-af19-4225-a92b-251da624b419",
        "permission_mode": "default",
        "effort": {"level": "high"},
        "hook_event_name": "Stop",
        "stop_hook_active": false,
        "last_assistant_message": "I refactored the auth flow: the token refresh now happens in one place (src/auth/refresh.rs), the middleware no longer retries on 401, and the tests cover expiry and clock skew. ".repeat(4),
        "background_tasks": [],
        "session_crons": []
    })
    .to_string();
    orch_testkit::bins::require(&["orch-hook"]).map_err(anyhow::Error::msg)?;
    let hook = bin("orch-hook");
    // Warm the page cache and the state dir.
    time_runs(&world, &hook, payload.as_bytes())?;
    let cpu_before = children_cpu();
    let stats = time_runs(&world, &hook, payload.as_bytes())?;
    let cpu = (children_cpu() - cpu_before) / RUNS as u32;
    println!(
        "orch-hook stop ({} byte payload): {}",
        payload.len(),
        stats.line()
    );
    // CPU time is what the hook costs; unlike wall time it hardly moves with
    // the load other processes put on the cores.
    println!("orch-hook stop CPU time (user+sys) per run: {}", ms(cpu));
    // Baseline: orch-hook outside tmux returns before reading anything.
    let mut base = Vec::new();
    let cpu_before = children_cpu();
    for _ in 0..RUNS {
        base.push(time_baseline(&world, &hook)?);
    }
    let base_cpu = (children_cpu() - cpu_before) / RUNS as u32;
    let base = Stats::new(base);
    println!(
        "process baseline (orch-hook outside tmux, does nothing): {}",
        base.line()
    );
    println!("process baseline CPU time per run: {}", ms(base_cpu));
    let target = Duration::from_millis(2);
    println!(
        "target ≤ 2ms median: {}",
        if stats.pct(50.0) <= target {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

/// User + system CPU time of all waited-for children so far.
fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

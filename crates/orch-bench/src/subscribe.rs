//! `orch-bench subscribe`: what subscribers cost the peer's hook.
//!
//! `orch-hook stop` with a typical Stop payload, timed as the agent sees it
//! (spawn → exit), for a peer with 0, 1 and 5 subscribers. With
//! subscribers the hook also appends one notice per subscriber to its inbox
//! and starts the detached flusher (`orch-subscribe --flush …`); the hook
//! does not wait for it, so the flusher's own work is not in the figure.
//! Between runs (untimed) the bench waits for that flusher to exit and
//! empties the inboxes, so every run starts from the same state and no
//! flusher competes with the next hook for the CPU. The cases are
//! interleaved run by run, so load drift hits them alike.
//!
//! The tmux identity is fake (no server): a flusher finds no tmux to
//! deliver through, logs that, and exits — its cost is not measured here.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use orch_testkit::{TestEnv, bin};

use crate::stats::{Stats, numbers};
use crate::world::{self, store, time_baseline, time_hook};

const DEFAULT_RUNS: usize = 300;
const PEER: &str = "%1";

struct Case {
    label: String,
    subscribers: usize,
    world: TestEnv,
    times: Vec<Duration>,
}

fn payload() -> String {
    serde_json::json!({
        "session_id": "6ec41ded-570c-408c-9194-db002a5c5f27",
        "transcript_path": "/home/dev/.claude/projects/-home-dev-proj/6ec41ded-570c-408c-9194-db002a5c5f27.jsonl",
        "cwd": "/home/dev/proj",
        "prompt_id": "cac7e6df-af19-4225-a92b-251da624b419",
        "permission_mode": "default",
        "hook_event_name": "Stop",
        "stop_hook_active": false,
        "last_assistant_message": "I refactored the auth flow: the token refresh now happens in one place (src/auth/refresh.rs), the middleware no longer retries on 401, and the tests cover expiry and clock skew. ".repeat(4),
    })
    .to_string()
}

fn setup(subscribers: usize) -> Result<Case> {
    let world = world::fake();
    let store = store(&world);
    if subscribers > 0 {
        let subs: Vec<serde_json::Value> = (0..subscribers)
            .map(|i| serde_json::json!({"pane": format!("%{}", 10 + i), "kinds": ["stop"], "since_ts": 1}))
            .collect();
        let dir = store.layout().subs_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            store.layout().subs(PEER.parse()?),
            serde_json::json!({"v": 1, "peer": PEER, "subscribers": subs}).to_string(),
        )?;
    }
    Ok(Case {
        label: format!("{subscribers} subscriber(s)"),
        subscribers,
        world,
        times: Vec::new(),
    })
}

fn log_lines(world: &TestEnv, event: &str) -> usize {
    let store = store(world);
    std::fs::read_to_string(store.layout().flush_log())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

/// Wait (untimed) for the flusher the last run started, then empty the
/// inboxes and the flush log so the next run starts from the same state.
fn settle(case: &Case) -> Result<()> {
    if case.subscribers == 0 {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while log_lines(&case.world, "start") == 0
        || log_lines(&case.world, "exit") < log_lines(&case.world, "start")
    {
        if Instant::now() > deadline {
            bail!("the flusher of {} did not finish in 10 s", case.label);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let store = store(&case.world);
    std::fs::remove_file(store.layout().flush_log())?;
    for i in 0..case.subscribers {
        let p = format!("%{}", 10 + i).parse()?;
        for f in store.layout().inbox_files(p) {
            let _ = std::fs::remove_file(f);
        }
    }
    Ok(())
}

pub fn run(args: &[String]) -> Result<()> {
    let runs = numbers(args, &["--runs"], "subscribe takes --runs N")?[0].unwrap_or(DEFAULT_RUNS);
    orch_testkit::bins::require(&["orch-hook", "orch-subscribe"]).map_err(anyhow::Error::msg)?;
    let hook = bin("orch-hook");
    let payload = payload();
    let mut cases = vec![setup(0)?, setup(1)?, setup(5)?];
    // Warm-up: page cache, state dirs, the first log lines.
    for case in &mut cases {
        for _ in 0..10 {
            time_hook(&case.world, &hook, PEER, payload.as_bytes())?;
            settle(case)?;
        }
    }
    let mut baseline = Vec::with_capacity(runs);
    for _ in 0..runs {
        for case in &mut cases {
            let t = time_hook(&case.world, &hook, PEER, payload.as_bytes())?;
            case.times.push(t);
            settle(case)?;
        }
        // The process alone: orch-hook outside tmux returns before reading.
        baseline.push(time_baseline(&cases[0].world, &hook)?);
    }
    println!(
        "orch-hook stop ({} byte payload), {runs} runs per case, interleaved:",
        payload.len()
    );
    let base = Stats::new(baseline);
    println!("  {:<30} {}", "process baseline (no tmux)", base.line());
    let mut medians = Vec::new();
    for case in cases {
        let stats = Stats::new(case.times);
        medians.push((case.label.clone(), stats.pct(50.0)));
        println!("  {:<30} {}", case.label, stats.line());
    }
    let zero = medians[0].1;
    for (label, m) in &medians[1..] {
        println!(
            "  median cost of {label} over 0: {:+.3}ms",
            (m.as_secs_f64() - zero.as_secs_f64()) * 1000.0
        );
    }
    let target = Duration::from_millis(2);
    for (label, m) in &medians {
        println!(
            "  target ≤ 2ms median with {label}: {}",
            if *m <= target { "met" } else { "NOT met" }
        );
    }
    Ok(())
}

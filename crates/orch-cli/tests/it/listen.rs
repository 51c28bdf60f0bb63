//! orch-listen: wakes on hooks fired in real tmux panes, never misses an
//! event that landed before it started, replays with --since, and under
//! concurrency reports every event exactly once, in per-pane order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::prelude::*;

/// Fire `orch-hook stop` inside `pane` by typing into the pane's shell, so
/// the hook gets exactly the TMUX/TMUX_PANE environment tmux gives it.
fn fire_in_pane(env: &TestEnv, pane: &str, reply: &str) {
    let cmd = format!(
        "printf '%s' '{{\"session_id\":\"s\",\"last_assistant_message\":\"{reply}\"}}' | orch-hook stop"
    );
    env.tmux(&["send-keys", "-t", pane, "-l", &cmd]);
    env.tmux(&["send-keys", "-t", pane, "Enter"]);
}

fn shell_pane(env: &TestEnv) -> String {
    let pane = env.new_pane("sh");
    env.wait_for_screen(pane.as_str(), "#", Duration::from_secs(10));
    pane
}

#[test]
fn hook_in_a_pane_wakes_a_blocked_listener() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = shell_pane(&env);
    let listener = env
        .cmd("orch-listen")
        .args([pane.as_str(), "--timeout", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it block first (it would also work if it had not: cursor rule).
    std::thread::sleep(Duration::from_millis(300));
    fire_in_pane(&env, &pane, "woke you");
    let out = listener.wait_with_output().unwrap();
    assert_code(&out, 0);
    let evs = json_lines(&out);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["kind"], "stop");
    assert_eq!(evs[0]["reply"], "woke you");
    assert_eq!(evs[0]["pane"], pane.as_str());
}

#[test]
fn listen_started_after_the_event_still_returns_it() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = shell_pane(&env);
    fire_in_pane(&env, &pane, "early reply");
    eventually(Duration::from_secs(10), "the stop event", || {
        (!env.events(&pane).is_empty()).then_some(())
    });
    let out = env.run("orch-listen", &[pane.as_str(), "--timeout", "5"]);
    assert_code(&out, 0);
    assert_eq!(json_lines(&out)[0]["reply"], "early reply");
}

#[test]
fn default_cursor_is_the_turn_after_the_last_prompt() {
    let env = TestEnv::with_fake_server();
    hook(
        &env,
        "%5",
        "stop",
        r#"{"last_assistant_message":"old turn"}"#,
    );
    hook(&env, "%5", "prompt", r#"{"prompt":"next task"}"#);
    // The old turn's stop is before the last prompt: not returned.
    let out = env.run("orch-listen", &["%5", "--timeout", "0.3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "should time out: {}",
        stdout(&out)
    );
    hook(
        &env,
        "%5",
        "stop",
        r#"{"last_assistant_message":"new turn"}"#,
    );
    let out = env.run("orch-listen", &["%5", "--timeout", "5"]);
    assert_eq!(json_lines(&out)[0]["reply"], "new turn");
    // --new ignores what already happened.
    let out = env.run("orch-listen", &["%5", "--new", "--timeout", "0.2"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn since_replays_and_kinds_filter() {
    let env = TestEnv::with_fake_server();
    hook(&env, "%2", "session_start", r#"{"source":"startup"}"#);
    hook(&env, "%2", "prompt", r#"{"prompt":"a"}"#);
    hook(&env, "%2", "stop", r#"{"last_assistant_message":"A"}"#);
    hook(&env, "%2", "prompt", r#"{"prompt":"b"}"#);
    hook(&env, "%2", "stop", r#"{"last_assistant_message":"B"}"#);
    let out = env.run(
        "orch-listen",
        &[
            "%2",
            "--since",
            "0",
            "--stream",
            "--kinds",
            "prompt,stop",
            "--timeout",
            "0.3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "stream ends by timeout");
    let evs = json_lines(&out);
    let seqs: Vec<u64> = evs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 3, 4, 5]);
    let out = env.run("orch-listen", &["%2", "--since", "3"]);
    assert_eq!(json_lines(&out)[0]["reply"], "B");
}

#[test]
fn timeout_has_its_own_exit_code() {
    let env = TestEnv::with_fake_server();
    let start = Instant::now();
    let out = env.run("orch-listen", &["%9", "--timeout", "0.5"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("orch-listen: timed out"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn bad_arguments_are_one_line_usage_errors() {
    let env = TestEnv::with_fake_server();
    for (args, needle) in [
        (vec!["12"], "no agent named"),
        (vec!["%x1"], "invalid pane id"),
        (vec!["%1", "--kinds", "stop,bogus"], "unknown event kind"),
        (vec![], "nothing to listen to"),
        (vec!["%1", "--timeout", "-1"], "timeout"),
        (vec!["%1", "--frob"], "unexpected argument"),
    ] {
        let out = env.cmd("orch-listen").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn any_excludes_own_pane_and_observers() {
    let env = TestEnv::with_fake_server();
    // Make %3 an observer.
    hook(&env, "%3", "session_start", "{}");
    let reg = env.server_state().join("panes/3.json");
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&reg).unwrap()).unwrap();
    rec["role"] = "observer".into();
    std::fs::write(&reg, rec.to_string()).unwrap();
    let mut listener = env
        .cmd_in("orch-listen", "%1")
        .args(["--any", "--stream", "--timeout", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    hook(&env, "%1", "stop", r#"{"last_assistant_message":"mine"}"#);
    hook(
        &env,
        "%3",
        "stop",
        r#"{"last_assistant_message":"observer"}"#,
    );
    hook(&env, "%4", "stop", r#"{"last_assistant_message":"worker"}"#);
    let lines = read_lines(&mut listener, 1, Duration::from_secs(5));
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["reply"], "worker");
}

#[test]
fn concurrent_writers_and_stream_listeners_lose_and_duplicate_nothing() {
    let env = TestEnv::with_fake_server();
    const PANES: usize = 12;
    const EVENTS: usize = 25;
    const LISTENERS: usize = 4;
    let mut listeners: Vec<Child> = (0..LISTENERS)
        .map(|_| {
            env.cmd("orch-listen")
                .args(["--any", "--stream", "--timeout", "120"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    // One writer process per pane, all at once, each firing EVENTS hooks.
    let writers: Vec<Child> = (0..PANES)
        .map(|p| {
            let script = format!(
                "i=0; while [ $i -lt {EVENTS} ]; do printf '{{\"last_assistant_message\":\"p{p}-%d\"}}' $i | TMUX_PANE=%{p} orch-hook stop; i=$((i+1)); done"
            );
            env.command("sh").args(["-c", &script]).spawn().unwrap()
        })
        .collect();
    for mut w in writers {
        assert!(w.wait().unwrap().success());
    }
    let total = PANES * EVENTS;
    for l in listeners.iter_mut() {
        let lines = read_lines(l, total, Duration::from_secs(60));
        let _ = l.kill();
        let _ = l.wait();
        assert_eq!(lines.len(), total, "listener lost events");
        let mut per_pane: HashMap<String, Vec<u64>> = HashMap::new();
        for e in &lines {
            per_pane
                .entry(e["pane"].as_str().unwrap().to_string())
                .or_default()
                .push(e["seq"].as_u64().unwrap());
        }
        assert_eq!(per_pane.len(), PANES);
        for (pane, seqs) in per_pane {
            let want: Vec<u64> = (1..=EVENTS as u64).collect();
            assert_eq!(seqs, want, "pane {pane}: order/duplicates");
        }
    }
}

#[test]
fn rotation_under_a_stream_listener_loses_nothing() {
    let env = TestEnv::with_fake_server();
    let mut listener = env
        .cmd("orch-listen")
        .args(["%6", "--stream", "--new", "--timeout", "60"])
        .env("ORCH_LOG_MAX_BYTES", "2000")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..60 {
        let mut c = env.cmd_in("orch-hook", "%6");
        c.arg("stop")
            .env("ORCH_LOG_MAX_BYTES", "2000")
            .stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        write!(
            child.stdin.take().unwrap(),
            r#"{{"last_assistant_message":"r{i}"}}"#
        )
        .unwrap();
        child.wait().unwrap();
    }
    let lines = read_lines(&mut listener, 60, Duration::from_secs(30));
    let _ = listener.kill();
    let _ = listener.wait();
    let seqs: Vec<u64> = lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<u64>>());
    // Retention is bounded: only two generations remain.
    let dir = env.server_state().join("events");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in files {
        assert!(f.metadata().unwrap().len() < 4000);
    }
    // Sequence numbers carried on across the rotation.
    assert_eq!(env.events("%6").last().unwrap()["seq"], 60);
}

/// `ORCH_POLL=1`: the listener says once that it polls, and really polls —
/// it holds no inotify instance yet wakes on its own every `ORCH_POLL_MS`
/// while nothing happens — and still returns the event. A listener without
/// it, started alongside, does hold one (so the check below can see an
/// instance when there is one).
#[test]
fn polling_fallback_says_so_and_really_polls() {
    let env = TestEnv::with_fake_server();
    let listen = |pane: &str, poll: bool| {
        let mut c = env.cmd("orch-listen");
        c.args([pane, "--timeout", "20"]);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        if poll {
            c.env("ORCH_POLL", "1").env("ORCH_POLL_MS", "20");
        }
        c.spawn().unwrap()
    };
    let polling = listen("%8", true);
    let mut watching = listen("%9", false);
    let (p, w) = (polling.id(), watching.id());
    eventually(
        Duration::from_secs(10),
        "the inotify listener's watch",
        || (inotify_instances(w) == 1).then_some(()),
    );
    let before = wakeups(p);
    eventually(
        Duration::from_secs(10),
        "the polling listener to wake on its own",
        || (wakeups(p) >= before + 10).then_some(()),
    );
    assert_eq!(inotify_instances(p), 0, "ORCH_POLL=1 still armed inotify");
    hook(&env, "%8", "stop", r#"{"last_assistant_message":"polled"}"#);
    let out = polling.wait_with_output().unwrap();
    assert_eq!(json_lines(&out)[0]["reply"], "polled", "{}", show(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("orch: ORCH_POLL=1 is set; polling every 20 ms"),
        "{err}"
    );
    let _ = watching.kill();
    let _ = watching.wait();
}

/// inotify instances `pid` holds.
fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy() == "anon_inode:inotify")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Voluntary context switches of all `pid`'s threads: each is a wake-up.
fn wakeups(pid: u32) -> u64 {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .filter_map(|v| v.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

// ---- helpers ----

fn hook(env: &TestEnv, pane: &str, event: &str, payload: &str) {
    let mut c = env.cmd_in("orch-hook", pane);
    c.arg(event).stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Read JSON lines from a child's stdout until `n` arrived or `timeout`.
fn read_lines(child: &mut Child, n: usize, timeout: Duration) -> Vec<Value> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    while lines.len() < n {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => lines.push(serde_json::from_str(&l).unwrap()),
            Err(_) => break,
        }
    }
    // Anything beyond n that is already there is a duplicate: collect it.
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(l) = rx.try_recv() {
        lines.push(serde_json::from_str(&l).unwrap());
    }
    lines
}

/// Regression (found by the Claude Code e2e suite): survey showed `working`
/// right after `tell --wait` reported the turn's end, because the hook wrote
/// the log line before the registry summary. A reader that has seen an
/// event must find it in the registry.
#[test]
fn an_event_seen_by_a_listener_is_already_in_the_registry() {
    let env = TestEnv::with_fake_server();
    hook(&env, "%1", "session_start", "{}");
    let mut listener = env
        .cmd("orch-listen")
        .args([
            "%1",
            "--stream",
            "--new",
            "--kinds",
            "prompt,stop",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = listener.stdout.take().unwrap();
    let registry = env.server_state().join("panes/1.json");
    let checker = std::thread::spawn(move || {
        let mut stale = Vec::new();
        for line in BufReader::new(out).lines().take(200) {
            let ev: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let rec: Value = serde_json::from_slice(&std::fs::read(&registry).unwrap()).unwrap();
            if rec["last_event"]["seq"].as_u64() < ev["seq"].as_u64() {
                stale.push((ev["seq"].clone(), rec["last_event"]["seq"].clone()));
            }
        }
        stale
    });
    for i in 0..100 {
        hook(&env, "%1", "prompt", &format!(r#"{{"prompt":"p{i}"}}"#));
        hook(
            &env,
            "%1",
            "stop",
            &format!(r#"{{"last_assistant_message":"r{i}"}}"#),
        );
    }
    let stale = checker.join().unwrap();
    let _ = listener.kill();
    let _ = listener.wait();
    assert!(stale.is_empty(), "registry behind the log: {stale:?}");
}

/// SIGKILL the process running in `pane` and everything it started (no
/// hook fires: an agent killed mid-turn).
fn kill_pane_processes(env: &TestEnv, pane: &str) {
    let pid: u32 = env.pane_format(pane, "#{pane_pid}").trim().parse().unwrap();
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let p = pids[i];
        let children =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
        i += 1;
    }
    for p in pids.iter().rev() {
        let _ = env.command("kill").args(["-KILL", &p.to_string()]).status();
    }
}

/// Wait up to `bound` for `child` to exit; its output, and whether it had.
fn exits_within(child: Child, bound: Duration) -> (std::process::Output, bool) {
    let mut child = child;
    let end = Instant::now() + bound;
    let mut exited = false;
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !exited {
        let _ = child.kill();
    }
    (child.wait_with_output().unwrap(), exited)
}

/// Regression (issue 14, item 7; issue 15, item 3): an agent SIGKILLed
/// mid-turn fires no hook, and `orch listen` waited for its whole timeout
/// and said exit 3 (`tell --wait` said exit 7 after a second). Death ends
/// the wait: an `exited` event, exit 7 — for a pane that closed and for one
/// kept dead (`remain-on-exit`), for one target and in a stream.
#[test]
fn listen_ends_when_its_target_dies_mid_turn() {
    let env = or_skip!(TestEnv::with_tmux());
    let gone = env.start_echo("--turn-ms 20");
    let dead = env.start_echo("--turn-ms 20");
    env.tmux(&["set-option", "-p", "-t", &dead, "remain-on-exit", "on"]);
    for p in [&gone, &dead] {
        let o = env.run("orch-tell", &[p.as_str(), "[[slow:60000]] a long turn"]);
        assert_code(&o, 0);
    }
    let listen = |args: &[&str]| {
        env.cmd("orch-listen")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let one = listen(&[&gone, "--timeout", "60"]);
    let stream = listen(&[&dead, "--stream", "--timeout", "60"]);
    std::thread::sleep(Duration::from_millis(300));
    kill_pane_processes(&env, &gone);
    kill_pane_processes(&env, &dead);

    let (o, exited) = exits_within(one, Duration::from_secs(30));
    assert!(exited, "listen still waiting 30 s after its target died");
    assert_code(&o, 7);
    let evs = json_lines(&o);
    assert_eq!(evs.len(), 1, "{}", show(&o));
    assert_eq!(evs[0]["kind"], "exited");
    assert_eq!(evs[0]["pane"], gone.as_str());
    assert_eq!(evs[0]["reason"], "pane_gone");
    assert_eq!(evs[0]["seq"], 0, "not a record of the log");

    let (o, exited) = exits_within(stream, Duration::from_secs(30));
    assert!(
        exited,
        "listen --stream still waiting after its target died"
    );
    assert_code(&o, 7);
    let evs = json_lines(&o);
    assert_eq!(evs.len(), 1, "{}", show(&o));
    assert_eq!(evs[0]["kind"], "exited");
    assert_eq!(evs[0]["reason"], "pane_dead");
}

/// Regression (issue 15, item 3): `orch listen %999` waited silently (with
/// `--timeout 1` it only said "timed out"). A pane that does not exist is
/// an error at once, exit 7, like tell; an agent that exited after its
/// reply still has that reply returned first, then its end.
#[test]
fn listen_to_a_missing_or_exited_pane_is_exit_7() {
    let env = or_skip!(TestEnv::with_tmux());
    let o = env.run("orch-listen", &["%999", "--timeout", "30"]);
    assert_code(&o, 7);
    assert_one_line_error(&o, "orch-listen", "%999 does not exist");
    assert_eq!(stdout(&o), "");

    let live = env.start_echo("--turn-ms 20");
    let quitter = env.start_echo("--turn-ms 20");
    let o = env.run("orch-tell", &[quitter.as_str(), "[[exit]] goodbye"]);
    assert_code(&o, 0);
    eventually(Duration::from_secs(15), "the pane to close", || {
        (!env.panes().contains(&quitter)).then_some(())
    });
    // The reply that landed before it exited comes first.
    let o = env.run("orch-listen", &[&quitter, "--timeout", "30"]);
    assert_code(&o, 0);
    let stop = json_lines(&o)[0].clone();
    assert_eq!(stop["kind"], "stop");
    // Then its session's end (exit 7, as tell --wait), then its absence.
    let since = stop["seq"].to_string();
    let o = env.run(
        "orch-listen",
        &[&quitter, "--since", &since, "--timeout", "30"],
    );
    assert_code(&o, 7);
    let end = json_lines(&o)[0].clone();
    assert_eq!(end["kind"], "session_end", "{end}");
    let since = end["seq"].to_string();
    let o = env.run(
        "orch-listen",
        &[&quitter, "--since", &since, "--timeout", "30"],
    );
    assert_code(&o, 7);
    assert_eq!(json_lines(&o)[0]["reason"], "pane_gone");
    // The first of several: the gone one ends it, the live one is still
    // idle (--new: the quitter's last turn end, before listen, would count).
    let o = env.run(
        "orch-listen",
        &[&live, &quitter, "--new", "--timeout", "30"],
    );
    assert_code(&o, 7);
    let evs = json_lines(&o);
    assert_eq!(evs[0]["pane"], quitter.as_str());
    assert_eq!(evs[0]["kind"], "exited");
}

/// Issue 15: with several targets listen only reported events after it
/// started, so agents that were already done made it block and time out.
/// Each named target now follows the single-target rule.
#[test]
fn several_targets_count_turns_that_ended_before_listen() {
    let env = TestEnv::with_fake_server();
    hook(&env, "%5", "prompt", r#"{"prompt":"task a"}"#);
    hook(&env, "%6", "prompt", r#"{"prompt":"task b"}"#);
    hook(&env, "%6", "stop", r#"{"last_assistant_message":"b done"}"#);
    let out = env.run("orch-listen", &["%5", "%6", "--timeout", "5"]);
    assert_code(&out, 0);
    let evs = json_lines(&out);
    assert_eq!(evs.len(), 1);
    assert_eq!(
        (evs[0]["pane"].as_str(), evs[0]["reply"].as_str()),
        (Some("%6"), Some("b done"))
    );
}

/// `--all`: one event per target once every target has had its turn end;
/// on timeout what arrived is printed and stderr names who is missing.
#[test]
fn listen_all_waits_for_every_target_and_names_the_missing() {
    let env = TestEnv::with_fake_server();
    hook(&env, "%5", "stop", r#"{"last_assistant_message":"old a"}"#);
    hook(&env, "%5", "prompt", r#"{"prompt":"task a"}"#);
    hook(&env, "%6", "prompt", r#"{"prompt":"task b"}"#);
    hook(&env, "%6", "stop", r#"{"last_assistant_message":"b done"}"#);
    hook(&env, "%6", "prompt", r#"{"prompt":"task b2"}"#);
    hook(
        &env,
        "%6",
        "stop",
        r#"{"last_assistant_message":"b2 done"}"#,
    );
    let out = env.run("orch-listen", &["--all", "%5", "%6", "--timeout", "0.5"]);
    assert_code(&out, 3);
    let evs = json_lines(&out);
    assert_eq!(evs.len(), 1, "{}", show(&out));
    assert_eq!(evs[0]["reply"], "b2 done");
    orch_testkit::assert_one_line_error(&out, "orch-listen", "missing: %5");
    assert!(
        !stderr(&out).contains("missing: %5, %6"),
        "{}",
        stderr(&out)
    );

    hook(&env, "%5", "stop", r#"{"last_assistant_message":"a done"}"#);
    let out = env.run("orch-listen", &["--all", "%5", "%6", "--timeout", "5"]);
    assert_code(&out, 0);
    let mut replies: Vec<String> = json_lines(&out)
        .iter()
        .map(|e| e["reply"].as_str().unwrap().to_string())
        .collect();
    replies.sort();
    assert_eq!(replies, ["a done", "b2 done"]);
    // --all with nothing named, or with --stream, is a usage error.
    assert_code(&env.run("orch-listen", &["--all", "--any"]), 2);
    assert_code(&env.run("orch-listen", &["--all", "%5", "--stream"]), 2);
}

/// `--all` on echo agents told in separate calls, all done before listen
/// starts: returns at once; a target that dies ends it with exit 7.
#[test]
fn listen_all_after_all_turns_ended_and_on_a_death() {
    let env = or_skip!(TestEnv::with_tmux());
    let panes: Vec<String> = (0..3).map(|_| env.start_echo("--turn-ms 20")).collect();
    for p in &panes {
        assert_code(&env.run("orch-tell", &[p.as_str(), "go"]), 0);
    }
    for p in &panes {
        env.wait_event(p, "stop", 0, Duration::from_secs(15));
    }
    let mut args = vec!["--all"];
    args.extend(panes.iter().map(String::as_str));
    args.extend(["--timeout", "10"]);
    let out = env.run("orch-listen", &args);
    assert_code(&out, 0);
    let mut got: Vec<String> = json_lines(&out)
        .iter()
        .map(|e| e["pane"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = panes.clone();
    want.sort();
    assert_eq!(got, want);

    // New prompts; a slow one dies mid-turn: its `exited`, the others'
    // stops, exit 7.
    let slow = env.start_echo("--turn-ms 600000");
    for p in &panes[..2] {
        assert_code(&env.run("orch-tell", &[p.as_str(), "again"]), 0);
    }
    assert_code(&env.run("orch-tell", &[slow.as_str(), "a long one"]), 0);
    let mut args = vec!["--all", panes[0].as_str(), panes[1].as_str(), slow.as_str()];
    args.extend(["--timeout", "30"]);
    let listener = env
        .cmd("orch-listen")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for p in &panes[..2] {
        env.wait_event(p, "stop", 5, Duration::from_secs(15));
    }
    env.tmux(&["kill-pane", "-t", &slow]);
    let out = listener.wait_with_output().unwrap();
    assert_code(&out, 7);
    let evs = json_lines(&out);
    assert_eq!(evs.len(), 3, "{}", show(&out));
    let dead: Vec<&Value> = evs.iter().filter(|e| e["pane"] == slow.as_str()).collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["kind"], "exited");
}

//! orch-subscribe against echo agents in a private tmux server.
//!
//! Every "received" check reads the subscriber's own `prompt` events (what
//! its agent really submitted, fired through orch-hook), never orch's claims.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use orch::echo::reply_for;
use orch::pane::PaneId;

use crate::prelude::*;

const T: Duration = Duration::from_secs(30);

/// Spawn a named echo agent (headless) and return its pane.
fn spawn_echo(env: &TestEnv, name: &str) -> String {
    let args = ["echo", "--name", name, "--headless", "--timeout", "20"];
    let v = env.run_json(
        "orch-spawn",
        &[&args[..], &["--", "--turn-ms", "20"]].concat(),
    );
    v["pane"].as_str().unwrap().to_string()
}

/// A world with `N` named echo agents, `a`, `b`, … (headless).
fn agents<const N: usize>() -> Option<(TestEnv, [String; N])> {
    let env = TestEnv::with_tmux()?;
    let panes = std::array::from_fn(|i| spawn_echo(&env, ["a", "b", "c", "d"][i]));
    Some((env, panes))
}

/// The one-line notice `pane` (named `name`) sends when it has answered
/// `prompt`.
fn notice(pane: &str, name: &str, prompt: &str) -> String {
    let reply = reply_for(prompt);
    format!("[orch] {pane} ({name}) finished: {reply} (notice from orch; no reply needed)")
}

fn sub(env: &TestEnv, args: &[&str]) -> Output {
    env.run("orch-subscribe", args)
}

fn sub_ok(env: &TestEnv, args: &[&str]) -> Value {
    env.run_json("orch-subscribe", args)
}

/// One clear line on stderr, nothing on stdout, the documented code.
fn assert_error(o: &Output, code: i32, needle: &str) {
    assert_code(o, code);
    assert_one_line_error(o, "orch-subscribe", needle);
    assert_eq!(stdout(o), "", "nothing on stdout after an error");
}

fn tell_wait(env: &TestEnv, pane: &str, text: &str) {
    let o = env.run("orch-tell", &[pane, text, "--wait", "--timeout", "20"]);
    assert_eq!(o.status.code(), Some(0), "tell: {}", stderr(&o));
}

fn of_kind(env: &TestEnv, pane: &str, kind: &str) -> Vec<Value> {
    env.events(pane)
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// The notices a pane's agent received (its prompts that are notices).
fn notices(env: &TestEnv, pane: &str) -> Vec<Value> {
    of_kind(env, pane, "prompt")
        .into_iter()
        .filter(|e| e["prompt"].as_str().unwrap_or("").starts_with("[orch] "))
        .collect()
}

fn text(e: &Value) -> &str {
    e["prompt"].as_str().unwrap_or("")
}

/// Wait until `pane` has received `n` notices and finished the turn each
/// of them started.
fn wait_notices(env: &TestEnv, pane: &str, n: usize) -> Vec<Value> {
    eventually(T, &format!("{n} notice(s) answered in {pane}"), || {
        let got = notices(env, pane);
        let last = got.last()?["seq"].as_u64()?;
        let answered = of_kind(env, pane, "stop")
            .iter()
            .any(|s| s["seq"].as_u64().unwrap_or(0) > last);
        (got.len() >= n && answered).then_some(got)
    })
}

fn flush_log(env: &TestEnv) -> Vec<Value> {
    std::fs::read_to_string(env.server_state().join("inbox").join("flush.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Is `pid` a process that has not exited? (A zombie has exited: this
/// container's init does not reap orphans.)
fn running(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(") ").next().and_then(|r| r.chars().next());
            !matches!(state, Some('Z' | 'X') | None)
        }
        Err(_) => false,
    }
}

/// Flushers of this test's world still running, found by scanning /proc
/// for `orch-subscribe --flush` processes with this world's state dir.
fn flushers_in_proc(env: &TestEnv) -> Vec<u64> {
    let marker = format!("ORCH_STATE_DIR={}", env.state.display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.contains("orch-subscribe\0--flush") {
            continue;
        }
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if String::from_utf8_lossy(&environ)
            .split('\0')
            .any(|v| v == marker)
            && running(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// Every flusher that ever started in this world has exited, checked by
/// the pids it logged and by a scan of /proc.
fn assert_flushers_exited(env: &TestEnv) -> usize {
    let pids: Vec<u64> = flush_log(env)
        .iter()
        .filter(|l| l["event"] == "start")
        .filter_map(|l| l["pid"].as_u64())
        .collect();
    eventually(T, "every notice flusher to exit", || {
        (pids.iter().all(|&p| !running(p)) && flushers_in_proc(env).is_empty()).then_some(())
    });
    pids.len()
}

fn subs_files(env: &TestEnv) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(env.server_state().join("subs"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".json") && !n.starts_with('.')
                })
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn subs_file(env: &TestEnv, peer: &str) -> PathBuf {
    env.server_state()
        .join("subs")
        .join(format!("{}.json", peer.trim_start_matches('%')))
}

fn agent<'a>(survey: &'a Value, pane: &str) -> &'a Value {
    entry(&survey["agents"], "pane", pane)
}

#[test]
fn a_hears_once_when_b_finishes_and_survey_shows_it() {
    let (env, [a, b]) = or_skip!(agents());
    let v = sub_ok(&env, &["--for", "a", "b"]);
    assert_eq!(v["subscriber"], a.as_str());
    assert_eq!(v["subscriptions"][0]["peer"], b.as_str());
    assert_eq!(v["subscriptions"][0]["name"], "b");
    assert_eq!(v["subscriptions"][0]["status"], "added");
    assert_eq!(v["subscriptions"][0]["kinds"], serde_json::json!(["stop"]));
    // The documented layout, keyed by the peer.
    let f: Value = serde_json::from_slice(&std::fs::read(subs_file(&env, &b)).unwrap()).unwrap();
    assert_eq!(f["v"], 1);
    assert_eq!(f["peer"], b.as_str());
    assert_eq!(f["subscribers"][0]["pane"], a.as_str());
    assert_eq!(f["subscribers"][0]["kinds"], serde_json::json!(["stop"]));
    assert!(f["subscribers"][0]["since_ts"].as_u64().unwrap() > 0);

    tell_wait(&env, &b, "hello from the test");
    let got = wait_notices(&env, &a, 1);
    assert_eq!(text(&got[0]), notice(&b, "b", "hello from the test"));
    // Typed through tell's path: a `sent` event marked as a notice.
    let sent = of_kind(&env, &a, "sent");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["data"]["notice"], true);
    assert!(sent[0]["from"].is_null());

    assert!(assert_flushers_exited(&env) >= 1);
    assert_eq!(notices(&env, &a).len(), 1, "exactly one notice");
    assert!(notices(&env, &b).is_empty(), "b subscribes to nobody");
    let pending = sub_ok(&env, &["--list", "--for", "a"]);
    assert_eq!(pending["pending"], 0);

    let o = env.cmd("orch-survey").output().unwrap();
    assert_code(&o, 0);
    let s = json_of(&o);
    assert_eq!(
        agent(&s, &a)["subscriptions"],
        serde_json::json!([{"peer": b, "kinds": ["stop"]}])
    );
    assert_eq!(agent(&s, &b)["subscribers"], serde_json::json!([a]));
}

#[test]
fn notices_to_a_busy_subscriber_arrive_as_one_message_after_its_turn() {
    let (env, [a, b]) = or_skip!(agents());
    sub_ok(&env, &["--for", &a, &b]);
    let o = env
        .cmd("orch-tell")
        .args([&a, "[[slow:6000]] think hard", "--timeout", "20"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    let words = ["one", "two", "three"];
    for w in words {
        tell_wait(&env, &b, w);
    }
    assert!(
        notices(&env, &a).is_empty(),
        "nothing may be typed into a while it works"
    );
    let got = wait_notices(&env, &a, 1);
    // Precondition of the scenario: all three of b's turns ended before a's.
    let a_stop = of_kind(&env, &a, "stop")[0].clone();
    let b_stops = of_kind(&env, &b, "stop");
    assert_eq!(b_stops.len(), 3);
    assert!(
        b_stops
            .iter()
            .all(|s| s["ts"].as_u64() < a_stop["ts"].as_u64()),
        "b's three turns should all end while a works (machine too slow?)"
    );
    assert!(got[0]["seq"].as_u64() > a_stop["seq"].as_u64());
    let expected = format!(
        "[orch] 3 notices (read-only context from orch; no reply needed):\n{}",
        words
            .iter()
            .map(|w| format!("- {b} (b) finished: {}", reply_for(w)))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(text(&got[0]), expected);
    assert_flushers_exited(&env);
    assert_eq!(notices(&env, &a).len(), 1, "one batched message, no more");
    // The log says a flusher found a busy and left the notices waiting.
    assert!(
        flush_log(&env).iter().any(|l| l["outcome"] == "waiting"),
        "{:?}",
        flush_log(&env)
    );
}

#[test]
fn self_mutual_and_cyclic_subscriptions_are_refused() {
    let (env, [a, _b, c]) = or_skip!(agents());
    assert_error(&sub(&env, &["--for", "a", "a"]), 4, "itself");
    assert_error(&sub(&env, &["--for", "a", "self"]), 4, "itself");
    assert_error(&sub(&env, &["--for", &a, &a]), 4, "itself");
    assert!(subs_files(&env).is_empty());

    sub_ok(&env, &["--for", "a", "b"]);
    let before = subs_files(&env);
    assert_error(&sub(&env, &["--for", "b", "a"]), 4, "mutual");
    assert_eq!(subs_files(&env), before, "a refusal changes nothing");

    // a gets b's notices, b gets c's: c subscribing to a closes a → c → b → a.
    sub_ok(&env, &["--for", "b", "c"]);
    let before = subs_files(&env);
    let o = sub(&env, &["--for", "c", "a"]);
    assert_error(&o, 4, "loop");
    assert!(stderr(&o).contains(&format!("{c} → ")), "{}", stderr(&o));
    // Several peers at once: one refused, none added.
    let o = sub(&env, &["--for", "c", "--kinds", "stop", "a"]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(subs_files(&env), before);
}

#[test]
fn subscriptions_end_when_either_pane_dies() {
    let (env, [a, b, c, d]) = or_skip!(agents());
    sub_ok(&env, &["--for", &a, &b, &d]);
    sub_ok(&env, &["--for", &c, &b]);

    // A subscriber gone: found lazily by the flusher delivering to it.
    env.tmux(&["kill-pane", "-t", &c]);
    tell_wait(&env, &b, "after c died");
    wait_notices(&env, &a, 1);
    eventually(T, "c dropped from b's subscribers", || {
        let f: Value = serde_json::from_slice(&std::fs::read(subs_file(&env, &b)).ok()?).ok()?;
        (f["subscribers"].as_array()?.len() == 1).then_some(())
    });
    let f: Value = serde_json::from_slice(&std::fs::read(subs_file(&env, &b)).unwrap()).unwrap();
    assert_eq!(f["subscribers"][0]["pane"], a.as_str());
    let c_inbox = env
        .server_state()
        .join("inbox")
        .join(format!("{}.jsonl", c.trim_start_matches('%')));
    assert_flushers_exited(&env);
    assert!(!c_inbox.exists(), "a gone subscriber's inbox is removed");

    // A peer gone: the lazy check of --list.
    env.tmux(&["kill-pane", "-t", &b]);
    let v = sub_ok(&env, &["--list", "--for", &a]);
    let peers = field(&v["subscriptions"], "peer");
    assert_eq!(peers, [d.as_str()]);
    assert!(!subs_file(&env, &b).exists());

    // Another peer gone: GC (run by survey) removes it.
    env.tmux(&["kill-pane", "-t", &d]);
    std::thread::sleep(Duration::from_millis(50));
    let o = env.cmd("orch-survey").output().unwrap();
    assert_code(&o, 0);
    assert!(!subs_file(&env, &d).exists());
    assert!(subs_files(&env).is_empty(), "{:?}", subs_files(&env));
}

#[test]
fn list_unsub_and_cancel() {
    let (env, [a, b, c]) = or_skip!(agents());
    let v = sub_ok(&env, &["--for", "a", "b", "c", "--kinds", "notify,stop"]);
    let statuses = field(&v["subscriptions"], "status");
    assert_eq!(statuses, ["added", "added"]);
    let v = sub_ok(
        &env,
        &["--for", "a", "b", "--kinds", "stop", "--kinds", "notify"],
    );
    assert_eq!(v["subscriptions"][0]["status"], "unchanged");
    let v = sub_ok(&env, &["--for", "a", "b"]);
    assert_eq!(v["subscriptions"][0]["status"], "updated");
    assert_eq!(v["subscriptions"][0]["kinds"], serde_json::json!(["stop"]));

    let v = sub_ok(&env, &["--list", "--for", "a"]);
    assert_eq!(v["pane"], a.as_str());
    let subs = v["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["peer"], b.as_str());
    assert_eq!(subs[0]["kinds"], serde_json::json!(["stop"]));
    assert_eq!(subs[1]["peer"], c.as_str());
    assert_eq!(subs[1]["kinds"], serde_json::json!(["stop", "notify"]));
    assert_eq!(v["subscribers"], serde_json::json!([]));
    assert_eq!(v["pending"], 0);
    let v = sub_ok(&env, &["--list", "--for", "b"]);
    assert_eq!(v["subscribers"][0]["pane"], a.as_str());
    assert_eq!(v["subscribers"][0]["name"], "a");
    let v = sub_ok(&env, &["--list", "--all"]);
    assert_eq!(v["subscriptions"].as_array().unwrap().len(), 2);
    let o = sub(&env, &["--list", "--for", "a", "--pretty"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("gets notices about"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("{b} (b)")), "{}", stdout(&o));

    let v = sub_ok(&env, &["--for", "a", "--unsub", "b"]);
    assert_eq!(v["removed"], serde_json::json!([b]));
    assert!(!subs_file(&env, &b).exists());
    let v = sub_ok(&env, &["--for", "a", "--unsub", "b"]);
    assert_eq!(v["removed"], serde_json::json!([]));
    assert_eq!(v["not_subscribed"], serde_json::json!([b]));
    let v = sub_ok(&env, &["--list", "--for", "a"]);
    assert_eq!(v["subscriptions"].as_array().unwrap().len(), 1);

    let v = sub_ok(&env, &["--for", "a", "--cancel"]);
    assert_eq!(v["removed"], serde_json::json!([c]));
    let v = sub_ok(&env, &["--list", "--for", "a"]);
    assert_eq!(v["subscriptions"], serde_json::json!([]));
    assert!(subs_files(&env).is_empty());
    // After unsubscribing, b's turns tell nobody.
    tell_wait(&env, &b, "nobody listens");
    tell_wait(&env, &c, "nobody listens either");
    std::thread::sleep(Duration::from_millis(300));
    assert!(notices(&env, &a).is_empty());
    assert_eq!(flush_log(&env).len(), 0, "no flusher was started");
}

#[test]
fn bad_input_is_a_one_line_error_and_changes_nothing() {
    let (env, [a, _b]) = or_skip!(agents());
    assert_error(&sub(&env, &["--for", "a"]), 2, "nothing to do");
    assert_error(&sub(&env, &["b"]), 2, "--for");
    assert_error(
        &sub(&env, &["--for", "a", "b", "--kinds", "bogus"]),
        2,
        "bogus",
    );
    assert_error(
        &sub(&env, &["--for", "a", "b", "--kinds", "prompt"]),
        2,
        "prompt",
    );
    assert_error(&sub(&env, &["--for", "a", "nobody"]), 2, "no agent named");
    assert_error(&sub(&env, &["--for", "a", "%x"]), 2, "invalid pane id");
    assert_error(&sub(&env, &["--for", "a", "%999"]), 7, "does not exist");
    assert_error(&sub(&env, &["--for", "%999", "a"]), 7, "does not exist");
    assert_error(&sub(&env, &["--for", "a", "--list", "b"]), 2, "--list");
    assert_error(
        &sub(&env, &["--for", "a", "b", "--unsub", "b"]),
        2,
        "--unsub",
    );
    assert_error(&sub(&env, &["--for", "a", "--cancel", "b"]), 2, "--cancel");
    assert_error(&sub(&env, &["--frobnicate"]), 2, "--frobnicate");
    // A plain shell pane cannot take notices: refused.
    let shell = env.new_pane("sh");
    eventually(T, "the shell", || {
        env.tmux(&[
            "display-message",
            "-p",
            "-t",
            &shell,
            "#{pane_current_command}",
        ])
        .trim()
        .eq("sh")
        .then_some(())
    });
    assert_error(&sub(&env, &["--for", &shell, &a]), 4, "sh prompt");
    assert!(subs_files(&env).is_empty());
}

#[test]
fn a_turn_started_by_a_notice_does_not_notify_further() {
    let (env, [a, b, c]) = or_skip!(agents());
    sub_ok(&env, &["--for", "a", "b"]);
    sub_ok(&env, &["--for", "c", "a"]);
    tell_wait(&env, &b, "ping");
    wait_notices(&env, &a, 1);
    assert_flushers_exited(&env);
    assert!(
        notices(&env, &c).is_empty(),
        "a's answer to a notice must not reach c: {:?}",
        notices(&env, &c)
    );
    // A real turn of a does.
    tell_wait(&env, &a, "real work");
    let got = wait_notices(&env, &c, 1);
    assert_eq!(text(&got[0]), notice(&a, "a", "real work"));
    assert_flushers_exited(&env);
    assert_eq!(notices(&env, &c).len(), 1);
    assert_eq!(notices(&env, &a).len(), 1);
}

#[test]
fn beyond_the_rate_limit_notices_batch() {
    let env = or_skip!(TestEnv::with_tmux());
    // Agents (and so their hooks and flushers) inherit the server's env.
    env.tmux(&["set-environment", "-g", "ORCH_SUBSCRIBE_RATE", "1/3"]);
    let a = spawn_echo(&env, "a");
    let b = spawn_echo(&env, "b");
    sub_ok(&env, &["--for", "a", "b"]);
    let start = Instant::now();
    for w in ["r1", "r2", "r3"] {
        tell_wait(&env, &b, w);
    }
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "b's turns should fit in the rate window (machine too slow?)"
    );
    let got = wait_notices(&env, &a, 2);
    assert_eq!(text(&got[0]), notice(&b, "b", "r1"));
    assert_eq!(
        text(&got[1]),
        format!(
            "[orch] 2 notices (read-only context from orch; no reply needed):\n- {b} (b) finished: {}\n- {b} (b) finished: {}",
            reply_for("r2"),
            reply_for("r3")
        )
    );
    let gap = got[1]["ts"].as_u64().unwrap() - got[0]["ts"].as_u64().unwrap();
    assert!(gap >= 2_900_000_000, "second delivery only {gap} ns later");
    assert!(
        flush_log(&env)
            .iter()
            .any(|l| l["outcome"] == "rate-limited")
    );
    assert_flushers_exited(&env);
    assert_eq!(notices(&env, &a).len(), 2);
}

/// A flusher that died mid-delivery leaves `inflight` in the state file;
/// its successor asks the subscriber's log whether the batch was typed.
#[test]
fn an_interrupted_delivery_is_neither_repeated_nor_lost() {
    let (env, [a, b]) = or_skip!(agents());
    let st = env.store();
    let ap: PaneId = a.parse().unwrap();
    let bp: PaneId = b.parse().unwrap();
    let queue = |text: &str| {
        let mut ev = orch::event::Event::new(orch::event::Kind::Stop);
        ev.reply = Some(text.into());
        ev.seq = 1;
        ev.name = Some("b".into());
        orch::notice::append(&st, ap, &orch::notice::Notice::from_event(bp, &ev)).unwrap();
    };
    let inbox = env.server_state().join("inbox");
    let write_state = |acked: u64, upto: u64, id: &str| {
        let s = serde_json::json!({"v": 1, "acked": acked,
            "inflight": {"upto": upto, "id": id, "ts": 1, "dropped": 0}});
        std::fs::write(inbox.join(format!("{}.state.json", ap.0)), s.to_string()).unwrap();
    };
    let flush = || {
        let o = env.run("orch-subscribe", &["--flush", &a]);
        assert_code(&o, 0);
    };

    // 1. The predecessor typed notice 1 (its `sent` event is in a's log)
    // and died before acknowledging: nothing is typed again.
    queue("first reply");
    let mut sent = orch::event::Event::new(orch::event::Kind::Sent);
    sent.data = Some(serde_json::json!({"notice": true, "notice_id": "typed-1"}));
    st.append(ap, sent).unwrap();
    write_state(0, 1, "typed-1");
    flush();
    assert!(notices(&env, &a).is_empty(), "{:?}", notices(&env, &a));
    let v = sub_ok(&env, &["--list", "--for", "a"]);
    assert_eq!(v["pending"], 0);
    assert!(
        flush_log(&env)
            .iter()
            .any(|l| l["outcome"] == "recovered" && l["typed"] == true)
    );

    // 2. The predecessor died before typing notice 2: it is delivered, once.
    queue("second reply");
    write_state(1, 2, "never-typed");
    flush();
    let got = wait_notices(&env, &a, 1);
    assert!(text(&got[0]).contains("finished: second reply"), "{got:?}");
    flush();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(notices(&env, &a).len(), 1);
    assert!(
        flush_log(&env)
            .iter()
            .any(|l| l["outcome"] == "recovered" && l["typed"] == false)
    );
}

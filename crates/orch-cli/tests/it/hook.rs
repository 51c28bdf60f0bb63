//! orch-hook: every captured Claude Code payload becomes the right record,
//! and no input can make the hook print, fail, or damage the log.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::prelude::*;
use orch::event::prompt_hash;
use orch_testkit::claude::hook_events;
use serde_json::json;

/// Real payloads captured from Claude Code 2.1.197 (a copy of the design
/// brief's fixtures, kept in the repo so a clone is self-contained).
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude-code-2.1.197-hook-payloads.jsonl"
);

/// Run orch-hook as if inside `pane` of the env's server, feeding `input`.
fn run_hook(env: &TestEnv, pane: &str, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut c = env.cmd_in("orch-hook", pane);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from a thread: the hook may stop reading (bounded input).
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn fixture_lines() -> Vec<Value> {
    let text = std::fs::read_to_string(FIXTURES).expect("shared fixtures present");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn orch_event_name(claude: &str) -> &'static str {
    hook_events()
        .find(|(e, _)| *e == claude)
        .unwrap_or_else(|| panic!("fixture has an event orch does not register: {claude}"))
        .1
}

#[test]
fn every_fixture_payload_becomes_the_expected_record() {
    let env = TestEnv::with_fake_server();
    let fixtures = fixture_lines();
    assert!(fixtures.len() >= 20);
    for (i, f) in fixtures.iter().enumerate() {
        let payload = &f["payload"];
        let event = orch_event_name(f["event"].as_str().unwrap());
        let out = run_hook(&env, "%7", &[event], payload.to_string().as_bytes());
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty(), "hook wrote to stdout");
        let events = env.events("%7");
        assert_eq!(events.len(), i + 1, "one record per firing");
        let ev = events.last().unwrap();
        assert_eq!(ev["seq"], (i + 1) as u64);
        assert_eq!(ev["pane"], "%7");
        assert_eq!(ev["kind"], event);
        assert_eq!(ev["session_id"], payload["session_id"]);
        assert_eq!(ev["cwd"], payload["cwd"]);
        assert_eq!(ev["harness"], "claude");
        assert!(ev.get("error").is_none(), "{ev}");
        match event {
            "session_start" => {
                assert_eq!(ev["source"], payload["source"]);
                assert_eq!(ev["model"], payload["model"]);
            }
            "prompt" => {
                let p = payload["prompt"].as_str().unwrap();
                let kept = ev["prompt"].as_str().unwrap();
                if p.len() <= orch::event::PROMPT_KEEP_BYTES {
                    assert!(kept == p, "prompt text differs");
                    assert!(ev.get("truncated").is_none());
                } else {
                    // Long prompts keep a bounded preview plus length and hash.
                    assert!(p.starts_with(kept) && kept.len() <= orch::event::PROMPT_KEEP_BYTES);
                    assert_eq!(ev["truncated"], true);
                }
                assert_eq!(ev["prompt_id"], payload["prompt_id"]);
                assert_eq!(ev["prompt_len"], p.len() as u64);
                assert_eq!(ev["prompt_hash"], orch::event::prompt_hash(p));
            }
            "stop" => {
                assert_eq!(ev["reply"], payload["last_assistant_message"]);
                assert_eq!(ev["prompt_id"], payload["prompt_id"]);
            }
            "notify" => {
                assert_eq!(ev["notification_type"], payload["notification_type"]);
                assert_eq!(ev["message"], payload["message"]);
            }
            "session_end" => assert_eq!(ev["reason"], payload["reason"]),
            _ => {}
        }
    }
    // The registry follows the latest event.
    let reg = env.registry("%7").unwrap();
    let last = fixtures.last().unwrap();
    assert_eq!(reg["session_id"], last["payload"]["session_id"]);
    assert_eq!(reg["last_event"]["kind"], "stop");
    assert_eq!(reg["last_event"]["seq"], fixtures.len() as u64);
    let stops = fixtures.iter().filter(|f| f["event"] == "Stop").count();
    assert_eq!(reg["turns"], stops as u64);
}

/// `PermissionRequest` and the `Notification` that follows for the same
/// dialog, captured from Claude Code 2.1.197 and 2.1.332.
const PERMISSION_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/claude-code-permission-request-payloads.jsonl"
);

/// A `PermissionRequest` hook's stdout answers Claude Code's dialog (JSON
/// there can allow or deny the tool): orch-hook must print nothing, exit 0,
/// and record the dialog once — the `permission_prompt` Notification that
/// Claude fires 6 s later for the same dialog is not a second `notify`.
#[test]
fn permission_request_prints_nothing_and_its_later_notification_is_not_a_second_event() {
    let text = std::fs::read_to_string(PERMISSION_FIXTURES).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let versions: Vec<&str> = lines.iter().filter_map(|l| l["version"].as_str()).collect();
    assert!(versions.contains(&"2.1.197") && versions.contains(&"2.1.332"));
    for pair in lines.chunks(2) {
        let [request, notification] = pair else {
            panic!("fixtures come in pairs: {pair:?}")
        };
        assert_eq!(request["event"], "PermissionRequest");
        assert_eq!(notification["event"], "Notification");
        let env = TestEnv::with_fake_server();
        let payload = &request["payload"];
        let arg = orch_event_name("PermissionRequest");
        let out = run_hook(&env, "%3", &[arg], payload.to_string().as_bytes());
        assert_code(&out, 0);
        assert!(out.stdout.is_empty(), "stdout: {:?}", stdout(&out));
        assert!(out.stderr.is_empty(), "stderr: {:?}", stderr(&out));
        let events = env.events("%3");
        assert_eq!(events.len(), 1, "{events:#?}");
        let ev = &events[0];
        assert_eq!(ev["kind"], "notify");
        assert_eq!(ev["notification_type"], "permission_prompt");
        assert_eq!(ev["source"], "PermissionRequest");
        assert_eq!(ev["harness"], "claude");
        assert_eq!(ev["session_id"], payload["session_id"]);
        assert_eq!(ev["prompt_id"], payload["prompt_id"]);
        assert_eq!(
            ev["message"],
            format!(
                "Claude needs your permission for Bash: {}",
                payload["tool_input"]["command"].as_str().unwrap()
            )
        );
        assert!(ev.get("error").is_none(), "{ev}");
        let reg = env.registry("%3").unwrap();
        assert_eq!(reg["last_event"]["notification_type"], "permission_prompt");

        // The same dialog's Notification, 6 s on: nothing new.
        let later = notification["payload"].to_string();
        let out = run_hook(&env, "%3", &["notify"], later.as_bytes());
        assert_code(&out, 0);
        assert!(out.stdout.is_empty());
        assert_eq!(env.events("%3").len(), 1, "{:#?}", env.events("%3"));

        // A Notification with no PermissionRequest before it (an older
        // Claude, or another turn) is recorded as before.
        run_hook(
            &env,
            "%3",
            &["prompt"],
            br#"{"hook_event_name":"UserPromptSubmit","session_id":"s2","prompt_id":"p2","prompt":"again"}"#,
        );
        let other = later.replace(payload["prompt_id"].as_str().unwrap(), "p2");
        run_hook(&env, "%3", &["notify"], other.as_bytes());
        let events = env.events("%3");
        assert_eq!(events.len(), 3, "{events:#?}");
        assert_eq!(events[2]["kind"], "notify");
        assert_eq!(events[2]["message"], "Claude needs your permission");
        assert!(events[2].get("source").is_none(), "{}", events[2]);
    }
}

#[test]
fn event_name_from_payload_when_not_given() {
    let env = TestEnv::with_fake_server();
    let out = run_hook(
        &env,
        "%1",
        &[],
        br#"{"hook_event_name":"Stop","session_id":"s","last_assistant_message":"done"}"#,
    );
    assert_eq!(out.status.code(), Some(0));
    let ev = &env.events("%1")[0];
    assert_eq!(ev["kind"], "stop");
    assert_eq!(ev["reply"], "done");
}

#[test]
fn stop_failure_keeps_the_error() {
    let env = TestEnv::with_fake_server();
    let payload = br#"{"hook_event_name":"StopFailure","session_id":"s","error":"rate_limit","error_details":"resets 5pm","last_assistant_message":"API Error"}"#;
    run_hook(&env, "%1", &["stop_failure"], payload);
    let ev = &env.events("%1")[0];
    assert_eq!(ev["kind"], "stop_failure");
    assert_eq!(ev["error"], "rate_limit");
    assert_eq!(ev["message"], "resets 5pm");
}

#[test]
fn outside_tmux_the_hook_does_nothing() {
    let env = TestEnv::new();
    let out = env
        .cmd("orch-hook")
        .arg("stop")
        .env_remove("TMUX")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert!(!env.state.exists(), "state dir created outside tmux");
}

#[test]
fn bad_input_never_breaks_the_hook_or_the_log() {
    let env = TestEnv::with_fake_server();
    // A good record first, which must survive everything below.
    run_hook(
        &env,
        "%2",
        &["stop"],
        br#"{"session_id":"s","last_assistant_message":"ok"}"#,
    );
    let mut nested = String::new();
    for _ in 0..100_000 {
        nested.push('[');
    }
    let huge = vec![b'x'; 10 * 1024 * 1024];
    let mut huge_json = br#"{"session_id":"big","last_assistant_message":""#.to_vec();
    huge_json.extend(std::iter::repeat_n(b'a', 3 * 1024 * 1024));
    huge_json.extend(br#""}"#);
    let cases: Vec<(&str, Vec<&str>, Vec<u8>)> = vec![
        ("empty", vec!["stop"], Vec::new()),
        (
            "binary",
            vec!["stop"],
            (0..=255u8).cycle().take(5000).collect(),
        ),
        (
            "invalid utf-8",
            vec!["stop"],
            b"{\"session_id\":\"\xff\xfe\"}".to_vec(),
        ),
        ("10 MiB garbage", vec!["stop"], huge),
        ("3 MiB JSON", vec!["stop"], huge_json),
        ("deep nesting", vec!["stop"], nested.into_bytes()),
        ("not an object", vec!["stop"], b"[1,2,3]".to_vec()),
        (
            "unknown event",
            vec!["Frobnicate"],
            br#"{"session_id":"s"}"#.to_vec(),
        ),
        ("no event at all", vec![], br#"{"session_id":"s"}"#.to_vec()),
        (
            "bad flag",
            vec!["stop", "--no-such-flag"],
            br#"{}"#.to_vec(),
        ),
    ];
    for (what, args, input) in &cases {
        let out = run_hook(&env, "%2", args, input);
        assert_eq!(out.status.code(), Some(0), "{what}: exit code");
        assert!(out.stdout.is_empty(), "{what}: wrote to stdout");
    }
    let events = env.events("%2");
    // Every line of the log is a complete record, seqs strictly increasing.
    let raw = std::fs::read_to_string(env.server_state().join("events/2.jsonl")).unwrap();
    assert_eq!(raw.lines().count(), events.len(), "unparseable line in log");
    for w in events.windows(2) {
        assert!(w[1]["seq"].as_u64() > w[0]["seq"].as_u64());
    }
    assert_eq!(events[0]["reply"], "ok");
    // Each bad payload with a known event name is still that event, marked.
    let by_error: Vec<&Value> = events.iter().filter(|e| e.get("error").is_some()).collect();
    assert!(by_error.len() >= 8, "bad payloads not marked: {events:?}");
    let big: Vec<&Value> = events.iter().filter(|e| e["truncated"] == true).collect();
    assert!(!big.is_empty(), "oversized payload not marked truncated");
    let unknown = events
        .iter()
        .find(|e| {
            e["error"]
                .as_str()
                .is_some_and(|s| s.contains("Frobnicate"))
        })
        .expect("unknown event recorded as an error record");
    assert_eq!(unknown["kind"], "error");
    // The bad flag never reached the log, but errors.log says why.
    let errors = std::fs::read_to_string(env.state.join("errors.log")).unwrap();
    assert!(errors.contains("bad arguments"), "{errors}");
}

#[test]
fn a_torn_record_from_a_killed_writer_is_skipped_and_appends_continue() {
    let env = TestEnv::with_fake_server();
    run_hook(
        &env,
        "%3",
        &["stop"],
        br#"{"last_assistant_message":"one"}"#,
    );
    // What a writer killed mid-append leaves: half a record, no newline.
    let log = env.server_state().join("events/3.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(br#"{"v":1,"seq":2,"ts":1,"pane":"%3","kind":"st"#)
        .unwrap();
    drop(f);
    run_hook(
        &env,
        "%3",
        &["stop"],
        br#"{"last_assistant_message":"two"}"#,
    );
    let events = env.events("%3");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["reply"], "two");
    assert_eq!(events[1]["seq"], 2);
    // A listener replaying the log sees exactly the two good records.
    let o = env.run(
        "orch-listen",
        &["%3", "--since", "0", "--stream", "--timeout", "0.2"],
    );
    let seen: Vec<_> = json_lines(&o).iter().map(|e| e["reply"].clone()).collect();
    assert_eq!(seen, vec![Value::from("one"), Value::from("two")]);
}

#[test]
fn writers_killed_with_sigkill_mid_burst_leave_a_readable_log() {
    let env = TestEnv::with_fake_server();
    let big_reply = "r".repeat(200_000);
    let payload = serde_json::json!({"last_assistant_message": big_reply}).to_string();
    for round in 0..20 {
        let mut c = env.cmd_in("orch-hook", "%4");
        c.arg("stop").stdin(Stdio::piped()).stdout(Stdio::null());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(payload.as_bytes());
        drop(stdin);
        // Kill at varying points of the write.
        std::thread::sleep(std::time::Duration::from_micros(200 * round));
        let _ = child.kill();
        let _ = child.wait();
    }
    run_hook(
        &env,
        "%4",
        &["stop"],
        br#"{"last_assistant_message":"after"}"#,
    );
    let raw = std::fs::read(env.server_state().join("events/4.jsonl")).unwrap();
    assert_eq!(raw.last(), Some(&b'\n'));
    let events = env.events("%4");
    assert_eq!(events.last().unwrap()["reply"], "after");
    for w in events.windows(2) {
        assert!(w[1]["seq"].as_u64() > w[0]["seq"].as_u64());
    }
}

#[test]
fn hook_help_is_for_people() {
    let env = TestEnv::new();
    let o = Command::new(bin("orch-hook"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).contains("Never prints to stdout"));
    drop(env);
}

/// Regression (issue 14, item 11): a reply with one lone surrogate escape
/// (what `JSON.stringify` writes for half an emoji) or one byte that is not
/// UTF-8 was recorded without its reply; a listener got an `error` instead.
#[test]
fn lone_surrogate_or_invalid_utf8_in_a_reply_does_not_drop_it() {
    let env = TestEnv::with_fake_server();
    let payloads: [&[u8]; 2] = [
        br#"{"session_id":"s","last_assistant_message":"half an emoji \ud83d"}"#,
        b"{\"session_id\":\"s\",\"last_assistant_message\":\"latin-1 caf\xe9\"}",
    ];
    for p in payloads {
        let out = run_hook(&env, "%4", &["stop"], p);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.is_empty());
    }
    let replies = env.texts("%4", "stop", "reply");
    assert_eq!(replies, ["half an emoji \u{fffd}", "latin-1 caf\u{fffd}"]);
    assert!(env.events("%4").iter().all(|e| e.get("error").is_none()));
    let out = env.run("orch-listen", &["%4", "--since", "1", "--timeout", "5"]);
    assert_code(&out, 0);
    assert_eq!(json_lines(&out)[0]["reply"], "latin-1 caf\u{fffd}");
}

/// Issue 15 item 7: a prompt `--queue`d into a busy Claude Code that the
/// running turn takes at a tool result has no prompt event. The Stop hook
/// confirms it from the transcript's `queued_command` attachment (matched
/// by the receipt hash), never from the `enqueue` line written as the text
/// is typed: with only that line the send stays pending.
#[test]
fn a_queued_prompt_is_confirmed_only_by_the_transcript_taking_it() {
    let env = TestEnv::with_fake_server();
    let transcript = env.home.join("t.jsonl");
    let tp = transcript.display().to_string();
    let payload = |name: &str, extra: Value| {
        let mut p = json!({"session_id": "s1", "transcript_path": tp, "cwd": "/p", "hook_event_name": name});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p.to_string()
    };
    let ok = |o: std::process::Output| {
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
    };
    std::fs::write(&transcript, "{\"type\":\"mode\"}\n").unwrap();
    ok(run_hook(
        &env,
        "%7",
        &["prompt"],
        payload(
            "UserPromptSubmit",
            json!({"prompt": "run a tool", "prompt_id": "p1"}),
        )
        .as_bytes(),
    ));
    // What orch-tell --queue records before typing.
    let text = "Also check\n\tthe logs";
    let mut sent = orch::event::Event::new(orch::event::Kind::Sent);
    orch::event::set_prompt(&mut sent, text);
    sent.data = Some(json!({"queued": true, "transcript_offset": 16}));
    let sent = env.store().append(orch::pane::PaneId(7), sent).unwrap();
    let pending = |env: &TestEnv| env.registry("%7").unwrap()["pending_queued"].clone();
    assert_eq!(pending(&env)[0]["sent_seq"], sent.seq);

    // Typed: Claude queues it. Not taken yet.
    let enqueue = json!({"type": "queue-operation", "operation": "enqueue", "content": text});
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    writeln!(f, "{enqueue}").unwrap();
    ok(run_hook(
        &env,
        "%7",
        &["stop"],
        payload(
            "Stop",
            json!({"prompt_id": "p1", "last_assistant_message": "one"}),
        )
        .as_bytes(),
    ));
    let stop = env.events_of("%7", "stop").pop().unwrap();
    assert_eq!(stop.get("data"), None, "{stop}");
    assert_eq!(pending(&env)[0]["sent_seq"], sent.seq);

    // The next turn takes it at a tool result (2.1.332 wraps it as a paste).
    let taken = json!({"type": "attachment", "attachment": {"type": "queued_command", "commandMode": "prompt",
        "prompt": "<pasted_content id=\"ab12\">\nAlso check\n    the logs\n</pasted_content id=\"ab12\">"}});
    writeln!(f, "{taken}").unwrap();
    ok(run_hook(
        &env,
        "%7",
        &["stop"],
        payload(
            "Stop",
            json!({"prompt_id": "p1", "last_assistant_message": "two"}),
        )
        .as_bytes(),
    ));
    let stop = env.events_of("%7", "stop").pop().unwrap();
    assert_eq!(
        stop["data"]["injected"],
        json!([{"sent_seq": sent.seq, "hash": prompt_hash(text)}]),
        "{stop}"
    );
    assert_eq!(env.registry("%7").unwrap().get("pending_queued"), None);
    let audit: Vec<Value> = std::fs::read_to_string(env.state.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "confirm");
    assert_eq!(audit[0]["confirmed_by"], "transcript");
    assert_eq!(audit[0]["sent_seq"], sent.seq);
    assert_eq!(audit[0]["target"], "%7");
    // A third turn end finds nothing new to confirm.
    ok(run_hook(
        &env,
        "%7",
        &["stop"],
        payload(
            "Stop",
            json!({"prompt_id": "p1", "last_assistant_message": "three"}),
        )
        .as_bytes(),
    ));
    assert_eq!(env.events_of("%7", "stop").pop().unwrap().get("data"), None);
}

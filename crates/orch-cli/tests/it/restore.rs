//! orch-restore: a fleet of echo agents survives its tmux server dying.

use std::time::Duration;

use crate::prelude::*;

/// Spawn a named echo agent from the operator pane `me`, headless.
fn spawn_echo(env: &TestEnv, me: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["echo", "--name", name, "--headless", "--timeout", "20"];
    args.extend(extra);
    args.extend(["--", "--turn-ms", "20"]);
    let out = env.run_in("orch-spawn", me, &args);
    assert_code(&out, 0);
    json_of(&out)["pane"].as_str().unwrap().to_string()
}

fn restore(env: &TestEnv, me: &str, args: &[&str]) -> (std::process::Output, Vec<Value>) {
    let out = env.run_in("orch-restore", me, args);
    let lines = json_lines(&out);
    if !out.status.success() {
        eprintln!("orch-restore {args:?} printed: {lines:?}");
    }
    (out, lines)
}

fn by_name<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
}

#[test]
fn a_fleet_comes_back_after_its_tmux_server_dies() {
    let Some(mut env) = TestEnv::with_tmux() else {
        return;
    };
    let op = env.new_pane("sh");
    let a = spawn_echo(&env, &op, "alice", &[]);
    let b = spawn_echo(&env, &op, "bob", &[]);
    let w = spawn_echo(&env, &op, "watcher", &["--role", "observer"]);
    let c = spawn_echo(&env, &op, "carol", &[]);
    // One turn each for alice (so there is a conversation to resume).
    assert_code(
        &env.run_in("orch-tell", &op, &["alice", "--wait", "first task"]),
        0,
    );
    let alice_session = env.registry(&a).unwrap()["session_id"].clone();
    // The watcher follows bob; carol is stopped on purpose.
    assert_code(&env.run("orch-subscribe", &["--for", &w, &b]), 0);
    assert_code(&env.run_in("orch-spawn", &op, &["--stop", "carol"]), 0);
    let old_key = env.server().key();

    env.restart_tmux();
    assert_ne!(env.server().key(), old_key);
    let op = env.new_pane("sh");
    let panes = env.panes().len();

    let (out, dry) = restore(&env, &op, &["--dry-run"]);
    assert_code(&out, 0);
    assert_eq!(dry.len(), 3, "{dry:?}");
    assert!(
        dry.iter()
            .all(|l| l["status"] == "would-restore" && l["from"] == old_key.as_str())
    );
    assert!(
        !dry.iter()
            .any(|l| l["name"] == "carol" || l["old_pane"] == c.as_str()),
        "stopped on purpose: {dry:?}"
    );
    assert_eq!(env.panes().len(), panes, "a dry run starts nothing");

    let (out, done) = restore(&env, &op, &[]);
    assert_code(&out, 0);
    assert_eq!(done.len(), 3, "{done:?}");
    for l in &done {
        assert_eq!(l["status"], "restored", "{l}");
        assert!(l["ready_ms"].as_u64().is_some(), "{l}");
    }
    let alice = by_name(&done, "alice");
    assert_eq!(alice["old_pane"], a.as_str());
    assert_eq!(
        alice["session_id"], alice_session,
        "resumed its own session"
    );
    assert_eq!(
        alice["parent"],
        op.as_str(),
        "the old operator is the pane restore ran in"
    );
    let new_alice = alice["pane"].as_str().unwrap().to_string();
    let start = env.wait_event(&new_alice, "session_start", 0, Duration::from_secs(10));
    assert_eq!(start["source"], "resume", "{start}");
    assert_eq!(start["session_id"], alice_session);
    assert_eq!(by_name(&done, "watcher")["role"], "observer");

    // Twice changes nothing.
    let panes_before = env.panes().len();
    let (out, again) = restore(&env, &op, &[]);
    assert_code(&out, 0);
    assert!(
        again.iter().all(|l| l["status"] == "already-restored"),
        "{again:?}"
    );
    assert_eq!(env.panes().len(), panes_before);
    let new_bob = by_name(&done, "bob")["pane"].as_str().unwrap();
    assert_eq!(by_name(&again, "bob")["pane"], new_bob);

    // The fleet is back: names resolve, roles hold, subscriptions too.
    let told = env.run_in("orch-tell", &op, &["alice", "--wait", "second task"]);
    assert_code(&told, 0);
    assert!(
        json_of(&told)["reply"]
            .as_str()
            .unwrap()
            .contains("second task")
    );
    let survey = env.run_json("orch-survey", &[]);
    let agents = survey["agents"].as_array().unwrap();
    let names: Vec<&str> = agents.iter().filter_map(|a| a["name"].as_str()).collect();
    for n in ["alice", "bob", "watcher"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(!names.contains(&"carol"));
    let new_w = by_name(&done, "watcher")["pane"].as_str().unwrap();
    let bob = agents.iter().find(|a| a["name"] == "bob").unwrap();
    assert_eq!(bob["subscribers"], serde_json::json!([new_w]), "{bob}");

    // Restored state is collected by that survey; a third run finds
    // nothing to do, and says so.
    let (out, none) = restore(&env, &op, &[]);
    assert_code(&out, 0);
    assert!(none.is_empty(), "{none:?}");
    assert!(stderr(&out).contains("nothing to restore"));
    assert_eq!(env.panes().len(), panes_before);
}

#[test]
fn restore_only_and_from_choose_what_comes_back() {
    let Some(mut env) = TestEnv::with_tmux() else {
        return;
    };
    let op = env.new_pane("sh");
    spawn_echo(&env, &op, "alice", &[]);
    spawn_echo(&env, &op, "bob", &[]);
    let old_key = env.server().key();
    env.restart_tmux();
    let op = env.new_pane("sh");

    let (out, _) = restore(&env, &op, &["--from", "nope-1"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "orch-restore", &old_key);
    let (out, _) = restore(&env, &op, &["--only", "zed"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "orch-restore", "no agent named \"zed\"");

    let (out, done) = restore(&env, &op, &["--from", &old_key, "--only", "bob"]);
    assert_code(&out, 0);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["name"], "bob");
    assert_eq!(done[0]["status"], "restored");
    // alice is still restorable later.
    let (_, rest) = restore(&env, &op, &["--dry-run"]);
    assert_eq!(by_name(&rest, "alice")["status"], "would-restore");
    assert_eq!(by_name(&rest, "bob")["status"], "already-restored");
}

#[test]
fn dead_servers_are_kept_for_restore_then_collected() {
    let Some(mut env) = TestEnv::with_tmux() else {
        return;
    };
    let op = env.new_pane("sh");
    spawn_echo(&env, &op, "alice", &[]);
    let first = env.state.join("servers").join(env.server().key());
    env.restart_tmux();
    // Unrestored and young: a survey keeps it.
    env.run_json("orch-survey", &[]);
    assert!(first.is_dir(), "kept for restore");
    let list = json_lines(&env.run("orch-restore", &["--list"]));
    assert_eq!(list.len(), 1);

    // Restored: collected by the next survey.
    let op = env.new_pane("sh");
    assert_code(&env.run_in("orch-restore", &op, &[]), 0);
    env.run_json("orch-survey", &[]);
    assert!(!first.is_dir(), "restored state is collected");

    // Unrestored but past the keep time: collected too.
    let second = env.state.join("servers").join(env.server().key());
    env.restart_tmux();
    let out = env
        .cmd("orch-survey")
        .env("ORCH_RESTORE_KEEP_SECS", "0")
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert!(!second.is_dir(), "old unrestored state is collected");
    let out = env.run("orch-restore", &[]);
    assert_code(&out, 0);
    assert_one_line_error(&out, "orch-restore", "nothing to restore");
}

//! Alerts for the person (`orch::alert`): an escalation, a blocked agent
//! and an agent that exits abnormally each reach the configured notify
//! command exactly once (echo agents, a private tmux server).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::prelude::*;

/// A world whose notify command appends each alert (one JSON line) to
/// `alerts.jsonl`; `on` as given.
fn world(on: &[&str]) -> Option<(TestEnv, PathBuf)> {
    let env = TestEnv::with_tmux()?;
    let out = env.dir.path().join("alerts.jsonl");
    let script = env.dir.path().join("notify.sh");
    put(&script, "#!/bin/sh\ncat >> \"$1\"\n");
    put(
        env.config.join("config.json"),
        json!({"notify": {"command": ["sh", script, out], "on": on}}).to_string(),
    );
    Some((env, out))
}

fn alerts(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn errors_log(env: &TestEnv) -> String {
    std::fs::read_to_string(env.state.join("errors.log")).unwrap_or_default()
}

/// Wait until errors.log says `needle` (the deliverer or the rate limit
/// reports there).
fn wait_logged(env: &TestEnv, needle: &str) {
    eventually(std::time::Duration::from_secs(15), needle, || {
        errors_log(env).contains(needle).then_some(())
    });
}

fn wait_alerts(out: &Path, n: usize) -> Vec<Value> {
    eventually(std::time::Duration::from_secs(15), "the alerts", || {
        let a = alerts(out);
        (a.len() >= n).then_some(a)
    })
}

/// A worker's escalation reaches the person's command once; a second one
/// right after is held back by the rate limit (and logged as such).
#[test]
fn escalation_reaches_the_notify_command_once() {
    let (env, out) = or_skip!(world(&["escalation", "blocked", "exited"]));
    let op = env.start_echo("");
    let w = env.start_echo("");
    env.store()
        .update_registry(pane_id(&w), |r| {
            r.name = Some("alpha".into());
            r.role = Some(orch::roles::Role::named("worker"));
        })
        .unwrap();
    assert_code(&env.run_in("orch-tell", &op, &["--claim-operator"]), 0);
    let tell = |text: &str| {
        env.cmd_in("orch-tell", &w)
            .args(["operator", "--escalate", "taste", text])
            .output()
            .unwrap()
    };
    assert_code(&tell("Tabs or spaces?"), 0);
    let a = wait_alerts(&out, 1);
    assert_eq!(a[0]["kind"], "escalation", "{a:?}");
    assert_eq!(a[0]["pane"], w.as_str());
    assert_eq!(a[0]["detail"], "taste");
    assert!(
        a[0]["text"].as_str().unwrap().contains("Tabs or spaces?"),
        "{a:?}"
    );

    assert_code(&tell("And the line length?"), 0);
    wait_logged(&env, &format!("alert escalation for {w} suppressed"));
    assert_eq!(alerts(&out).len(), 1, "{:?}", alerts(&out));
}

/// An echo agent told `prompt`, which leaves it blocked; (its pane, the
/// alerts that reached the command: exactly one, of kind `blocked`).
fn blocked_by(env: &TestEnv, out: &Path, prompt: &str) -> (String, Vec<Value>) {
    let pane = env.start_echo("");
    let o = env.run("orch-tell", &[&pane, prompt]);
    assert_code(&o, 0);
    let a = wait_alerts(out, 1);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["kind"], "blocked");
    (pane, a)
}

/// An agent parked on a permission prompt reaches the command once.
#[test]
fn blocked_agent_reaches_the_notify_command_once() {
    let (env, out) = or_skip!(world(&["blocked"]));
    let (pane, a) = blocked_by(&env, &out, "[[permission]] touch a file");
    assert_eq!(a[0]["state"], "blocked:permission");
    assert_eq!(a[0]["pane"], pane.as_str());
    // The tmux side: the status-line option holds the alert's text.
    eventually(std::time::Duration::from_secs(15), "@orch_alert", || {
        let v = env.try_tmux(&["show-options", "-gv", "@orch_alert"]).ok()?;
        (v.trim() == a[0]["text"].as_str().unwrap()).then_some(())
    });
    // Answering the prompt and a second one within the rate limit: held
    // back, logged.
    env.type_line(&pane, "1");
    env.wait_event(&pane, "stop", 0, std::time::Duration::from_secs(15));
    let o = env.run("orch-tell", &[&pane, "[[permission]] again"]);
    assert_code(&o, 0);
    wait_logged(&env, &format!("alert blocked for {pane} suppressed"));
    assert_eq!(alerts(&out).len(), 1);
}

/// A turn that ends in a rate limit leaves the agent blocked: one alert.
#[test]
fn rate_limited_agent_reaches_the_notify_command_once() {
    let (env, out) = or_skip!(world(&["blocked"]));
    let (_, a) = blocked_by(&env, &out, "[[fail]] go");
    assert_eq!(a[0]["state"], "blocked:rate-limit");
    assert!(
        a[0]["detail"].as_str().unwrap().contains("rate_limit"),
        "{a:?}"
    );
}

/// An agent that dies during start-up reaches the command once; `on`
/// leaving a kind out means no alert of that kind.
#[test]
fn abnormal_exit_reaches_the_notify_command_once() {
    let (env, out) = or_skip!(world(&["exited"]));
    let me = env.pane_format("main:0", "#{pane_id}");
    let o = env
        .cmd_in("orch-spawn", &me)
        .args(["echo", "--name", "dies", "--", "--exit-immediately"])
        .output()
        .unwrap();
    assert_code(&o, 7);
    let pane = json_of(&o)["pane"].as_str().unwrap().to_string();
    let a = wait_alerts(&out, 1);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["kind"], "exited");
    assert_eq!(a[0]["pane"], pane.as_str());
    assert_eq!(a[0]["name"], "dies");

    // Blocked is not in `on`: a permission prompt alerts nobody.
    let p = env.start_echo("");
    let o = env.run("orch-tell", &[&p, "[[permission]] touch a file"]);
    assert_code(&o, 0);
    env.wait_event(&p, "notify", 0, std::time::Duration::from_secs(15));
    assert_eq!(alerts(&out).len(), 1);
}

/// A notify command that fails is logged; the hook still recorded its
/// event and the agent carried on.
#[test]
fn failing_notify_command_is_logged() {
    let env = or_skip!(TestEnv::with_tmux());
    put(
        env.config.join("config.json"),
        json!({"notify": {"command": ["sh", "-c", "echo nope >&2; exit 3"]}}).to_string(),
    );
    let pane = env.start_echo("");
    let o = env.run("orch-tell", &[&pane, "[[permission]] touch a file"]);
    assert_code(&o, 0);
    wait_logged(&env, "failed (exit status: 3)");
    assert!(errors_log(&env).contains("nope"), "{}", errors_log(&env));
    assert_eq!(env.events_of(&pane, "notify").len(), 1);
}

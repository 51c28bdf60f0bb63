//! End-to-end: orch's binaries driving the real Codex CLI (pinned in
//! `.ci/agent-versions`; `ORCH_AGENT_VERSION_CODEX=latest` for the newest),
//! offline, against the kit's mock Responses API (its self-tests are in
//! `orch_testkit::mock::openai_responses`).
//!
//! The scenario set every harness passes: spawn → ready → tell receipt →
//! `tell --wait` reply → a 4 KB multi-line paste intact → permission
//! prompt → `blocked:permission`, tell refused, nothing typed → survey
//! agrees → stop → gone, no codex process left → resume by session id.
//!
//! Each test has its own tmux server, mock and `CODEX_HOME` ([`CodexEnv`]);
//! they skip loudly without npm (and fail in CI). Nothing but orch types
//! into Codex's panes.

use std::time::Duration;

use serde_json::Value;

use orch_testkit::codex::{CodexEnv, screen};
use orch_testkit::mock::{EchoSummary, Reply};
use orch_testkit::{Agent, assert_code, big_prompt, entry, eventually, json_or_null, or_skip};

use super::e2e_agents::assert_prompt_event;

const T: Duration = Duration::from_secs(30);

/// Spawn, insist it is ready with no dialog on screen; (pane, report).
fn spawn_ready(ce: &CodexEnv, args: &[&str]) -> (String, Value) {
    let (o, v) = ce.spawn(args);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    let pane = v["pane"].as_str().unwrap().to_string();
    let s = ce.capture(&pane);
    assert!(s.contains(screen::READY), "{s}");
    assert!(!s.contains(screen::HOOKS_REVIEW), "{s}");
    assert_eq!(orch::screen::dialog(&s), None, "{s}");
    (pane, v)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// Spawn → ready off the screen (Codex fires nothing before the first
/// prompt), with the session id read from the running process; survey
/// says the state is inferred. `tell` → receipt from Codex's own
/// `UserPromptSubmit`, `--wait` → the reply from its `Stop`; the first
/// prompt brings `SessionStart` for the same session; survey then shows
/// the turn and its tokens from Codex's transcript. orch wrote nothing
/// into `CODEX_HOME`.
#[test]
fn codex_spawn_ready_tell_receipt_and_wait_reply() {
    let ce = or_skip!(CodexEnv::new());
    let config_before = ce.config_toml();
    let (pane, v) = spawn_ready(&ce, &["--name", "cx"]);
    assert_eq!(v["harness"], "codex");
    assert_eq!(v["inferred"], true, "{v}");
    assert!(v["ready_ms"].as_u64().is_some_and(|ms| ms > 0), "{v}");
    let session = v["session_id"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(is_uuid(session), "{v}");
    assert!(ce.events_of(&pane, "session_start").is_empty());
    let a = ce.survey(&[]);
    let a = entry(&a["agents"], "pane", &pane);
    assert_eq!(a["state"], "idle", "{a}");
    assert!(
        a["evidence"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("inferred from screen")),
        "{a}"
    );
    assert_eq!(a["session_id"], session, "{a}");

    // Receipt only (no --wait): delivered, matched to the hook's event.
    ce.mock.push(Reply::text("The answer is 42. CODEX-ONE"));
    let text = "what is the answer?";
    let (o, r) = ce.tell("cx", text, &[]);
    assert_code(&o, 0);
    assert_eq!(r["status"], "delivered", "{r}");
    assert!(r["receipt_ms"].as_f64().is_some(), "{r}");
    let prompts = ce.events_of(&pane, "prompt");
    assert_eq!(prompts.len(), 1, "submitted once: {prompts:#?}");
    assert_eq!(prompts[0]["prompt"], text);
    assert_eq!(prompts[0]["harness"], "codex");
    assert_eq!(r["prompt_seq"], prompts[0]["seq"]);
    let stop = ce.wait_event(&pane, "stop", prompts[0]["seq"].as_u64().unwrap(), T);
    assert_eq!(stop["reply"], "The answer is 42. CODEX-ONE");
    assert_eq!(stop["prompt_id"], prompts[0]["prompt_id"], "same turn");
    let starts = ce.events_of(&pane, "session_start");
    assert_eq!(starts.len(), 1, "{:#?}", ce.events(&pane));
    assert_eq!(starts[0]["session_id"], session);
    assert_eq!(starts[0]["source"], "startup");

    // --wait: the reply comes back in the tell report.
    ce.mock.push(Reply::text("second reply, CODEX-TWO"));
    let w = ce.ask(&pane, "and a second question");
    assert_eq!(w["reply"], "second reply, CODEX-TWO");
    assert_eq!(ce.mock.main_turns_with("and a second question"), 1);
    assert_eq!(ce.mock.main_turns_with(text), 1);

    let sv = ce.survey(&[]);
    let a = entry(&sv["agents"], "pane", &pane);
    assert_eq!(a["state"], "idle", "{a}");
    assert_eq!(a["session_id"], session, "{a}");
    assert!(a["last_reply"].to_string().contains("CODEX-TWO"), "{a}");
    // The mock reports 12 input / 8 output tokens per call.
    assert_eq!(a["tokens"]["context"], 12, "{a}");
    assert_eq!(a["tokens"]["output_total"], 16, "{a}");

    let config = ce.config_toml();
    assert!(
        !config.contains("orch-hook") && !config.contains("[hooks") && !config.contains("notify"),
        "orch's glue ended up in CODEX_HOME/config.toml:\n{config}"
    );
    assert!(config_before.lines().all(|l| ce.config_toml().contains(l)));
    assert!(!ce.codex_home.join("hooks.json").exists());
}

/// A 4 KiB, 60-line prompt shows collapsed (`[Pasted Content 4096
/// chars]`) and arrives byte for byte, in the hook and at the API.
#[test]
fn codex_big_multiline_paste_arrives_intact() {
    let ce = or_skip!(CodexEnv::new());
    let (pane, _) = spawn_ready(&ce, &[]);
    ce.mock.set_default(Reply::Echo);
    let text = big_prompt("START of a 4 KiB prompt — ünïcødé", 4096, "END-OF-4K");
    assert!(text.lines().count() > 20, "multi-line");
    let v = ce.ask(&pane, &text);
    assert_eq!(v["bytes"], text.len(), "{v}");
    let echoed = EchoSummary::parse(v["reply"].as_str().unwrap())
        .unwrap_or_else(|| panic!("not an echo reply: {v}"));
    assert_eq!(echoed, EchoSummary::of(&text), "the API saw different text");
    assert_prompt_event(&ce, &pane, &v, &text);
    assert_eq!(ce.mock.main_turns_with(&text), 1, "sent once");
}

/// `--no-bypass` keeps Codex's approvals: a shell call asking for
/// escalation brings "Would you like to run the following command?" and
/// the `PermissionRequest` hook, which ends `tell --wait` as blocked (exit
/// 6); a further tell is refused (exit 4) with nothing typed; survey says
/// `blocked:permission`; the command never ran.
#[test]
fn codex_permission_prompt_blocks_and_refuses_tells() {
    let ce = or_skip!(CodexEnv::new());
    let (pane, _) = spawn_ready(&ce, &["--no-bypass"]);
    let (made, _) = ce.ask_into_permission(&pane, "made-by-tool");
    let notify = ce.events_of(&pane, "notify").pop().unwrap();
    assert_eq!(notify["harness"], "codex");
    assert!(
        notify["message"]
            .as_str()
            .is_some_and(|m| m.contains("touch")),
        "{notify}"
    );
    let s = ce.wait_for_screen(&pane, screen::PERMISSION_PROMPT, T);
    assert!(s.contains(&format!("touch {}", made.display())), "{s}");

    ce.tell_is_refused(&pane, screen::PERMISSION_PROMPT);
    assert!(!made.exists(), "ran without approval");

    let sv = ce.survey(&[]);
    let a = entry(&sv["agents"], "pane", &pane);
    assert_eq!(a["state"], "blocked:permission", "{a}");
    assert_eq!(
        a["evidence"]["notification_type"], "permission_prompt",
        "{a}"
    );
    assert_eq!(sv["counts"]["blocked:permission"], 1, "{sv}");
}

/// `orch-spawn --stop` ends Codex with `/quit` (`session_end`), the pane
/// is gone and no Codex process is left; `--restart` resumes the same
/// session by its id (`codex resume <id>`) and the next request carries
/// the first turn's messages.
#[test]
fn codex_stop_leaves_nothing_and_restart_resumes_the_session() {
    let ce = or_skip!(CodexEnv::new());
    let (pane, v) = spawn_ready(&ce, &["--name", "r"]);
    let session = v["session_id"].as_str().unwrap().to_string();
    ce.mock.push(Reply::text("first task done, CODEX-R1"));
    ce.ask("r", "first task, remember it");

    ce.stop_by_exit_command("r");
    let end = ce.events_of(&pane, "session_end");
    assert_eq!(end.len(), 1, "{:#?}", ce.events(&pane));
    assert_eq!(end[0]["session_id"], session.as_str());
    assert!(
        !ce.tmux(&["list-panes", "-a", "-F", "#{pane_id}"])
            .lines()
            .any(|l| l == pane),
        "the pane is still there"
    );
    eventually(T, "every codex process to end", || {
        ce.codex_processes().is_empty().then_some(())
    });
    // Stopped: its record is marked gone, and survey lists it no more.
    let sv = ce.survey(&[]);
    let listed = sv["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pane"] == pane.as_str());
    assert!(listed.is_none_or(|a| a["state"] == "gone"), "{sv}");
    assert!(ce.registry(&pane).is_some_and(|r| r["gone_ts"].is_u64()));
    // No app-server daemon was started.
    assert!(!ce.codex_home.join("app-server-daemon/daemon.pid").exists());

    let o = ce.run("orch-spawn", &["--restart", "r", "--timeout", "60"]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
    let again = v["pane"].as_str().unwrap().to_string();
    assert_ne!(again, pane);
    assert_eq!(v["session_id"], session.as_str(), "{v}");
    assert!(
        v["argv"].to_string().contains("resume")
            || ce.registry(&again).is_some_and(|r| r["command"]
                .to_string()
                .contains(&format!("\"resume\",\"{session}\""))),
        "not resumed by id: {v}"
    );
    ce.ask_resumed("r", &again, &["first task, remember it", "CODEX-R1"]);
    let resumed = ce.events_of(&again, "session_start");
    assert_eq!(resumed.len(), 1, "{:#?}", ce.events(&again));
    assert_eq!(resumed[0]["source"], "resume");
    assert_eq!(resumed[0]["session_id"], session.as_str());
}

/// A start-up dialog nobody answered in advance (the cwd is a git repo
/// Codex was never told to trust): spawn reports `blocked:dialog` with the
/// screen excerpt and the fix (exit 6) instead of hanging; survey agrees
/// and tell refuses to type into it.
#[test]
fn codex_untrusted_folder_dialog_is_reported() {
    let ce = or_skip!(CodexEnv::new());
    let repo = ce.dir.path().join("untrusted-repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = ce.command("git").args(["init", "-q"]).arg(&repo).output();
    if !git.is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "git is needed in CI");
        eprintln!("SKIPPED: codex trust-dialog test: git is not installed");
        return;
    }
    let o = ce
        .cmd("orch-spawn")
        .args(["codex", "--window", "--timeout", "60", "--cwd"])
        .arg(&repo)
        .output()
        .unwrap();
    assert_code(&o, 6);
    let v = json_or_null(&o);
    assert_eq!(v["state"], "blocked:dialog", "{v}");
    assert_eq!(v["dialog"], "trust", "{v}");
    assert!(
        v["excerpt"]
            .as_str()
            .is_some_and(|e| e.contains(screen::TRUST_DIALOG)),
        "{v}"
    );
    assert!(
        v["fix"].as_str().is_some_and(|f| f.contains("trust_level")),
        "{v}"
    );
    let pane = v["pane"].as_str().unwrap().to_string();
    ce.assert_dialog_holds(&pane, screen::TRUST_DIALOG);
}

/// Codex has no StopFailure hook: a turn that ends in an API error fires
/// no `Stop`. orch's watcher (started by the failed `PostModelRequest`)
/// finds the error in Codex's rollout and records `stop_failure`, so
/// `tell --wait` returns the blocker (exit 6) instead of waiting out its
/// timeout and survey never shows the agent working forever. A failed
/// attempt that Codex's retry recovers from records nothing but the
/// turn's own `stop`.
#[test]
fn codex_api_error_ends_the_turn_in_stop_failure() {
    let ce = or_skip!(CodexEnv::new());
    // One retry per request and per stream (default: 4 and 5, with backoff).
    let (pane, _) = spawn_ready(
        &ce,
        &[
            "--",
            "-c",
            "model_providers.mock.request_max_retries=0",
            "-c",
            "model_providers.mock.stream_max_retries=1",
        ],
    );
    ce.mock.push(Reply::server_error());
    ce.mock.push(Reply::text("recovered after a retry"));
    let v = ce.ask(&pane, "first: fails once, then works");
    assert_eq!(v["reply"], "recovered after a retry");

    ce.mock.set_default(Reply::server_error());
    let (o, v) = ce.tell(&pane, "second: always fails", &["--wait"]);
    assert_code(&o, 6);
    assert_eq!(v["stop_kind"], "stop_failure", "{v}");
    assert_eq!(v["error"], "internal_server_error", "{v}");
    let fail = ce.events_of(&pane, "stop_failure");
    assert_eq!(fail.len(), 1, "{:#?}", ce.events(&pane));
    assert_eq!(fail[0]["harness"], "codex");
    let prompt = ce.events_of(&pane, "prompt").pop().unwrap();
    assert_eq!(fail[0]["prompt_id"], prompt["prompt_id"], "the failed turn");
    assert!(fail[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let kinds = ce.kinds(&pane);
    assert_eq!(
        kinds.iter().filter(|k| *k == "stop").count(),
        1,
        "only the recovered turn stopped: {kinds:?}"
    );
    let sv = ce.survey(&[]);
    let a = entry(&sv["agents"], "pane", &pane);
    assert_eq!(a["state"], "idle", "not working forever: {a}");
    assert!(
        a["error"]
            .as_str()
            .is_some_and(|e| e.contains("internal_server_error")),
        "{a}"
    );

    // The agent takes prompts again afterwards.
    ce.mock.set_default(Reply::Script);
    let v = ce.ask(&pane, "and now? say hi");
    assert_eq!(v["reply"], "Hi from the mock API! MOCK-OK");
}

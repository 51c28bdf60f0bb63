//! End-to-end: orch's binaries driving the real Gemini CLI (pinned in
//! `.ci/agent-versions`; `ORCH_AGENT_VERSION_GEMINI=latest` for the newest),
//! offline against the kit's Gemini mock, as a user would: `orch-spawn
//! gemini`, `orch-tell`, `orch-survey`, `orch-spawn --stop`. The same
//! scenario set every harness passes: spawn → ready → receipt → `tell
//! --wait` reply → 4 KB multi-line paste intact → permission prompt →
//! `blocked:permission`, tell refused, nothing typed → survey agrees → stop
//! → gone with no process left → resume by session id.
//!
//! Each test has its own tmux server, mock and scratch `~/.gemini`
//! ([`GeminiEnv`]); they skip loudly without npm (and fail in CI). The mock
//! streams replies in 16-character chunks, as the real API does, so a reply
//! that arrives intact was read from the transcript, not from `AfterAgent`'s
//! garbled `prompt_response`.

use std::time::Duration;

use serde_json::Value;

use orch_testkit::gemini::{GeminiEnv, GeminiHooks, screen};
use orch_testkit::mock::{EchoSummary, Reply};
use orch_testkit::{Agent, assert_code, big_prompt, eventually, json_or_null, or_skip};

const T: Duration = Duration::from_secs(60);

/// Spawn; insist it is ready, from its own `session_start`, with no dialog.
fn spawn_ready(ge: &GeminiEnv, args: &[&str]) -> (String, Value) {
    let (o, v) = ge.spawn(args);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    let pane = v["pane"].as_str().unwrap().to_string();
    let start = ge.wait_event(&pane, "session_start", 0, T);
    assert_eq!(start["harness"], "gemini", "{start}");
    assert_eq!(start["source"], "startup", "{start}");
    assert_eq!(start["session_id"], v["session_id"], "{start} vs {v}");
    let s = ge.capture(&pane);
    assert!(s.contains(screen::READY), "{s}");
    assert_eq!(orch::screen::dialog(&s), None, "{s}");
    if ge.hooks == GeminiHooks::PerSpawn {
        let warned = v["warnings"].to_string();
        assert!(!warned.contains("per-spawn hooks"), "{v}");
    }
    (pane, v)
}

/// The command line orch started the agent with (its registry record).
fn argv(ge: &GeminiEnv, pane: &str) -> Vec<String> {
    let rec = ge.registry(pane).unwrap_or_default();
    serde_json::from_value(rec["command"].clone()).unwrap_or_default()
}

fn agent<'a>(s: &'a Value, pane: &str) -> Option<&'a Value> {
    s["agents"].as_array()?.iter().find(|a| a["pane"] == pane)
}

/// This world's gemini processes still running (by their command line).
fn gemini_processes(ge: &GeminiEnv) -> Vec<i32> {
    ge.agent_processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("gemini"))
        })
        .collect()
}

/// Spawn → ready; a tell confirmed by `BeforeAgent`; `tell --wait` returns
/// the reply read from the transcript (the mock streams it in chunks); a
/// 4 KB multi-line paste arrives intact; survey shows the agent idle with
/// its tokens.
#[test]
fn gemini_spawn_tell_wait_and_big_paste() {
    let ge = or_skip!(GeminiEnv::new());
    eprintln!("e2e gemini: hooks {:?}", ge.hooks);
    let (pane, v) = spawn_ready(&ge, &[]);
    assert_ne!(v["inferred"], true, "ready from session_start: {v}");
    assert!(argv(&ge, &pane).contains(&"--approval-mode=yolo".to_string()));

    let (o, t) = ge.tell(&pane, "say hi", &[]);
    assert_code(&o, 0);
    assert_eq!(t["status"], "delivered", "{t}");
    let prompt = ge.wait_event(&pane, "prompt", 0, T);
    assert_eq!(prompt["prompt"], "say hi");
    assert_eq!(t["prompt_seq"], prompt["seq"]);
    assert_eq!(t["hash"], prompt["prompt_hash"]);
    let stop = ge.wait_event(&pane, "stop", prompt["seq"].as_u64().unwrap(), T);
    assert_eq!(stop["reply"], "Hi from the mock API! MOCK-OK", "{stop}");

    // A reply longer than one chunk, pushed: what --wait returns is it.
    let answer = "The answer is 42, streamed in several pieces. GEM-ONE";
    ge.mock.push(Reply::text(answer));
    let v = ge.ask(&pane, "what is the answer?");
    assert_eq!(v["reply"], answer, "{v}");

    // 4 KB, ~50 lines: Gemini collapses it into a [Pasted Text] chip and
    // expands it on submit; the mock echoes what it got.
    let big = big_prompt("GEM-BIG-START", 4096, "GEM-BIG-END");
    let v = ge.ask(&pane, &big);
    let reply = v["reply"].as_str().unwrap_or_default();
    assert_eq!(
        EchoSummary::parse(reply),
        Some(EchoSummary::of(big.trim())),
        "{v}"
    );
    let got = ge
        .mock
        .main_turns()
        .pop()
        .unwrap()
        .last_user_text()
        .unwrap();
    assert_eq!(got.trim(), big.trim(), "the paste did not arrive intact");
    let prompts = ge.texts(&pane, "prompt", "prompt");
    assert_eq!(prompts.len(), 3, "each prompt once: {prompts:?}");

    let sv = ge.survey(&[]);
    let a = agent(&sv, &pane).unwrap_or_else(|| panic!("{sv}"));
    assert_eq!(a["state"], "idle", "{a}");
    assert_eq!(a["harness"], "gemini");
    assert_eq!(a["turns"], 3, "{a}");
    assert!(a["tokens"]["context"].as_u64().unwrap_or(0) > 0, "{a}");
    assert!(a["tokens"]["output_total"].as_u64().unwrap_or(0) > 0, "{a}");
}

/// With `--no-bypass` the shell tool asks first: `tell --wait` ends at the
/// permission notification (exit 6), survey says `blocked:permission`, a
/// tell is refused with exit 4 and nothing is typed.
/// Regression (receipts of 1 s and more under load): an Enter Gemini CLI
/// reads within 40 ms of a paste becomes a newline in its input box, and
/// orch pressed Enter again only after its 1 s check. Now the newline is
/// seen on screen and Enter pressed again at once (`newline_retries`).
/// Here Enter follows the paste as soon as it shows (floor 1 ms), so some
/// Enter becomes a newline; every prompt still reaches the model exactly
/// once. (An Enter Gemini drops outright, with no newline drawn — seen
/// once in a few dozen such early Enters — is left to the 1 s check.)
#[test]
fn gemini_enter_taken_as_newline_is_pressed_again_at_once() {
    let ge = or_skip!(GeminiEnv::new());
    let (pane, _) = spawn_ready(&ge, &[]);
    let mut newlines = 0;
    for i in 0..6 {
        let text = format!("newline probe number {i}");
        let mut c = ge.tell_cmd(&pane, &["--wait"]);
        c.env("ORCH_TELL_ENTER_FLOOR_MS", "1");
        let o = orch_testkit::output_with_stdin(&mut c, text.as_bytes());
        let v = orch_testkit::json_or_null(&o);
        assert_code(&o, 0);
        assert_eq!(v["status"], "delivered", "{v}");
        let seen = ge
            .mock
            .main_turns()
            .iter()
            .filter(|r| r.last_user_text().is_some_and(|t| t.trim_end() == text))
            .count();
        assert_eq!(seen, 1, "{text:?} reached the model {seen} times: {v}");
        newlines += v["newline_retries"].as_u64().unwrap_or(0);
        if newlines > 0 && i >= 2 {
            break;
        }
    }
    assert!(
        newlines > 0,
        "no Enter became a newline in 6 tells with Enter right behind the paste"
    );
}

#[test]
fn gemini_permission_prompt_blocks_and_refuses_tells() {
    let ge = or_skip!(GeminiEnv::new());
    let (pane, v) = spawn_ready(&ge, &["--no-bypass"]);
    assert_ne!(v["inferred"], true, "{v}");
    assert!(argv(&ge, &pane).contains(&"--approval-mode=default".to_string()));
    let (made, _) = ge.ask_into_permission(&pane, "made-by-tool");
    eventually(Duration::from_secs(10), "the permission dialog", || {
        ge.capture(&pane)
            .contains(screen::PERMISSION_PROMPT)
            .then_some(())
    });

    let err = ge.tell_is_refused(&pane, screen::PERMISSION_PROMPT);
    assert!(err.contains("dialog"), "{err}");
    assert!(!made.exists());

    let sv = ge.survey(&[]);
    let a = agent(&sv, &pane).unwrap_or_else(|| panic!("{sv}"));
    assert_eq!(a["state"], "blocked:permission", "{a}");
    assert_eq!(sv["counts"]["blocked:permission"], 1, "{sv}");

    // A person allows it (Enter = "Allow once"): the tool runs, the turn ends.
    let stops = ge.events_of(&pane, "stop").len();
    ge.enter(&pane);
    eventually(T, "the turn to end after approval", || {
        (ge.events_of(&pane, "stop").len() > stops).then_some(())
    });
    assert!(made.exists(), "the approved command did not run");
    let sv = ge.survey(&[]);
    assert_eq!(agent(&sv, &pane).unwrap()["state"], "idle", "{sv}");
}

/// `--stop` ends the agent's whole process tree (Gemini's relaunched child
/// too): the pane is gone, no gemini process is left; `--restart` resumes
/// the session by id and the resumed request carries the first turn.
#[test]
fn gemini_stop_leaves_no_process_and_restart_resumes_the_session() {
    let ge = or_skip!(GeminiEnv::new());
    let (pane, v) = spawn_ready(&ge, &["--name", "g"]);
    let session = v["session_id"].as_str().unwrap().to_string();
    assert_eq!(session.len(), 36, "{v}");
    assert!(gemini_processes(&ge).len() >= 2, "gemini relaunches itself");
    ge.mock.push(Reply::text("first task done"));
    let v = ge.ask("g", "first task, remember it");
    assert_eq!(v["reply"], "first task done");

    // `/quit` was submitted (its Enter not taken for a newline) and ended
    // the session; what it left running was ended too.
    let v = ge.stop_by_exit_command("g");
    // Gemini does not wait for its SessionEnd hook before exiting, so it
    // may not be recorded; when it is, it says why.
    for end in ge.events_of(&pane, "session_end") {
        assert_eq!(end["reason"], "exit", "{end}");
    }
    assert!(
        v["processes"]["survivors"]
            .as_array()
            .is_some_and(|s| s.is_empty()),
        "{v}"
    );
    assert!(ge.try_capture(&pane).is_none(), "the pane is still there");
    assert_eq!(gemini_processes(&ge), Vec::<i32>::new(), "{v}");
    let sv = ge.survey(&["--state", "gone"]);
    assert_eq!(
        agent(&sv, &pane).map(|a| a["state"].clone()),
        Some("gone".into()),
        "{sv}"
    );

    let o = ge.run("orch-spawn", &["--restart", "g", "--timeout", "120"]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
    let again = v["pane"].as_str().unwrap().to_string();
    assert_ne!(again, pane);
    assert_eq!(v["session_id"], session.as_str(), "{v}");
    let a = argv(&ge, &again);
    assert!(a.contains(&format!("--resume={session}")), "{a:?}");
    let start = ge.wait_event(&again, "session_start", 0, T);
    assert_eq!(start["source"], "resume", "{start}");
    assert_eq!(start["session_id"], session.as_str());

    ge.ask_resumed("g", &again, &["first task, remember it", "first task done"]);
}

/// Killing the pane by hand leaves Gemini's relaunched child running:
/// survey must not call the agent gone while it runs, and `--stop` on the
/// gone pane ends it.
#[test]
fn gemini_killed_pane_is_not_gone_while_its_agent_runs() {
    let ge = or_skip!(GeminiEnv::new());
    let (pane, _) = spawn_ready(&ge, &[]);
    ge.tmux(&["kill-pane", "-t", &pane]);
    // The relaunched child outlives its pane (if a version stops doing so,
    // the survey must say gone, and the stop has nothing left to end).
    std::thread::sleep(Duration::from_secs(1));
    let left = gemini_processes(&ge);
    let sv = ge.survey(&["--state", "gone"]);
    let gone = agent(&sv, &pane).is_some();
    let sv_all = ge.survey(&[]);
    eprintln!(
        "e2e gemini: after kill-pane, {} gemini processes left",
        left.len()
    );
    if left.is_empty() {
        assert!(gone, "{sv}");
        return;
    }
    assert!(!gone, "called gone while pids {left:?} run: {sv}");
    let a = agent(&sv_all, &pane).unwrap_or_else(|| panic!("{sv_all}"));
    assert!(
        a["evidence"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("still run"),
        "{a}"
    );
    let o = ge.run("orch-spawn", &["--stop", &pane]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
    assert_eq!(v["how"], "already-gone", "{v}");
    assert!(
        !v["processes"]["terminated"].as_array().unwrap().is_empty(),
        "{v}"
    );
    assert_eq!(gemini_processes(&ge), Vec::<i32>::new(), "{v}");
    let sv = ge.survey(&["--state", "gone"]);
    assert!(agent(&sv, &pane).is_some(), "{sv}");
}

/// Where spawn's hooks file cannot be loaded (any non-root user; here a
/// state dir under /tmp), the hooks `orch up` puts in `~/.gemini/settings.json`
/// carry the events: ready from `session_start`, receipt, reply.
#[test]
fn gemini_without_per_spawn_hooks_uses_orch_ups() {
    let ge = or_skip!(GeminiEnv::with(GeminiHooks::Global));
    assert_eq!(ge.hooks, GeminiHooks::Global);
    let (pane, v) = spawn_ready(&ge, &[]);
    assert_ne!(v["inferred"], true, "{v}");
    assert!(
        !v["warnings"].to_string().contains("per-spawn hooks"),
        "{v}"
    );
    let rec = ge.registry(&pane).unwrap();
    assert!(!argv(&ge, &pane).is_empty(), "{rec}");
    ge.mock.push(Reply::text("through the global hooks"));
    let v = ge.ask(&pane, "are you there?");
    assert_eq!(v["reply"], "through the global hooks", "{v}");
    assert_eq!(ge.events_of(&pane, "prompt").len(), 1, "recorded once");
}

/// An untrusted project folder stops Gemini at its trust dialog: spawn
/// reports `blocked:dialog` (kind `trust`, with the fix) without waiting for
/// its timeout, survey agrees, and a tell is refused rather than answering
/// the dialog.
#[test]
fn gemini_trust_dialog_is_reported_as_blocked() {
    let ge = or_skip!(GeminiEnv::new());
    std::fs::remove_file(ge.home.join(".gemini/trustedFolders.json")).unwrap();
    let (o, v) = ge.spawn(&[]);
    assert_code(&o, 6);
    assert_eq!(v["state"], "blocked:dialog", "{v}");
    assert_eq!(v["dialog"], "trust", "{v}");
    assert!(
        v["fix"]
            .as_str()
            .unwrap_or("")
            .contains("trustedFolders.json"),
        "{v}"
    );
    let pane = v["pane"].as_str().unwrap().to_string();
    assert!(ge.capture(&pane).contains(screen::TRUST_DIALOG));
    ge.assert_dialog_holds(&pane, screen::TRUST_DIALOG);
}

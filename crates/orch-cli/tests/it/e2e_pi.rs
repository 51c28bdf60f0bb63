//! End-to-end: orch driving the real pi coding agent (`.ci/agent-versions`,
//! or `ORCH_AGENT_VERSION_PI=latest`), offline, against the kit's OpenAI
//! Chat Completions mock ([`PiEnv`]). Only orch types into pi's pane.
//!
//! The scenario set every harness passes: spawn → ready → tell receipt →
//! `tell --wait` reply → a 4 KB multi-line paste intact → (pi never asks
//! permission: a tool runs at once) → survey agrees → stop → gone, no
//! process left → resume by session id. Skips loudly without npm (fails in
//! CI).

use std::time::Duration;

use orch_testkit::mock::{EchoSummary, Reply};
use orch_testkit::pi::PiEnv;
use orch_testkit::{Agent, assert_code, big_prompt, eventually, or_skip, stdout};

use super::e2e_agents::{agent_processes, survey_entry};

const T: Duration = Duration::from_secs(60);

/// The whole scenario set on pi, in one session and its resumption.
#[test]
fn pi_spawn_tell_paste_survey_stop_resume() {
    let pe = or_skip!(PiEnv::new());
    // spawn → ready from pi's own session_start (the extension spawn passed).
    let (o, v) = pe.spawn(&["--name", "pi1"]);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    assert_eq!(v["harness"], "pi");
    let pane = v["pane"].as_str().unwrap().to_string();
    let starts = pe.events_of(&pane, "session_start");
    assert_eq!(starts.len(), 1, "{:#?}", pe.events(&pane));
    assert_eq!(starts[0]["harness"], "pi");
    assert_eq!(starts[0]["source"], "startup");
    let session = starts[0]["session_id"].as_str().unwrap().to_string();
    assert!(!session.is_empty());

    // tell → receipt from pi's `input` event, nothing typed twice.
    let (o, t) = pe.tell("pi1", "say hi", &[]);
    assert_code(&o, 0);
    assert_eq!(t["status"], "delivered", "{t}");
    let prompts = pe.events_of(&pane, "prompt");
    assert_eq!(prompts.len(), 1, "{prompts:#?}");
    assert_eq!(prompts[0]["prompt"], "say hi");
    assert_eq!(
        t["prompt_seq"], prompts[0]["seq"],
        "the receipt is pi's event"
    );
    let stop = pe.wait_event(&pane, "stop", prompts[0]["seq"].as_u64().unwrap(), T);
    assert_eq!(stop["reply"], "Hi from the mock API! MOCK-OK");

    // tell --wait → the reply text from agent_end.
    pe.mock.push(Reply::text("The answer is 42. PI-E2E"));
    let v = pe.ask(&pane, "what is the answer?");
    assert_eq!(v["reply"], "The answer is 42. PI-E2E");

    // A 4 KB multi-line paste arrives intact (pi shows it collapsed as
    // `[paste #1 …]` and expands it on submit).
    let text = big_prompt("START of a pasted prompt", 4 * 1024, "END-OF-PASTE");
    assert!(text.lines().count() > 10);
    pe.mock.push(Reply::Echo);
    let v = pe.ask(&pane, &text);
    let echoed = EchoSummary::parse(v["reply"].as_str().unwrap()).expect("an echo reply");
    assert_eq!(echoed, EchoSummary::of(&text), "the API saw different text");
    let last = pe.events_of(&pane, "prompt").pop().unwrap();
    assert_eq!(last["prompt_len"], text.len(), "{last}");

    // pi never asks permission: a shell tool call runs at once, even
    // without bypass (there is none), and the turn just ends.
    let made = pe.project.join("made-by-pi");
    pe.mock
        .push(Reply::bash(format!("touch {}", made.display())));
    let v = pe.ask(&pane, "make a file");
    assert!(made.exists(), "the tool did not run");
    assert!(
        v["reply"].as_str().unwrap().starts_with("Tool finished:"),
        "{v}"
    );

    // survey agrees: idle, pi, the session, from events (not the screen).
    let a = survey_entry(&pe, &pane);
    assert_eq!(a["state"], "idle", "{a}");
    assert_eq!(a["harness"], "pi", "{a}");
    assert_eq!(a["session_id"], session.as_str(), "{a}");
    assert_eq!(a["evidence"]["source"], "event", "{a}");
    // Tokens from pi's session file: the mock reports 12 in, 8 out per call.
    let calls = pe.mock.main_turns().len() as u64;
    assert_eq!(a["tokens"]["output_total"], 8 * calls, "{a}");
    assert_eq!(a["tokens"]["context"], 12, "{a}");

    // stop → exited through /quit, session_end, gone, no process left.
    let pid = pe.pane_format(&pane, "#{pane_pid}");
    pe.stop_by_exit_command("pi1");
    assert_eq!(pe.events_of(&pane, "session_end").len(), 1);
    assert!(!pe.panes().contains(&pane));
    eventually(T, "pi's processes to end", || {
        agent_processes(&pid).is_empty().then_some(())
    });
    let a = survey_entry(&pe, &pane);
    assert_eq!(a["state"], "gone", "{a}");

    // resume by session id: the new request carries the first turns.
    let (o, v) = pe.spawn(&["--name", "pi2", "--resume", &session]);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    let again = v["pane"].as_str().unwrap().to_string();
    let start = pe.events_of(&again, "session_start").pop().unwrap();
    assert_eq!(start["session_id"], session.as_str(), "{start}");
    pe.ask_resumed(
        &again,
        &again,
        &["what is the answer?", "The answer is 42. PI-E2E"],
    );
}

/// `--no-bypass` on pi: spawn says pi has no permission prompts (nothing to
/// keep), and the agent still works.
#[test]
fn pi_no_bypass_is_a_clear_note() {
    let pe = or_skip!(PiEnv::new());
    let (o, v) = pe.spawn(&["--no-bypass"]);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("pi has no permission prompts"),
        "{v}\n{}",
        stdout(&o)
    );
    let pane = v["pane"].as_str().unwrap();
    let v = pe.ask(pane, "say hi");
    assert_eq!(v["reply"], "Hi from the mock API! MOCK-OK");
}

//! End-to-end: orch driving the real opencode (`.ci/agent-versions`, or
//! `ORCH_AGENT_VERSION_OPENCODE=latest`), offline, against the kit's OpenAI
//! Chat Completions mock ([`OpencodeEnv`]). Only orch types into its pane.
//!
//! The scenario set every harness passes: spawn → ready → tell receipt →
//! `tell --wait` reply → a 4 KB multi-line paste intact → permission prompt
//! → `blocked:permission`, tell refused, nothing typed → survey agrees →
//! stop → gone, no process left → resume by session id. Skips loudly
//! without npm (fails in CI). opencode is slow to start on a loaded
//! machine (its TUI took 60 s of wall time here with 8 builds running).

use std::time::Duration;

use orch_testkit::mock::{EchoSummary, Reply};
use orch_testkit::opencode::{OpencodeEnv, screen};
use orch_testkit::{Agent, assert_code, big_prompt, eventually, json_or_null, or_skip};

use super::e2e_agents::{agent_processes, survey_entry};

const T: Duration = Duration::from_secs(120);

fn spawn_ready(oe: &OpencodeEnv, args: &[&str]) -> String {
    let (o, v) = oe.spawn(args);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    assert_eq!(v["harness"], "opencode");
    let pane = v["pane"].as_str().unwrap().to_string();
    assert!(
        oe.capture(&pane).contains(screen::FOOTER),
        "{}",
        oe.capture(&pane)
    );
    pane
}

/// The scenario set on opencode (bypass on), then the session resumed.
#[test]
fn opencode_spawn_tell_paste_survey_stop_resume() {
    let oe = or_skip!(OpencodeEnv::new());
    let pane = spawn_ready(&oe, &["--name", "oc1"]);
    let starts = oe.events_of(&pane, "session_start");
    assert_eq!(starts.len(), 1, "{:#?}", oe.events(&pane));
    assert_eq!(starts[0]["harness"], "opencode");

    // tell → receipt from the plugin's chat.message, typed once.
    let (o, t) = oe.tell("oc1", "say hi", &[]);
    assert_code(&o, 0);
    assert_eq!(t["status"], "delivered", "{t}");
    let prompts = oe.events_of(&pane, "prompt");
    assert_eq!(prompts.len(), 1, "{prompts:#?}");
    assert_eq!(prompts[0]["prompt"], "say hi");
    assert_eq!(
        t["prompt_seq"], prompts[0]["seq"],
        "the receipt is opencode's event"
    );
    let session = prompts[0]["session_id"].as_str().unwrap().to_string();
    assert!(session.starts_with("ses_"), "{session}");
    let stop = oe.wait_event(&pane, "stop", prompts[0]["seq"].as_u64().unwrap(), T);
    assert_eq!(stop["reply"], "Hi from the mock API! MOCK-OK");
    // The fleet prompt reached the model through the plugin.
    let body = oe.mock.main_turns()[0].body_text();
    assert!(
        body.contains(&pane),
        "no fleet prompt naming {pane}: {body}"
    );

    // tell --wait → the reply text from session.idle.
    oe.mock.push(Reply::text("The answer is 42. OC-E2E"));
    let v = oe.ask(&pane, "what is the answer?");
    assert_eq!(v["reply"], "The answer is 42. OC-E2E");
    assert_eq!(oe.mock.main_turns_with("what is the answer?"), 1);

    // A 4 KB multi-line paste arrives intact. opencode shows it collapsed
    // (`[Pasted ~48 lines]`) and, expanding it, adds one space after it:
    // the receipt still matches (trailing whitespace is not compared).
    let text = big_prompt("START of a pasted prompt", 4 * 1024, "END-OF-PASTE");
    oe.mock.push(Reply::Echo);
    let v = oe.ask(&pane, &text);
    let echoed = EchoSummary::parse(v["reply"].as_str().unwrap()).expect("an echo reply");
    assert_eq!(
        echoed,
        EchoSummary::of(&format!("{text} ")),
        "the API saw different text"
    );

    // Bypass: a shell tool runs without asking, although the user's
    // config says "ask".
    let made = oe.project.join("made-by-opencode");
    oe.mock
        .push(Reply::bash(format!("touch {}", made.display())));
    let v = oe.ask(&pane, "make a file");
    assert!(made.exists(), "the tool did not run: {v}");
    assert!(
        oe.events_of(&pane, "notify").is_empty(),
        "{:#?}",
        oe.events(&pane)
    );

    // survey agrees: idle, from events, the session.
    let a = survey_entry(&oe, &pane);
    assert_eq!(a["state"], "idle", "{a}");
    assert_eq!(a["harness"], "opencode", "{a}");
    assert_eq!(a["session_id"], session.as_str(), "{a}");
    assert_eq!(a["evidence"]["source"], "event", "{a}");
    // Tokens from the plugin's turn ends (opencode's `message.updated`):
    // the mock reports 12 prompt and 8 completion tokens per call, and
    // every main call so far was this session's.
    let calls = oe.mock.main_turns().len() as u64;
    let tokens = &a["tokens"];
    assert_eq!(tokens["context"], 12, "{a}");
    assert_eq!(tokens["input"], 12, "{a}");
    assert_eq!(tokens["cache_read"], 0, "{a}");
    assert_eq!(tokens["output_total"], 8 * calls, "{a}");
    assert_eq!(tokens["output_total_complete"], true, "{a}");
    assert_eq!(tokens["model"], orch_testkit::opencode::MODEL, "{a}");

    // stop → exited, gone, no process left.
    let pid = oe.pane_format(&pane, "#{pane_pid}");
    let o = oe.run("orch-spawn", &["--stop", "oc1"]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
    assert_eq!(v["state"], "exited", "{v}");
    assert!(!oe.panes().contains(&pane));
    eventually(T, "opencode's processes to end", || {
        agent_processes(&pid).is_empty().then_some(())
    });
    assert_eq!(survey_entry(&oe, &pane)["state"], "gone");

    // resume by session id: the new request carries the first turns.
    let again = spawn_ready(&oe, &["--name", "oc2", "--resume", &session]);
    oe.ask_resumed(
        &again,
        &again,
        &["what is the answer?", "The answer is 42. OC-E2E"],
    );
    let prompt = oe.events_of(&again, "prompt").pop().unwrap();
    assert_eq!(prompt["session_id"], session.as_str());
    // The resumed instance counts only the output it saw (one call) and
    // says its total is incomplete.
    let a = survey_entry(&oe, &again);
    assert_eq!(a["tokens"]["output_total"], 8, "{a}");
    assert_eq!(a["tokens"]["output_total_complete"], false, "{a}");
    assert_eq!(a["tokens"]["context"], 12, "{a}");
}

/// Without bypass (the user's config says `"bash": "ask"`): a tool call
/// raises `permission.asked`; `tell --wait` ends blocked (exit 6), the next
/// tell is refused (exit 4) with nothing typed, survey says
/// `blocked:permission`.
#[test]
fn opencode_permission_prompt_blocks_and_refuses_tells() {
    let oe = or_skip!(OpencodeEnv::new());
    let pane = spawn_ready(&oe, &["--no-bypass"]);
    let (made, _) = oe.ask_into_permission(&pane, "made-after-asking");
    oe.wait_for_screen(&pane, screen::PERMISSION, T);

    oe.tell_is_refused(&pane, screen::PERMISSION);
    assert!(!made.exists());

    let a = survey_entry(&oe, &pane);
    assert_eq!(a["state"], "blocked:permission", "{a}");
    assert_eq!(
        a["evidence"]["notification_type"], "permission_prompt",
        "{a}"
    );
}

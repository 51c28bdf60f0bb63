//! End-to-end: orch's binaries driving the real Claude Code CLI, as a user
//! (or a model through its Bash tool) would — `orch-spawn claude`,
//! `orch-tell`, `orch-listen`, `orch-survey`, `orch-up`/`orch-down` —
//! against the mock Messages API. Nothing here types into an agent's pane
//! except orch, apart from what a person's hands would do (starting a plain
//! `claude`, killing a pane).
//!
//! Each test has its own tmux server, mock port and scratch config
//! ([`ClaudeEnv`]); they skip loudly without npm (and fail in CI). Facts:
//! docs/claude-code-e2e.md (the scenario list is there too).

use std::time::{Duration, Instant};

use serde_json::Value;

use orch_testkit::claude::{ClaudeEnv, ClaudeOpts, as_pasted, dialogs_on, screen};
use orch_testkit::mock::{EchoSummary, Reply};
use orch_testkit::{
    Agent, assert_code, big_prompt, claude_e2e, eventually, json_lines, json_or_null, or_skip,
    output_with_stdin, show, spawn_with_stdin, stderr,
};

use super::e2e_agents::assert_prompt_event;

const T: Duration = Duration::from_secs(30);

/// Wait until `pane`'s Claude Code transcript holds `text`: Claude writes
/// it behind the turn, so a stop or a killed server right after a turn end
/// can leave that turn out of what `--resume` reads.
fn wait_transcript_holds(ce: &ClaudeEnv, pane: &str, text: &str) {
    let transcript = ce.registry(pane).unwrap()["transcript_path"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(
        Duration::from_secs(20),
        "the transcript holds the reply",
        || {
            std::fs::read_to_string(&transcript)
                .ok()
                .filter(|t| t.contains(text))
        },
    );
}

/// Spawn, insist it is ready with no dialog left on screen; the pane id.
fn spawn_ready(ce: &ClaudeEnv, args: &[&str]) -> String {
    let (o, v) = ce.spawn(args);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    let pane = v["pane"].as_str().unwrap().to_string();
    let s = ce.capture(&pane);
    assert_eq!(
        dialogs_on(&s),
        Vec::<&str>::new(),
        "dialog left on screen:\n{s}"
    );
    assert_eq!(orch::screen::dialog(&s), None, "{s}");
    pane
}

/// A ready agent mid-turn on `prompt`: told it, its reply (`reply to A`)
/// held at the mock until `ce.mock.release()`, `then` queued as the next
/// replies.
fn busy_on(ce: &ClaudeEnv, prompt: &str, then: &[&str]) -> String {
    let pane = spawn_ready(ce, &[]);
    ce.mock.push(Reply::held(Reply::text("reply to A")));
    for r in then {
        ce.mock.push(Reply::text(*r));
    }
    let (o, v) = ce.tell(&pane, prompt, &[]);
    assert_code(&o, 0);
    assert_eq!(v["status"], "delivered", "{v}");
    ce.mock.wait_main_turns(1, T);
    pane
}

/// `orch-survey` (JSON), with extra environment.
fn survey(ce: &ClaudeEnv, args: &[&str], env: &[(&str, &str)]) -> Value {
    let o = ce
        .cmd("orch-survey")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_code(&o, 0);
    json_or_null(&o)
}

/// The survey's entry for `pane`.
fn agent<'a>(s: &'a Value, pane: &str) -> Option<&'a Value> {
    s["agents"].as_array()?.iter().find(|a| a["pane"] == pane)
}

/// The main turns the mock saw whose user text is exactly `text` (as
/// pasted: the newest CLI's `<pasted_content>` wrapper taken off, and with
/// it the final line breaks it trims).
fn turns_with(ce: &ClaudeEnv, text: &str) -> usize {
    ce.mock
        .main_turns()
        .iter()
        .filter_map(|r| r.last_user_text())
        .filter(|t| {
            let got = as_pasted(t);
            got == text || (got != t.as_str() && got == text.trim_end_matches('\n'))
        })
        .count()
}

claude_e2e! {
    /// `orch-spawn claude` → ready from the real SessionStart; `orch-tell
    /// --wait` → receipt from the real UserPromptSubmit and the mock's reply
    /// from the real Stop; a second prompt right behind it; `orch-listen`
    /// started after the reply still returns it.
    fn spawn_tell_wait_and_listen(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (o, v) = ce.spawn(&["--name", "e2e"]);
        assert_code(&o, 0);
        assert_eq!(v["state"], "idle", "{v}");
        assert_eq!(v["harness"], "claude");
        assert_eq!(v["name"], "e2e");
        assert!(v["ready_ms"].as_u64().is_some_and(|ms| ms > 0), "{v}");
        let pane = v["pane"].as_str().unwrap().to_string();
        // Ready means Claude's own SessionStart hook, for the session spawn assigned.
        let starts = ce.events_of(&pane, "session_start");
        assert_eq!(starts.len(), 1, "{:#?}", ce.events(&pane));
        assert_eq!(starts[0]["source"], "startup");
        assert_eq!(starts[0]["session_id"], v["session_id"]);
        assert_eq!(starts[0]["harness"], "claude");
        let s = ce.capture(&pane);
        assert!(s.contains(screen::READY_BYPASS), "{s}");
        assert_eq!(orch::screen::dialog(&s), None, "{s}");

        // One prompt, by name, right after start-up.
        ce.mock.push(Reply::text("The answer is 42. E2E-ORCH-ONE"));
        let text = "what is the answer?";
        let (o, v) = ce.tell("e2e", text, &["--wait"]);
        assert_code(&o, 0);
        assert_eq!(v["status"], "delivered", "{v}");
        assert_eq!(v["pane"], pane.as_str());
        assert!(v["receipt_ms"].as_f64().is_some(), "{v}");
        let prompts = ce.events_of(&pane, "prompt");
        assert_eq!(prompts.len(), 1, "submitted exactly once: {prompts:#?}");
        assert_eq!(prompts[0]["prompt"], text);
        assert_eq!(
            v["prompt_seq"], prompts[0]["seq"],
            "the receipt is the hook's event"
        );
        let stops = ce.events_of(&pane, "stop");
        assert_eq!(stops.len(), 1);
        assert_eq!(v["stop_kind"], "stop");
        assert_eq!(v["stop_seq"], stops[0]["seq"]);
        assert_eq!(v["reply"], "The answer is 42. E2E-ORCH-ONE");
        assert_eq!(stops[0]["reply"], v["reply"]);
        assert_eq!(turns_with(&ce, text), 1);

        // A second prompt at once: Claude may still be finishing the first
        // turn's Stop hooks; tell still delivers it once.
        ce.mock.push(Reply::text("second reply, E2E-ORCH-TWO"));
        let v2 = ce.ask(&pane, "and a second question");
        assert_eq!(v2["reply"], "second reply, E2E-ORCH-TWO");
        assert_eq!(turns_with(&ce, "and a second question"), 1);
        assert_eq!(ce.events_of(&pane, "prompt").len(), 2);

        // A listener started after the reply still gets it (cursor: the turn
        // after the last prompt sent).
        let o = ce.run("orch-listen", &[&pane, "--timeout", "10"]);
        assert_code(&o, 0);
        let got = json_lines(&o);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["kind"], "stop");
        assert_eq!(got[0]["seq"], v2["stop_seq"]);
        assert_eq!(got[0]["reply"], "second reply, E2E-ORCH-TWO");

        // The audit log has both sends as delivered.
        let o = ce.run("orch-tell", &["--audit", "--pane", &pane]);
        let audit = json_lines(&o);
        let outcomes: Vec<&Value> = audit.iter().map(|r| &r["outcome"]).collect();
        assert_eq!(outcomes, [&"delivered", &"delivered"], "{audit:?}");
    }
}

claude_e2e! {
    /// Multi-line, unicode, 20 KiB and tab-carrying prompts through
    /// `orch-tell` arrive intact: the mock echoes length, line count, hash,
    /// head and tail of the text it received.
    fn tell_delivers_big_and_odd_prompts_intact(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = spawn_ready(&ce, &[]);
        ce.mock.set_default(Reply::Echo);

        let multi = "first line — ünïcødé ✓ 日本語 🎉\n  indented second line\n\nfourth, after a blank line\nEND-MULTI";
        let one_line_unicode = "Ünïcødé only: 日本語のテキスト, emoji 🎉🚀, RTL שלום, combining é";
        let big = big_prompt("START of a 20 KiB prompt", 20 * 1024, "END-OF-BIG-PROMPT");
        for text in [multi, one_line_unicode, big.as_str()] {
            let v = ce.ask(&pane, text);
            assert_eq!(v["bytes"], text.len(), "{v}");
            ce.assert_api_got(v["reply"].as_str().unwrap(), text);
            assert_prompt_event(&ce, &pane, &v, text);
            assert_eq!(turns_with(&ce, text), 1, "sent once");
        }

        // Claude Code turns a tab into 4 spaces: the receipt still matches
        // (the hash of the normalized text ignores whitespace width) and what
        // arrives is the expanded text.
        let tabbed = "column\tseparated\tvalues";
        let v = ce.ask(&pane, tabbed);
        let prompt = ce.events_of(&pane, "prompt").pop().unwrap();
        assert_eq!(prompt["prompt"], tabbed.replace('\t', "    "));
        assert_eq!(v["prompt_seq"], prompt["seq"]);
        assert_eq!(v["hash"], prompt["prompt_hash"]);
        let expanded = tabbed.replace('\t', "    ");
        let echoed = EchoSummary::parse(v["reply"].as_str().unwrap()).unwrap();
        assert_eq!(echoed, EchoSummary::of(&expanded));
        assert_eq!(ce.events_of(&pane, "prompt").len(), 4);
        assert_eq!(ce.events_of(&pane, "sent").len(), 4);
    }
}

claude_e2e! {
    /// A prompt for a busy agent: `--queue` types it now (Claude queues it and
    /// submits it after the running turn); the default waits for the turn to
    /// end before typing. Each arrives exactly once, in order.
    fn tell_to_a_busy_agent_queues_or_waits(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = busy_on(
            &ce,
            "prompt A, slow to answer",
            &["reply to B", "reply to C"],
        );
        ce.wait_for_screen(&pane, screen::BUSY, T);

        // --queue: typed at once, reported as queued.
        let (o, v) = ce.tell(&pane, "prompt B, queued", &["--queue"]);
        assert_code(&o, 0);
        assert_eq!(v["status"], "queued", "{v}");
        let sent_b = ce.events_of(&pane, "sent").pop().unwrap();
        assert_eq!(sent_b["prompt"], "prompt B, queued");
        assert_eq!(sent_b["data"]["queued"], true);

        // Default: waits for the turn to end; nothing typed meanwhile.
        let mut c = ce.tell_cmd(&pane, &["--wait"]);
        let waiting = spawn_with_stdin(&mut c, b"prompt C, waits for idle");
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            ce.events_of(&pane, "sent").len(),
            2,
            "C was typed into a busy agent"
        );
        assert_eq!(ce.mock.main_turns().len(), 1);

        ce.mock.release();
        let o = waiting.wait_with_output().unwrap();
        assert_code(&o, 0);
        let v = json_or_null(&o);
        assert_eq!(v["status"], "delivered", "{v}");
        assert_eq!(v["reply"], "reply to C", "{v}");
        assert!(v["waited_ms"].as_f64().unwrap() > 1000.0, "{v}");

        let prompts = ce.texts(&pane, "prompt", "prompt");
        assert_eq!(
            prompts,
            [
                "prompt A, slow to answer",
                "prompt B, queued",
                "prompt C, waits for idle"
            ]
        );
        let replies = ce.texts(&pane, "stop", "reply");
        assert_eq!(replies, ["reply to A", "reply to B", "reply to C"]);
        for t in [
            "prompt A, slow to answer",
            "prompt B, queued",
            "prompt C, waits for idle",
        ] {
            assert_eq!(turns_with(&ce, t), 1, "{t:?} reached the API once");
        }
    }
}

claude_e2e! {
    /// A tool_use reply makes Claude Code ask permission; the `notify`
    /// (permission_prompt) event ends `tell --wait` as blocked (exit 6); a
    /// further tell is refused (exit 4) with nothing typed; survey says
    /// `blocked:permission`.
    fn permission_prompt_blocks_and_refuses_tells(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = spawn_ready(&ce, &["--no-bypass"]);
        let (made, v) = ce.ask_into_permission(&pane, "made-by-tool");
        let notify = ce.events_of(&pane, "notify").pop().unwrap();
        assert_eq!(notify["notification_type"], "permission_prompt");
        assert_eq!(v["stop_seq"], notify["seq"]);
        // From the PermissionRequest hook, fired with the dialog (the
        // Notification 6 s later is its duplicate and not recorded).
        assert_eq!(notify["source"], "PermissionRequest", "{notify}");
        assert!(
            notify["message"]
                .as_str()
                .is_some_and(|m| m.contains("Bash") && m.contains(&made.display().to_string())),
            "{notify}"
        );
        // The hook runs just before Claude draws the dialog.
        ce.wait_for_screen(&pane, screen::PERMISSION_PROMPT, T);

        let err = ce.tell_is_refused(&pane, screen::PERMISSION_PROMPT);
        assert!(err.contains("dialog"), "{err}");
        assert!(!made.exists());

        let sv = survey(&ce, &[], &[]);
        let a = agent(&sv, &pane).unwrap_or_else(|| panic!("{sv}"));
        assert_eq!(a["state"], "blocked:permission", "{a}");
        assert_eq!(
            a["evidence"]["notification_type"], "permission_prompt",
            "{a}"
        );
        assert_eq!(sv["counts"]["blocked:permission"], 1);

        // --wait-idle waits for someone to answer instead of refusing; once the
        // person approves (a digit) and the turn ends, it delivers.
        ce.mock.push(Reply::text("file made, as asked"));
        ce.mock.push(Reply::text("and the follow-up is done"));
        let sent = ce.events_of(&pane, "sent").len();
        let mut c = ce.tell_cmd(&pane, &["--wait-idle", "--wait"]);
        let waiting = spawn_with_stdin(&mut c, b"a follow-up, after approval");
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            ce.events_of(&pane, "sent").len(),
            sent,
            "typed into the dialog"
        );
        ce.tmux(&["send-keys", "-t", &pane, "1"]);
        let o = waiting.wait_with_output().unwrap();
        assert_code(&o, 0);
        let v = json_or_null(&o);
        assert_eq!(v["status"], "delivered", "{v}");
        assert_eq!(v["reply"], "and the follow-up is done", "{v}");
        assert!(made.exists(), "the approved command did not run");
        let replies = ce.texts(&pane, "stop", "reply");
        assert_eq!(
            replies,
            ["file made, as asked", "and the follow-up is done"]
        );
        assert_eq!(turns_with(&ce, "a follow-up, after approval"), 1);
        let sv = survey(&ce, &[], &[]);
        assert_eq!(agent(&sv, &pane).unwrap()["state"], "idle", "{sv}");
    }
}

claude_e2e! {
    /// API errors end the turn in `stop_failure`: `tell --wait` returns the
    /// blocker (exit 6) and survey never shows the agent as `working`; a rate
    /// limit shows as `blocked:rate-limit`.
    fn api_errors_end_the_turn_and_survey_says_so(v) {
        let ce = or_skip!(ClaudeEnv::with(v, ClaudeOpts::no_retries()));
        let pane = spawn_ready(&ce, &[]);

        ce.mock.push(Reply::server_error());
        let (o, v) = ce.tell(&pane, "this will fail", &["--wait"]);
        assert_code(&o, 6);
        assert_eq!(v["stop_kind"], "stop_failure", "{v}");
        assert_eq!(v["error"], "server_error", "{v}");
        assert!(
            v["reply"]
                .as_str()
                .is_some_and(|r| r.starts_with("API Error: 500")),
            "{v}"
        );
        let fail = ce.events_of(&pane, "stop_failure").pop().unwrap();
        assert_eq!(v["stop_seq"], fail["seq"]);
        let err = stderr(&o);
        assert!(err.contains("stop_failure"), "{err}");
        let sv = survey(&ce, &[], &[]);
        let a = agent(&sv, &pane).unwrap();
        assert_eq!(a["state"], "idle", "not working forever: {a}");
        assert!(
            a["error"]
                .as_str()
                .is_some_and(|e| e.contains("server_error")),
            "{a}"
        );

        ce.mock.push(Reply::rate_limited());
        let (o, v) = ce.tell(&pane, "and this hits a rate limit", &["--wait"]);
        assert_code(&o, 6);
        assert_eq!(v["error"], "rate_limit", "{v}");
        let sv = survey(&ce, &[], &[]);
        let a = agent(&sv, &pane).unwrap();
        assert_eq!(a["state"], "blocked:rate-limit", "{a}");

        // The agent takes prompts again afterwards.
        let v = ce.ask(&pane, "and now? say hi");
        assert_eq!(v["reply"], "Hi from the mock API! MOCK-OK");
        let sv = survey(&ce, &[], &[]);
        assert_eq!(agent(&sv, &pane).unwrap()["state"], "idle");
    }
}

claude_e2e! {
    /// `/exit` through orch-tell ends the session (`session_end`, tell says
    /// `exited`); a killed pane shows as `gone` once and GC then removes its
    /// state.
    fn exit_and_killed_pane_are_gone_and_collected(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let quitter = spawn_ready(&ce, &["--name", "quitter"]);
        let victim = spawn_ready(&ce, &["--name", "victim"]);

        let (o, v) = ce.tell(&quitter, "/exit", &[]);
        assert_code(&o, 7);
        assert_eq!(v["status"], "exited", "{v}");
        let end = ce.events_of(&quitter, "session_end");
        assert_eq!(end.len(), 1);
        assert_eq!(end[0]["reason"], "prompt_input_exit");
        let pane_list = || ce.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
        let t0 = Instant::now();
        while pane_list().lines().any(|l| l == quitter) {
            assert!(
                t0.elapsed() < T,
                "the pane did not close after /exit (a dead pane kept by remain-on-exit?): {}",
                ce.tmux(&[
                    "list-panes",
                    "-a",
                    "-F",
                    "#{pane_id} dead=#{pane_dead} status=#{pane_dead_status} remain-on-exit=#{remain-on-exit}"
                ])
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        ce.tmux(&["kill-pane", "-t", &victim]);
        // Survey until GC has removed both. Each pass lists them as `gone`
        // until removal; the killed claude's SessionEnd hook may still be
        // writing during the first pass, which then leaves the marking to the
        // next (docs/survey.md), so the number of passes is not fixed.
        let grace = [("ORCH_GC_GRACE_SECS", "0")];
        let mut marked = Vec::new();
        let mut removed = Vec::new();
        for pass in 1.. {
            assert!(
                pass <= 20,
                "GC never removed both: marked {marked:?}, removed {removed:?}"
            );
            let sv = survey(&ce, &[], &grace);
            let names = |k: &str| -> Vec<String> {
                sv["gc"][k]
                    .as_array()
                    .unwrap_or_else(|| panic!("{sv}"))
                    .iter()
                    .map(|p| p.as_str().unwrap().to_string())
                    .collect()
            };
            let (m, r) = (names("marked"), names("removed"));
            for p in [&quitter, &victim] {
                if removed.contains(p) || r.contains(p) {
                    assert!(agent(&sv, p).is_none(), "{p} listed after removal: {sv}");
                    continue;
                }
                if pass == 1 || m.contains(p) {
                    let a = agent(&sv, p).unwrap_or_else(|| panic!("{p} not listed: {sv}"));
                    // A pane is not called gone while its agent's processes
                    // still run (the killed claude takes a moment to exit):
                    // then survey keeps the last state and says why.
                    let lingering = a["evidence"]["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("processes still run"));
                    if !lingering {
                        assert_eq!(a["state"], "gone", "{a}");
                    }
                }
                if m.contains(p) {
                    assert!(agent(&sv, p).unwrap()["gone_ts"].is_u64(), "{sv}");
                }
            }
            for p in &r {
                assert!(marked.contains(p), "{p} removed before it was marked: {sv}");
            }
            marked.extend(m);
            removed.extend(r);
            if removed.contains(&quitter) && removed.contains(&victim) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for p in [&quitter, &victim] {
            assert!(ce.registry(p).is_none(), "{p}: registry record left");
            assert_eq!(ce.events(p), Vec::<Value>::new(), "{p}: log left");
        }
        // The names are free again.
        let o = ce.run("orch-tell", &["victim", "hello"]);
        assert_code(&o, 2);
    }
}

claude_e2e! {
    /// `orch up` into the scratch config: a `claude` started by hand (not by
    /// spawn) reports events. `orch down`: it stops reporting, a session
    /// started after that records nothing, and settings.json is as it was.
    fn up_enrols_a_hand_started_claude_and_down_removes_it(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let settings = ce.claude_config.join("settings.json");
        // Someone else's settings and hooks, hand-formatted.
        let before = "{\n  \"skipDangerousModePermissionPrompt\": true,\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]},\n  \"hooks\": {\n    \"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"true other-tool\"}]}],\n    \"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"true\"}]}]\n  }\n}\n";
        std::fs::write(&settings, before).unwrap();

        let o = ce.run("orch-up", &["--yes", "--claude-only"]);
        assert_code(&o, 0);
        let o = ce.cmd("orch-doctor").output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "orch-doctor after up: {}",
            show(&o)
        );
        let installed: Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
        assert_eq!(
            installed["hooks"]["Stop"][0]["hooks"][0]["command"],
            "true other-tool"
        );

        let pane = ce.start_plain_claude(&[]);
        let start = ce.wait_ready(&pane);
        assert_eq!(start["harness"], "claude");
        ce.mock.push(Reply::text("enrolled by orch up"));
        let v = ce.ask(&pane, "do you report?");
        assert_eq!(v["reply"], "enrolled by orch up");

        let o = ce.run("orch-down", &["--yes", "--keep-state"]);
        assert_code(&o, 0);
        assert_eq!(
            std::fs::read_to_string(&settings).unwrap(),
            before,
            "settings.json after up + down"
        );

        // The running session picks the removal up (~2 s): its turns stop
        // producing events.
        let mut n = 0;
        eventually(T, "the running claude to stop reporting", || {
            n += 1;
            let before = ce.events(&pane).len();
            let reply = format!("unreported reply {n}");
            ce.mock.push(Reply::text(reply.clone()));
            ce.submit_until(&pane, &format!("turn {n} after down"), T, || {
                ce.capture(&pane).contains(&reply).then_some(())
            });
            ce.wait_for_screen(&pane, screen::READY, T);
            (ce.events(&pane).len() == before).then_some(())
        });

        // A session started after down records nothing at all.
        let fresh = ce.start_plain_claude(&[]);
        ce.wait_for_screen(&fresh, screen::READY, T);
        ce.mock.push(Reply::text("nobody hears this"));
        ce.submit_until(&fresh, "hello after down", T, || {
            ce.capture(&fresh)
                .contains("nobody hears this")
                .then_some(())
        });
        ce.wait_for_screen(&fresh, screen::READY, T);
        assert_eq!(ce.events(&fresh), Vec::<Value>::new());
        assert!(ce.registry(&fresh).is_none());
        let sv = survey(&ce, &[], &[]);
        assert!(agent(&sv, &fresh).is_none(), "{sv}");
    }
}

claude_e2e! {
    /// A start-up dialog nobody answers (untrusted folder): spawn reports
    /// `blocked:dialog` with the screen excerpt and exit 6 instead of hanging;
    /// survey agrees and tell refuses to type into it.
    fn unanswered_startup_dialog_is_reported_not_waited_for(v) {
        let opts = ClaudeOpts {
            trust_project: false,
            ..Default::default()
        };
        let ce = or_skip!(ClaudeEnv::with(v, opts));
        let started = Instant::now();
        let (o, v) = ce.spawn(&[]);
        assert_code(&o, 6);
        assert!(
            started.elapsed() < Duration::from_secs(55),
            "spawn waited for its timeout"
        );
        assert_eq!(v["state"], "blocked:dialog", "{v}");
        assert_eq!(v["dialog"], "trust", "{v}");
        let excerpt = v["excerpt"].as_str().unwrap_or_else(|| panic!("{v}"));
        assert!(excerpt.contains(screen::TRUST_DIALOG), "{excerpt}");
        assert!(v["fix"].is_string(), "{v}");
        let pane = v["pane"].as_str().unwrap().to_string();
        assert!(ce.capture(&pane).contains(screen::TRUST_DIALOG));
        assert!(ce.events_of(&pane, "session_start").is_empty());

        ce.assert_dialog_holds(&pane, screen::TRUST_DIALOG);
    }
}

claude_e2e! {
    /// `orch-spawn --prompt` delivers a first task the moment the agent is
    /// ready; `--stop` ends it with /exit; `--restart` resumes the same Claude
    /// session in a new pane (the API sees the earlier conversation).
    fn spawn_prompt_stop_and_restart_resume_the_session(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        ce.mock.push(Reply::text("first task done"));
        let (o, v) = ce.spawn(&["--name", "p", "--prompt", "first task, from spawn"]);
        assert_code(&o, 0);
        assert_eq!(v["prompt"]["status"], "delivered", "{v}");
        let pane = v["pane"].as_str().unwrap().to_string();
        let session = v["session_id"].as_str().unwrap().to_string();
        let o = ce.run("orch-listen", &["p", "--timeout", "20"]);
        assert_code(&o, 0);
        assert_eq!(json_lines(&o)[0]["reply"], "first task done");
        let prompts = ce.events_of(&pane, "prompt");
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0]["prompt"], "first task, from spawn");
        assert_eq!(v["prompt"]["prompt_seq"], prompts[0]["seq"]);
        // Claude Code writes its transcript behind the turn, and 2.1.197's
        // /exit the instant a turn ends can leave that turn out of it (seen
        // in .ci/run: the resumed request had no history). docs/harnesses.md
        // states the limit; this test is about stop and resume.
        wait_transcript_holds(&ce, &pane, "first task done");

        ce.stop_by_exit_command("p");
        let end = ce.events_of(&pane, "session_end");
        assert_eq!(end.len(), 1, "{:#?}", ce.events(&pane));
        assert_eq!(end[0]["reason"], "prompt_input_exit");

        let o = ce.run("orch-spawn", &["--restart", "p", "--timeout", "60"]);
        assert_code(&o, 0);
        let v = json_or_null(&o);
        let again = v["pane"].as_str().unwrap().to_string();
        assert_ne!(again, pane);
        assert_eq!(v["restart_of"], pane.as_str());
        assert_eq!(v["session_id"], session.as_str());
        let start = ce.events_of(&again, "session_start");
        assert_eq!(start.len(), 1);
        assert_eq!(start[0]["source"], "resume");
        assert_eq!(start[0]["session_id"], session.as_str());

        ce.ask_resumed("p", &again, &["first task, from spawn", "first task done"]);
    }
}

claude_e2e! {
    /// Two prompts `--queue`d during one turn: Claude Code fires a
    /// `UserPromptSubmit` for each when the turn ends, but answers them in one
    /// API turn (texts joined by a blank line) with one `Stop`. Each tell is
    /// still acknowledged by its own `prompt` event, nothing is sent twice, and
    /// `--wait` returns the shared reply.
    fn two_queued_prompts_are_answered_in_one_turn(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = busy_on(&ce, "prompt A", &["one reply to B and C"]);

        let (o, v) = ce.tell(&pane, "prompt B, queued", &["--queue"]);
        assert_code(&o, 0);
        assert_eq!(v["status"], "queued", "{v}");
        // --queue --wait: typed now, acknowledged when A's turn ends.
        let mut c = ce.tell_cmd(&pane, &["--queue", "--wait"]);
        let waiting = spawn_with_stdin(&mut c, b"prompt C, queued too");
        // Release A only once C sits in Claude's queue, not merely pasted:
        // 2.1.197 lists it under the spinner, indented; the newest
        // acknowledges it at once (its prompt event).
        let t0 = Instant::now();
        loop {
            let screen = ce.capture(&pane);
            let queued = if ce.newest() {
                ce.texts(&pane, "prompt", "prompt")
                    .iter()
                    .any(|p| p == "prompt C, queued too")
            } else {
                screen.lines().any(|l| {
                    l.starts_with("  ")
                        && l.trim_start().starts_with('❯')
                        && l.contains("prompt C, queued too")
                })
            };
            if queued {
                break;
            }
            assert!(
                t0.elapsed() < T,
                "C never showed as queued by Claude Code; events: {:#?}\nscreen:\n{screen}",
                ce.events(&pane)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ce.mock.release();
        let o = waiting.wait_with_output().unwrap();
        assert_code(&o, 0);
        let v = json_or_null(&o);
        if ce.newest() {
            // Acknowledged at once into A's turn: queued, from that evidence.
            let a = &ce.events_of(&pane, "prompt")[0];
            assert_eq!(v["status"], "queued", "{v}");
            assert_eq!(v["joined_turn"], a["prompt_id"], "{v}");
        } else {
            assert_eq!(v["status"], "delivered", "{v}");
        }
        assert_eq!(v["reply"], "one reply to B and C", "{v}");

        let prompts = ce.texts(&pane, "prompt", "prompt");
        assert_eq!(
            prompts,
            ["prompt A", "prompt B, queued", "prompt C, queued too"]
        );
        assert_eq!(ce.events_of(&pane, "stop").len(), 2);
        let turns: Vec<Option<String>> = ce
            .mock
            .main_turns()
            .iter()
            .map(|t| t.last_user_text())
            .collect();
        assert_eq!(
            turns,
            [
                Some("prompt A".to_string()),
                Some("prompt B, queued\n\nprompt C, queued too".to_string())
            ]
        );
    }
}

claude_e2e! {
    /// The tmux server dies (kill-server, as in a crash or reboot); in the new
    /// server `orch restore` brings the worker back under its name, resuming
    /// its Claude session: the next turn's request to the API carries the first
    /// turn's messages.
    fn restore_after_the_server_dies_resumes_the_conversation(v) {
        let mut ce = or_skip!(ClaudeEnv::new(v));
        ce.mock.push(Reply::text("first task done"));
        let (o, v) = ce.spawn(&["--name", "p", "--prompt", "first task, from spawn"]);
        assert_code(&o, 0);
        let session = v["session_id"].as_str().unwrap().to_string();
        let o = ce.run("orch-listen", &["p", "--timeout", "20"]);
        assert_code(&o, 0);
        assert_eq!(json_lines(&o)[0]["reply"], "first task done");
        // Claude Code writes its transcript behind the turn: a server killed
        // the instant a turn ends can take that turn with it (then `claude
        // --resume` says "No conversation found"). A person's reboot comes later.
        wait_transcript_holds(&ce, &pane_of(&ce, "p"), "first task done");

        ce.world.restart_tmux();
        let op = ce.new_pane("sh");
        let o = ce
            .cmd("orch-restore")
            .env("TMUX_PANE", &op)
            .args(["--timeout", "60"])
            .output()
            .unwrap();
        assert_code(&o, 0);
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["status"], "restored", "{}", lines[0]);
        assert_eq!(lines[0]["name"], "p");
        assert_eq!(lines[0]["session_id"], session.as_str());
        let again = lines[0]["pane"].as_str().unwrap().to_string();
        let start = ce.events_of(&again, "session_start");
        assert_eq!(start[0]["source"], "resume", "{start:?}");

        ce.ask_resumed("p", &again, &["first task, from spawn", "first task done"]);
    }
}

fn pane_of(ce: &ClaudeEnv, name: &str) -> String {
    let s = survey(ce, &[name], &[]);
    s["agents"][0]["pane"].as_str().unwrap().to_string()
}

claude_e2e! {
    /// Issue 15 on real Claude Code: one `tell --to` gives two workers their
    /// task and collects both replies; `listen --all` afterwards returns both
    /// turn ends at once (they ended before it started).
    fn fan_out_and_fan_in_on_two_claude_workers(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let a = spawn_ready(&ce, &["--name", "auth"]);
        let b = spawn_ready(&ce, &["--name", "rev"]);
        ce.mock.push(Reply::text("task done"));
        ce.mock.push(Reply::text("task done"));
        let o = ce
            .cmd("orch-tell")
            .args([
                "--to",
                "auth,rev",
                "--wait",
                "--timeout",
                "60",
                "Do your part",
            ])
            .output()
            .unwrap();
        assert_code(&o, 0);
        let lines = json_lines(&o);
        let panes: Vec<&str> = lines.iter().map(|l| l["pane"].as_str().unwrap()).collect();
        assert_eq!(panes, [a.as_str(), b.as_str()], "{}", show(&o));
        for l in &lines {
            assert_eq!(
                (l["status"].as_str(), l["reply"].as_str()),
                (Some("delivered"), Some("task done")),
                "{l}"
            );
        }
        assert_eq!(turns_with(&ce, "Do your part"), 2);
        let o = ce
            .cmd("orch-listen")
            .args(["--all", "auth", "rev", "--timeout", "20"])
            .output()
            .unwrap();
        assert_code(&o, 0);
        let evs = json_lines(&o);
        let kinds: Vec<(&str, &str)> = evs
            .iter()
            .map(|e| (e["pane"].as_str().unwrap(), e["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(kinds, [(a.as_str(), "stop"), (b.as_str(), "stop")]);
    }

    /// Issue 15 item 8 on real Claude Code: `orch answer` finds the option by
    /// its label on the Bash permission prompt, and the tool runs.
    fn answer_allows_a_claude_permission_prompt_by_label(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = spawn_ready(&ce, &["--no-bypass"]);
        let (made, v) = ce.ask_into_permission(&pane, "made-by-answer");
        let notify_seq = v["stop_seq"].as_u64().unwrap();
        ce.mock.push(Reply::text("file made"));
        let o = ce.run("orch-answer", &[pane.as_str(), "allow"]);
        assert_code(&o, 0);
        let v = json_or_null(&o);
        assert_eq!(v["tool"], "Bash", "{v}");
        assert!(v["option"].as_str().unwrap().ends_with("Yes"), "{v}");
        let since = notify_seq.to_string();
        let l = ce.run(
            "orch-listen",
            &[pane.as_str(), "--since", &since, "--timeout", "30"],
        );
        assert_code(&l, 0);
        assert_eq!(json_lines(&l)[0]["reply"], "file made");
        assert!(made.exists(), "the allowed command did not run");
    }

    /// Regression: `blocked:permission` now comes from `PermissionRequest`,
    /// just before the dialog is drawn, so an answer can arrive before the
    /// dialog or while it is drawn again; arrows sent then can be dropped,
    /// and an Enter behind them would accept "Yes" (seen once under load on
    /// 2.1.197: the denied command ran). `orch answer deny` right after
    /// `tell --wait` answers Claude's "No" with its Esc, a key that cannot
    /// approve: the command never runs.
    fn answer_denies_a_freshly_drawn_claude_permission_prompt(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = spawn_ready(&ce, &["--no-bypass"]);
        let made = ce.project.join("made-despite-deny");
        ce.mock
            .push(Reply::bash(format!("touch {}", made.display())));
        let (o, v) = ce.tell(&pane, "make a file, please", &["--wait"]);
        assert_code(&o, 6);
        assert_eq!(v["notification_type"], "permission_prompt", "{v}");
        let notify_seq = v["stop_seq"].as_u64().unwrap();
        ce.mock.push(Reply::text("not made, as you wish"));
        let o = ce.run("orch-answer", &[pane.as_str(), "deny"]);
        assert_code(&o, 0);
        let v = json_or_null(&o);
        assert!(v["option"].as_str().unwrap().contains(". No"), "{v}");
        // Denied: Claude stops the turn (2.1.197 waits at "What should
        // Claude do instead?"; either way the tool never runs).
        std::thread::sleep(Duration::from_secs(2));
        assert!(!made.exists(), "the denied command ran");
        let after: Vec<Value> = ce
            .events(&pane)
            .into_iter()
            .filter(|e| e["seq"].as_u64() > Some(notify_seq) && e["kind"] == "notify")
            .collect();
        assert_eq!(after, Vec::<Value>::new(), "asked again");
    }
}

/// Block until `path` exists (the mock's tool call has started).
fn wait_file(path: &std::path::Path) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(t0.elapsed() < T, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The audit records (`tell --audit`) for `pane`.
fn audit_of(ce: &ClaudeEnv, pane: &str) -> Vec<Value> {
    let o = ce
        .cmd("orch-tell")
        .args(["--audit", "--pane", pane])
        .output()
        .unwrap();
    assert_code(&o, 0);
    json_lines(&o)
}

claude_e2e! {
    /// Issue 15 item 7: a prompt `--queue`d while the turn runs a tool
    /// (`sleep`) is taken into that turn at the tool result ("The user sent
    /// a new message while you were working"). 2.1.197 fires no prompt
    /// event for it: the confirmation comes from the transcript, found by
    /// the hook at the turn's end (`data.injected` on the stop); 2.1.332
    /// acknowledges it with a prompt event carrying the running turn's id.
    /// Either way `--queue --wait` reports what confirmed it and that turn's
    /// reply, the audit log records the confirmation, and the mock saw the
    /// text inside the tool turn, not as a turn of its own. A queued
    /// prompt the agent never takes (the turn is interrupted and the text
    /// cleared) stays unconfirmed in survey, with no confirmation recorded.
    fn queued_prompt_taken_into_a_tool_turn_is_confirmed(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let pane = spawn_ready(&ce, &[]);
        let flag = ce.project.join("tool-started");
        ce.mock
            .push(Reply::bash(format!("touch {} && sleep 8", flag.display())));
        ce.mock.push(Reply::text("reply after the tool"));
        let (o, _) = ce.tell(&pane, "prompt A runs a tool", &[]);
        assert_code(&o, 0);
        wait_file(&flag);

        let b = "MESSAGE B, typed mid tool";
        let (o, v) = ce.tell(&pane, b, &["--queue", "--wait"]);
        assert_code(&o, 0);
        assert_eq!(v["status"], "queued", "{v}");
        assert_eq!(v["reply"], "reply after the tool", "{v}");
        assert_eq!(v["stop_kind"], "stop", "{v}");
        let sent_seq = v["sent_seq"].as_u64().unwrap();
        let stop = ce.events_of(&pane, "stop").pop().unwrap();
        assert_eq!(v["stop_seq"], stop["seq"], "{v}");
        let a = &ce.events_of(&pane, "prompt")[0];
        assert_eq!(v["joined_turn"], a["prompt_id"], "{v}");
        let by = if ce.newest() { "prompt_event" } else { "transcript" };
        assert_eq!(v["confirmed_by"], by, "{v}");
        if ce.newest() {
            assert_eq!(ce.texts(&pane, "prompt", "prompt")[1], b);
        } else {
            // No prompt event for B: only the transcript can have said so.
            assert_eq!(ce.texts(&pane, "prompt", "prompt"), ["prompt A runs a tool"]);
            assert_eq!(v["injected_seq"], stop["seq"], "{v}");
            // The turn end names it when the transcript was written before
            // its Stop hook ran; when the transcript lagged (2.1.197 under
            // load), the waiting tell found it there after the turn end.
            if !stop["data"]["injected"].is_null() {
                assert_eq!(stop["data"]["injected"][0]["sent_seq"], sent_seq, "{stop}");
                assert_eq!(stop["data"]["injected"][0]["hash"], v["hash"], "{stop}");
            }
        }
        // The text reached the model inside A's turn, with the tool result.
        let turns = ce.mock.main_turns();
        assert_eq!(turns.len(), 2, "{}", ce.mock.describe());
        assert!(turns[0].body_text().find(b).is_none());
        assert!(turns[1].tool_result().is_some(), "{}", ce.mock.describe());
        assert!(turns[1].body_text().contains(b), "B never reached the model");
        assert_eq!(turns_with(&ce, b), 0, "B ran as a turn of its own");
        let confirms: Vec<Value> = audit_of(&ce, &pane)
            .into_iter()
            .filter(|r| r["action"] == "confirm")
            .collect();
        assert_eq!(confirms.len(), 1, "{confirms:?}");
        assert_eq!(confirms[0]["sent_seq"], sent_seq);
        assert_eq!(confirms[0]["confirmed_by"], by);
        assert_eq!(confirms[0]["outcome"], "delivered");
        let sv = survey(&ce, &[], &[]);
        assert_eq!(agent(&sv, &pane).unwrap()["queued"], serde_json::json!([]), "{sv}");

        // Not taken yet: queued while a tool runs longer than the tell
        // waits. Claude Code has written its `enqueue` line, but until the
        // tool result nothing has taken the text, so 2.1.197 (no prompt
        // event) must end unconfirmed, exit 5 — and the hook confirms it
        // from the transcript only at the end of the turn that took it.
        ce.wait_for_screen_any(&pane, &[screen::READY, screen::READY_BYPASS], T);
        let flag2 = ce.project.join("tool-2-started");
        ce.mock
            .push(Reply::bash(format!("touch {} && sleep 12", flag2.display())));
        ce.mock.push(Reply::text("reply after the second tool"));
        let (o, _) = ce.tell(&pane, "prompt D runs a long tool", &[]);
        assert_code(&o, 0);
        wait_file(&flag2);
        let after = ce.last_seq(&pane);
        let c = "MESSAGE C, taken later";
        let mut cmd = ce.cmd("orch-tell");
        cmd.args([&pane, "-", "--timeout", "3", "--queue", "--wait"]);
        let o = output_with_stdin(&mut cmd, c.as_bytes());
        let v = json_or_null(&o);
        let c_seq = v["sent_seq"].as_u64().unwrap();
        if ce.newest() {
            // Acknowledged by its prompt event at once; the turn goes on.
            assert_code(&o, 3);
            assert_eq!(v["status"], "queued", "{v}");
            assert_eq!(v["confirmed_by"], "prompt_event", "{v}");
            assert_eq!(v["timed_out"], true, "{v}");
        } else {
            assert_code(&o, 5);
            assert_eq!(v["status"], "unconfirmed", "{v}");
            assert_eq!(v.get("confirmed_by"), None, "{v}");
            let sv = survey(&ce, &[], &[]);
            let queued = &agent(&sv, &pane).unwrap()["queued"];
            assert_eq!(queued[0]["sent_seq"], c_seq, "{sv}");
            assert_eq!(queued[0]["preview"], c, "{sv}");
        }
        let stop = ce.wait_event(&pane, "stop", after, Duration::from_secs(60));
        assert_eq!(stop["reply"], "reply after the second tool", "{stop}");
        let turns = ce.mock.main_turns();
        assert!(turns.last().unwrap().body_text().contains(c), "{}", ce.mock.describe());
        assert_eq!(turns_with(&ce, c), 0, "C ran as a turn of its own");
        if !ce.newest() && !stop["data"]["injected"].is_null() {
            assert_eq!(stop["data"]["injected"][0]["sent_seq"], c_seq, "{stop}");
        }
        // Named by the turn end, or (the transcript lagging it) confirmed by
        // the watcher the hook left behind, a moment later.
        let confirm_of_c = || {
            audit_of(&ce, &pane)
                .into_iter()
                .find(|r| r["action"] == "confirm" && r["sent_seq"] == c_seq)
        };
        let t0 = std::time::Instant::now();
        while confirm_of_c().is_none() && t0.elapsed() < Duration::from_secs(25) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let confirm =
            confirm_of_c().unwrap_or_else(|| panic!("no confirmation of C in the audit log"));
        assert_eq!(confirm["confirmed_by"], by, "{confirm}");
        let sv = survey(&ce, &[], &[]);
        assert_eq!(agent(&sv, &pane).unwrap()["queued"], serde_json::json!([]), "{sv}");
    }
}

claude_e2e! {
    /// Issue 15 item 6 on the real CLI: an operator started through a
    /// wrapper (`bash -c '…claude…; exec bash'`) shows
    /// `pane_current_command=bash`, yet its hooks record a live session, so
    /// tell into it and subscribing it are not refused as "at a bash
    /// prompt": a tell gets its reply, and a worker's turn end reaches it as
    /// a notice that Claude takes as a prompt.
    fn wrapper_started_claude_operator_is_recognised(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let claude: Vec<String> = ce
            .claude_argv(&[])
            .iter()
            .map(|a| orch_testkit::claude::sh_quote(a))
            .collect();
        let script = format!("{}; exec bash", claude.join(" "));
        let op = ce.start_argv(&["bash".into(), "-c".into(), script], &[]);
        ce.wait_ready(&op);
        // The condition under test: tmux sees the wrapper, not Claude.
        assert_eq!(ce.pane_format(&op, "#{pane_current_command}"), "bash");

        ce.mock.push(Reply::text("the operator heard you"));
        let v = ce.ask(&op, "hello, operator");
        assert_eq!(v["reply"], "the operator heard you", "{v}");

        let worker = ce.start_echo("--turn-ms 20");
        let o = ce.env.run_in("orch-subscribe", &op, &[worker.as_str()]);
        assert_code(&o, 0);
        ce.mock.push(Reply::text("noted the worker's turn"));
        let after = ce.last_seq(&op);
        let o = ce.run("orch-tell", &[worker.as_str(), "work, please", "--wait"]);
        assert_code(&o, 0);
        let notice = ce.wait_event(&op, "prompt", after, Duration::from_secs(60));
        let text = notice["prompt"].as_str().unwrap();
        assert!(text.starts_with(orch::event::NOTICE_PREFIX), "{notice}");
        assert!(text.contains(worker.as_str()), "{notice}");
        let stop = ce.wait_event(&op, "stop", notice["seq"].as_u64().unwrap(), T);
        assert_eq!(stop["reply"], "noted the worker's turn", "{stop}");
    }
}

//! The scenario set every harness passes (issue 13), on the real Claude
//! Code CLI, pinned and newest, offline against the mock Messages API —
//! driven only through orch's binaries, each step a named test of its own
//! so a compatibility table can say which step a version fails:
//!
//! | step | test |
//! |---|---|
//! | spawn → ready | `scenario_1_spawn_ready` |
//! | tell receipt → `tell --wait` reply | `scenario_2_tell_receipt_and_wait_reply` |
//! | a 4 KB multi-line paste intact | `scenario_3_multiline_4k_paste_intact` |
//! | permission prompt → `blocked:permission`, tell refused, nothing typed, survey agrees | `scenario_4_permission_blocks_refuses_and_survey_agrees` |
//! | stop → gone, no process left | `scenario_5_stop_leaves_no_process` |
//! | resume by session id | `scenario_6_resume_by_session_id` |
//! | tokens/context in survey | `scenario_7_survey_reports_tokens` |

use std::time::Duration;

use serde_json::Value;

use orch_testkit::claude::{ClaudeEnv, screen};
use orch_testkit::mock::Reply;
use orch_testkit::{Agent, assert_code, big_prompt, claude_e2e, eventually, json_or_null, or_skip};

const T: Duration = Duration::from_secs(30);

/// `orch-spawn claude --window --cwd <project> ARGS…`, ready; (pane, JSON).
fn spawn(ce: &ClaudeEnv, args: &[&str]) -> (String, Value) {
    let (o, v) = ce.spawn(args);
    assert_code(&o, 0);
    assert_eq!(v["state"], "idle", "{v}");
    (v["pane"].as_str().unwrap().to_string(), v)
}

/// `orch-survey PANE` (named, so it is listed even once gone): its entry.
fn survey_of(ce: &ClaudeEnv, pane: &str) -> Value {
    let o = ce.run("orch-survey", &[pane]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
    v["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["pane"] == pane).cloned())
        .unwrap_or(Value::Null)
}

/// The pid of the process in `pane` and all its descendants (from /proc).
fn process_tree(ce: &ClaudeEnv, pane: &str) -> Vec<u32> {
    let root: u32 = ce
        .tmux(&["display-message", "-p", "-t", pane, "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap();
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(after) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// A pid still running (a zombie counts as ended).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

claude_e2e! {
    /// spawn → ready: from Claude's own SessionStart (the session spawn
    /// chose), the idle footer drawn, no dialog on screen.
    fn scenario_1_spawn_ready(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, sp) = spawn(&ce, &["--name", "s1"]);
        assert!(sp["ready_ms"].as_u64().is_some_and(|ms| ms > 0), "{sp}");
        let starts = ce.events_of(&pane, "session_start");
        assert_eq!(starts.len(), 1);
        assert_eq!(starts[0]["session_id"], sp["session_id"]);
        let s = ce.capture(&pane);
        assert!(s.contains(screen::READY_BYPASS), "{s}");
        assert_eq!(orch::screen::dialog(&s), None, "{s}");
        assert_eq!(survey_of(&ce, &pane)["state"], "idle");
    }

    /// tell receipt (the agent's own prompt event, matched by hash) →
    /// `tell --wait` returns the reply of that turn.
    fn scenario_2_tell_receipt_and_wait_reply(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, _) = spawn(&ce, &[]);
        ce.mock.push(Reply::text("first reply, S2-A"));
        let (o, r) = ce.tell(&pane, "a prompt with a receipt", &[]);
        assert_code(&o, 0);
        assert_eq!(r["status"], "delivered", "{r}");
        let prompt = ce.events_of(&pane, "prompt").pop().unwrap();
        assert_eq!(r["prompt_seq"], prompt["seq"]);
        assert_eq!(r["hash"], prompt["prompt_hash"]);
        ce.wait_event(&pane, "stop", prompt["seq"].as_u64().unwrap(), T);

        ce.mock.push(Reply::text("second reply, S2-B"));
        let (o, r) = ce.tell(&pane, "and now wait for my reply", &["--wait"]);
        assert_code(&o, 0);
        assert_eq!(r["status"], "delivered", "{r}");
        assert_eq!(r["stop_kind"], "stop", "{r}");
        assert_eq!(r["reply"], "second reply, S2-B", "{r}");
        assert_eq!(ce.events_of(&pane, "prompt").len(), 2, "each sent once");
    }

    /// A 4 KB multi-line paste reaches the hook and the API intact, once
    /// (the newest CLI wraps it in `<pasted_content>`; the receipt still
    /// matches).
    fn scenario_3_multiline_4k_paste_intact(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, _) = spawn(&ce, &[]);
        ce.mock.push(Reply::Echo);
        let text = big_prompt("START of a 4 KB prompt", 4096, "END-OF-4K");
        assert!(text.lines().count() > 10 && text.len() >= 4096);
        let (o, r) = ce.tell(&pane, &text, &["--wait"]);
        assert_code(&o, 0);
        assert_eq!(r["status"], "delivered", "{r}");
        let prompt = ce.events_of(&pane, "prompt").pop().unwrap();
        assert_eq!(prompt["prompt_len"], text.len());
        assert_eq!(prompt["prompt_hash"], r["hash"]);
        ce.assert_api_got(r["reply"].as_str().unwrap(), &text);
        assert_eq!(ce.mock.main_turns().len(), 1, "sent once");
    }

    /// `--no-bypass` keeps the prompts: a Bash tool call asks; `tell
    /// --wait` ends blocked (exit 6); survey says `blocked:permission`; a
    /// further tell is refused (exit 4) with nothing typed; the command
    /// did not run.
    fn scenario_4_permission_blocks_refuses_and_survey_agrees(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, _) = spawn(&ce, &["--no-bypass"]);
        let (made, r) = ce.ask_into_permission(&pane, "made-by-tool");
        let touch = format!("touch {}", made.display());
        // Blocked by the PermissionRequest hook (fired with the dialog),
        // which names the tool and command; not by the Notification Claude
        // sends 6 s later (that one is not recorded again).
        let blocked = ce.events_of(&pane, "notify").pop().unwrap();
        assert_eq!(blocked["seq"], r["stop_seq"], "{blocked}");
        assert_eq!(blocked["source"], "PermissionRequest", "{blocked}");
        // The hook runs just before Claude draws the dialog.
        let s = ce.wait_for_screen(&pane, screen::PERMISSION_PROMPT, T);
        assert!(orch::screen::dialog(&s).is_some(), "{s}");
        let a = survey_of(&ce, &pane);
        assert_eq!(a["state"], "blocked:permission", "{a}");
        assert_eq!(a["evidence"]["kind"], "notify", "{a}");
        assert_eq!(
            a["evidence"]["detail"],
            format!("Claude needs your permission for Bash: {touch}"),
            "{a}"
        );

        ce.tell_is_refused(&pane, screen::PERMISSION_PROMPT);
        assert!(!made.exists(), "the command ran without approval");
        assert_eq!(survey_of(&ce, &pane)["state"], "blocked:permission");
        assert_eq!(
            ce.events_of(&pane, "notify").len(),
            1,
            "one notify per dialog: {:#?}",
            ce.events_of(&pane, "notify")
        );

        // Regression: stop used to type /exit + Enter into the prompt,
        // whose cursor is on "Yes" — approving the command it was asked
        // about. Stopping a blocked agent must not answer its dialog.
        let o = ce.run("orch-spawn", &["--stop", &pane]);
        assert_code(&o, 0);
        std::thread::sleep(Duration::from_millis(500));
        assert!(!made.exists(), "stop approved the pending tool call");
    }

    /// stop → gone: `orch-spawn --stop` ends the session (/exit), survey
    /// says the pane is gone, and no process of the agent is left.
    fn scenario_5_stop_leaves_no_process(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, _) = spawn(&ce, &["--name", "s5"]);
        ce.mock.push(Reply::text("done"));
        let (o, _) = ce.tell(&pane, "one turn first", &["--wait"]);
        assert_code(&o, 0);
        // (Short-lived children, such as a hook, may come and go.)
        let procs: Vec<u32> = process_tree(&ce, &pane)
            .into_iter()
            .filter(|p| running(*p))
            .collect();
        assert!(!procs.is_empty());
        ce.stop_by_exit_command("s5");
        assert_eq!(ce.events_of(&pane, "session_end").len(), 1);
        eventually(T, "every process of the agent to end", || {
            procs.iter().all(|p| !running(*p)).then_some(())
        });
        let a = survey_of(&ce, &pane);
        assert_eq!(a["state"], "gone", "{a}");
    }

    /// Resume by session id: `orch-spawn claude --resume <id>` in a new
    /// pane continues the stopped session (SessionStart `resume`, same
    /// id), and the API sees the earlier conversation.
    fn scenario_6_resume_by_session_id(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, sp) = spawn(&ce, &["--name", "s6"]);
        let session = sp["session_id"].as_str().unwrap().to_string();
        ce.mock.push(Reply::text("remembered: S6-FIRST"));
        let (o, _) = ce.tell(&pane, "remember S6-FIRST", &["--wait"]);
        assert_code(&o, 0);
        assert_code(&ce.run("orch-spawn", &["--stop", "s6"]), 0);

        let (again, r) = spawn(&ce, &["--name", "s6b", "--resume", &session]);
        assert_ne!(again, pane);
        assert_eq!(r["session_id"], session.as_str(), "{r}");
        let start = ce.events_of(&again, "session_start");
        assert_eq!(start[0]["source"], "resume");
        assert_eq!(start[0]["session_id"], session.as_str());
        ce.mock.push(Reply::text("still here"));
        let (o, r) = ce.tell(&again, "what did I ask you to remember?", &["--wait"]);
        assert_code(&o, 0);
        assert_eq!(r["reply"], "still here", "{r}");
        let history = ce.mock.main_turns().pop().unwrap().body_text();
        assert!(
            history.contains("remember S6-FIRST") && history.contains("remembered: S6-FIRST"),
            "the resumed session lost its history: {history}"
        );
    }

    /// Tokens/context in survey, from the agent's transcript: the mock
    /// reports 12 input and 7 output tokens per call.
    fn scenario_7_survey_reports_tokens(v) {
        let ce = or_skip!(ClaudeEnv::new(v));
        let (pane, _) = spawn(&ce, &[]);
        for n in 1..=2 {
            ce.mock.push(Reply::text(format!("reply {n}")));
            let (o, _) = ce.tell(&pane, &format!("turn {n}"), &["--wait"]);
            assert_code(&o, 0);
        }
        let tokens = eventually(T, "tokens in survey", || {
            let t = survey_of(&ce, &pane)["tokens"].clone();
            (t["output_total"].as_u64() >= Some(14)).then_some(t)
        });
        assert_eq!(tokens["input"], 12, "{tokens}");
        assert!(tokens["context"].as_u64() >= Some(12), "{tokens}");
        assert_eq!(tokens["output_total"], 14, "{tokens}");
        assert_eq!(tokens["output_total_complete"], true, "{tokens}");
    }
}

//! orch-survey: echo agents driven into every state on a private
//! tmux server, checked through the binary's JSON, table and status line.

use std::io::Write;
use std::process::Output;
use std::time::Duration;

use orch::event::{Event, Kind};
use orch::pane::PaneId;
use orch::registry::ScreenState;

use crate::prelude::*;

const T: Duration = Duration::from_secs(15);

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd("orch-survey").args(args).output().unwrap()
}

/// Run a survey that must succeed and print one JSON object.
fn survey(env: &TestEnv, args: &[&str]) -> Value {
    let o = run(env, args);
    assert!(
        o.status.success(),
        "orch-survey {args:?} failed: {}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "JSON is one line: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn agent<'a>(v: &'a Value, pane: &str) -> &'a Value {
    entry(&v["agents"], "pane", pane)
}

fn panes_of(v: &Value) -> Vec<String> {
    v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["pane"].as_str().unwrap().to_string())
        .collect()
}

fn has_event(env: &TestEnv, pane: &str, kind: &str) -> bool {
    env.events(pane).iter().any(|e| e["kind"] == kind)
}

fn wait_event(env: &TestEnv, pane: &str, kind: &str) {
    eventually(T, &format!("{kind} event in {pane}"), || {
        has_event(env, pane, kind).then_some(())
    });
}

/// `orch-echo ARGS` as a shell command. By its full path: a tmux client
/// outside tmux hands its own PATH to new windows, and the test process's
/// PATH does not hold the binaries under test.
fn echo_cmd(rest: &str) -> String {
    format!("'{}'{rest}", bin("orch-echo").display())
}

/// An echo agent in a new window (`orch-echo REST`), ready (its
/// session_start recorded).
fn echo(env: &TestEnv, rest: &str) -> String {
    let p = env.new_pane(&echo_cmd(rest));
    wait_event(env, &p, "session_start");
    p
}

/// GC leaves a missing pane whose state changed just before the listing
/// for the next pass (it may be a spawn racing the survey); let the test's
/// fresh records age past that window so one pass is deterministic.
fn let_records_age() {
    std::thread::sleep(Duration::from_millis(100));
}

fn type_prompt(env: &TestEnv, pane: &str, text: &str) {
    env.tmux(&["send-keys", "-t", pane, "-l", text]);
    env.tmux(&["send-keys", "-t", pane, "Enter"]);
}

/// An echo agent that was given `prompt`, once its log has a `kind` event.
fn after_turn(env: &TestEnv, prompt: &str, kind: &str) -> String {
    let p = echo(env, "");
    type_prompt(env, &p, prompt);
    wait_event(env, &p, kind);
    p
}

fn tag(env: &TestEnv, pane: &str, name: &str, role: &str) {
    env.store()
        .update_registry(pane_id(pane), |r| {
            r.name = Some(name.into());
            r.role = Some(orch::roles::Role::named(role));
        })
        .unwrap();
}

/// Every documented per-agent field (docs/survey.md), always present.
const AGENT_FIELDS: &[&str] = &[
    "pane",
    "location",
    "name",
    "harness",
    "role",
    "parent",
    "state",
    "state_since",
    "state_age_ms",
    "state_age",
    "evidence",
    "error",
    "rate_limit",
    "cwd",
    "session_id",
    "model",
    "last_prompt",
    "last_reply",
    "turns",
    "queued",
    "subscriptions",
    "subscribers",
    "tokens",
    "command",
    "pid",
    "outfit",
    "worktree",
    "created_ts",
    "spawned_ts",
    "gone_ts",
];

#[test]
fn echo_agents_in_every_state_with_evidence() {
    let env = or_skip!(TestEnv::with_tmux());
    let idle = after_turn(&env, "hello survey", "stop");
    tag(&env, &idle, "idler", "worker");

    let working = after_turn(&env, "think hard [[slow:60000]]", "prompt");
    tag(&env, &working, "busy", "worker");

    let perm = after_turn(&env, "touch a file [[permission]]", "notify");
    tag(&env, &perm, "asker", "worker");

    let limited = after_turn(&env, "one more [[fail]]", "stop_failure");

    // Ended its session; the pane lives on (a process that is not a shell).
    let ended = echo(&env, "; exec sleep 600");
    type_prompt(&env, &ended, "/exit");
    wait_event(&env, &ended, "session_end");

    // Exited and the pane kept dead by remain-on-exit.
    let dead = echo(&env, "");
    env.tmux(&["set-option", "-w", "-t", &dead, "remain-on-exit", "on"]);
    type_prompt(&env, &dead, "/exit");
    eventually(T, "dead pane", || {
        env.tmux(&["display-message", "-p", "-t", &dead, "#{pane_dead}"])
            .trim()
            .eq("1")
            .then_some(())
    });

    // Killed mid-turn: the log still says working, a bare shell is left.
    let killed = echo(&env, "; exec sh");
    type_prompt(&env, &killed, "long job [[slow:60000]]");
    wait_event(&env, &killed, "prompt");

    let gone = echo(&env, "");
    tag(&env, &gone, "ghost", "observer");

    // Spawned, no session_start yet (a process that is not a shell).
    let starting = env.new_pane("sleep 600");
    let st = env.store();
    st.append(pane_id(&starting), Event::new(Kind::Spawned))
        .unwrap();
    st.update_registry(pane_id(&starting), |r| {
        r.spawned_ts = Some(orch::time::now_ns());
        r.harness = Some("claude".into());
    })
    .unwrap();

    // A start-up dialog spawn read off the screen.
    let dialog = env.new_pane(&echo_cmd(" --dialog"));
    env.wait_for_screen(&dialog, "Do you trust", T);
    st.update_registry(pane_id(&dialog), |r| {
        r.harness = Some("echo".into());
        r.screen = Some(ScreenState {
            state: orch::state::State::BlockedDialog,
            ts: orch::time::now_ns(),
            excerpt: "Do you trust the files in this folder?".into(),
        });
    })
    .unwrap();

    // The killed agent's pid: the child of the `sh -c` wrapper.
    let wrapper: u32 = env
        .tmux(&["display-message", "-p", "-t", &killed, "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap();
    // While it runs, the wrapper shell is in the foreground: still working.
    let v = survey(&env, &[]);
    assert_eq!(agent(&v, &killed)["state"], "working", "{v}");
    let kids = std::fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
        .expect("/proc children file (Linux)");
    let echo_pid: i32 = kids.split_whitespace().next().unwrap().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(echo_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually(T, "bare shell in the killed pane", || {
        let v = survey(&env, &[]);
        (agent(&v, &killed)["command"] == "sh").then_some(())
    });

    // A registry record for a pane that never existed on this server.
    st.update_registry(PaneId(9999), |r| {
        r.name = Some("phantom".into());
        r.harness = Some("claude".into());
    })
    .unwrap();
    env.tmux(&["kill-pane", "-t", &gone]);
    let_records_age();

    let v = survey(&env, &[]);
    let state = |p: &str| agent(&v, p)["state"].as_str().unwrap().to_string();
    let evidence = |p: &str| agent(&v, p)["evidence"].clone();
    let detail = |p: &str| evidence(p)["detail"].as_str().unwrap().to_string();

    assert_eq!(state(&idle), "idle");
    let a = agent(&v, &idle);
    assert_eq!(a["name"], "idler");
    assert_eq!(a["role"], "worker");
    assert_eq!(a["harness"], "echo");
    assert_eq!(a["turns"], 1);
    assert_eq!(a["last_prompt"]["text"], "hello survey");
    assert_eq!(
        a["last_reply"]["text"],
        orch::echo::reply_for("hello survey")
    );
    assert!(a["last_reply"]["ts"].as_u64().unwrap() >= a["last_prompt"]["ts"].as_u64().unwrap());
    assert_eq!(a["evidence"]["kind"], "stop");
    assert_eq!(a["evidence"]["source"], "event");
    assert_eq!(a["command"], "orch-echo");
    assert!(a["location"].as_str().unwrap().starts_with("main:"));
    assert!(a["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(a["model"], "echo");
    assert_eq!(a["state_since"], a["evidence"]["ts"], "idle since its stop");
    for f in AGENT_FIELDS {
        assert!(a.get(f).is_some(), "field {f} missing: {a}");
    }
    assert_eq!(
        a.as_object().unwrap().len(),
        AGENT_FIELDS.len(),
        "undocumented fields: {a}"
    );

    assert_eq!(state(&working), "working");
    assert_eq!(evidence(&working)["kind"], "prompt");
    assert_eq!(
        agent(&v, &working)["last_prompt"]["text"],
        "think hard [[slow:60000]]"
    );

    assert_eq!(state(&perm), "blocked:permission");
    assert_eq!(evidence(&perm)["kind"], "notify");
    assert_eq!(evidence(&perm)["notification_type"], "permission_prompt");
    assert!(detail(&perm).contains("permission"));

    assert_eq!(state(&limited), "blocked:rate-limit");
    assert_eq!(evidence(&limited)["kind"], "stop_failure");
    assert_eq!(agent(&v, &limited)["rate_limit"]["reset"], "5pm");
    assert_eq!(
        agent(&v, &limited)["rate_limit"]["message"],
        "rate limit reached; resets at 5pm"
    );

    assert_eq!(state(&ended), "exited");
    assert_eq!(evidence(&ended)["kind"], "session_end");
    assert!(detail(&ended).contains("prompt_input_exit"));

    assert_eq!(state(&dead), "exited");
    assert_eq!(evidence(&dead)["source"], "tmux");
    assert!(detail(&dead).contains("dead"));

    assert_eq!(
        state(&killed),
        "exited",
        "hook log says working but the agent process is gone"
    );
    assert_eq!(evidence(&killed)["source"], "tmux");

    assert_eq!(state(&starting), "starting");
    assert_eq!(evidence(&starting)["kind"], "spawned");

    assert_eq!(state(&dialog), "blocked:dialog");
    assert_eq!(evidence(&dialog)["source"], "screen");
    assert!(detail(&dialog).starts_with("inferred from screen"));

    // Gone: shown once, with its last known info...
    assert_eq!(state(&gone), "gone");
    assert_eq!(agent(&v, &gone)["name"], "ghost");
    assert!(agent(&v, &gone)["location"].is_null());
    assert!(agent(&v, &gone)["gone_ts"].as_u64().is_some());
    assert_eq!(state("%9999"), "gone");
    let marked: Vec<_> = v["gc"]["marked"].as_array().unwrap().clone();
    assert!(marked.contains(&Value::from(gone.clone())), "{v}");
    assert!(marked.contains(&Value::from("%9999")), "{v}");

    let c = &v["counts"];
    assert_eq!(c["total"], 11);
    assert_eq!(
        (
            c["idle"].clone(),
            c["working"].clone(),
            c["starting"].clone()
        ),
        (1.into(), 1.into(), 1.into())
    );
    assert_eq!(c["blocked"], 3);
    assert_eq!(c["blocked:permission"], 1);
    assert_eq!(c["blocked:dialog"], 1);
    assert_eq!(c["blocked:rate-limit"], 1);
    assert_eq!(c["exited"], 3);
    assert_eq!(c["gone"], 2);

    // ...then hidden, but still there with --all until the GC grace ends.
    let again = survey(&env, &[]);
    assert!(!panes_of(&again).contains(&gone), "{again}");
    assert_eq!(again["counts"]["total"], 9);
    let all = survey(&env, &["--all"]);
    assert_eq!(agent(&all, &gone)["state"], "gone");
    assert_eq!(agent(&all, &gone)["name"], "ghost");
    assert_eq!(survey(&env, &["--state", "gone"])["counts"]["gone"], 2);
    // Named explicitly, a gone agent is shown.
    assert_eq!(agent(&survey(&env, &["ghost"]), &gone)["state"], "gone");

    // Status line: ◌ starting ⚙ working ✓ idle ⚠ blocked ✗ exited.
    let o = run(&env, &["--status-line"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "◌1 ⚙1 ✓1 ⚠3 ✗3\n");
    let o = run(&env, &["--status-line", "--role", "worker"]);
    assert_eq!(stdout(&o), "⚙1 ✓1 ⚠1\n");

    // Filters.
    let by_state = |f: &str| {
        let mut p = panes_of(&survey(&env, &["--state", f]));
        p.sort();
        p
    };
    let mut blocked = vec![perm.clone(), limited.clone(), dialog.clone()];
    blocked.sort();
    assert_eq!(by_state("blocked"), blocked);
    assert_eq!(by_state("blocked:permission"), vec![perm.clone()]);
    let mut ie = vec![idle.clone(), ended.clone(), dead.clone(), killed.clone()];
    ie.sort();
    assert_eq!(by_state("idle,exited"), ie);
    let mut workers = panes_of(&survey(&env, &["--role", "worker"]));
    workers.sort();
    let mut want = vec![idle.clone(), working.clone(), perm.clone()];
    want.sort();
    assert_eq!(workers, want);
    assert_eq!(
        panes_of(&survey(&env, &["idler", &working])),
        vec![idle.clone(), working.clone()]
    );
    assert!(panes_of(&survey(&env, &["--since", "1h"])).contains(&idle));
    // The idle agent changed state well over 1 ms ago.
    assert!(!panes_of(&survey(&env, &["--since", "1ms"])).contains(&idle));
}

#[test]
fn pretty_table_is_aligned_and_plain_when_piped() {
    let env = or_skip!(TestEnv::with_tmux());
    let a = after_turn(&env, "review \x1b[31mthis\x1b[0m please", "stop");
    tag(&env, &a, "reviewer-long-name", "worker");
    let b = after_turn(&env, "hold on [[permission]]", "notify");
    // Hostile text in a reply must not reach the terminal as escapes.
    let c = env.new_pane("sleep 600");
    let st = env.store();
    st.append(pane_id(&c), Event::new(Kind::SessionStart))
        .unwrap();
    let mut stop = Event::new(Kind::Stop);
    stop.reply = Some("\x1b]0;pwned\x07 evil \x1b[2J\nsecond line".into());
    st.append(pane_id(&c), stop).unwrap();
    let o = env
        .cmd("orch-survey")
        .args(["--pretty"])
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "no escapes when piped: {out:?}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let head = lines[0];
    let cols = [
        "PANE", "NAME", "ROLE", "HARNESS", "STATE", "AGE", "TURNS", "CTX", "WHERE", "NOTE",
    ];
    let offsets: Vec<usize> = cols
        .iter()
        .map(|c| {
            head.find(c)
                .unwrap_or_else(|| panic!("no {c} column: {head}"))
        })
        .collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{head}");
    let row_a = lines
        .iter()
        .find(|l| l.starts_with(&format!("{a} ")))
        .unwrap();
    let row_b = lines
        .iter()
        .find(|l| l.starts_with(&format!("{b} ")))
        .unwrap();
    for (row, state) in [(row_a, "idle"), (row_b, "blocked:permission")] {
        assert!(row.chars().count() <= 120, "row wider than COLUMNS: {row}");
        // Every column starts where its header does (the header is ASCII,
        // so its byte offsets are char offsets).
        let chars: Vec<char> = row.chars().collect();
        let at = |i: usize| chars[offsets[i]..].iter().collect::<String>();
        assert!(at(0).starts_with('%'), "{row}");
        assert!(at(4).starts_with(state), "STATE misaligned: {row}");
        assert!(at(8).starts_with("main:"), "WHERE misaligned: {row}");
        assert!(at(9).starts_with(['«', 'e']), "NOTE misaligned: {row}");
        assert_eq!(chars[offsets[4] - 2..offsets[4]], [' ', ' '], "{row}");
    }
    assert!(row_a.contains("reviewer-long-name"));
    assert!(row_a.contains("« echo: review"), "{row_a}");
    assert!(row_b.contains("permission"), "{row_b}");
    let row_c = lines
        .iter()
        .find(|l| l.starts_with(&format!("{c} ")))
        .unwrap();
    assert!(row_c.contains("« ]0;pwned evil [2J second l"), "{row_c}");
    assert!(lines[4].starts_with("3 agents: 2 idle, 1 blocked"), "{out}");
}

#[test]
fn claude_tokens_from_the_transcript_tail() {
    let env = or_skip!(TestEnv::with_tmux());
    let p = env.new_pane("sleep 600");
    let transcript = env.dir.path().join("session.jsonl");
    let mut f = std::fs::File::create(&transcript).unwrap();
    for (id, out) in [("msg_1", 12), ("msg_1", 40), ("msg_2", 7)] {
        writeln!(
            f,
            "{}",
            serde_json::json!({"type": "assistant", "message": {"id": id, "model": "claude-opus-4-8",
                "usage": {"input_tokens": 6, "cache_creation_input_tokens": 100,
                          "cache_read_input_tokens": 20000, "output_tokens": out}}})
        )
        .unwrap();
    }
    let st = env.store();
    let mut ev = Event::new(Kind::SessionStart);
    ev.harness = Some("claude".into());
    ev.transcript_path = Some(transcript.display().to_string());
    st.append(pane_id(&p), ev).unwrap();
    let v = survey(&env, &[]);
    let t = &agent(&v, &p)["tokens"];
    assert_eq!(t["context"], 20106, "{t}");
    assert_eq!(t["output_total"], 47, "msg_1 counted once: {t}");
    assert_eq!(t["output_total_complete"], true);
    assert_eq!(t["model"], "claude-opus-4-8");
    // More of the transcript: only the new lines are read and added.
    writeln!(
        f,
        "{}",
        serde_json::json!({"type": "assistant", "message": {"id": "msg_3",
            "usage": {"input_tokens": 1, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 30000, "output_tokens": 3}}})
    )
    .unwrap();
    let v = survey(&env, &[]);
    let t = &agent(&v, &p)["tokens"];
    assert_eq!(
        (t["context"].clone(), t["output_total"].clone()),
        (30001.into(), 50.into())
    );
    let o = env.run("orch-survey", &["--pretty"]);
    assert!(stdout(&o).contains("30.0k"), "{}", stdout(&o));
}

#[test]
fn failed_turns_that_are_not_rate_limits_leave_the_agent_idle_with_an_error() {
    let env = or_skip!(TestEnv::with_tmux());
    let p = env.new_pane("sleep 600");
    let st = env.store();
    st.append(pane_id(&p), Event::new(Kind::SessionStart))
        .unwrap();
    st.append(pane_id(&p), Event::new(Kind::Prompt)).unwrap();
    let mut fail = Event::new(Kind::StopFailure);
    fail.error = Some("server_error".into());
    fail.message = Some("API overloaded".into());
    st.append(pane_id(&p), fail).unwrap();
    let v = survey(&env, &[]);
    let a = agent(&v, &p);
    assert_eq!(a["state"], "idle");
    assert_eq!(a["error"], "server_error: API overloaded");
    assert!(a["rate_limit"].is_null());
    // A neutral notification after it changes nothing (the log tail decides).
    let mut n = Event::new(Kind::Notify);
    n.notification_type = Some("auth_success".into());
    st.append(pane_id(&p), n).unwrap();
    let v = survey(&env, &[]);
    assert_eq!(agent(&v, &p)["state"], "idle");
    assert_eq!(agent(&v, &p)["evidence"]["kind"], "stop_failure");
}

#[test]
fn gone_entries_are_collected_after_the_grace() {
    let env = or_skip!(TestEnv::with_tmux());
    let p = echo(&env, "");
    env.tmux(&["kill-pane", "-t", &p]);
    let_records_age();
    let reg = env
        .server_state()
        .join("panes")
        .join(format!("{}.json", &p[1..]));
    let o = env
        .cmd("orch-survey")
        .env("ORCH_GC_GRACE_SECS", "0")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(agent(&v, &p)["state"], "gone");
    assert!(reg.exists(), "kept for the grace period");
    let o = env
        .cmd("orch-survey")
        .args(["--all"])
        .env("ORCH_GC_GRACE_SECS", "0")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["gc"]["removed"], serde_json::json!([p]));
    assert!(panes_of(&v).is_empty(), "{v}");
    assert!(!reg.exists(), "deleted after the grace");
    assert!(env.events(&p).is_empty());
}

#[test]
fn subscriptions_are_read_from_the_subs_dir() {
    let env = or_skip!(TestEnv::with_tmux());
    let a = env.new_pane("sleep 600");
    let b = env.new_pane("sleep 600");
    let st = env.store();
    for p in [&a, &b] {
        st.append(pane_id(p), Event::new(Kind::SessionStart))
            .unwrap();
    }
    let subs = env.server_state().join("subs");
    std::fs::create_dir_all(&subs).unwrap();
    std::fs::write(
        subs.join(format!("{}.json", &b[1..])),
        serde_json::json!({"v": 1, "peer": b, "subscribers": [{"pane": a, "kinds": ["stop"]}]})
            .to_string(),
    )
    .unwrap();
    std::fs::write(subs.join("garbage.json"), "not json").unwrap();
    let v = survey(&env, &[]);
    assert_eq!(
        agent(&v, &a)["subscriptions"],
        serde_json::json!([{"peer": b, "kinds": ["stop"]}])
    );
    assert_eq!(agent(&v, &b)["subscribers"], serde_json::json!([a]));
    assert_eq!(agent(&v, &b)["subscriptions"], serde_json::json!([]));
}

#[test]
fn bad_flags_are_one_line_usage_errors() {
    let env = or_skip!(TestEnv::with_tmux());
    let p = env.new_pane("sleep 600");
    env.store()
        .append(pane_id(&p), Event::new(Kind::SessionStart))
        .unwrap();
    for (args, needle) in [
        (vec!["--role", "boss"], "unknown role"),
        (vec!["--state", "sleeping"], "unknown state"),
        (vec!["--since", "soon"], "invalid duration"),
        (vec!["--watch", "fast"], "--watch takes seconds"),
        (vec!["--watch", "0"], "--watch takes seconds"),
        (vec!["--frobnicate"], "unexpected argument"),
        (vec!["--pretty", "--status-line"], "cannot be used with"),
        (vec!["%x"], "invalid pane id"),
        (vec!["nobody"], "no agent named \"nobody\""),
        (vec!["%4242"], "no agent is known in pane %4242"),
    ] {
        let o = run(&env, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("orch-survey: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
    // Bad input changes nothing: no GC pass marks a dead pane's record.
    env.store()
        .update_registry(PaneId(777), |r| r.name = Some("x".into()))
        .unwrap();
    for args in [["--role", "boss"], ["x", "nobody"]] {
        let o = run(&env, &args);
        assert_eq!(o.status.code(), Some(2));
        assert!(env.registry("%777").unwrap()["gone_ts"].is_null());
    }
    // A good run does mark it.
    let_records_age();
    assert_eq!(agent(&survey(&env, &[]), "%777")["state"], "gone");
    let rec = env.registry("%777").unwrap();
    assert!(rec["gone_ts"].is_u64(), "{rec}");
}

#[test]
fn two_hundred_panes() {
    let env = or_skip!(TestEnv::with_tmux());
    // 200 real panes, made with one tmux invocation.
    let mut args: Vec<&str> = Vec::new();
    for i in 0..200 {
        if i > 0 {
            args.push(";");
        }
        args.extend(["new-window", "-d", "sleep 600"]);
    }
    env.tmux(&args);
    let live: Vec<String> = env
        .tmux(&["list-panes", "-a", "-F", "#{pane_id}"])
        .lines()
        .map(str::to_string)
        .filter(|p| p != "%0")
        .collect();
    assert_eq!(live.len(), 200);
    let st = env.store();
    for (i, p) in live.iter().enumerate() {
        let id = pane_id(p);
        st.append(id, Event::new(Kind::SessionStart)).unwrap();
        let mut pr = Event::new(Kind::Prompt);
        orch::event::set_prompt(&mut pr, &format!("task {i}"));
        st.append(id, pr).unwrap();
        if i % 2 == 0 {
            let mut stop = Event::new(Kind::Stop);
            stop.reply = Some(format!("done {i}"));
            st.append(id, stop).unwrap();
        }
        st.update_registry(id, |r| {
            r.name = Some(format!("agent-{i}"));
            r.role = Some(orch::roles::Role::Worker);
        })
        .unwrap();
    }
    // And 200 records whose panes do not exist.
    for n in 5000..5200 {
        st.update_registry(PaneId(n), |r| r.name = Some(format!("old-{n}")))
            .unwrap();
    }
    let_records_age();
    let v = survey(&env, &[]);
    assert_eq!(v["counts"]["total"], 400);
    assert_eq!(v["counts"]["idle"], 100);
    assert_eq!(v["counts"]["working"], 100);
    assert_eq!(v["counts"]["gone"], 200);
    assert_eq!(v["gc"]["marked"].as_array().unwrap().len(), 200);
    let a = agent(&v, &live[7]);
    assert_eq!(a["name"], "agent-7");
    assert_eq!(a["state"], "working");
    assert_eq!(a["last_prompt"]["text"], "task 7");
    let a = agent(&v, &live[8]);
    assert_eq!(a["last_reply"]["text"], "done 8");
    let v = survey(&env, &[]);
    assert_eq!(v["counts"]["total"], 200, "gone ones shown once");
    let o = run(&env, &["--status-line"]);
    assert_eq!(stdout(&o), "⚙100 ✓100\n");
}

/// A running `orch-survey --watch…` whose stdout is collected in the
/// background; killed on drop.
struct Watching {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watching {
    fn start(env: &TestEnv, watch: &str) -> Watching {
        let mut child = env
            .cmd("orch-survey")
            .arg(watch)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Watching {
            child,
            out,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn frames(&self) -> usize {
        self.text().matches("orch survey · ").count()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// An agent pane (started, idle) and `orch-survey --watch=60` once it has
/// drawn its first frame.
fn watching_one_agent(env: &TestEnv) -> (String, Watching) {
    let p = env.new_pane("sleep 600");
    env.store()
        .append(pane_id(&p), Event::new(Kind::SessionStart))
        .unwrap();
    let w = Watching::start(env, "--watch=60");
    eventually(T, "first frame", || (w.frames() >= 1).then_some(()));
    (p, w)
}

#[test]
fn watch_redraws_on_events_not_just_on_the_clock() {
    let env = or_skip!(TestEnv::with_tmux());
    // A 60 s period: any second frame within the test's timeout was drawn
    // because of the event, not the clock.
    let (p, w) = watching_one_agent(&env);
    let st = env.store();
    assert!(w.text().contains(" idle "), "{}", w.text());
    st.append(pane_id(&p), Event::new(Kind::Prompt)).unwrap();
    eventually(T, "a frame drawn for the event", || {
        (w.frames() >= 2).then_some(())
    });
    let text = w.text();
    assert!(!text.contains('\x1b'), "no terminal control when piped");
    let last = text.rsplit("orch survey · ").next().unwrap();
    assert!(last.contains(" working "), "{last}");
}

/// An idle watch used to redraw ten times a second: inotify reported the
/// survey's own reads of the log directory, and each frame's reads woke
/// the next one.
#[test]
fn idle_watch_is_woken_by_nothing_but_its_clock() {
    let env = or_skip!(TestEnv::with_tmux());
    let (_, w) = watching_one_agent(&env);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.frames(), 1, "frames drawn while idle:\n{}", w.text());
}

/// Issue 15: an operator started through a wrapper (`bash -c '…; exec
/// bash'`) showed `pane_current_command=bash` and was refused as "at a bash
/// prompt" although its hooks recorded a live session; survey showed it
/// with role null and counted it; `tell operator` failed until a claim.
#[test]
fn wrapper_started_operator_is_an_agent_and_the_operator() {
    let env = or_skip!(TestEnv::with_tmux());
    let echo = orch_testkit::bin("orch-echo");
    let op = env.new_pane(&format!(
        "bash -c \"'{}' --turn-ms 20; exec bash\"",
        echo.display()
    ));
    env.wait_event(&op, "session_start", 0, Duration::from_secs(15));
    let worker = env.start_echo("--turn-ms 20");
    env.store()
        .update_registry(pane_id(&worker), |r| {
            r.name = Some("w".into());
            r.role = Some(orch::roles::Role::Worker);
            r.harness = Some("echo".into());
            r.parent = Some(pane_id(&op));
        })
        .unwrap();
    assert_eq!(env.pane_format(&op, "#{pane_current_command}"), "bash");

    // Typing into it and subscribing it work: its hooks show a live session.
    let o = env.run("orch-tell", &[op.as_str(), "hello operator", "--wait"]);
    assert_code(&o, 0);
    let o = env.run_in("orch-subscribe", &op, &["w"]);
    assert_code(&o, 0);
    // A worker reaches it as `operator` with no claim (its spawner).
    let o = env
        .cmd_in("orch-tell", &worker)
        .env("ORCH_ROLE", "worker")
        .args(["operator", "done here"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], op.as_str());

    // Claimed: survey shows it as the operator, outside the agent counts.
    assert_code(
        &env.run("orch-tell", &["--claim-operator", "--from", op.as_str()]),
        0,
    );
    let s = env.run_json("orch-survey", &[]);
    let row = s["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["pane"] == op.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["role"], "operator", "{row}");
    assert_eq!(s["counts"]["total"], 1, "{}", s["counts"]);
    let s = env.run_json("orch-survey", &["--role", "operator"]);
    let panes: Vec<&str> = s["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["pane"].as_str().unwrap())
        .collect();
    assert_eq!(panes, [op.as_str()]);
}

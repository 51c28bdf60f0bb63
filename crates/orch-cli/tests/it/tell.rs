//! orch-tell against echo agents in a private tmux server.
//!
//! Every check of "arrived intact exactly once" reads the echo agent's own
//! `prompt` events (fired through orch-hook from what it actually received),
//! never orch-tell's claims.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use orch::deliver::sanitize;
use orch::echo::reply_for;
use orch::event::{normalize_prompt, prompt_hash};

use crate::prelude::*;

const T: Duration = Duration::from_secs(15);

/// Start an echo agent in a new pane and wait for its session_start.
fn start_echo(env: &TestEnv, args: &str) -> String {
    env.start_echo(&format!("--turn-ms 20 {args}"))
}

/// A world with an echo agent started with `args` that fires no hook yet,
/// once its screen shows `shown`.
fn on_screen(args: &str, shown: &str) -> Option<(TestEnv, String)> {
    let env = TestEnv::with_tmux()?;
    let pane = env.new_pane(&format!("orch-echo {args}"));
    env.wait_for_screen(&pane, shown, T);
    Some((env, pane))
}

/// A world with `N` echo agents started with `args`.
fn agents<const N: usize>(args: &str) -> Option<(TestEnv, [String; N])> {
    let env = TestEnv::with_tmux()?;
    let panes = std::array::from_fn(|_| start_echo(&env, args));
    Some((env, panes))
}

/// Register name/role/parent the way orch-spawn does.
fn register(env: &TestEnv, pane: &str, name: &str, role: &str, parent: Option<&str>) {
    env.store()
        .update_registry(pane_id(pane), |r| {
            r.name = Some(name.into());
            r.role = Some(orch::roles::Role::named(role));
            r.harness = Some("echo".into());
            r.parent = parent.map(pane_id);
        })
        .unwrap();
}

fn of_kind(env: &TestEnv, pane: &str, kind: &str) -> Vec<Value> {
    env.events_of(pane, kind)
}

fn tell(env: &TestEnv, args: &[&str]) -> Output {
    env.run("orch-tell", args)
}

/// One clear line on stderr, prefixed with the binary's name.
fn assert_one_line_error(o: &Output, needle: &str) {
    orch_testkit::assert_one_line_error(o, "orch-tell", needle)
}

/// Every pane's sent events: nothing may have been typed anywhere.
fn sent_anywhere(env: &TestEnv, panes: &[&str]) -> usize {
    panes.iter().map(|p| of_kind(env, p, "sent").len()).sum()
}

/// Tell `text` and check the echo agent received exactly it, once.
fn check_delivered_intact(env: &TestEnv, pane: &str, o: &Output, text: &str) {
    assert_code(o, 0);
    let j = json_of(o);
    assert_eq!(j["status"], "delivered", "{j}");
    assert_eq!(j["pane"], pane);
    let expected = sanitize(text);
    let hash = prompt_hash(&expected);
    assert_eq!(j["hash"], hash.as_str());
    let prompts = of_kind(env, pane, "prompt");
    let matching: Vec<_> = prompts
        .iter()
        .filter(|p| p["prompt_hash"] == hash.as_str())
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "prompt with hash {hash} must arrive exactly once; prompts: {prompts:?}"
    );
    let got = matching[0];
    assert_eq!(got["seq"], j["prompt_seq"]);
    assert_eq!(
        got["prompt_len"].as_u64().unwrap() as usize,
        expected.len(),
        "length of what arrived"
    );
    if expected.len() <= orch::event::PROMPT_KEEP_BYTES {
        assert_eq!(
            normalize_prompt(got["prompt"].as_str().unwrap()),
            normalize_prompt(&expected)
        );
    }
}

#[test]
fn every_kind_of_text_arrives_intact_exactly_once() {
    let (env, [pane]) = or_skip!(agents(""));
    let title_before = env.tmux(&["display-message", "-p", "-t", &pane, "#{pane_title}"]);

    let one_line = "Review the diff in src/auth.rs and report problems";
    check_delivered_intact(&env, &pane, &tell(&env, &[&pane, one_line]), one_line);

    // Several arguments are joined by spaces.
    let o = tell(&env, &[&pane, "three", "separate", "words"]);
    check_delivered_intact(&env, &pane, &o, "three separate words");

    let multi = "First line\n\n  indented second line\n\tthird with a tab\nlast";
    let file = env.dir.path().join("multi.txt");
    std::fs::write(&file, multi).unwrap();
    let o = tell(&env, &[&pane, "--file", file.to_str().unwrap()]);
    check_delivered_intact(&env, &pane, &o, multi);

    let crlf = "windows\r\nline endings\r\n";
    let o = output_with_stdin(env.cmd("orch-tell").args([&pane, "-"]), crlf.as_bytes());
    check_delivered_intact(&env, &pane, &o, crlf);

    // 20 KiB, 300 lines, through stdin.
    let big: String = (0..300)
        .map(|i| format!("line {i:03}: {}\n", "x".repeat(55 + i % 7)))
        .collect();
    assert!(big.len() >= 20 * 1024, "{}", big.len());
    let o = output_with_stdin(env.cmd("orch-tell").args([&pane, "-"]), big.as_bytes());
    check_delivered_intact(&env, &pane, &o, &big);
    assert_eq!(json_of(&o)["bytes"].as_u64().unwrap() as usize, big.len());

    let unicode = "Grüße, 世界! Emoji 🎉👩‍💻 and RTL שלום, combining é, math ∑";
    check_delivered_intact(&env, &pane, &tell(&env, &[&pane, unicode]), unicode);

    // Hostile bytes: a title change, Ctrl-C (would kill the agent: ISIG is
    // on), a fake end-of-paste marker (would let the rest submit early),
    // NUL, BEL, DEL, colours, a C1 CSI.
    let hostile = "safe start \x1b]2;pwned\x07 ctrl-c:\x03 nul:\x00 \x1b[201~escaped\r \x1b[31mred\x1b[0m del:\x7f c1:\u{9b}2J end";
    let o = output_with_stdin(env.cmd("orch-tell").args([&pane, "-"]), hostile.as_bytes());
    check_delivered_intact(&env, &pane, &o, hostile);
    let got = of_kind(&env, &pane, "prompt").last().unwrap()["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        got, "safe start  ctrl-c: nul: escaped\n red del: c1: end",
        "stripped, nothing else changed"
    );
    assert_eq!(
        env.tmux(&["display-message", "-p", "-t", &pane, "#{pane_title}"]),
        title_before,
        "the title sequence must not reach the terminal"
    );

    // Harness commands are the user's business: they arrive as typed.
    for t in ["/help me with this", "!ls -la"] {
        check_delivered_intact(&env, &pane, &tell(&env, &[&pane, t]), t);
    }

    // The agent survived all of it, and nothing arrived twice.
    let sent = of_kind(&env, &pane, "sent").len();
    let prompts = of_kind(&env, &pane, "prompt").len();
    assert_eq!(sent, 9);
    assert_eq!(prompts, 9, "one prompt per tell");
    let o = tell(&env, &[&pane, "still alive?", "--wait"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["reply"], reply_for("still alive?").as_str());
}

#[test]
fn concurrent_tells_to_one_pane_arrive_whole() {
    let (env, [pane]) = or_skip!(agents(""));
    let texts: Vec<String> = (0..3)
        .map(|n| {
            (0..40)
                .map(|i| format!("sender {n} line {i} {}\n", "abcdefgh".repeat(8)))
                .collect()
        })
        .collect();
    let children: Vec<_> = texts
        .iter()
        .map(|t| spawn_with_stdin(env.cmd("orch-tell").args([&pane, "-"]), t.as_bytes()))
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert_code(&o, 0);
        assert_eq!(json_of(&o)["status"], "delivered");
    }
    let mut got: Vec<String> = of_kind(&env, &pane, "prompt")
        .iter()
        .map(|p| p["prompt_hash"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = texts.iter().map(|t| prompt_hash(t)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "each prompt whole, once, none merged");
}

#[test]
fn permission_dialog_is_refused_and_nothing_is_typed() {
    let (env, [pane]) = or_skip!(agents(""));
    let o = tell(&env, &[&pane, "[[permission]] touch a file"]);
    assert_code(&o, 0);
    eventually(T, "the permission notification", || {
        (!of_kind(&env, &pane, "notify").is_empty()).then_some(())
    });
    env.wait_for_screen(&pane, "2. No", T);
    let sent_before = of_kind(&env, &pane, "sent").len();

    // "1" is exactly what would answer the dialog if it were typed.
    let o = tell(&env, &[&pane, "1"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "dialog");
    assert_eq!(stdout(&o), "", "no JSON for a refused send");
    std::thread::sleep(Duration::from_millis(300));
    let screen = env.capture(&pane);
    assert!(
        !screen.contains("(allowed)") && !screen.contains("(denied)"),
        "the dialog was answered by typed keys:\n{screen}"
    );
    assert_eq!(of_kind(&env, &pane, "sent").len(), sent_before);
    assert_eq!(of_kind(&env, &pane, "prompt").len(), 1);

    // --wait-idle waits for a person to answer, then delivers.
    let mut waiting = env
        .cmd("orch-tell")
        .args([&pane, "after the dialog", "--wait-idle", "--timeout", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "must wait for the dialog"
    );
    assert_eq!(of_kind(&env, &pane, "prompt").len(), 1);
    env.tmux(&["send-keys", "-t", &pane, "2"]);
    let o = waiting.wait_with_output().unwrap();
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["status"], "delivered");
    assert!(env.capture(&pane).contains("(denied)"));
    let prompts = of_kind(&env, &pane, "prompt");
    assert_eq!(prompts.len(), 2);
    assert_eq!(prompts[1]["prompt"], "after the dialog");
}

#[test]
fn startup_dialog_seen_only_on_screen_is_refused() {
    // --dialog: a trust dialog before any hook fires; only the screen shows it.
    let (env, pane) = or_skip!(on_screen("--dialog", "2. No, exit"));
    let o = tell(&env, &[&pane, "1"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "Do you trust the files in this folder?");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        env.events(&pane).is_empty(),
        "nothing typed, no session started"
    );
    assert!(!env.capture(&pane).contains("orch echo agent —"));
}

#[test]
fn swallowed_enter_is_retried_and_delivered_once() {
    let (env, [pane]) = or_skip!(agents("--swallow-enter 1"));
    let o = tell(&env, &[&pane, "please submit me"]);
    check_delivered_intact(&env, &pane, &o, "please submit me");
    let j = json_of(&o);
    assert_eq!(j["attempts"], 2, "{j}");
    assert!(j["receipt_ms"].as_f64().unwrap() >= 900.0, "{j}");
    assert_eq!(of_kind(&env, &pane, "prompt").len(), 1);
    assert_eq!(of_kind(&env, &pane, "sent").len(), 1, "pasted once");
}

/// Regression (found against the real Claude Code): Claude drops
/// an Enter that arrives before it has drawn the paste, which it does
/// often right after start-up. tell must wait for the paste to show, not
/// lean on the 1 s Enter retry. The echo agent mimics it with
/// --paste-draw-ms.
#[test]
fn enter_waits_for_the_paste_to_be_drawn() {
    let (env, [pane]) = or_skip!(agents("--paste-draw-ms 150"));
    for text in ["drawn late, submitted once", "and a second one"] {
        let o = tell(&env, &[&pane, text]);
        check_delivered_intact(&env, &pane, &o, text);
        let j = json_of(&o);
        assert_eq!(
            j["attempts"], 1,
            "Enter pressed before the paste showed: {j}"
        );
    }
    assert_eq!(of_kind(&env, &pane, "prompt").len(), 2);
    assert_eq!(of_kind(&env, &pane, "sent").len(), 2);
}

#[test]
fn wait_returns_the_reply_or_the_blocker() {
    let (env, [pane]) = or_skip!(agents(""));
    let text = "What is the answer?\nThink briefly.";
    let o = tell(&env, &[&pane, text, "--wait"]);
    assert_code(&o, 0);
    let j = json_of(&o);
    assert_eq!(j["status"], "delivered");
    assert_eq!(j["stop_kind"], "stop");
    assert_eq!(j["reply"], reply_for(text).as_str());

    // `tell` then `listen` can never miss the reply.
    let o = tell(&env, &[&pane, "[[slow:300]] quick one"]);
    assert_code(&o, 0);
    let l = env.run("orch-listen", &[&pane, "--timeout", "10"]);
    assert_code(&l, 0);
    assert_eq!(
        json_lines(&l)[0]["reply"],
        reply_for("[[slow:300]] quick one").as_str()
    );

    let o = tell(&env, &[&pane, "[[fail]] hit the limit", "--wait"]);
    assert_code(&o, 6);
    let j = json_of(&o);
    assert_eq!(j["stop_kind"], "stop_failure");
    assert_eq!(j["error"], "rate_limit");

    let o = tell(&env, &[&pane, "[[permission]] needs a yes", "--wait"]);
    assert_code(&o, 6);
    let j = json_of(&o);
    assert_eq!(j["stop_kind"], "notify");
    assert_eq!(j["notification_type"], "permission_prompt");
    let stops = of_kind(&env, &pane, "stop").len();
    env.tmux(&["send-keys", "-t", &pane, "1"]);
    eventually(T, "the permitted turn's stop", || {
        (of_kind(&env, &pane, "stop").len() > stops).then_some(())
    });

    let long = "[[slow:3000]] a long turn";
    let o = tell(&env, &[&pane, long, "--wait", "--timeout", "0.5"]);
    assert_code(&o, 3);
    let j = json_of(&o);
    assert_eq!(
        j["status"], "delivered",
        "delivery is reported even when the wait times out"
    );
    assert_eq!(j["timed_out"], true);

    let o = tell(
        &env,
        &[&pane, "[[exit]] goodbye", "--wait", "--timeout", "10"],
    );
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["reply"], reply_for("[[exit]] goodbye").as_str());
}

#[test]
fn busy_target_is_waited_for_or_queued() {
    let (env, [pane]) = or_skip!(agents(""));
    assert_code(&tell(&env, &[&pane, "[[slow:3000]] long turn"]), 0);

    // Too short a timeout: nothing typed.
    let o = tell(&env, &[&pane, "too soon", "--timeout", "0.3"]);
    assert_code(&o, 3);
    assert_one_line_error(&o, "mid-turn");
    assert_eq!(of_kind(&env, &pane, "sent").len(), 1);

    // --queue types now; the harness takes it when the turn ends.
    let o = tell(&env, &[&pane, "queued one", "--queue"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["status"], "queued");
    assert!(
        of_kind(&env, &pane, "prompt").len() == 1,
        "not yet received"
    );

    // The default waits for idle; lock order keeps the queued one first.
    let start = Instant::now();
    let o = tell(&env, &[&pane, "after the turn"]);
    assert_code(&o, 0);
    let j = json_of(&o);
    assert_eq!(j["status"], "delivered");
    assert!(start.elapsed() >= Duration::from_millis(500), "{j}");
    let prompts: Vec<String> = of_kind(&env, &pane, "prompt")
        .iter()
        .map(|p| p["prompt"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        prompts,
        ["[[slow:3000]] long turn", "queued one", "after the turn"]
    );
}

#[test]
fn roles_matrix_force_and_audit() {
    let (env, [op, w1, w2, obs]) = or_skip!(agents(""));
    register(&env, &w1, "alpha", "worker", Some(&op));
    register(&env, &w2, "beta", "worker", Some(&op));
    register(&env, &obs, "watcher", "observer", None);
    let claim = env.run_in("orch-tell", &op, &["--claim-operator"]);
    assert_code(&claim, 0);
    assert_eq!(json_of(&claim)["pane"], op.as_str());

    let as_pane =
        |pane: &str, args: &[&str]| env.cmd_in("orch-tell", pane).args(args).output().unwrap();

    // worker → worker, worker → operator: allowed.
    assert_code(&as_pane(&w1, &["beta", "hello peer"]), 0);
    assert_code(&as_pane(&w1, &["operator", "hello boss"]), 0);
    assert_eq!(of_kind(&env, &op, "prompt")[0]["prompt"], "hello boss");
    // parent resolves through the registry.
    let o = as_pane(&w2, &["parent", "hi parent"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], op.as_str());

    // worker → observer: refused, nothing typed.
    let o = as_pane(&w1, &["watcher", "look at this"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "a worker may not tell an observer");
    assert!(stderr(&o).contains("--force"));
    assert!(of_kind(&env, &obs, "sent").is_empty());

    // observer → worker refused; observer → operator allowed.
    assert_code(&as_pane(&obs, &["alpha", "psst"]), 4);
    assert_code(&as_pane(&obs, &["operator", "report: all quiet"]), 0);

    // --force overrides and is audited.
    let o = as_pane(&w1, &["watcher", "forced note", "--force"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["forced"], true);
    assert_eq!(of_kind(&env, &obs, "prompt")[0]["prompt"], "forced note");

    // Only the operator may send as another pane.
    let o = as_pane(&w1, &["beta", "as the boss", "--from", &op]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "only the operator may send as another pane");
    let o = as_pane(&op, &["beta", "on behalf of alpha", "--from", "alpha"]);
    assert_code(&o, 0);

    // Outside tmux, ORCH_ROLE decides.
    let o = env
        .cmd("orch-tell")
        .env("ORCH_ROLE", "observer")
        .args(["beta", "from a shell"])
        .output()
        .unwrap();
    assert_code(&o, 4);

    // The matrix is configurable.
    std::fs::create_dir_all(&env.config).unwrap();
    std::fs::write(
        env.config.join("roles.json"),
        r#"{"may_tell": {"observer": ["operator", "worker"]}}"#,
    )
    .unwrap();
    assert_code(&as_pane(&obs, &["alpha", "now allowed"]), 0);
    std::fs::write(env.config.join("roles.json"), "{not json").unwrap();
    let o = as_pane(&obs, &["alpha", "bad config"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "roles.json");
    std::fs::remove_file(env.config.join("roles.json")).unwrap();

    // The audit log has every attempt, refusals and overrides included.
    let o = tell(&env, &["--audit"]);
    assert_code(&o, 0);
    let recs = json_lines(&o);
    let forced: Vec<_> = recs
        .iter()
        .filter(|r| r["forced"] == true && r["outcome"] == "delivered")
        .collect();
    assert_eq!(forced.len(), 1, "{recs:?}");
    let f = forced[0];
    assert_eq!(f["from"], w1.as_str());
    assert_eq!(f["from_name"], "alpha");
    assert_eq!(f["sender_role"], "worker");
    assert_eq!(f["target"], obs.as_str());
    assert_eq!(f["target_role"], "observer");
    assert_eq!(f["role_check"], "denied");
    assert_eq!(f["hash"], prompt_hash("forced note").as_str());
    assert_eq!(f["preview"], "forced note");
    assert_eq!(f["bytes"], 11);
    assert!(f["receipt_ms"].as_f64().is_some());
    assert!(f["ts"].as_u64().unwrap() > 0);
    let refused = recs.iter().filter(|r| r["outcome"] == "refused").count();
    assert_eq!(refused, 4, "{recs:?}");
    assert!(recs.iter().any(|r| r["action"] == "claim-operator"));

    // Filters: by pane, by name, by time.
    let o = tell(&env, &["--audit", "--pane", "watcher"]);
    let by_name = json_lines(&o);
    assert!(!by_name.is_empty());
    assert!(
        by_name
            .iter()
            .all(|r| r["target"] == obs.as_str() || r["from"] == obs.as_str())
    );
    let o = tell(&env, &["--audit", "--pane", &obs]);
    assert_eq!(json_lines(&o).len(), by_name.len());
    let o = tell(&env, &["--audit", "--since", "1h"]);
    assert_eq!(json_lines(&o).len(), recs.len());
    std::thread::sleep(Duration::from_millis(1100));
    let o = tell(&env, &["--audit", "--since", "1s"]);
    assert_eq!(json_lines(&o).len(), 0);
    let o = tell(&env, &["--audit", "--pretty"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("FORCED"), "{}", stdout(&o));
    let o = tell(&env, &["--audit", "--since", "soon"]);
    assert_code(&o, 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.state.join("audit.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn escalation_axes() {
    let (env, [op, w, peer]) = or_skip!(agents(""));
    register(&env, &w, "alpha", "worker", Some(&op));
    register(&env, &peer, "beta", "worker", None);
    assert_code(&env.run_in("orch-tell", &op, &["--claim-operator"]), 0);
    let as_w = |args: &[&str]| env.cmd_in("orch-tell", &w).args(args).output().unwrap();

    let o = as_w(&[
        "operator",
        "--escalate",
        "architecture",
        "Split the store crate?",
    ]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["escalation"], "architecture");
    assert_eq!(
        of_kind(&env, &op, "prompt")[0]["prompt"],
        "[escalation: architecture] Split the store crate?"
    );

    let o = as_w(&["operator", "--escalate", "budget", "Can I spend more?"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "decide everything else yourself");

    let o = as_w(&["beta", "--escalate", "taste", "Tabs or spaces?"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "escalations go to the operator");
    assert!(of_kind(&env, &peer, "sent").is_empty());
    assert_eq!(of_kind(&env, &op, "sent").len(), 1);

    let recs = json_lines(&tell(&env, &["--audit", "--pane", &w]));
    assert!(
        recs.iter()
            .any(|r| r["escalation"] == "architecture" && r["outcome"] == "delivered")
    );
    assert!(
        recs.iter()
            .any(|r| r["escalation"] == "budget" && r["outcome"] == "refused")
    );
}

#[test]
fn operator_claims_are_guarded() {
    let (env, [a, b, w]) = or_skip!(agents(""));
    register(&env, &w, "alpha", "worker", None);

    let o = tell(&env, &["operator", "anyone there?"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "--claim-operator");

    let claim = |p: &str, extra: &[&str]| {
        env.cmd_in("orch-tell", p)
            .arg("--claim-operator")
            .args(extra)
            .output()
            .unwrap()
    };
    let o = claim(&w, &[]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "registered as a worker");
    assert_code(&claim(&a, &[]), 0);
    let o = claim(&b, &[]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "already holds the operator role");
    let o = claim(&b, &["--force"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["previous"], a.as_str());
    let o = tell(&env, &["operator", "who is it now?"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], b.as_str());

    let o = env.run_in("orch-tell", &b, &["--release-operator"]);
    assert_code(&o, 0);
    assert_code(&tell(&env, &["operator", "gone?"]), 2);
}

#[test]
fn bad_targets_and_texts_type_nothing_anywhere() {
    let (env, [a, b]) = or_skip!(agents(""));
    register(&env, &a, "alpha", "worker", None);
    let shell = env.new_pane("sh");
    let doomed = start_echo(&env, "");
    env.tmux(&["kill-pane", "-t", &doomed]);
    let panes = [a.as_str(), b.as_str(), shell.as_str(), doomed.as_str()];

    let o = tell(&env, &["gamma", "hello"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "no agent named \"gamma\"");
    assert!(
        stderr(&o).contains(&format!("alpha ({a})")),
        "{}",
        stderr(&o)
    );

    register(&env, &b, "alpha", "worker", None);
    let o = tell(&env, &["alpha", "hello"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "ambiguous");

    let o = tell(&env, &[&a, ""]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "empty");
    let o = output_with_stdin(
        env.cmd("orch-tell").args([&a, "-"]),
        b"\x1b[31m\x1b]2;x\x07 \r\n\x03",
    );
    assert_code(&o, 2);
    assert_one_line_error(&o, "empty");
    let o = tell(&env, &[&a]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "no text");
    let o = output_with_stdin(env.cmd("orch-tell").args([&a, "-"]), b"bad \xff\xfe utf8");
    assert_code(&o, 2);
    assert_one_line_error(&o, "not UTF-8");

    let o = tell(&env, &[&doomed, "are you there?"]);
    assert_code(&o, 7);
    assert_one_line_error(&o, "does not exist");
    let o = tell(&env, &["%999", "are you there?"]);
    assert_code(&o, 7);
    let o = tell(&env, &["%x1", "hello"]);
    assert_code(&o, 2);

    let o = tell(&env, &[&shell, "rm -rf /tmp/should-never-run"]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "would run as a command");

    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sent_anywhere(&env, &panes), 0, "nothing typed anywhere");
    for p in [&a, &b] {
        assert_eq!(of_kind(&env, p, "prompt").len(), 0);
    }
    assert!(!env.capture(&shell).contains("should-never-run"));
}

#[test]
fn hookless_agent_is_unconfirmed_not_delivered() {
    let (env, pane) = or_skip!(on_screen("--no-hooks --turn-ms 20", "echo>"));
    let o = tell(&env, &[&pane, "can you hear me"]);
    assert_code(&o, 5);
    let j = json_of(&o);
    assert_eq!(j["status"], "unconfirmed");
    assert!(
        j["reason"].as_str().unwrap().contains("never fired a hook"),
        "{j}"
    );
    assert!(stderr(&o).contains("unconfirmed"));
    // It was typed (and the agent answered on screen), just not provable.
    env.wait_for_screen(&pane, "echo: can you hear me", T);
}

#[test]
fn large_prompt_goes_through_a_file() {
    let (env, [pane]) = or_skip!(agents(""));
    let big: String = (0..200).map(|i| format!("spec line {i}\n")).collect();
    let o = output_with_stdin(
        env.cmd("orch-tell")
            .env("ORCH_TELL_PASTE_MAX", "1024")
            .args([&pane, "-", "--wait"]),
        big.as_bytes(),
    );
    assert_code(&o, 0);
    let j = json_of(&o);
    let path = j["file"]["path"].as_str().unwrap().to_string();
    assert_eq!(j["file"]["bytes"].as_u64().unwrap() as usize, big.len());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), big);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(path.starts_with(env.state.to_str().unwrap()));
    let pointer = format!(
        "Read the prompt in {path} ({} bytes) and follow it.",
        big.len()
    );
    let prompts = of_kind(&env, &pane, "prompt");
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0]["prompt"], pointer.as_str());
    assert_eq!(j["reply"], reply_for(&pointer).as_str());
}

#[test]
fn self_and_orch_parent_addressing() {
    let (env, [a, b]) = or_skip!(agents(""));
    // `self` from inside a pane (tell run on the agent's behalf).
    let o = env.run_in("orch-tell", &a, &["self", "note to self"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], a.as_str());
    let o = env.run_in("orch-tell", &a, &["self", "note", "--wait"]);
    assert_code(&o, 2);
    // `parent` from ORCH_PARENT when the registry has none.
    let o = env
        .cmd_in("orch-tell", &a)
        .env("ORCH_PARENT", &b)
        .args(["parent", "hello parent"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], b.as_str());
    let o = env.run_in("orch-tell", &a, &["parent", "hello?"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "no parent");
}

#[test]
fn enter_retries_are_bounded_and_never_repaste() {
    let env = or_skip!(TestEnv::with_tmux());
    // Swallows more Enters than tell will ever press.
    let pane = start_echo(&env, "--swallow-enter 10");
    let o = tell(&env, &[&pane, "stuck in the box", "--timeout", "5"]);
    assert_code(&o, 5);
    let j = json_of(&o);
    assert_eq!(j["status"], "unconfirmed");
    assert_eq!(j["attempts"], 4, "1 Enter + 3 retries: {j}");
    assert!(
        j["reason"].as_str().unwrap().contains("no matching prompt"),
        "{j}"
    );
    assert_eq!(of_kind(&env, &pane, "sent").len(), 1);
    assert!(of_kind(&env, &pane, "prompt").is_empty());
    // Pasted once: the text appears once on screen, not four times.
    let screen = env.capture(&pane);
    assert_eq!(screen.matches("stuck in the box").count(), 1, "{screen}");
}

#[test]
fn agent_exiting_after_the_paste_is_reported_as_exited() {
    let (env, [pane]) = or_skip!(agents(""));
    // The echo agent treats /exit as a command: no prompt event, session end.
    let o = tell(&env, &[&pane, "/exit"]);
    assert_code(&o, 7);
    let j = json_of(&o);
    assert_eq!(j["status"], "exited", "typed, so stdout says what happened");
    assert!(stderr(&o).contains("ended its session"), "{}", stderr(&o));
    let recs = json_lines(&tell(&env, &["--audit"]));
    assert_eq!(recs.last().unwrap()["outcome"], "exited");
}

/// Regression (issue 14, item 3): a pane without a registry record counted
/// as the operator, which a worker may tell, and the shell guard is a list
/// of shell names: from a worker, `orch tell %2 'import os; …'` into a
/// python3 REPL ran the code. A worker may tell only known agents and the
/// claimed operator unless it passes --force; and into Claude Code, text
/// starting with `!` (bash mode) or `/` (a slash command) needs --force.
#[test]
fn worker_cannot_type_into_a_pane_orch_never_spawned() {
    let (env, [w, claude]) = or_skip!(agents(""));
    let Some(python) = ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is required in CI"
        );
        eprintln!("SKIPPED: python3 is not installed; this test needs a REPL to type into");
        return;
    };
    register(&env, &w, "alpha", "worker", None);
    env.store()
        .update_registry(pane_id(&claude), |r| {
            r.name = Some("cc".into());
            r.role = Some(orch::roles::Role::Worker);
            r.harness = Some("claude".into());
        })
        .unwrap();
    let repl = env.new_pane(&format!("{python} -q"));
    env.wait_for_screen(&repl, ">>>", T);
    let pwned = env.dir.path().join("pwned");
    let code = format!("import os; os.system('touch {}')", pwned.display());
    let as_w = |args: &[&str]| env.cmd_in("orch-tell", &w).args(args).output().unwrap();

    let o = as_w(&[&repl, &code]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "not a known agent");
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    // An operator telling it once leaves a registry record (its `sent`):
    // that does not make the REPL an agent.
    let o = env.run("orch-tell", &[&repl, "--timeout", "3", "1+1"]);
    assert_code(&o, 5);
    let o = as_w(&[&repl, &code]);
    assert_code(&o, 4);
    assert_one_line_error(&o, "not a known agent");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pwned.exists(), "the worker's text ran in the REPL");
    assert!(!env.capture(&repl).contains("import os"));
    assert_eq!(of_kind(&env, &repl, "sent").len(), 1, "only the operator's");

    // Bash mode and slash commands into Claude Code: --force only.
    for t in ["!touch /tmp/x", "/model opus", "  /clear"] {
        let o = as_w(&["cc", t]);
        assert_code(&o, 4);
        assert_one_line_error(&o, "shell command or slash command");
    }
    assert!(of_kind(&env, &claude, "sent").is_empty());
    let o = as_w(&["cc", "/help me", "--force"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["forced"], true);
    // Ordinary text, and the operator's commands, go through.
    assert_code(&as_w(&["cc", "a path like /tmp is fine inside"]), 0);
    assert_code(&tell(&env, &["cc", "/help from the operator"]), 0);

    let recs = json_lines(&tell(&env, &["--audit", "--pane", &w]));
    let refused = recs.iter().filter(|r| r["outcome"] == "refused").count();
    assert_eq!(refused, 5, "{recs:?}");
    assert!(
        recs.iter()
            .any(|r| r["forced"] == true && r["outcome"] == "delivered"),
        "{recs:?}"
    );
}

/// Pid of every process blocked waiting for a flock (`->` in /proc/locks).
fn blocked_on_flock() -> Vec<u32> {
    std::fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("->"))
        .filter_map(|l| l.split_whitespace().nth(5)?.parse().ok())
        .collect()
}

/// Hold `pane`'s pane lock (what a hook or another writer holds while it
/// appends) until dropped.
fn hold_pane_lock(env: &TestEnv, pane: &str) -> orch::lock::FileLock {
    let n = pane.trim_start_matches('%');
    let path = env.server_state().join(format!("panes/{n}.lock"));
    orch::lock::FileLock::acquire(&path).unwrap()
}

/// Regression (issue 14, item 8): tell waited for a held pane lock without
/// a bound (`--timeout 2` returned after 11.7 s, and pasted after its
/// deadline). The timeout covers that wait: past it, exit 3, nothing typed.
#[test]
fn timeout_covers_the_wait_for_a_held_pane_lock() {
    let (env, [pane]) = or_skip!(agents(""));
    let lock = hold_pane_lock(&env, &pane);
    let mut child = env
        .cmd("orch-tell")
        .args([&pane, "held up", "--timeout", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let gave_up = eventually_or_none(Duration::from_secs(30), || child.try_wait().unwrap());
    let _ = child.kill();
    let o = child.wait_with_output().unwrap();
    assert!(
        gave_up.is_some(),
        "tell was still waiting for the pane lock 30 s past its 1 s timeout"
    );
    drop(lock);
    assert_code(&o, 3);
    assert_one_line_error(&o, "pane lock");
    assert_eq!(stdout(&o), "");
    assert!(of_kind(&env, &pane, "sent").is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert!(of_kind(&env, &pane, "prompt").is_empty(), "typed after all");
    assert!(!env.capture(&pane).contains("held up"));
}

/// `f` until it returns `Some` or `timeout` passes.
fn eventually_or_none<R>(timeout: Duration, mut f: impl FnMut() -> Option<R>) -> Option<R> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(r) = f() {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn buffers(env: &TestEnv) -> Vec<String> {
    env.try_tmux(&["list-buffers", "-F", "#{buffer_name}"])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Regression (issue 14, item 9): a tell killed while it waited for the
/// pane lock left its paste buffer — the prompt text — in `list-buffers`,
/// because it loaded the buffer before recording the send. Now nothing is
/// handed to tmux before the last wait, and buffers of dead tells are
/// deleted by the next one.
#[test]
fn killed_tell_leaves_no_paste_buffer_behind() {
    let (env, [pane]) = or_skip!(agents(""));
    let lock = hold_pane_lock(&env, &pane);
    let mut child = env
        .cmd("orch-tell")
        .args([&pane, "secret prompt text", "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    eventually(T, "tell blocked on the pane lock", || {
        blocked_on_flock().contains(&pid).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    drop(lock);
    let prefix = format!("orch-{pid}-");
    let left: Vec<_> = buffers(&env)
        .into_iter()
        .filter(|b| b.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "stale buffers: {left:?}");

    // Buffers a dead tell left (killed between load and paste) are removed
    // by the next tell; a live process's buffer is its delivery in progress.
    let mut dead = env.command("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = format!("orch-{dead_pid}-0");
    let live = format!("orch-{}-3", std::process::id());
    for b in [&stale, &live] {
        env.tmux(&["set-buffer", "-b", b, "an old prompt"]);
    }
    assert_code(&tell(&env, &[&pane, "after the kill"]), 0);
    let now = buffers(&env);
    assert!(!now.contains(&stale), "{now:?}");
    assert!(now.contains(&live), "{now:?}");
}

/// Regression (issue 14, item 10): on a full disk the registry's temp file
/// could not be written though the log line was; tell then said "nothing
/// was typed" while the log held its `sent`. A written line is a success;
/// only the registry failure is logged. (A directory where the registry
/// record belongs fails its write the way ENOSPC does.)
#[test]
fn registry_write_failure_is_not_reported_as_nothing_typed() {
    let (env, [pane]) = or_skip!(agents(""));
    let n = pane.trim_start_matches('%');
    let rec = env.server_state().join(format!("panes/{n}.json"));
    std::fs::remove_file(&rec).unwrap();
    std::fs::create_dir(&rec).unwrap();
    let o = tell(&env, &[&pane, "despite the disk", "--wait"]);
    let sent = of_kind(&env, &pane, "sent").len();
    if stdout(&o).is_empty() {
        assert_eq!(sent, 0, "no JSON, yet a send was recorded: {}", show(&o));
    }
    assert_code(&o, 0);
    let j = json_of(&o);
    assert_eq!(j["status"], "delivered");
    assert_eq!(j["reply"], reply_for("despite the disk").as_str());
    assert_eq!(sent, 1);
    let errors = std::fs::read_to_string(env.state.join("errors.log")).unwrap();
    assert!(
        errors.contains("registry summary was not updated"),
        "{errors}"
    );
}

/// Regression (issue 15, item 10): an agent whose pane died kept its name
/// until GC noticed: a new agent of that name made `orch tell alice`
/// ambiguous, and `orch survey alice` listed the dead one first. Names
/// resolve to the live agent; a dead agent's name is free to reuse.
#[test]
fn dead_agents_name_resolves_to_the_live_one() {
    let (env, [old, new]) = or_skip!(agents(""));
    register(&env, &old, "alice", "worker", None);
    env.tmux(&["kill-pane", "-t", &old]);
    register(&env, &new, "alice", "worker", None);

    let o = tell(&env, &["alice", "which one?", "--wait"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["pane"], new.as_str());
    let s = env.run("orch-survey", &["alice"]);
    assert_code(&s, 0);
    let agents = json_of(&s)["agents"].as_array().unwrap().clone();
    let panes: Vec<&str> = agents.iter().map(|a| a["pane"].as_str().unwrap()).collect();
    assert_eq!(panes, [new.as_str()], "{agents:?}");
    let l = env.run("orch-listen", &["alice", "--timeout", "10"]);
    assert_code(&l, 0);
    assert_eq!(json_lines(&l)[0]["pane"], new.as_str());

    // With only the dead one left, the name still says what became of it,
    // also once survey's GC has marked it gone: exit 7, not "no agent".
    env.tmux(&["kill-pane", "-t", &new]);
    let o = tell(&env, &["alice", "anyone?"]);
    assert_code(&o, 7);
    assert_code(&env.run("orch-survey", &[]), 0);
    assert!(env.registry(&new).unwrap()["gone_ts"].is_u64());
    let o = tell(&env, &["alice", "anyone?"]);
    assert_code(&o, 7);
    assert_one_line_error(&o, "does not exist");
    // Its reply is still there for a plain listen; after it, its end.
    let l = env.run("orch-listen", &["alice", "--new", "--timeout", "10"]);
    assert_code(&l, 7);
    let ev = json_lines(&l)[0].clone();
    assert_eq!(
        (ev["pane"].as_str(), ev["kind"].as_str()),
        (Some(new.as_str()), Some("exited"))
    );
}

/// Issue 15: one tell per agent was one Bash call each. `--to` and `--all`
/// fan out, one JSON line per target, the worst code as exit code.
#[test]
fn fan_out_to_three_tells_each_once_and_collects_every_reply() {
    let (env, [a, b, c]) = or_skip!(agents(""));
    register(&env, &a, "alice", "worker", None);
    register(&env, &b, "bob", "worker", None);
    register(&env, &c, "carol", "observer", None);

    let o = tell(
        &env,
        &[
            "--to",
            &format!("alice,bob,{c}"),
            "Rebase",
            "on main",
            "--wait",
        ],
    );
    assert_code(&o, 0);
    let lines = json_lines(&o);
    let panes: Vec<&str> = lines.iter().map(|l| l["pane"].as_str().unwrap()).collect();
    assert_eq!(panes, [a.as_str(), b.as_str(), c.as_str()]);
    for (l, p) in lines.iter().zip([&a, &b, &c]) {
        assert_eq!(l["status"], "delivered", "{l}");
        assert_eq!(l["stop_kind"], "stop", "{l}");
        assert_eq!(l["reply"].as_str().unwrap(), reply_for("Rebase on main"));
        assert_eq!(env.texts(p, "prompt", "prompt"), ["Rebase on main"]);
    }

    // --all --role: only the workers; plain --all: every agent.
    let o = tell(&env, &["--all", "--role", "worker", "Second", "--wait"]);
    assert_code(&o, 0);
    let panes: Vec<String> = json_lines(&o)
        .iter()
        .map(|l| l["pane"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(panes, [a.clone(), b.clone()]);
    assert_eq!(env.texts(&c, "prompt", "prompt"), ["Rebase on main"]);
    let o = tell(&env, &["--all", "Third", "--wait"]);
    assert_code(&o, 0);
    assert_eq!(json_lines(&o).len(), 3);
    for p in [&a, &b, &c] {
        assert_eq!(env.texts(p, "prompt", "prompt").last().unwrap(), "Third");
    }

    // One bad target: its own line, the others still told, worst code wins.
    let o = tell(&env, &["--to", "alice,nobody,%999", "Fourth"]);
    assert_code(&o, 7);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3, "{}", show(&o));
    assert_eq!(lines[0]["status"], "delivered");
    assert_eq!(
        (lines[1]["status"].as_str(), lines[1]["code"].as_u64()),
        (Some("invalid"), Some(2))
    );
    assert_eq!(
        (lines[2]["status"].as_str(), lines[2]["code"].as_u64()),
        (Some("exited"), Some(7))
    );
    assert_eq!(env.texts(&a, "prompt", "prompt").last().unwrap(), "Fourth");
    assert_eq!(env.texts(&b, "prompt", "prompt").last().unwrap(), "Third");

    // A worker's --all skips what it may not tell (the observer) and itself.
    let o = env.run_in("orch-tell", &a, &["--all", "Fifth"]);
    assert_code(&o, 0);
    let panes: Vec<String> = json_lines(&o)
        .iter()
        .map(|l| l["pane"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(panes, [b.as_str()], "{}", show(&o));
}

/// Issue 15 item 7: `--later` returns at once with `queued`, nothing typed;
/// messages wait in the target's inbox and arrive together, in one prompt,
/// at its next idle, each exactly once.
#[test]
fn later_messages_are_batched_into_the_next_idle() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = env.start_echo("--turn-ms 3000");
    register(&env, &pane, "slow", "worker", None);
    assert_code(&tell(&env, &["slow", "the long task"]), 0);
    for msg in ["first later", "second later"] {
        let o = tell(&env, &["slow", "--later", msg]);
        assert_code(&o, 0);
        let v = json_of(&o);
        assert_eq!(v["status"], "queued", "{v}");
        assert!(v["receipt_ms"].is_null(), "{v}");
    }
    let stop = env.wait_event(&pane, "stop", 0, T);
    let next = env.wait_event(&pane, "prompt", stop["seq"].as_u64().unwrap(), T);
    let text = next["prompt"].as_str().unwrap();
    assert!(
        text.contains("first later") && text.contains("second later"),
        "{text}"
    );
    assert!(!orch::event::is_notice_text(text), "{text}");
    env.wait_event(&pane, "stop", next["seq"].as_u64().unwrap(), T);
    let prompts = env.texts(&pane, "prompt", "prompt");
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    // Bad combinations change nothing.
    assert_code(&tell(&env, &["slow", "--later", "--wait", "x"]), 2);
}

/// Issue 15 item 8: `orch answer` picks the option by its label on the
/// permission prompt the event named, confirms it went away and audits;
/// anything else is exit 4 with nothing typed, and workers may not answer.
#[test]
fn answer_selects_by_label_and_refuses_everything_else() {
    let (env, [a, w]) = or_skip!(agents(""));
    register(&env, &a, "alice", "worker", None);
    register(&env, &w, "wendy", "worker", None);
    let answer = |args: &[&str]| env.run("orch-answer", args);

    // Idle: nothing to answer.
    let o = answer(&["alice", "allow"]);
    assert_code(&o, 4);
    orch_testkit::assert_one_line_error(&o, "orch-answer", "not waiting on a permission prompt");

    for (choice, option, shown) in [
        ("deny", "2. No", "(denied)"),
        ("allow", "1. Yes", "(allowed)"),
    ] {
        let o = tell(&env, &["alice", "--wait", "Clean up [[permission]]"]);
        assert_code(&o, 6);
        let before = env.capture(&a);
        // No "always" option on the echo agent's dialog; a worker may not
        // answer for alice: both refused, nothing typed.
        assert_code(&answer(&["alice", "always"]), 4);
        let o = env
            .cmd_in("orch-answer", &w)
            .env("ORCH_ROLE", "worker")
            .args(["alice", choice])
            .output()
            .unwrap();
        assert_code(&o, 4);
        assert_eq!(env.capture(&a), before, "something was typed");

        let o = answer(&["alice", choice]);
        assert_code(&o, 0);
        let v = json_of(&o);
        assert_eq!(
            (v["option"].as_str(), v["tool"].as_str()),
            (Some(option), Some("Bash")),
            "{v}"
        );
        env.wait_for_screen(&a, shown, T);
        let l = env.run("orch-listen", &["alice", "--timeout", "10"]);
        assert_code(&l, 0);
    }
    assert_code(&answer(&["alice", "maybe"]), 2);
    let audit = env.run("orch-tell", &["--audit"]);
    let answered: Vec<Value> = json_lines(&audit)
        .into_iter()
        .filter(|r| r["action"] == "answer")
        .collect();
    let outcomes: Vec<&str> = answered
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "refused", "refused", "refused", "answered", "refused", "refused", "answered"
        ]
    );
}

/// Issue 15 item 7: `--queue` into a busy Claude Code promised a receipt
/// that never came — Claude Code injects the text into a turn that runs a
/// tool, and fires no prompt event. Into a pane whose registry says
/// `claude` (an echo agent standing in) `queued` says so.
#[test]
fn queue_into_an_injecting_harness_is_reported_honestly() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = env.start_echo("--turn-ms 1500");
    env.store()
        .update_registry(pane_id(&pane), |r| r.harness = Some("claude".into()))
        .unwrap();
    assert_code(&tell(&env, &[&pane, "a long turn"]), 0);
    let o = tell(&env, &[&pane, "--queue", "Also check the logs"]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["status"], "queued", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("confirmed later"), "{v}");
    assert_eq!(v.get("confirmed_by"), None, "{v}");
    let rec = env.registry(&pane).unwrap();
    assert_eq!(rec["pending_queued"][0]["sent_seq"], v["sent_seq"], "{rec}");
}

//! orch-spawn against a private tmux server, with the echo agent.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::prelude::*;

/// A world, and the pane of its first window: where spawn "is called from".
fn world() -> Option<(TestEnv, String)> {
    let env = TestEnv::with_tmux()?;
    let me = env.pane_format("main:0", "#{pane_id}");
    Some((env, me))
}

/// orch-spawn ARGS run from inside `me`.
fn spawn(env: &TestEnv, me: &str, args: &[&str]) -> (Output, Value) {
    spawn_from(env, Some(me), args)
}

/// orch-spawn ARGS run from inside `me`, which must report the agent
/// ready; its pane and report.
fn ready(env: &TestEnv, me: &str, args: &[&str]) -> (String, Value) {
    let (o, v) = spawn(env, me, args);
    (assert_ready(&o, &v), v)
}

fn spawn_from(env: &TestEnv, from: Option<&str>, args: &[&str]) -> (Output, Value) {
    let mut c = match from {
        Some(p) => env.cmd_in("orch-spawn", p),
        None => env.cmd("orch-spawn"),
    };
    if !args.iter().any(|a| a.starts_with("--timeout")) {
        c.args(["--timeout", "20"]);
    }
    let o = c.args(args).output().unwrap();
    let v = serde_json::from_str(stdout(&o).trim()).unwrap_or(Value::Null);
    (o, v)
}

/// `orch-listen NAME` for its session_start: what the name resolves to.
fn session_start_of(env: &TestEnv, name: &str) -> Output {
    let args = [
        name,
        "--since",
        "0",
        "--kinds",
        "session_start",
        "--timeout",
        "5",
    ];
    env.run("orch-listen", &args)
}

/// A JSON array of strings.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

fn num(env: &TestEnv, pane: &str, f: &str) -> i64 {
    env.pane_format(pane, f).parse().unwrap()
}

fn assert_ready(o: &Output, v: &Value) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    assert_eq!(v["state"], "idle", "{v}");
    assert!(v["ready_ms"].is_u64(), "{v}");
    v["pane"].as_str().unwrap().to_string()
}

#[test]
fn spawn_in_every_position() {
    let (env, me) = or_skip!(world());
    for pos in ["right", "left", "above", "below"] {
        let (pane, v) = ready(&env, &me, &["echo", "--position", pos]);
        assert_eq!(v["placement"], format!("{pos} of {me}"));
        assert_eq!(
            env.pane_format(&pane, "#{window_id}"),
            env.pane_format(&me, "#{window_id}"),
            "{pos}: not split off the caller's window"
        );
        let (l, t) = (
            num(&env, &pane, "#{pane_left}"),
            num(&env, &pane, "#{pane_top}"),
        );
        let (ml, mt) = (
            num(&env, &me, "#{pane_left}"),
            num(&env, &me, "#{pane_top}"),
        );
        match pos {
            "right" => assert!(l > ml, "right: {l} vs {ml}"),
            "left" => assert!(l < ml, "left: {l} vs {ml}"),
            "below" => assert!(t > mt, "below: {t} vs {mt}"),
            _ => assert!(t < mt, "above: {t} vs {mt}"),
        }
        env.tmux(&["kill-pane", "-t", &pane]);
    }
}

#[test]
fn spawn_window_and_headless_then_show_and_hide() {
    let (env, me) = or_skip!(world());
    let (win, _) = ready(&env, &me, &["echo", "--window", "--name", "win"]);
    assert_ne!(
        env.pane_format(&win, "#{window_id}"),
        env.pane_format(&me, "#{window_id}")
    );
    assert_eq!(env.pane_format(&win, "#{session_name}"), "main");
    assert_eq!(env.pane_format(&win, "#{window_name}"), "win");

    let (ghost, _) = ready(&env, &me, &["echo", "--headless", "--name", "ghost"]);
    assert_eq!(env.pane_format(&ghost, "#{session_name}"), "orch-headless");

    let o = env.run_in(
        "orch-spawn",
        &me,
        &["--show", "ghost", "--position", "below"],
    );
    assert_code(&o, 0);
    assert_eq!(
        env.pane_format(&ghost, "#{window_id}"),
        env.pane_format(&me, "#{window_id}")
    );
    assert!(num(&env, &ghost, "#{pane_top}") > num(&env, &me, "#{pane_top}"));

    let o = env.run_in("orch-spawn", &me, &["--hide", "ghost"]);
    assert_code(&o, 0);
    assert_eq!(env.pane_format(&ghost, "#{session_name}"), "orch-headless");
    // A pane alone in its window moves with its window.
    let o = env.run_in("orch-spawn", &me, &["--hide", &win]);
    assert_code(&o, 0);
    assert_eq!(env.pane_format(&win, "#{session_name}"), "orch-headless");
}

#[test]
fn outside_tmux_falls_back_to_a_window_and_says_so() {
    let env = or_skip!(TestEnv::with_tmux());
    let (o, v) = spawn_from(&env, None, &["echo"]);
    let pane = assert_ready(&o, &v);
    assert_eq!(v["placement"], "window");
    assert!(v["note"].as_str().unwrap().contains("new window"), "{v}");
    assert!(v.get("parent").is_none(), "{v}");
    assert!(env.panes().contains(&pane));
}

#[test]
fn ready_means_session_start_and_is_recorded() {
    let (env, me) = or_skip!(world());
    let dir = env.dir.path().join("work");
    std::fs::create_dir(&dir).unwrap();
    let (pane, v) = ready(
        &env,
        &me,
        &[
            "echo",
            "--name",
            "rev",
            "--role",
            "observer",
            "--cwd",
            dir.to_str().unwrap(),
            "--model",
            "m1",
        ],
    );
    let sid = v["session_id"].as_str().unwrap().to_string();
    assert_eq!(v["name"], "rev");
    assert_eq!(v["role"], "observer");
    assert_eq!(v["harness"], "echo");
    assert_eq!(v["parent"], me.as_str());

    let evs = env.events(&pane);
    assert_eq!(evs[0]["kind"], "spawned", "{evs:?}");
    assert_eq!(evs[0]["seq"], 1);
    let start = evs
        .iter()
        .find(|e| e["kind"] == "session_start")
        .expect("no session_start event");
    assert_eq!(start["session_id"], sid.as_str());
    assert_eq!(start["source"], "startup");
    assert_eq!(start["name"], "rev");

    let rec = env.registry(&pane).unwrap();
    let canon = std::fs::canonicalize(&dir).unwrap();
    assert_eq!(rec["name"], "rev");
    assert_eq!(rec["role"], "observer");
    assert_eq!(rec["harness"], "echo");
    assert_eq!(rec["parent"], me.as_str());
    assert_eq!(rec["cwd"], canon.to_str().unwrap());
    assert_eq!(rec["session_id"], sid.as_str());
    assert!(rec["spawned_ts"].is_u64());
    assert_eq!(rec["last_event"]["kind"], "session_start");
    let argv = strings(&rec["command"]);
    assert!(argv[0].ends_with("orch-echo"), "{argv:?}");
    assert!(argv.contains(&sid.as_str()), "{argv:?}");
    let prompt = argv
        .iter()
        .find_map(|a| a.strip_prefix("--append-system-prompt="))
        .expect("no fleet prompt");
    assert!(prompt.contains(&format!("Your pane: {pane}")), "{prompt}");
    assert!(prompt.contains("Your role: observer"));
    assert!(!prompt.contains("{{"));

    // The agent's environment, as the pane sees it.
    let env_of = |var: &str| -> String {
        let pid = env.pane_format(&pane, "#{pane_pid}");
        let data = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        data.split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok())
            .find_map(|kv| kv.strip_prefix(&format!("{var}=")).map(str::to_string))
            .unwrap_or_default()
    };
    assert_eq!(env_of("ORCH_ROLE"), "observer");
    assert_eq!(env_of("ORCH_NAME"), "rev");
    assert_eq!(env_of("ORCH_PARENT"), me);
    assert_eq!(env_of("ORCH_HARNESS"), "echo");
    assert_eq!(env_of("ORCH_SPAWNED_HOOKS"), "");
}

#[test]
fn name_resolves_and_duplicates_are_refused() {
    let (env, me) = or_skip!(world());
    let (pane, _) = ready(&env, &me, &["echo", "--name", "alpha"]);

    let o = session_start_of(&env, "alpha");
    assert_code(&o, 0);
    let ev = &json_lines(&o)[0];
    assert_eq!(ev["pane"], pane.as_str());
    assert_eq!(ev["name"], "alpha");

    let before = env.panes();
    let (o, v) = spawn(&env, &me, &["echo", "--name", "alpha"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(v, Value::Null, "nothing on stdout");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("\"alpha\" is taken") && err.contains(&pane),
        "{err}"
    );
    assert_eq!(env.panes(), before, "a pane was created anyway");
}

#[test]
fn agent_that_exits_at_once_is_reported_exited() {
    let (env, me) = or_skip!(world());
    let before = env.panes();
    let (o, v) = spawn(
        &env,
        &me,
        &["echo", "--name", "dies", "--", "--exit-immediately"],
    );
    assert_code(&o, 7);
    assert_eq!(v["state"], "exited");
    assert!(v["ready_ms"].is_null());
    assert!(v["exited_ms"].is_u64());
    assert!(
        v["excerpt"].as_str().unwrap().contains("exiting at once"),
        "{v}"
    );
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("exited during start-up"), "{err}");
    let pane = v["pane"].as_str().unwrap();
    assert_eq!(env.panes(), before, "the dead pane was left behind");
    let evs = env.events(pane);
    let exited = evs
        .iter()
        .find(|e| e["kind"] == "exited")
        .expect("no exited event");
    assert!(
        exited["data"]["excerpt"]
            .as_str()
            .unwrap()
            .contains("exiting at once")
    );
    let rec = env.registry(pane).unwrap();
    assert_eq!(rec["screen"]["state"], "exited");
    assert!(
        rec["gone_ts"].is_u64(),
        "its name must not resolve any more"
    );
}

#[test]
fn startup_dialog_is_reported_blocked_with_the_excerpt() {
    let (env, me) = or_skip!(world());
    let (o, v) = spawn(&env, &me, &["echo", "--name", "shy", "--", "--dialog"]);
    assert_code(&o, 6);
    assert_eq!(v["state"], "blocked:dialog");
    assert_eq!(v["dialog"], "trust");
    let excerpt = v["excerpt"].as_str().unwrap();
    assert!(
        excerpt.contains("Do you trust the files in this folder?"),
        "{excerpt}"
    );
    let pane = v["pane"].as_str().unwrap().to_string();
    assert!(v["fix"].as_str().unwrap().contains(&pane), "{v}");
    assert_eq!(stderr(&o).lines().count(), 1);
    let rec = env.registry(&pane).unwrap();
    assert_eq!(rec["screen"]["state"], "blocked:dialog");
    assert!(
        env.panes().contains(&pane),
        "the pane is left for someone to answer"
    );

    // Answering the dialog lets the agent start; its event clears the state.
    env.tmux(&["send-keys", "-t", &pane, "1"]);
    eventually(
        Duration::from_secs(10),
        "session_start after answering",
        || {
            env.registry(&pane)
                .filter(|r| r["last_event"]["kind"] == "session_start" && r.get("screen").is_none())
        },
    );
}

#[test]
fn hookless_agent_is_ready_by_screen_quiescence_flagged_inferred() {
    let (env, me) = or_skip!(world());
    let (pane, v) = ready(&env, &me, &["echo", "--", "--no-hooks"]);
    assert_eq!(v["inferred"], true, "{v}");
    assert!(v["session_id"].is_string());
    let rec = env.registry(&pane).unwrap();
    assert_eq!(rec["screen"]["state"], "idle");
    assert!(
        !env.events(&pane)
            .iter()
            .any(|e| e["kind"] == "session_start"),
        "--no-hooks fired a hook"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn worktree_is_created_in_a_repo_and_refused_outside() {
    let (env, me) = or_skip!(world());
    let repo = env.dir.path().join("app");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("sub/f.txt"), "x").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);

    let (pane, v) = ready(
        &env,
        &me,
        &[
            "echo",
            "--name",
            "wt",
            "--worktree",
            "--cwd",
            repo.join("sub").to_str().unwrap(),
        ],
    );
    let wt = env.dir.path().join("app.worktrees").join("orch-wt");
    let wt = std::fs::canonicalize(&wt).expect("worktree dir missing");
    assert_eq!(v["worktree"]["branch"], "orch/wt");
    assert_eq!(v["worktree"]["path"], wt.to_str().unwrap());
    assert!(git(&repo, &["worktree", "list"]).contains(wt.to_str().unwrap()));
    assert!(wt.join("sub/f.txt").is_file());
    // The agent starts in the same subdirectory, inside its worktree.
    let start = env
        .events(&pane)
        .into_iter()
        .find(|e| e["kind"] == "session_start")
        .unwrap();
    assert_eq!(start["cwd"], wt.join("sub").to_str().unwrap());
    assert_eq!(
        env.registry(&pane).unwrap()["worktree"],
        wt.to_str().unwrap()
    );

    let plain = env.dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let before = env.panes();
    let (o, _) = spawn(
        &env,
        &me,
        &["echo", "--worktree", "--cwd", plain.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("not inside") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(env.panes(), before);
}

#[test]
fn outfit_is_applied_to_the_claude_command_line() {
    let env = TestEnv::new();
    let skills = env.dir.path().join("skills");
    std::fs::create_dir_all(skills.join(".claude/skills")).unwrap();
    let outfits = env.config.join("outfits");
    std::fs::create_dir_all(&outfits).unwrap();
    std::fs::write(
        outfits.join("auditor.json"),
        serde_json::json!({
            "harness": "claude",
            "model": "claude-sonnet-4-5",
            "role": "observer",
            "system_prompt": "AUDIT-ONLY: never edit.",
            "allowed_tools": ["Read", "Bash(git log:*)"],
            "disallowed_tools": ["Edit"],
            "skills_dirs": [skills.to_str().unwrap()],
            "env": {"AUDIT_LEVEL": "3"}
        })
        .to_string(),
    )
    .unwrap();
    let args = [
        "--outfit",
        "auditor",
        "--name",
        "aud",
        "--dry-run",
        "--",
        "--verbose",
    ];
    let v = env.run_json("orch-spawn", &args);
    let argv = strings(&v["argv"]);
    assert!(argv[0].ends_with("claude"), "{argv:?}");
    let sid = v["session_id"].as_str().unwrap();
    for want in [
        format!("--session-id={sid}"),
        "--model=claude-sonnet-4-5".to_string(),
        "--dangerously-skip-permissions".to_string(),
        "--allowedTools=Read".to_string(),
        "--allowedTools=Bash(git log:*)".to_string(),
        "--disallowedTools=Edit".to_string(),
        format!(
            "--add-dir={}",
            std::fs::canonicalize(&skills).unwrap().display()
        ),
    ] {
        assert!(argv.contains(&want.as_str()), "missing {want} in {argv:?}");
    }
    assert_eq!(*argv.last().unwrap(), "--verbose");
    let prompt = argv
        .iter()
        .find_map(|a| a.strip_prefix("--append-system-prompt="))
        .unwrap();
    assert!(prompt.contains("part of an orch fleet"), "{prompt}");
    assert!(prompt.ends_with("AUDIT-ONLY: never edit."), "{prompt}");
    assert!(prompt.contains("Your role: observer"));
    let settings = argv
        .iter()
        .find_map(|a| a.strip_prefix("--settings="))
        .unwrap();
    assert!(!Path::new(settings).exists(), "--dry-run wrote a file");
    assert!(
        v["settings"]["hooks"]["Stop"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("orch-hook --spawned stop")
    );
    assert_eq!(v["env"]["AUDIT_LEVEL"], "3");
    assert_eq!(v["env"]["ORCH_SPAWNED_HOOKS"], "1");
    assert_eq!(v["env"]["ORCH_ROLE"], "observer");
    assert_eq!(v["env"]["ORCH_NAME"], "aud");
    assert_eq!(v["role"], "observer");
    assert_eq!(v["outfit"], "auditor");
    assert!(!env.state.exists(), "--dry-run created state");

    // Command-line flags beat the outfit; a built-in outfit works with no file.
    let args = [
        "claude", "--outfit", "reviewer", "--model", "opus", "--role", "worker",
    ];
    let v = env.run_json("orch-spawn", &[&args[..], &["--dry-run"]].concat());
    let argv = v["argv"].to_string();
    assert!(
        argv.contains("--model=opus") && argv.contains("--disallowedTools=Write"),
        "{argv}"
    );
    assert_eq!(v["role"], "worker");
}

#[test]
fn a_system_prompt_beyond_tmux_command_limit_still_starts() {
    let (env, me) = or_skip!(world());
    // tmux refuses commands over ~16 KiB; the launch file carries the argv.
    let outfits = env.config.join("outfits");
    std::fs::create_dir_all(&outfits).unwrap();
    let long = "Be thorough. ".repeat(4000);
    std::fs::write(
        outfits.join("verbose.json"),
        serde_json::json!({"harness": "echo", "system_prompt": long}).to_string(),
    )
    .unwrap();
    let (pane, _) = ready(&env, &me, &["--outfit", "verbose"]);
    let argv = env.registry(&pane).unwrap()["command"].to_string();
    assert!(argv.len() > 50_000, "{}", argv.len());
    assert!(
        !env.server_state()
            .join("panes")
            .join(format!("{}.launch.json", &pane[1..]))
            .exists(),
        "the launch file was left behind"
    );
}

#[test]
fn invalid_outfit_is_refused_naming_the_field() {
    let (env, me) = or_skip!(world());
    let outfits = env.config.join("outfits");
    std::fs::create_dir_all(&outfits).unwrap();
    std::fs::write(
        outfits.join("typo.json"),
        r#"{"harness":"echo","modle":"x"}"#,
    )
    .unwrap();
    std::fs::write(
        outfits.join("badtype.json"),
        r#"{"harness":"echo","allowed_tools":"Read"}"#,
    )
    .unwrap();
    let before = env.panes();
    for (outfit, field) in [("typo", "`modle`"), ("badtype", "`allowed_tools`")] {
        let (o, _) = spawn(&env, &me, &["--outfit", outfit]);
        assert_eq!(o.status.code(), Some(2), "{outfit}");
        let err = stderr(&o);
        assert!(err.contains(field) && err.contains(outfit), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&o).is_empty());
    }
    let (o, _) = spawn_from(&env, None, &["echo", "--outfit", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("reviewer"),
        "lists known outfits: {}",
        stderr(&o)
    );
    assert_eq!(env.panes(), before);
}

/// A ready echo agent named `name` that has had one turn (a conversation
/// to resume); (pane, session id).
fn echo_after_one_turn(env: &TestEnv, me: &str, name: &str) -> (String, String) {
    let args = ["echo", "--name", name, "--", "--turn-ms", "20"];
    let (pane, v) = ready(env, me, &args);
    let sid = v["session_id"].as_str().unwrap().to_string();
    env.tmux(&["send-keys", "-t", &pane, "-l", "remember me"]);
    env.tmux(&["send-keys", "-t", &pane, "Enter"]);
    eventually(Duration::from_secs(10), "the turn", || {
        env.events(&pane).into_iter().find(|e| e["kind"] == "stop")
    });
    (pane, sid)
}

#[test]
fn stop_and_restart_are_recorded_and_resume_the_session() {
    let (env, me) = or_skip!(world());
    let (old, sid) = echo_after_one_turn(&env, &me, "phoenix");

    let o = env.run_in("orch-spawn", &me, &["--restart", "phoenix"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "restart of a live agent: {}",
        stderr(&o)
    );

    let o = env.run_in("orch-spawn", &me, &["--stop", "phoenix"]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["state"], "exited");
    assert_eq!(v["how"], "exit-command");
    assert!(!env.panes().contains(&old));
    let evs = env.events(&old);
    assert!(evs.iter().any(|e| e["kind"] == "session_end"), "{evs:?}");
    let exited = evs.iter().find(|e| e["kind"] == "exited").unwrap();
    assert_eq!(exited["reason"], "stopped");
    assert!(env.registry(&old).unwrap()["gone_ts"].is_u64());

    let (new, v) = ready(&env, &me, &["--restart", "phoenix", "--position", "below"]);
    assert_ne!(new, old);
    assert_eq!(v["session_id"], sid.as_str());
    assert_eq!(v["restart_of"], old.as_str());
    assert_eq!(v["name"], "phoenix");
    let start = env
        .events(&new)
        .into_iter()
        .find(|e| e["kind"] == "session_start")
        .unwrap();
    assert_eq!(start["source"], "resume");
    assert_eq!(start["session_id"], sid.as_str());
    let rec = env.registry(&new).unwrap();
    assert_eq!(rec["parent"], me.as_str());
    assert_eq!(rec["restart_of"], old.as_str());
    let argv = rec["command"].to_string();
    assert!(
        argv.contains("--turn-ms") && argv.contains("--resume"),
        "{argv}"
    );
    assert_eq!(env.registry(&old).unwrap()["restarted_as"], new.as_str());
    // The name now means the new pane.
    let o = session_start_of(&env, "phoenix");
    assert_eq!(json_lines(&o)[0]["pane"], new.as_str(), "{}", stderr(&o));
}

/// Regression: `orch-spawn --restart NAME --dry-run` killed the old pane
/// and really started a new one. A dry run prints the plan (the resume
/// command line) and changes nothing.
#[test]
fn restart_dry_run_does_not_restart() {
    let (env, me) = or_skip!(world());
    let (old, sid) = echo_after_one_turn(&env, &me, "lazarus");
    let o = env.run_in("orch-spawn", &me, &["--stop", "lazarus"]);
    assert_code(&o, 0);
    let panes = env.panes();
    let record = env.registry(&old).unwrap();
    let log = env.events(&old);

    let o = env.run_in("orch-spawn", &me, &["--restart", "lazarus", "--dry-run"]);
    assert_code(&o, 0);
    let v = json_of(&o);
    let argv = v["argv"].to_string();
    assert!(argv.contains("--resume") && argv.contains(&sid), "{v}");
    assert_eq!(env.panes(), panes, "a dry run opened or closed panes");
    assert_eq!(
        env.registry(&old).unwrap(),
        record,
        "a dry run changed the record"
    );
    assert_eq!(env.events(&old), log);
    assert!(env.registry(&old).unwrap().get("restarted_as").is_none());

    // --dry-run means nothing for --stop: refused as a usage error.
    let o = env.run_in("orch-spawn", &me, &["--stop", "lazarus", "--dry-run"]);
    assert_code(&o, 2);
}

#[test]
fn restart_without_a_conversation_starts_a_new_session_and_says_so() {
    let (env, me) = or_skip!(world());
    let (old, v) = ready(&env, &me, &["echo", "--name", "mute"]);
    let sid = v["session_id"].as_str().unwrap().to_string();
    let o = env.run_in("orch-spawn", &me, &["--stop", "mute"]);
    assert_code(&o, 0);
    let (o, v) = spawn(&env, &me, &["--restart", &old]);
    assert_ready(&o, &v);
    assert_ne!(v["session_id"], sid.as_str());
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no conversation to resume"),
        "{v}"
    );
}

#[test]
fn stop_mid_turn_still_exits_gracefully() {
    let (env, me) = or_skip!(world());
    let (pane, _) = ready(&env, &me, &["echo"]);
    env.tmux(&["send-keys", "-t", &pane, "-l", "[[slow:1500]] busy"]);
    env.tmux(&["send-keys", "-t", &pane, "Enter"]);
    eventually(Duration::from_secs(10), "the prompt", || {
        env.events(&pane)
            .into_iter()
            .find(|e| e["kind"] == "prompt")
    });
    let o = env.run_in("orch-spawn", &me, &["--stop", &pane]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["how"], "exit-command", "{v}");
    let kinds: Vec<Value> = env
        .events(&pane)
        .into_iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert!(kinds.contains(&Value::from("session_end")), "{kinds:?}");
}

#[test]
fn stop_kills_an_agent_that_ignores_its_exit_command() {
    let (env, me) = or_skip!(world());
    // The first Enter is swallowed, so /exit never submits.
    let (pane, _) = ready(&env, &me, &["echo", "--", "--swallow-enter", "5"]);
    let o = env.run_in("orch-spawn", &me, &["--stop", &pane, "--grace", "0.3"]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["how"], "killed-after-grace");
    assert!(!env.panes().contains(&pane));
}

#[test]
fn bad_input_is_one_usage_error_and_creates_nothing() {
    let (env, me) = or_skip!(world());
    let before = env.panes();
    let cases: &[(&[&str], &str)] = &[
        (&["vim"], "unknown harness"),
        (&["echo", "--cwd", "/no/such/dir"], "no such directory"),
        (&["echo", "--position", "diagonal"], "diagonal"),
        (&[], "which agent"),
        (&["echo", "--name", "%3"], "invalid --name"),
        (&["echo", "--project", "nope"], "no project"),
        (&["echo", "--timeout=-1"], "--timeout"),
        (&["echo", "--prompt", "  "], "--prompt"),
    ];
    for (args, want) in cases {
        let (o, _) = spawn(&env, &me, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("orch-spawn: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
    assert_eq!(env.panes(), before);
    assert!(
        !env.server_state().join("events").exists()
            || std::fs::read_dir(env.server_state().join("events"))
                .unwrap()
                .next()
                .is_none(),
        "state was written"
    );
}

#[test]
fn project_resolves_under_the_projects_root() {
    let (env, me) = or_skip!(world());
    let root = env.dir.path().join("projects");
    std::fs::create_dir_all(root.join("shop")).unwrap();
    let o = env
        .cmd_in("orch-spawn", &me)
        .env("ORCH_PROJECTS_DIR", &root)
        .args(["echo", "--project", "shop", "--timeout", "20"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    let v = json_of(&o);
    let want = std::fs::canonicalize(root.join("shop")).unwrap();
    assert_eq!(v["cwd"], want.to_str().unwrap());
}

#[test]
fn hooks_passed_by_spawn_and_installed_globally_record_each_event_once() {
    let env = or_skip!(TestEnv::with_tmux());
    // Inside a spawned-claude-like pane both registrations fire for one
    // event: the global one (no --spawned) must record nothing.
    let hook = bin("orch-hook");
    let payload = r#"{"session_id":"s","hook_event_name":"Stop","last_assistant_message":"once"}"#;
    let script = format!(
        "export ORCH_SPAWNED_HOOKS=1; echo '{payload}' | {h} stop; echo '{payload}' | {h} --spawned stop; \
         {h} --spawned --harness codex stop '{{\"type\":\"agent-turn-complete\",\"thread-id\":\"t1\",\"last-assistant-message\":\"codex reply\"}}'; \
         unset ORCH_SPAWNED_HOOKS; echo '{payload}' | {h} stop; sleep 30",
        h = hook.display()
    );
    let pane = env.new_pane(&script);
    let evs = eventually(Duration::from_secs(10), "three events", || {
        let e = env.events(&pane);
        (e.len() >= 3).then_some(e)
    });
    std::thread::sleep(Duration::from_millis(200));
    let evs_after = env.events(&pane);
    assert_eq!(evs_after.len(), 3, "{evs_after:?}");
    assert_eq!(evs[0]["reply"], "once");
    assert_eq!(evs[1]["reply"], "codex reply");
    assert_eq!(evs[1]["session_id"], "t1");
    assert_eq!(evs[1]["harness"], "codex");
    // Outside a spawned pane the plain hook records as before.
    assert_eq!(evs[2]["reply"], "once");
}

#[test]
fn prompt_is_delivered_once_when_ready() {
    let (env, me) = or_skip!(world());
    let args = ["echo", "--name", "tasked", "--prompt", "first task: say hi"];
    let (pane, _) = ready(&env, &me, &args);
    let stop = eventually(Duration::from_secs(10), "the first turn", || {
        env.events(&pane).into_iter().find(|e| e["kind"] == "stop")
    });
    assert_eq!(stop["reply"], orch::echo::reply_for("first task: say hi"));
    std::thread::sleep(Duration::from_millis(300));
    let prompts: Vec<_> = env
        .events(&pane)
        .into_iter()
        .filter(|e| e["kind"] == "prompt")
        .collect();
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    assert_eq!(prompts[0]["prompt"], "first task: say hi");
}

/// Every regular file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if ft.is_file()
            && std::fs::read(&p).is_ok_and(|d| d.windows(needle.len()).any(|w| w == needle))
        {
            hits.push(p.display().to_string());
        }
    }
    hits
}

/// Issue 15: a Claude worker started without the operator's
/// DISABLE_AUTOUPDATER auto-updated Claude Code machine-wide. A spawned
/// agent gets the spawner's whole environment minus what identifies the
/// spawner's pane and session, and no value of it is written to disk.
#[test]
fn spawned_agent_inherits_the_spawners_environment_without_writing_it() {
    let (env, me) = or_skip!(world());
    let secret = "s3cr3t-4f9a1c-value";
    let o = env
        .cmd_in("orch-spawn", &me)
        .args(["echo", "--name", "heir", "--timeout", "20"])
        .env("DISABLE_AUTOUPDATER", "1")
        .env("HTTPS_PROXY", "http://proxy.test:3128")
        .env("ANTHROPIC_API_KEY", secret)
        .env("MY_TOOL_TOKEN", secret)
        .env("CLAUDECODE", "1")
        .env("CLAUDE_CODE_SESSION_ID", "the-spawners-session")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .env("ORCH_NAME", "the-spawner")
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap_or(Value::Null);
    let pane = assert_ready(&o, &v);
    let pid = env.pane_format(&pane, "#{pane_pid}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let vars: std::collections::BTreeMap<String, String> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str| vars.get(k).map(String::as_str);
    assert_eq!(get("DISABLE_AUTOUPDATER"), Some("1"), "{vars:?}");
    assert_eq!(get("HTTPS_PROXY"), Some("http://proxy.test:3128"));
    assert_eq!(get("MY_TOOL_TOKEN"), Some(secret));
    assert_eq!(get("ANTHROPIC_API_KEY"), Some(secret));
    assert_eq!(get("TMUX_PANE"), Some(pane.as_str()));
    assert_eq!(get("ORCH_NAME"), Some("heir"));
    assert_eq!(get("ORCH_PARENT"), Some(me.as_str()));
    for gone in [
        "CLAUDECODE",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_CODE_ENTRYPOINT",
    ] {
        assert_eq!(get(gone), None, "{gone} was handed on");
    }
    // Nothing of it on disk: not in the state dir (launch file, logs,
    // registry), the config dir or the home.
    for dir in [&env.state, &env.config, &env.home] {
        let hits = files_containing(dir, secret.as_bytes());
        assert!(hits.is_empty(), "the secret was written to {hits:?}");
    }
}

/// Every pane of the server: (pane, window, width, height).
fn pane_sizes(env: &TestEnv) -> Vec<(String, String, u32, u32)> {
    env.tmux(&[
        "list-panes",
        "-a",
        "-F",
        "#{pane_id} #{window_id} #{pane_width} #{pane_height}",
    ])
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (
            f[0].into(),
            f[1].into(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
        )
    })
    .collect()
}

/// Every pane of one window: (pane, left, top, width, height), in index order.
fn window_panes(env: &TestEnv, window: &str) -> Vec<(String, u32, u32, u32, u32)> {
    env.tmux(&[
        "list-panes",
        "-t",
        window,
        "-F",
        "#{pane_id} #{pane_left} #{pane_top} #{pane_width} #{pane_height}",
    ])
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let n = |i: usize| f[i].parse::<u32>().unwrap();
        (f[0].into(), n(1), n(2), n(3), n(4))
    })
    .collect()
}

/// Issue 15: every spawn split the operator's own pane; after five it was
/// 6 columns wide. The operator keeps half its window however many agents
/// start; agents tile a grid beside it — a new column once another agent in
/// the column would make panes lower than 5 rows — and overflow into further
/// windows only when the grid is full (another column narrower than 20);
/// --relayout re-tiles the same way. In a 160x30 window: 5 agents per column,
/// at most 3 columns of 25.
#[test]
fn agents_tile_a_grid_beside_the_operator_and_overflow_when_it_is_full() {
    let (env, me) = or_skip!(world());
    let my_window = env.pane_format(&me, "#{window_id}");
    env.tmux(&["resize-window", "-t", &my_window, "-x", "160", "-y", "30"]);
    let window_width: u32 = env.pane_format(&me, "#{window_width}").parse().unwrap();
    assert_eq!(window_width, 160);
    // The agents' columns: their distinct left edges.
    let columns = |panes: &[(String, u32, u32, u32, u32)]| {
        let mut lefts: Vec<u32> = panes.iter().filter(|p| p.0 != me).map(|p| p.1).collect();
        lefts.sort_unstable();
        lefts.dedup();
        lefts.len()
    };
    let check = |n: usize| {
        let panes = window_panes(&env, &my_window);
        let op = panes.iter().find(|p| p.0 == me).unwrap();
        assert!(
            op.3 * 2 >= window_width && op.4 == 30,
            "after {n} spawns the operator is {}x{} of 160x30: {panes:?}",
            op.3,
            op.4
        );
        for (p, _, w, h) in pane_sizes(&env) {
            assert!(w >= 20 && h >= 5, "after {n} spawns {p} is {w}x{h}");
        }
        panes
    };
    let mut agents = Vec::new();
    for i in 1..=16 {
        let (pane, v) = ready(&env, &me, &["echo", "--name", &format!("a{i}")]);
        agents.push(pane);
        let panes = check(i);
        match i {
            // One column while the panes stay >= 5 rows high.
            5 => assert_eq!(columns(&panes), 1, "{panes:?}"),
            8 => assert_eq!(columns(&panes), 2, "{panes:?}"),
            12 => assert_eq!(columns(&panes), 3, "{panes:?}"),
            // 15 fill the grid; the 16th goes to an overflow window.
            15 => assert_eq!(panes.len(), 16, "{panes:?}"),
            16 => {
                assert_eq!(panes.len(), 16, "{panes:?}");
                let placement = v["placement"].as_str().unwrap();
                assert!(placement.contains("overflow of"), "{v}");
            }
            _ => {}
        }
    }
    let sizes = pane_sizes(&env);
    for a in &agents {
        assert!(sizes.iter().any(|s| &s.0 == a), "{a} is missing");
    }
    let grid = window_panes(&env, &my_window);

    // Squeeze the operator and pile the agents up, then re-tile on demand:
    // the same grid comes back.
    env.tmux(&["select-layout", "-t", &my_window, "even-horizontal"]);
    let o = env.run_in("orch-spawn", &me, &["--relayout"]);
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["operator"], me.as_str());
    assert_eq!(v["beside"].as_array().unwrap().len(), 15, "{v}");
    assert_eq!(window_panes(&env, &my_window), grid, "{v}");
    check(16);
    // Explicit placement still splits where asked.
    let (o, v) = spawn(&env, &me, &["echo", "--position", "below"]);
    assert_ready(&o, &v);
    assert_eq!(v["placement"], format!("below of {me}"));
}

/// Issue 15 item 9: `--outfit spy --watch TARGET` starts an observer whose
/// first prompt is a brief naming the target, subscribed to its turn ends,
/// which can never type into it (not even with --force).
#[test]
fn spy_watches_an_agent_gets_its_notices_and_cannot_tell_it() {
    let (env, me) = or_skip!(world());
    // The built-in spy is a Claude Code observer; the same outfit for echo.
    let outfits = env.config.join("outfits");
    std::fs::create_dir_all(&outfits).unwrap();
    std::fs::write(
        outfits.join("spy.json"),
        r#"{"description":"echo spy","harness":"echo","role":"observer"}"#,
    )
    .unwrap();
    let (alice, _) = ready(&env, &me, &["echo", "--name", "alice"]);
    let (spy, v) = ready(
        &env,
        &me,
        &[
            "--outfit",
            "spy",
            "--watch",
            "alice",
            "--name",
            "eye",
            "--prompt",
            "Tell me if it loops",
        ],
    );
    assert_eq!(v["role"], "observer", "{v}");
    assert_eq!(v["watching"]["subscribed"], true, "{v}");
    let brief = env.wait_event(&spy, "prompt", 0, Duration::from_secs(15));
    let text = brief["prompt"].as_str().unwrap();
    for needle in [
        alice.as_str(),
        "(alice)",
        "harness echo",
        "orch listen",
        "Your task: Tell me if it loops",
    ] {
        assert!(text.contains(needle), "brief lacks {needle:?}: {text}");
    }
    env.wait_event(
        &spy,
        "stop",
        brief["seq"].as_u64().unwrap(),
        Duration::from_secs(15),
    );

    // alice's turn end reaches the spy as a notice.
    assert_code(&env.run("orch-tell", &["alice", "do the work"]), 0);
    eventually(Duration::from_secs(15), "the notice in the spy", || {
        env.texts(&spy, "prompt", "prompt")
            .iter()
            .any(|p| p.starts_with("[orch]") && p.contains(alice.as_str()))
            .then_some(())
    });
    // The spy cannot type into alice, even forced; nothing was sent.
    let sent_before = env.events_of(&alice, "sent").len();
    for args in [
        vec!["alice", "stop that"],
        vec!["alice", "stop that", "--force"],
    ] {
        let o = env
            .cmd_in("orch-tell", &spy)
            .env("ORCH_ROLE", "observer")
            .args(&args)
            .output()
            .unwrap();
        assert_code(&o, 4);
    }
    assert_eq!(env.events_of(&alice, "sent").len(), sent_before);
    // --watch needs an observer.
    let (o, _) = spawn(&env, &me, &["echo", "--watch", "alice"]);
    assert_code(&o, 2);
}

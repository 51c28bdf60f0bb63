//! Data safety and local security (issue 14): a state dir someone else can
//! write is refused, links planted in it are never followed, a launch file
//! anyone else could have written is never run, a torn record keeps its
//! seq, a restarted server starts fresh, and the hook neither waits on an
//! open pipe nor invents servers from junk.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::prelude::*;

/// A uid that is not ours (root can chown to it; others cannot, and skip).
const OTHER_UID: u32 = 4321;

fn chown_other(p: &Path) -> bool {
    nix::unistd::chown(p, Some(nix::unistd::Uid::from_raw(OTHER_UID)), None).is_ok()
}

/// `orch-hook stop` inside `pane` of the world's (fake) server, payload
/// given and stdin closed.
fn hook(env: &TestEnv, pane: &str, payload: &str) -> std::process::Output {
    let mut c = env.cmd_in("orch-hook", pane);
    c.arg("stop")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(payload.as_bytes());
    child.wait_with_output().unwrap()
}

fn assert_refused(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn state_dir_another_user_can_write_is_refused() {
    let env = TestEnv::with_fake_server();
    fs::create_dir_all(&env.state).unwrap();
    fs::set_permissions(&env.state, fs::Permissions::from_mode(0o777)).unwrap();
    let o = hook(&env, "%1", r#"{"last_assistant_message":"x"}"#);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert!(
        !env.state.join("servers").exists(),
        "the hook wrote into a world-writable state dir"
    );
    let o = env.run("orch-listen", &["%1", "--timeout", "1s"]);
    assert_refused(&o, "chmod 700");

    // Mode fine, owner wrong (as another user's pre-created dir would be).
    fs::set_permissions(&env.state, fs::Permissions::from_mode(0o700)).unwrap();
    if chown_other(&env.state) {
        let o = hook(&env, "%1", "{}");
        assert_eq!(o.status.code(), Some(0));
        assert!(!env.state.join("servers").exists());
        let o = env.run("orch-listen", &["%1", "--timeout", "1s"]);
        assert_refused(&o, &format!("owned by uid {OTHER_UID}"));
        nix::unistd::chown(&env.state, Some(nix::unistd::geteuid()), None).unwrap();
    } else {
        eprintln!("SKIPPED (owner half): not root, cannot chown to another uid");
    }

    // A server dir someone else can write is refused as well.
    let server_dir = env.server_state();
    fs::create_dir_all(&server_dir).unwrap();
    fs::set_permissions(&server_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let o = hook(&env, "%1", "{}");
    assert_eq!(o.status.code(), Some(0));
    assert!(!server_dir.join("events").exists());
    let o = env.run("orch-listen", &["%1", "--timeout", "1s"]);
    assert_refused(&o, "chmod 700");
}

#[test]
fn planted_symlinks_in_the_state_dir_are_never_followed() {
    let env = TestEnv::with_fake_server();
    // The hook makes the dirs.
    assert_eq!(hook(&env, "%9", "{}").status.code(), Some(0));
    let dir = env.server_state();
    let outside = env.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim.txt");
    fs::write(&victim, "precious\n").unwrap();
    // An existing file behind a log link, a dangling link for another
    // pane's log, a lock link, a registry link.
    std::os::unix::fs::symlink(&victim, dir.join("events/1.jsonl")).unwrap();
    std::os::unix::fs::symlink(outside.join("created"), dir.join("events/2.jsonl")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("panes/3.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("panes/4.json")).unwrap();
    std::os::unix::fs::symlink(&victim, env.state.join("errors.log")).unwrap();
    for pane in ["%1", "%2", "%3", "%4"] {
        let o = hook(&env, pane, r#"{"last_assistant_message":"x"}"#);
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        !outside.join("created").exists(),
        "a dangling link created its target"
    );
    // The registry link was replaced by a real file, not written through.
    assert!(
        !fs::symlink_metadata(dir.join("panes/4.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A launch file `orch-spawn --exec-launch` must refuse: it would run
/// `touch <marker>`.
fn planted_launch(marker: &Path) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "argv": ["touch", marker.display().to_string()],
        "env": {},
        "unset": []
    }))
    .unwrap()
}

#[test]
fn launch_file_another_user_could_write_is_not_run() {
    let env = TestEnv::new();
    let dir = env.dir.path().join("panes");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let marker = env.dir.path().join("pwned");
    let data = planted_launch(&marker);

    // A launch file in `dir` holding `data`, with `mode`.
    let planted = |name: &str, mode: u32| {
        let f = dir.join(name);
        fs::write(&f, &data).unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
        f
    };
    // `orch-spawn --exec-launch FILE` must exit with `code`.
    let exec_launch = |f: &Path, code: i32| {
        let o = env.run("orch-spawn", &["--exec-launch", f.to_str().unwrap()]);
        assert_code(&o, code);
    };

    // Group/other-writable.
    exec_launch(&planted("1.launch.json", 0o666), 4);
    assert!(!marker.exists(), "a 0666 launch file was run");

    // A link to a file elsewhere.
    let elsewhere = env.dir.path().join("elsewhere.json");
    fs::write(&elsewhere, &data).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
    let f = dir.join("2.launch.json");
    std::os::unix::fs::symlink(&elsewhere, &f).unwrap();
    exec_launch(&f, 4);
    assert!(!marker.exists(), "a symlinked launch file was run");

    // Owned by another user.
    let f = planted("3.launch.json", 0o600);
    if chown_other(&f) {
        exec_launch(&f, 4);
        assert!(!marker.exists(), "another user's launch file was run");
    } else {
        eprintln!("SKIPPED (owner half): not root, cannot chown to another uid");
    }

    // Ours and private: it runs (the check refuses only what it must).
    exec_launch(&planted("4.launch.json", 0o600), 0);
    assert!(marker.exists());
}

#[test]
fn torn_record_does_not_reuse_its_seq() {
    let env = TestEnv::with_fake_server();
    hook(&env, "%1", r#"{"last_assistant_message":"first"}"#);
    // A whole record cut just before its newline (a full disk, a kill).
    let log = env.server_state().join("events/1.jsonl");
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(br#"{"v":1,"seq":2,"ts":1,"pane":"%1","kind":"stop","reply":"torn"}"#)
        .unwrap();
    drop(f);
    hook(&env, "%1", r#"{"last_assistant_message":"next"}"#);
    let events = env.store().read_events(pane_id("%1"), 0).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let replies: Vec<&str> = events.iter().filter_map(|e| e.reply.as_deref()).collect();
    assert_eq!(seqs, [1, 2, 3], "{replies:?}");
    assert_eq!(replies, ["first", "torn", "next"]);
}

/// Bind a unix socket at `p` (a tmux server's socket as far as orch can
/// tell) and leave the file behind.
fn fake_socket(p: &Path) {
    let _ = fs::remove_file(p);
    std::os::unix::net::UnixListener::bind(p).unwrap();
}

#[test]
fn restarted_tmux_server_with_the_same_pid_starts_fresh() {
    let env = TestEnv::new();
    let sock = env.dir.path().join("default");
    let tmux = format!("{},4242,0", sock.display());
    let run = |reply: &str| {
        let mut c = env.cmd_in("orch-hook", "%1");
        c.env("TMUX", &tmux).arg("stop").stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(format!(r#"{{"last_assistant_message":"{reply}"}}"#).as_bytes());
        assert!(child.wait().unwrap().success());
    };
    fake_socket(&sock);
    run("old server");
    run("old server again");
    // The server dies; a new one, in a fresh PID namespace, gets pid 4242.
    std::thread::sleep(Duration::from_millis(5));
    fake_socket(&sock);
    run("new server");
    let servers: Vec<String> = fs::read_dir(env.state.join("servers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(servers.len(), 2, "one state dir per server: {servers:?}");
    let new = orch::server::Server::new(&sock, 4242);
    let store = orch::store::Store::open_in(&env.state, &new).unwrap();
    let events = store.read_events(pane_id("%1"), 0).unwrap();
    let replies: Vec<&str> = events.iter().filter_map(|e| e.reply.as_deref()).collect();
    assert_eq!(
        replies,
        ["new server"],
        "the old server's history leaked in"
    );
}

#[test]
fn junk_tmux_values_create_no_server_dir() {
    let env = TestEnv::new();
    let file = env.dir.path().join("regular-file");
    fs::write(&file, "").unwrap();
    for junk in [
        "garbage".to_string(),
        "garbage,1,0".to_string(),
        "/nonexistent/dir/sock,12,0".to_string(),
        format!("{},12,0", file.display()),
    ] {
        let o = env
            .cmd_in("orch-hook", "%1")
            .env("TMUX", &junk)
            .arg("stop")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
        assert!(
            !env.state.join("servers").exists(),
            "TMUX={junk:?} made a server dir"
        );
    }
}

#[test]
fn hook_does_not_wait_for_stdin_to_close() {
    let env = TestEnv::with_fake_server();
    let mut child = env
        .cmd_in("orch-hook", "%1")
        .arg("stop")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // `(echo '{}'; sleep …) | orch-hook stop`: a whole payload, and the
    // pipe kept open. The hook must finish without EOF.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{}\n").unwrap();
    // Keep the pipe open until the hook exits, or a generous watchdog
    // gives up (only then is it closed, so the old hook would end too).
    let watchdog = Instant::now() + Duration::from_secs(60);
    let exited_with_pipe_open = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if Instant::now() > watchdog {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    child.wait().unwrap();
    assert!(exited_with_pipe_open, "the hook waited for EOF on stdin");
    let events = env.events("%1");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "stop");
    assert!(events[0].get("error").is_none(), "{}", events[0]);
}

#[test]
fn stale_temp_files_of_killed_writers_are_removed() {
    let env = TestEnv::with_fake_server();
    let store = env.store();
    // A process that is gone: its pid names a killed writer.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let panes = store.layout().panes_dir();
    let old_style = panes.join(format!(".3.json.orch-{dead}.tmp"));
    let new_style = panes.join(format!(".3.json.{dead}.00112233aabbccdd.tmp"));
    let live = panes.join(format!(
        ".4.json.{}.0011223344556677.tmp",
        std::process::id()
    ));
    for p in [&old_style, &new_style, &live] {
        fs::write(p, "{").unwrap();
    }
    orch::gc::collect(&store, &[]);
    assert!(
        !old_style.exists() && !new_style.exists(),
        "killed writers' temp files kept"
    );
    assert!(live.exists(), "a live writer's temp file was removed");
}

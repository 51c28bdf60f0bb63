//! orch across hosts over a real sshd (orch_testkit::ssh): each host a
//! private world with its own HOME, orch state and tmux server.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use orch::event::prompt_hash;

use crate::prelude::*;

/// A local world with a tmux server, and the hosts.
fn world() -> Option<(TestEnv, ssh::SshHosts)> {
    let local = TestEnv::with_tmux()?;
    let hosts = ssh::SshHosts::start(&local)?;
    Some((local, hosts))
}

fn orch(local: &TestEnv, hosts: &ssh::SshHosts, args: &[&str]) -> Output {
    hosts.cmd(local, "orch").args(args).output().unwrap()
}

/// `orch --host box spawn echo --headless --name NAME`, checked.
fn spawn_remote(local: &TestEnv, hosts: &ssh::SshHosts, name: &str) -> Value {
    let out = hosts.spawn_echo(local, name);
    assert_code(&out, 0);
    let v = json_of(&out);
    assert_eq!(v["host"], "box", "{v}");
    v
}

#[test]
fn an_agent_on_another_host_is_spawned_told_and_listened_to_with_the_same_commands() {
    let Some((local, hosts)) = world() else {
        return;
    };
    // box had no tmux server: --headless starts one there.
    let spawned = spawn_remote(&local, &hosts, "rev");
    let pane = spawned["pane"].as_str().unwrap().to_string();
    assert!(hosts.remote_tmux(&["has-session"]).status.success());
    // Nothing of it is on the local server or in the local state.
    assert!(
        !local
            .tmux(&["list-panes", "-a", "-F", "#{pane_id}"])
            .contains(&pane)
            || pane == "%0"
    );

    let out = orch(
        &local,
        &hosts,
        &["tell", "box:rev", "--wait", "review the diff"],
    );
    assert_code(&out, 0);
    let told = json_of(&out);
    assert_eq!(told["host"], "box");
    assert_eq!(told["status"], "delivered", "{told}");
    assert!(
        told["reply"]
            .as_str()
            .unwrap()
            .contains("echo: review the diff"),
        "{told}"
    );

    // A prompt on stdin crosses the hop too.
    let mut child = hosts
        .cmd(&local, "orch-tell")
        .args(["box:rev", "--wait", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\nsecond line\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_code(&out, 0);
    assert!(
        json_of(&out)["reply"]
            .as_str()
            .unwrap()
            .contains("echo: from stdin")
    );

    // Replay from the remote log: every line names its host.
    let out = orch(
        &local,
        &hosts,
        &[
            "listen",
            "box:rev",
            "--since",
            "0",
            "--stream",
            "--kinds",
            "stop",
            "--timeout",
            "2",
        ],
    );
    let stops = json_lines(&out);
    assert_eq!(stops.len(), 2, "{}", stdout(&out));
    assert!(stops.iter().all(|e| e["host"] == "box"));

    // The remote audit log says who asked, from where.
    let audit = std::fs::read_to_string(hosts.remote.state.join("audit.jsonl")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert!(
        last["remote_from"]
            .as_str()
            .is_some_and(|f| f.contains('@')),
        "{last}"
    );

    // Later calls share one ssh connection (ControlMaster under the state dir).
    let socks = std::fs::read_dir(local.state.join("ssh")).unwrap().count();
    assert_eq!(socks, 1);
}

#[test]
fn hostile_text_and_names_cross_the_hop_as_data() {
    let Some((local, hosts)) = world() else {
        return;
    };
    spawn_remote(&local, &hosts, "rev");
    let canary = hosts.remote.tmp.join("pwned");
    let evil = format!(
        "$(touch {c}) `touch {c}`; touch {c} && echo 'it''s' \"$HOME\" \\ | > {c}",
        c = canary.display()
    );
    let out = orch(&local, &hosts, &["tell", "box:rev", "--wait", "--", &evil]);
    assert_code(&out, 0);
    let told = json_of(&out);
    assert_eq!(told["hash"], prompt_hash(&evil), "{told}");
    assert!(
        told["reply"].as_str().unwrap().contains(&evil[..20]),
        "{told}"
    );
    assert!(!canary.exists(), "a remote shell interpreted the prompt");

    let bad_name = format!("box:$(touch {})", canary.display());
    let out = orch(&local, &hosts, &["tell", &bad_name, "hi"]);
    assert_code(&out, 2);
    assert_one_line_error(&out, "orch-tell", "no agent named");
    assert!(!canary.exists());

    let out = orch(
        &local,
        &hosts,
        &["--host=-oProxyCommand=touch /tmp/orch-pwned", "survey"],
    );
    assert_code(&out, 2);
    assert_one_line_error(&out, "orch", "invalid host");
}

#[test]
fn survey_hosts_merges_every_host_and_reports_the_ones_that_fail() {
    let Some((local, hosts)) = world() else {
        return;
    };
    let mine = local.start_echo("--turn-ms 20");
    spawn_remote(&local, &hosts, "rev");
    let out = orch(&local, &hosts, &["survey", "--hosts", "box,down"]);
    assert_code(&out, 0);
    let r = json_of(&out);
    let agents = r["agents"].as_array().unwrap();
    assert!(
        agents
            .iter()
            .any(|a| a["host"] == "local" && a["pane"] == mine.as_str()),
        "{r}"
    );
    assert!(
        agents
            .iter()
            .any(|a| a["host"] == "box" && a["name"] == "rev"),
        "{r}"
    );
    let hs = r["hosts"].as_array().unwrap();
    let down = hs.iter().find(|h| h["host"] == "down").unwrap();
    assert_eq!(down["ok"], false);
    assert!(
        down["error"].as_str().unwrap().contains("cannot reach"),
        "{down}"
    );
    assert_eq!(r["counts"]["total"], agents.len());

    // hosts.json names the hosts when --hosts has no list.
    std::fs::create_dir_all(&local.config).unwrap();
    std::fs::write(local.config.join("hosts.json"), r#"{"hosts": {"box": {}}}"#).unwrap();
    let out = orch(&local, &hosts, &["survey", "--hosts", "--pretty"]);
    assert_code(&out, 0);
    let table = stdout(&out);
    assert!(
        table.contains("box") && table.contains("rev") && table.contains("local"),
        "{table}"
    );
}

#[test]
fn unreachable_hosts_and_hosts_without_orch_get_one_line_errors_naming_the_fix() {
    let Some((local, hosts)) = world() else {
        return;
    };
    let out = orch(&local, &hosts, &["--host", "noauth", "survey"]);
    assert_code(&out, 1);
    assert_one_line_error(&out, "orch", "BatchMode");
    assert!(
        stderr(&out).contains("cannot reach noauth"),
        "{}",
        stderr(&out)
    );

    let out = orch(&local, &hosts, &["--host", "bare", "survey"]);
    assert_code(&out, 1);
    assert_one_line_error(&out, "orch", "orch is not installed on bare");
    assert!(stderr(&out).contains("install.sh"));

    // hosts.json can say where orch is instead.
    std::fs::create_dir_all(&local.config).unwrap();
    let real = bin("orch");
    std::fs::write(
        local.config.join("hosts.json"),
        format!(
            r#"{{"hosts": {{"bare": {{"orch": "{}"}}}}}}"#,
            real.display()
        ),
    )
    .unwrap();
    let out = orch(
        &local,
        &hosts,
        &[
            "--host",
            "bare",
            "spawn",
            "echo",
            "--headless",
            "--name",
            "b1",
        ],
    );
    assert_code(&out, 0);
}

#[test]
fn a_listen_for_the_first_of_several_hosts_returns_and_hangs_up_on_the_rest() {
    let Some((local, hosts)) = world() else {
        return;
    };
    let mine = local.start_echo("--turn-ms 20");
    spawn_remote(&local, &hosts, "rev");
    let listener = hosts
        .cmd(&local, "orch-listen")
        .args(["box:rev", &mine, "--timeout", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Both listeners are armed once the remote one runs.
    eventually(Duration::from_secs(10), "the remote listener", || {
        (remote_listeners() > 0).then_some(())
    });
    let told = local.run("orch-tell", &[&mine, "local work"]);
    assert_code(&told, 0);
    let out = listener.wait_with_output().unwrap();
    assert_code(&out, 0);
    let ev = json_of(&out);
    assert_eq!(ev["host"], "local", "{ev}");
    assert_eq!(ev["pane"], mine.as_str());
    // The remote listener was stopped, not left waiting 30 s.
    let t = Instant::now();
    eventually(
        Duration::from_secs(10),
        "the remote listener to stop",
        || (remote_listeners() == 0).then_some(()),
    );
    assert!(t.elapsed() < Duration::from_secs(10));
}

/// Remote `orch-listen box:rev` processes (the argv is only on the far end:
/// locally it travels in the ssh stdin header).
fn remote_listeners() -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", "orch-listen box:rev"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

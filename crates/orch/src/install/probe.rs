//! `orch-doctor`'s hook probe: every orch hook command registered in
//! Claude Code's settings is run exactly as Claude would run it (`sh -c
//! '<command>'`, a synthetic payload on stdin) inside a pane of a private,
//! temporary tmux server (`tmux -S <tmp>/tmux.sock`, killed afterwards),
//! and orch's state must then hold the matching event. Nothing of the
//! user's tmux server or panes is touched; the probe's state is removed
//! afterwards.

use std::fs;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::doctor_checks::HookCheck;
use super::jsonhooks;
use crate::event::Kind;
use crate::paths::write_durable;
use crate::server::Server;

/// One hook run inside the probe pane.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProbeStep {
    event: String,
    /// `settings` or `plugin`: each source gets its own session id, so
    /// the same event from both is told apart.
    source: String,
    command: String,
    env: Vec<(String, String)>,
    payload: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProbeOutcome {
    event: String,
    source: String,
    exit_code: Option<i32>,
    stdout_bytes: usize,
    stderr: String,
    ms: u64,
}

/// Run every runnable hook in `hooks` through the probe, marking each one
/// fired or not (with how its command ended); what went wrong is added to
/// `problems`. Returns how the probe went, for the report.
pub fn probe_hooks(
    hooks: &mut [HookCheck],
    timeout: Duration,
    problems: &mut Vec<String>,
) -> &'static str {
    let runnable: Vec<usize> = (0..hooks.len())
        .filter(|&i| hooks[i].command.is_some() && hooks[i].status != "broken")
        .collect();
    if runnable.is_empty() {
        return "nothing to run";
    }
    let steps: Vec<ProbeStep> = runnable
        .iter()
        .map(|&i| ProbeStep {
            event: hooks[i].event.clone(),
            source: hooks[i].source.to_string(),
            command: hooks[i].command.clone().unwrap_or_default(),
            env: hooks[i].env.clone(),
            payload: Value::Null,
        })
        .collect();
    match run_probe(steps, timeout.max(Duration::from_millis(100))) {
        Ok(results) => {
            for (&i, (fired, outcome)) in runnable.iter().zip(results) {
                let h = &mut hooks[i];
                h.fired = Some(fired);
                if let Some(o) = &outcome {
                    h.ms = Some(o.ms);
                }
                let mut detail = Vec::new();
                if let Some(o) = &outcome {
                    if o.exit_code != Some(0) {
                        detail.push(format!(
                            "exit code {}",
                            o.exit_code
                                .map(|c| c.to_string())
                                .unwrap_or("(signal)".into())
                        ));
                    }
                    if o.stdout_bytes > 0 {
                        detail.push(format!(
                            "wrote {} bytes to stdout (Claude Code reads a hook's stdout as a decision)",
                            o.stdout_bytes
                        ));
                    }
                    if !o.stderr.trim().is_empty() {
                        detail.push(format!("stderr: {}", o.stderr.trim()));
                    }
                } else {
                    detail.push("did not run before the timeout".into());
                }
                if !fired {
                    problems.push(format!(
                        "the {} hook ({}) ran but no {} event appeared in orch's state{}",
                        h.event,
                        h.source,
                        expected_kind(&h.event, h.command.as_deref().unwrap_or_default())
                            .map(|k| k.as_str())
                            .unwrap_or("?"),
                        if detail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", detail.join("; "))
                        }
                    ));
                    if h.status == "ok" {
                        h.status = "not_fired";
                    }
                } else if outcome.as_ref().is_some_and(|o| o.stdout_bytes > 0) {
                    problems.push(format!("the {} hook {}", h.event, detail.join("; ")));
                }
                if !detail.is_empty() {
                    h.detail = Some(detail.join("; "));
                }
            }
            "ran"
        }
        Err(e) => {
            problems.push(format!("cannot run the hook probe: {e:#}"));
            "failed"
        }
    }
}

/// The event kind a hook must record: its `orch-hook` argument, or for a
/// command that does not name one (the plugin's), its Claude Code event.
fn expected_kind(event: &str, command: &str) -> Option<Kind> {
    match jsonhooks::parse_orch_command(command) {
        Some(c) => Kind::from_hook_name(&c.event),
        None => Kind::from_hook_name(event),
    }
}

fn session_of(base: &str, source: &str) -> String {
    format!("{base}-{source}")
}

/// A payload like Claude Code's for `event` (see the captured fixtures).
fn synthetic_payload(event: &str, session: &str, cwd: &Path) -> Value {
    let mut v = json!({
        "session_id": session,
        "transcript_path": cwd.join("transcript.jsonl"),
        "cwd": cwd,
        "hook_event_name": event,
    });
    let extra = match event {
        "SessionStart" => json!({"source": "startup", "model": "orch-doctor"}),
        "UserPromptSubmit" => json!({"prompt": "orch doctor probe", "prompt_id": session}),
        "Stop" => {
            json!({"last_assistant_message": "orch doctor probe", "prompt_id": session, "stop_hook_active": false})
        }
        "StopFailure" => json!({"error": "orch doctor probe", "last_assistant_message": ""}),
        "Notification" => {
            json!({"notification_type": "idle_prompt", "message": "orch doctor probe"})
        }
        "PermissionRequest" => json!({
            "prompt_id": session,
            "permission_mode": "default",
            "tool_name": "Bash",
            "tool_input": {"command": "true", "description": "orch doctor probe"},
        }),
        "SessionEnd" => json!({"reason": "other"}),
        _ => json!({}),
    };
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

fn temp_dir() -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("orch-doctor-{}-{nanos}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Run `steps` in a pane of a private tmux server; for each step, did its
/// event reach orch's state, and how did the command end.
fn run_probe(
    mut steps: Vec<ProbeStep>,
    timeout: Duration,
) -> Result<Vec<(bool, Option<ProbeOutcome>)>> {
    let tmp = temp_dir()?;
    let result = (|| {
        let session = tmp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "orch-doctor".into());
        for s in &mut steps {
            s.payload = synthetic_payload(&s.event, &session_of(&session, &s.source), &tmp);
        }
        write_json(&tmp.join("plan.json"), &steps)?;
        let sock = tmp.join("tmux.sock");
        let exe = std::env::current_exe().context("cannot find orch-doctor's own path")?;
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "orch-doctor",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .args(["-P", "-F", "#{pane_id} #{pid}", "--"])
            .arg(&exe)
            .arg("--probe-run")
            .arg(&tmp)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .stdin(Stdio::null())
            .output()
            .context("cannot run tmux")?;
        if !out.status.success() {
            anyhow::bail!(
                "cannot start a private tmux server: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (pane, pid) = line
            .split_once(' ')
            .with_context(|| format!("tmux printed {line:?}"))?;
        let pane: crate::pane::PaneId = pane
            .parse()
            .map_err(|_| anyhow::anyhow!("bad pane id {pane:?}"))?;
        let pid: u32 = pid
            .parse()
            .with_context(|| format!("bad server pid {pid:?}"))?;
        let server = Server::new(sock.clone(), pid);
        // The probe is one short-lived process that writes one file when it
        // is done; a plain deadline check every few ms is the simplest
        // honest wait for it.
        let result_path = tmp.join("result.json");
        let start = Instant::now();
        while !result_path.exists() && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(10));
        }
        let outcomes: Vec<ProbeOutcome> = fs::read(&result_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&sock)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let state_root = crate::layout::state_dir()?;
        let layout = crate::layout::Layout::new(&state_root, &server.key());
        let server_dir = layout.dir().to_path_buf();
        let log = layout.log(pane);
        let events: Vec<Value> = fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let _ = fs::remove_dir_all(&server_dir);
        Ok(steps
            .iter()
            .map(|s| {
                let kind = expected_kind(&s.event, &s.command);
                let sid = session_of(&session, &s.source);
                let fired = events.iter().any(|e| {
                    e.get("session_id").and_then(Value::as_str) == Some(sid.as_str())
                        && kind.is_some_and(|k| {
                            e.get("kind").and_then(Value::as_str) == Some(k.as_str())
                        })
                });
                let outcome = outcomes
                    .iter()
                    .find(|o| o.event == s.event && o.source == s.source);
                (fired, outcome.cloned())
            })
            .collect())
    })();
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// Inside the probe pane (`orch-doctor --probe-run DIR`): run each step as Claude Code would and write the
/// outcomes to `<dir>/result.json`.
pub fn probe_run(dir: &Path) -> Result<()> {
    let steps: Vec<ProbeStep> = serde_json::from_slice(&fs::read(dir.join("plan.json"))?)?;
    // A probe's PermissionRequest is a permission prompt to orch-hook,
    // which would alert the person: the hooks get a config that alerts on
    // nothing.
    let config = dir.join("config");
    fs::DirBuilder::new().mode(0o700).create(&config)?;
    write_json(
        &crate::layout::user_config(&config),
        &json!({"notify": {"on": []}}),
    )?;
    let mut outcomes = Vec::new();
    for s in steps {
        let start = Instant::now();
        let payload = serde_json::to_vec(&s.payload)?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(&s.command)
            .env(crate::layout::CONFIG_ENV, &config)
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let outcome = match child {
            Ok(mut child) => {
                if let Some(mut stdin) = child.stdin.take() {
                    // A hook that ignores its stdin may close it early: fine.
                    let _ = stdin.write_all(&payload);
                }
                let out = child.wait_with_output()?;
                let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
                crate::event::truncate_utf8(&mut err, 300);
                ProbeOutcome {
                    event: s.event,
                    source: s.source,
                    exit_code: out.status.code(),
                    stdout_bytes: out.stdout.len(),
                    stderr: err,
                    ms: start.elapsed().as_millis() as u64,
                }
            }
            Err(e) => ProbeOutcome {
                event: s.event,
                source: s.source,
                exit_code: None,
                stdout_bytes: 0,
                stderr: format!("cannot run sh: {e}"),
                ms: 0,
            },
        };
        outcomes.push(outcome);
    }
    write_json(&dir.join("result.json"), &outcomes)?;
    Ok(())
}

/// The probe's plan and result files, private to the user.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    Ok(write_durable(
        path,
        &serde_json::to_vec(value)?,
        0o600,
        None,
    )?)
}

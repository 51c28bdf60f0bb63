//! `orch-doctor`: prove the installed hooks work, and find what is broken.
//!
//! The proof: every orch hook command registered in Claude Code's settings
//! is run exactly as Claude would run it (`sh -c '<command>'`, a synthetic
//! payload on stdin) inside a pane of a private, temporary tmux server
//! (`tmux -S <tmp>/tmux.sock`, killed afterwards), and orch's state must
//! then hold the matching event. Nothing of the user's tmux server or
//! panes is touched; the probe's state is removed afterwards.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::jsonfile::{JsonFile, write_replace};
use super::jsonhooks;
use super::*;
use crate::event::Kind;
use crate::server::Server;

/// What `orch-doctor` was asked.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// Only check what is installed; run nothing.
    pub no_probe: bool,
    /// How long the hook probe may take.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookCheck {
    pub event: String,
    /// `ok`, `missing`, `changed` (differs from what `orch up` wrote),
    /// `broken` (the program does not exist), `not_fired`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileCheck {
    pub path: PathBuf,
    pub what: String,
    /// `ok`, `missing` or `modified`.
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
pub struct BinaryCheck {
    pub name: String,
    pub on_path: Option<PathBuf>,
    pub expected: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct StateDirCheck {
    pub path: PathBuf,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub healthy: bool,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub tmux: TmuxCheck,
    pub settings: PathBuf,
    pub manifest: Option<PathBuf>,
    pub probe: &'static str,
    pub hooks: Vec<HookCheck>,
    pub files: Vec<FileCheck>,
    pub binaries: Vec<BinaryCheck>,
    pub state_dir: StateDirCheck,
}

/// One hook run inside the probe pane.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProbeStep {
    event: String,
    command: String,
    payload: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProbeOutcome {
    event: String,
    exit_code: Option<i32>,
    stdout_bytes: usize,
    stderr: String,
    ms: u64,
}

/// Check the installation (see the module doc). A report that is not
/// `healthy` lists each problem.
pub fn doctor(args: &DoctorRequest) -> Result<DoctorReport> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let tmux = check_tmux();
    if let Some(p) = &tmux.problem {
        problems.push(p.clone());
    }
    let manifest = match Manifest::load() {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("{e:#}"));
            None
        }
    };
    let settings_path = claude_settings_path()?;
    let mut hooks = check_hooks(
        &settings_path,
        manifest.as_ref(),
        &mut problems,
        &mut warnings,
    );
    let state_dir = check_state_dir(&mut problems)?;

    let runnable: Vec<usize> = (0..hooks.len())
        .filter(|&i| hooks[i].command.is_some() && hooks[i].status != "broken")
        .collect();
    let probe = if args.no_probe {
        "skipped"
    } else if !tmux.ok {
        "impossible (no usable tmux)"
    } else if runnable.is_empty() {
        "nothing to run"
    } else {
        let steps: Vec<ProbeStep> = runnable
            .iter()
            .map(|&i| ProbeStep {
                event: hooks[i].event.clone(),
                command: hooks[i].command.clone().unwrap_or_default(),
                payload: Value::Null,
            })
            .collect();
        match run_probe(steps, args.timeout.max(Duration::from_millis(100))) {
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
                            "the {} hook ran but no {} event appeared in orch's state{}",
                            h.event,
                            expected_kind(h.command.as_deref().unwrap_or_default())
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
    };

    let files = check_files(manifest.as_ref(), &mut problems, &mut warnings)?;
    let binaries = check_binaries(&mut problems, &mut warnings);

    let report = DoctorReport {
        healthy: problems.is_empty(),
        problems,
        warnings,
        tmux,
        settings: settings_path,
        manifest: manifest.as_ref().map(|_| manifest_path()).transpose()?,
        probe,
        hooks,
        files,
        binaries,
        state_dir,
    };
    Ok(report)
}

impl DoctorReport {
    /// The report for people.
    pub fn pretty(&self) -> String {
        pretty(self)
    }

    /// One line naming the first problem, for stderr.
    pub fn summary(&self) -> String {
        format!(
            "not healthy: {}{}",
            self.problems.first().map_or("", String::as_str),
            if self.problems.len() > 1 {
                format!(" (and {} more problems)", self.problems.len() - 1)
            } else {
                String::new()
            }
        )
    }
}

fn expected_kind(command: &str) -> Option<Kind> {
    let c = jsonhooks::parse_orch_command(command)?;
    Kind::from_hook_name(&c.event)
}

fn check_hooks(
    path: &Path,
    manifest: Option<&Manifest>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<HookCheck> {
    let file = match JsonFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("{e:#}"));
            return Vec::new();
        }
    };
    if !file.exists() {
        problems.push(format!(
            "{} does not exist: orch's hooks are not installed (run orch up)",
            path.display()
        ));
    }
    let record = manifest.and_then(|m| m.settings_for(path));
    let none_at_all = CLAUDE_EVENTS
        .iter()
        .all(|(e, _)| jsonhooks::orch_commands(&file.value, e).is_empty());
    if none_at_all && file.exists() {
        problems.push(match record {
            Some(_) => format!(
                "all of orch's hooks were removed from {} since orch up (run orch up)",
                path.display()
            ),
            None => format!(
                "orch's hooks are not installed in {} (run orch up)",
                path.display()
            ),
        });
    }
    let mut out = Vec::new();
    for (event, _) in CLAUDE_EVENTS {
        let cmds = jsonhooks::orch_commands(&file.value, event);
        let installed = record
            .and_then(|r| r.entries.iter().find(|e| e.event == *event))
            .map(|e| e.command.clone());
        let mut check = HookCheck {
            event: event.to_string(),
            status: "ok",
            command: cmds.first().cloned(),
            installed: installed.clone(),
            fired: None,
            ms: None,
            detail: None,
        };
        match cmds.first() {
            None => {
                check.status = "missing";
                if !none_at_all {
                    problems.push(format!(
                        "the {event} hook is missing from {} (someone removed it? run orch up)",
                        path.display()
                    ));
                }
            }
            Some(cmd) => {
                if cmds.len() > 1 {
                    warnings.push(format!(
                        "{event}: orch's hook is registered {} times (orch up collapses them)",
                        cmds.len()
                    ));
                }
                if let Some(inst) = &installed
                    && inst != cmd
                {
                    check.status = "changed";
                    problems.push(format!(
                        "the {event} hook changed since orch up: now {cmd:?}, installed {inst:?} (run orch up)"
                    ));
                }
                let program = jsonhooks::parse_orch_command(cmd).map(|c| c.program);
                if let Some(p) = program {
                    let expanded = expand_tilde(&p);
                    let ok = fs::metadata(&expanded)
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                    if !ok {
                        check.status = "broken";
                        problems.push(format!("the {event} hook runs {p}, which does not exist or is not executable (run orch up)"));
                    }
                }
            }
        }
        out.push(check);
    }
    out
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), home_dir()) {
        (Some(rest), Ok(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

fn check_state_dir(problems: &mut Vec<String>) -> Result<StateDirCheck> {
    let path = crate::layout::state_dir()?;
    Ok(match fs::metadata(&path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o7777;
            let mut ok = true;
            if mode & 0o077 != 0 {
                ok = false;
                problems.push(format!(
                    "the state dir {} has mode {mode:o}; orch keeps it private: chmod 700 {}",
                    path.display(),
                    path.display()
                ));
            }
            if m.uid() != nix::unistd::geteuid().as_raw() {
                ok = false;
                problems.push(format!(
                    "the state dir {} belongs to uid {}, not you",
                    path.display(),
                    m.uid()
                ));
            }
            StateDirCheck {
                path,
                exists: true,
                mode: Some(format!("{mode:o}")),
                ok,
            }
        }
        Err(_) => StateDirCheck {
            path,
            exists: false,
            mode: None,
            ok: true,
        },
    })
}

fn check_files(
    manifest: Option<&Manifest>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<FileCheck>> {
    let records: Vec<FileRecord> = match manifest {
        Some(m) => m.files.clone(),
        None => skill_files(&claude_dir()?.join("skills"))
            .into_iter()
            .map(|(path, data, what)| FileRecord {
                path,
                fnv: fnv64(data),
                what,
            })
            .collect(),
    };
    let mut out = Vec::new();
    for rec in records {
        let status = match fs::read(&rec.path) {
            Ok(b) if fnv64(&b) == rec.fnv => "ok",
            Ok(_) => {
                warnings.push(format!(
                    "{} ({}) was changed since orch installed it",
                    rec.path.display(),
                    rec.what
                ));
                "modified"
            }
            Err(_) => {
                problems.push(format!(
                    "{} ({}) is missing (run orch up)",
                    rec.path.display(),
                    rec.what
                ));
                "missing"
            }
        };
        out.push(FileCheck {
            path: rec.path,
            what: rec.what,
            status,
        });
    }
    Ok(out)
}

/// orch's binaries installed next to this one must be on PATH (skills call
/// them by name) and PATH must not find stale copies elsewhere first.
fn check_binaries(problems: &mut Vec<String>, warnings: &mut Vec<String>) -> Vec<BinaryCheck> {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (n == "orch" || n.starts_with("orch-")) && !n.contains('.'))
                .filter(|n| {
                    fs::metadata(dir.join(n))
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let expected = dir.join(&name);
            let on_path = which::which(&name).ok();
            match &on_path {
                None => problems.push(format!(
                    "{name} is not on PATH (add {} to PATH)",
                    dir.display()
                )),
                Some(p) if fs::canonicalize(p).ok() != fs::canonicalize(&expected).ok() => warnings
                    .push(format!(
                        "{name} on PATH is {}, not {} (an older install?)",
                        p.display(),
                        expected.display()
                    )),
                Some(_) => {}
            }
            BinaryCheck {
                name,
                on_path,
                expected,
            }
        })
        .collect()
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
            s.payload = synthetic_payload(&s.event, &session, &tmp);
        }
        write_replace(
            &tmp.join("plan.json"),
            &serde_json::to_vec(&steps)?,
            0o600,
            None,
        )?;
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
        let server = Server {
            socket: sock.clone(),
            pid,
        };
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
                let kind = expected_kind(&s.command);
                let fired = events.iter().any(|e| {
                    e.get("session_id").and_then(Value::as_str) == Some(session.as_str())
                        && kind.is_some_and(|k| {
                            e.get("kind").and_then(Value::as_str) == Some(k.as_str())
                        })
                });
                (fired, outcomes.iter().find(|o| o.event == s.event).cloned())
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
    let mut outcomes = Vec::new();
    for s in steps {
        let start = Instant::now();
        let payload = serde_json::to_vec(&s.payload)?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(&s.command)
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
                    exit_code: out.status.code(),
                    stdout_bytes: out.stdout.len(),
                    stderr: err,
                    ms: start.elapsed().as_millis() as u64,
                }
            }
            Err(e) => ProbeOutcome {
                event: s.event,
                exit_code: None,
                stdout_bytes: 0,
                stderr: format!("cannot run sh: {e}"),
                ms: 0,
            },
        };
        outcomes.push(outcome);
    }
    write_replace(
        &dir.join("result.json"),
        &serde_json::to_vec(&outcomes)?,
        0o600,
        None,
    )?;
    Ok(())
}

fn pretty(r: &DoctorReport) -> String {
    let mut s = String::from(if r.healthy {
        "orch doctor: healthy\n"
    } else {
        "orch doctor: NOT healthy\n"
    });
    s.push_str(&format!(
        "  tmux {}\n",
        r.tmux.version.as_deref().unwrap_or("missing")
    ));
    s.push_str(&format!(
        "  settings: {} (probe: {})\n",
        r.settings.display(),
        r.probe
    ));
    for h in &r.hooks {
        let fired = match h.fired {
            Some(true) => " fired",
            Some(false) => " DID NOT FIRE",
            None => "",
        };
        s.push_str(&format!(
            "    {:<17}{:<10}{}{}\n",
            h.event,
            h.status,
            fired,
            h.ms.map(|m| format!(" ({m} ms)")).unwrap_or_default()
        ));
    }
    for f in &r.files {
        s.push_str(&format!(
            "  {}: {} {}\n",
            f.what,
            f.status,
            f.path.display()
        ));
    }
    let missing: Vec<&str> = r
        .binaries
        .iter()
        .filter(|b| b.on_path.is_none())
        .map(|b| b.name.as_str())
        .collect();
    s.push_str(&format!(
        "  binaries: {} found next to this one{}\n",
        r.binaries.len(),
        if missing.is_empty() {
            ", all on PATH".to_string()
        } else {
            format!("; not on PATH: {}", missing.join(", "))
        }
    ));
    s.push_str(&format!(
        "  state dir: {} {}\n",
        r.state_dir.path.display(),
        match (&r.state_dir.mode, r.state_dir.exists) {
            (Some(m), _) => format!("mode {m}"),
            (None, _) => "(not created yet)".to_string(),
        }
    ));
    for p in &r.problems {
        s.push_str(&format!("  problem: {p}\n"));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}

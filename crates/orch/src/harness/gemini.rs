//! Google Gemini CLI (`gemini`), checked against 0.61.0.
//!
//! **Hooks per spawn.** Gemini CLI has no command-line option for settings,
//! but reads a *system defaults* file named by `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`
//! (the lowest layer: the user's settings still apply, hook lists are
//! concatenated). Spawn writes orch's hooks there ([`defaults_json`]). Gemini
//! loads that file only when it and every directory above it are owned by
//! root and not writable by group or others (otherwise: "Security Warning:
//! Skipping system defaults file … is insecure"); [`loadable`] applies the
//! same rule first, and where it fails (any non-root user, a state dir under
//! `/tmp`) spawn says so and relies on the hooks `orch up` put in
//! `~/.gemini/settings.json`.
//!
//! Every hook command ends `2>/dev/null || true`: a hook that fails (orch
//! uninstalled, say) must not block the agent's prompts.
//!
//! **Events.** `SessionStart` = ready, `BeforeAgent` = the prompt was
//! submitted (the full text, pastes expanded), `AfterAgent` = turn end,
//! `Notification` `ToolPermission` = a permission dialog is up. The reply is
//! read from the transcript ([`reply_from_transcript`]): `AfterAgent`'s
//! `prompt_response` is garbled when the reply streams in several chunks
//! (Gemini merges the chunks into the first part, then joins them all again).
//!
//! **Enter.** An Enter within ~40 ms of a paste becomes a newline, and a
//! paste of more than 5 lines or 500 characters is collapsed into a
//! `[Pasted Text: N chars]` chip that needs longer: [`HARNESS`]'s
//! `enter_delay`.
//!
//! **Ready.** `SessionStart` fires before the UI's last full redraw (on
//! `--resume` after the history is loaded); a paste before it is lost, so
//! spawn also waits for the input box to show, steadily (`ready_screen`).
//!
//! **Process.** Gemini re-launches itself as a child node process in the
//! same process group; that child outlives its pane (even `tmux
//! kill-server`). Stopping an agent ends its whole process session
//! ([`crate::proctree`]).
//!
//! Gemini has no option to append to its system prompt (`GEMINI_SYSTEM_MD`
//! replaces it whole), so the fleet prompt is not given: spawn says so.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::{Value, json};

use super::{
    EnterDelay, GlueFile, Harness, Launch, LaunchSpec, Permissions, Readiness, ReadyScreen,
    Supports,
};
use crate::install::glue_gemini::GEMINI_EVENTS;
use crate::shellwords::quote as shell_quote;

pub const HARNESS: Harness = Harness {
    name: "gemini",
    program: "gemini",
    install_hint: "install the Gemini CLI: npm install -g @google/gemini-cli",
    readiness: Readiness::SessionStartOrQuiet,
    events: "hooks in a system-defaults file given at spawn (GEMINI_CLI_SYSTEM_DEFAULTS_PATH; root-owned paths only), else those `orch up` put in ~/.gemini/settings.json; else state inferred from the screen",
    exit_command: Some("/quit"),
    assigns_session_id: true,
    injects_hooks: true,
    glue: Some(glue),
    permissions: Permissions::Reported,
    supports: Supports {
        system_prompt: false,
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
    },
    enter_delay: EnterDelay {
        small_ms: 100,
        big_ms: 200,
        big_from: 500,
        big_lines: 5,
        enter_unseen: false,
    },
    ready_screen: Some(ReadyScreen {
        marker: "Type your message or @path/to/file",
        quiet_ms: 600,
    }),
    build,
    ..Harness::BASE
};

/// Spawn's glue for gemini: the system-defaults file ([`defaults_json`]),
/// named by [`DEFAULTS_ENV`] (and checked by [`loadable`] before use).
fn glue(hook_program: &str, _bypass: bool) -> GlueFile {
    GlueFile {
        stem: "gemini-defaults",
        ext: "json",
        text: defaults_json(hook_program),
    }
}

/// The spawner's variables a spawned gemini must not get: with `CI` set
/// Gemini CLI runs non-interactively and exits at once ("No input provided
/// via stdin"), so an operator in a CI job could start no Gemini agent.
pub const NOT_INHERITED: &[&str] = &["CI"];

/// The environment variable naming Gemini CLI's system-defaults file.
pub const DEFAULTS_ENV: &str = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH";

/// The system-defaults document for a spawned gemini: orch's hooks, each
/// running `orch-hook --spawned <event> --harness gemini`, silenced and
/// never failing. `hooksConfig.notifications: false` keeps Gemini's
/// "Executing Hook(s): …" line (which grows with every hook run and stays
/// up) out of the status line the screen readers look at.
pub fn defaults_json(hook_program: &str) -> String {
    let mut hooks = serde_json::Map::new();
    for (event, arg) in GEMINI_EVENTS {
        let command = format!(
            "{} --spawned {arg} --harness gemini 2>/dev/null || true",
            shell_quote(hook_program)
        );
        hooks.insert(
            event.to_string(),
            json!([{"hooks": [{"type": "command", "name": format!("orch-{arg}"), "command": command, "timeout": 10000}]}]),
        );
    }
    let doc = json!({"hooks": hooks, "hooksConfig": {"notifications": false}});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Would Gemini CLI load a system-defaults file at `path`? Its rule
/// (0.61, `isFileAndDirectorySecureSync`): the file (if it exists) and
/// every directory above it, before and after resolving symlinks, owned by
/// root and not writable by group or others. `Err` says which one fails.
pub fn loadable(path: &Path) -> Result<(), String> {
    let check = |p: &Path| -> Result<(), String> {
        let m = match std::fs::metadata(p) {
            Ok(m) => m,
            // Gemini counts a missing path as secure.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        if m.uid() != 0 {
            return Err(format!("{} is not owned by root", p.display()));
        }
        if m.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by group or others (mode {:o})",
                p.display(),
                m.mode() & 0o7777
            ));
        }
        Ok(())
    };
    let mut paths: Vec<std::path::PathBuf> = path.ancestors().map(Path::to_path_buf).collect();
    if let Some(real) = path
        .parent()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .filter(|r| Some(r.as_path()) != path.parent())
    {
        paths.extend(real.ancestors().map(Path::to_path_buf));
    }
    paths.iter().try_for_each(|p| check(p))
}

/// Are orch's hooks in the user's `~/.gemini/settings.json` (`orch up`)?
pub fn global_hooks_installed() -> bool {
    crate::install::paths::gemini_dir()
        .ok()
        .and_then(|d| std::fs::read_to_string(d.join("settings.json")).ok())
        .is_some_and(|s| s.contains("orch-hook"))
}

/// At most this much of a transcript's end is read for the reply.
const TRANSCRIPT_TAIL: u64 = 1024 * 1024;

/// The text of the last model message in a Gemini CLI transcript (JSONL:
/// `{"type":"gemini","content":"…","tokens":{…}}` per message; tool calls
/// leave `content` empty). `None` when there is none to read.
pub fn reply_from_transcript(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(TRANSCRIPT_TAIL);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.take(TRANSCRIPT_TAIL).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .rev()
        .filter(|l| l.contains("\"gemini\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("gemini"))
        .find_map(|v| {
            let t = content_text(v.get("content")?);
            (!t.trim().is_empty()).then_some(t)
        })
}

/// A message's `content`: a string, or parts with `text`.
fn content_text(c: &Value) -> String {
    match c {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    super::push_session_and_model_eq(a, s);
    // Explicit both ways: a user's `general.defaultApprovalMode` (auto_edit)
    // must not silently drop the prompts `--no-bypass` asks to keep.
    a.push(if s.bypass {
        "--approval-mode=yolo".into()
    } else {
        "--approval-mode=default".into()
    });
    for d in &s.add_dirs {
        a.push(format!("--include-directories={d}"));
    }
    if let Some(f) = &s.glue_file {
        l.env.push((DEFAULTS_ENV.into(), f.clone()));
    }
    a.extend(s.extra_args.iter().cloned());
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_and_the_missing_system_prompt_is_said() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "gemini".into(),
            session_id: Some("0e4d1c2a-1111-4222-8333-444455556666".into()),
            model: Some("gemini-2.5-pro".into()),
            system_prompt: "fleet".into(),
            bypass: true,
            add_dirs: vec!["/d".into()],
            glue_file: Some("/state/glue/gemini-defaults-1.json".into()),
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "gemini",
                "--session-id=0e4d1c2a-1111-4222-8333-444455556666",
                "--model=gemini-2.5-pro",
                "--approval-mode=yolo",
                "--include-directories=/d",
            ]
        );
        assert_eq!(
            l.env,
            [(
                DEFAULTS_ENV.to_string(),
                "/state/glue/gemini-defaults-1.json".to_string()
            )]
        );
        assert!(l.warnings[0].contains("system prompt"), "{:?}", l.warnings);
    }

    #[test]
    fn no_bypass_asks_explicitly_and_resume_replaces_the_session_id() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "gemini".into(),
            session_id: Some("new".into()),
            resume: Some("old".into()),
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            ["gemini", "--resume=old", "--approval-mode=default"]
        );
        assert!(l.env.is_empty());
    }

    #[test]
    fn every_hook_is_silenced_and_cannot_fail() {
        let doc: Value = serde_json::from_str(&defaults_json("/opt/my orch/orch-hook")).unwrap();
        let hooks = doc["hooks"].as_object().unwrap();
        assert_eq!(hooks.len(), GEMINI_EVENTS.len());
        for (event, arg) in GEMINI_EVENTS {
            let c = hooks[*event][0]["hooks"][0]["command"].as_str().unwrap();
            assert_eq!(
                c,
                format!(
                    "'/opt/my orch/orch-hook' --spawned {arg} --harness gemini 2>/dev/null || true"
                )
            );
        }
    }

    #[test]
    fn reply_is_the_last_model_message_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("session.jsonl");
        std::fs::write(
            &p,
            [
                r#"{"sessionId":"s","kind":"main"}"#,
                r#"{"id":"1","type":"user","content":[{"text":"use bash: ls"}]}"#,
                r#"{"id":"2","type":"gemini","content":"first answer"}"#,
                r#"{"id":"3","type":"gemini","content":"","toolCalls":[{"name":"run_shell_command"}]}"#,
                r#"{"id":"4","type":"gemini","content":[{"text":"Tool "},{"text":"finished"}],"tokens":{"input":3}}"#,
                r#"{"$set":{"lastUpdated":"x"}}"#,
                "",
            ]
            .join("\n"),
        )
        .unwrap();
        assert_eq!(reply_from_transcript(&p).as_deref(), Some("Tool finished"));
        assert_eq!(reply_from_transcript(&dir.path().join("none")), None);
    }

    #[test]
    fn defaults_under_a_world_writable_dir_are_not_loadable() {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = loadable(&dir.path().join("defaults.json")).unwrap_err();
        assert!(
            err.contains("writable by group or others") || err.contains("not owned by root"),
            "{err}"
        );
    }
}

//! Claude Code (`claude`).
//!
//! Values that may start with `-` (a system prompt, a tool pattern) are
//! passed as `--flag=value`, so the CLI's parser can never mistake them for
//! flags. Hooks arrive through a `--settings` file written by spawn (see
//! [`settings_json`]); the file holds only orch's hooks, so the user's own
//! settings are untouched and still apply.

use serde_json::json;

use super::{
    GlueFile, Harness, Launch, LaunchSpec, Permissions, Readiness, Supports,
    push_session_and_model_eq,
};
use crate::shellwords::quote as shell_quote;

pub const HARNESS: Harness = Harness {
    name: "claude",
    program: "claude",
    install_hint: "install Claude Code: npm install -g @anthropic-ai/claude-code",
    readiness: Readiness::SessionStart,
    events: "hooks passed with --settings at spawn (orch-hook --spawned …); global ones from `orch up` are then skipped",
    exit_command: Some("/exit"),
    assigns_session_id: true,
    injects_hooks: true,
    glue: Some(glue),
    permissions: Permissions::Reported,
    supports: Supports::ALL,
    build,
    ..Harness::BASE
};

/// Claude Code hook event → orch-hook event argument: the one table spawn's
/// `--settings`, `orch up` (`hooks/claude/settings.json`) and the plugin
/// (`hooks/hooks.json`) follow (tests check both files). Only events every
/// supported version knows: an unknown name stops Claude Code at a
/// "Settings Warning" dialog, and for a plugin drops all its hooks (the
/// e2e test `claude_knows_every_hook_event_orch_registers` reads the valid
/// list off that dialog on the pinned and the newest version).
///
/// `PermissionRequest` fires as the permission dialog is drawn, with the
/// tool and its input; the `permission_prompt` `Notification` comes only
/// after 6 s without input, so orch-hook records the first and drops the
/// second as its duplicate (`hook.rs`). Its hook must print nothing: stdout
/// JSON from a `PermissionRequest` hook answers the dialog.
pub const HOOK_EVENTS: &[(&str, &str)] = &[
    ("SessionStart", "session_start"),
    ("UserPromptSubmit", "prompt"),
    ("Stop", "stop"),
    ("StopFailure", "stop_failure"),
    ("Notification", "notify"),
    ("PermissionRequest", "permission_request"),
    ("SessionEnd", "session_end"),
];

/// The `--settings` document for a spawned claude: orch's hooks, each
/// running `orch-hook --spawned <event>`, the classic renderer, and (when
/// permissions are bypassed) the switch that skips the bypass warning
/// dialog.
///
/// `"tui": "default"`: Claude Code 2.1.3xx draws fullscreen by default (the
/// alternate screen, mouse tracking on), so tmux keeps no scrollback and a
/// finished agent's pane shows nothing of its conversation; 2.1.197 has no
/// such setting and ignores the key (no "Settings Warning").
pub fn settings_json(hook_program: &str, bypass: bool) -> String {
    let mut hooks = serde_json::Map::new();
    for (event, arg) in HOOK_EVENTS {
        let command = format!("{} --spawned {arg}", shell_quote(hook_program));
        hooks.insert(
            event.to_string(),
            json!([{"hooks": [{"type": "command", "command": command, "timeout": 10}]}]),
        );
    }
    let mut doc = json!({ "hooks": hooks, "tui": "default" });
    if bypass {
        doc["skipDangerousModePermissionPrompt"] = json!(true);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The `--settings` file spawn writes (see [`settings_json`]).
fn glue(hook_program: &str, bypass: bool) -> GlueFile {
    GlueFile {
        stem: "claude-settings",
        ext: "json",
        text: settings_json(hook_program, bypass),
    }
}

/// The bottom line of an idle Claude Code, in every permission mode and
/// both tested versions: `? for shortcuts` (default/manual mode, empty
/// input box) or `(shift+tab to cycle)` (bypass, auto and the other modes).
/// `SessionStart` fires before the input box is drawn, so a spawned claude
/// is ready once one of these shows too.
pub const READY_FOOTERS: &[&str] = &["? for shortcuts", "(shift+tab to cycle)"];

/// The permission mode that asks before every tool call, by the one name
/// every supported version understands.
pub const ASKING_MODE: &str = "default";

/// The user gave a permission mode of their own after `--`.
fn chooses_permission_mode(extra: &[String]) -> bool {
    extra.iter().any(|a| {
        a == "--permission-mode"
            || a.starts_with("--permission-mode=")
            || a == "--dangerously-skip-permissions"
    })
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    push_session_and_model_eq(a, s);
    if s.bypass {
        a.push("--dangerously-skip-permissions".into());
        if s.is_root {
            // Claude Code refuses the bypass flag as root unless told it
            // runs in a sandbox.
            l.env.push(("IS_SANDBOX".into(), "1".into()));
        }
    } else if !chooses_permission_mode(&s.extra_args) {
        // --no-bypass must keep the prompts. Without a flag 2.1.3xx starts
        // in "auto" mode, which runs tools without asking; the asking mode is
        // "default" to 2.1.197 and "manual" to 2.1.3xx, which still takes
        // "default" (2.1.197 rejects "manual").
        a.push(format!("--permission-mode={ASKING_MODE}"));
    }
    for d in &s.add_dirs {
        a.push(format!("--add-dir={d}"));
    }
    for t in &s.allowed_tools {
        a.push(format!("--allowedTools={t}"));
    }
    for t in &s.disallowed_tools {
        a.push(format!("--disallowedTools={t}"));
    }
    if let Some(f) = &s.glue_file {
        a.push(format!("--settings={f}"));
    }
    if !s.system_prompt.is_empty() {
        a.push(format!("--append-system-prompt={}", s.system_prompt));
    }
    a.extend(s.extra_args.iter().cloned());
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LaunchSpec {
        LaunchSpec {
            program: "/usr/bin/claude".into(),
            session_id: Some("0e4d1c2a-1111-4222-8333-444455556666".into()),
            model: Some("opus".into()),
            system_prompt: "-you are part of a fleet".into(),
            bypass: true,
            add_dirs: vec!["/skills".into()],
            allowed_tools: vec!["Bash(git log:*)".into(), "Read".into()],
            disallowed_tools: vec!["Edit".into()],
            extra_args: vec!["--verbose".into()],
            glue_file: Some("/state/glue/claude.json".into()),
            is_root: true,
            ..Default::default()
        }
    }

    #[test]
    fn full_command_line() {
        let l = HARNESS.launch(&spec());
        assert_eq!(
            l.argv,
            [
                "/usr/bin/claude",
                "--session-id=0e4d1c2a-1111-4222-8333-444455556666",
                "--model=opus",
                "--dangerously-skip-permissions",
                "--add-dir=/skills",
                "--allowedTools=Bash(git log:*)",
                "--allowedTools=Read",
                "--disallowedTools=Edit",
                "--settings=/state/glue/claude.json",
                "--append-system-prompt=-you are part of a fleet",
                "--verbose",
            ]
        );
        assert_eq!(l.env, [("IS_SANDBOX".to_string(), "1".to_string())]);
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn resume_replaces_session_id_and_no_sandbox_flag_when_not_root() {
        let mut s = spec();
        s.resume = Some("abc".into());
        s.is_root = false;
        let l = HARNESS.launch(&s);
        assert_eq!(l.argv[1], "--resume=abc");
        assert!(!l.argv.iter().any(|a| a.starts_with("--session-id")));
        assert!(l.env.is_empty());
    }

    /// Regression (issue 13): `--no-bypass` on Claude Code 2.1.3xx started
    /// in "auto" mode, and a Bash `touch` ran without asking.
    #[test]
    fn no_bypass_asks_by_the_mode_name_every_version_knows() {
        let mut s = spec();
        s.bypass = false;
        let l = HARNESS.launch(&s);
        assert!(l.argv.contains(&"--permission-mode=default".to_string()));
        assert!(
            !l.argv
                .contains(&"--dangerously-skip-permissions".to_string())
        );
        assert!(l.env.is_empty());
        // A mode the user chose after `--` wins.
        s.extra_args = vec!["--permission-mode".into(), "plan".into()];
        let l = HARNESS.launch(&s);
        assert!(!l.argv.iter().any(|a| a.starts_with("--permission-mode=")));
        assert!(
            HARNESS
                .launch(&spec())
                .argv
                .iter()
                .all(|a| !a.starts_with("--permission-mode"))
        );
    }

    #[test]
    fn settings_carry_every_hook_with_the_spawned_flag() {
        let doc: serde_json::Value =
            serde_json::from_str(&settings_json("/opt/orch bin/orch-hook", true)).unwrap();
        for (event, arg) in HOOK_EVENTS {
            let cmd = doc["hooks"][event][0]["hooks"][0]["command"]
                .as_str()
                .unwrap();
            assert_eq!(cmd, format!("'/opt/orch bin/orch-hook' --spawned {arg}"));
        }
        assert_eq!(doc["skipDangerousModePermissionPrompt"], true);
        assert_eq!(doc["tui"], "default");
        let doc: serde_json::Value =
            serde_json::from_str(&settings_json("/x/orch-hook", false)).unwrap();
        assert!(doc.get("skipDangerousModePermissionPrompt").is_none());
    }
}

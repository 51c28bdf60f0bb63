//! OpenAI Codex CLI (`codex`), checked against 0.171.0 (offline, mock
//! Responses API; `crates/orch-cli/tests/it/e2e_codex.rs`).
//!
//! **Hooks, per spawn.** Codex has native hooks (`hooks.<Event>` in any
//! config layer). spawn passes orch's on the command line as
//! `-c hooks.<Event>=[{hooks=[{type="command",command="orch-hook …"}]}]`,
//! so nothing in `~/.codex` is written and `orch up` installs no Codex glue.
//! Codex runs a hook only once it is trusted, and asks at start-up ("Hooks
//! need review") for any it has not seen; `-c hooks.state={…}` carries the
//! trust entries with it: key `/<session-flags>/config.toml:<event>:0:0`,
//! value the sha256 of the hook's definition ([`trust_hash`]).
//!
//! | Codex event | orch event |
//! |---|---|
//! | `SessionStart` | `session_start` (fires with the **first prompt**, not at start-up) |
//! | `UserPromptSubmit` | `prompt` (the receipt; `prompt` is the exact text) |
//! | `Stop` | `stop` (`last_assistant_message` is the reply) |
//! | `PermissionRequest` | `notify` `permission_prompt` (see `hook.rs`) |
//! | `PostModelRequest` | nothing; a failed attempt starts [`super::codex_watch`], which records `stop_failure` if the turn ends in the error |
//! | `SessionEnd` | `session_end` |
//!
//! **Readiness** is read off the screen (no event comes before the first
//! prompt): the footer's `? for shortcuts` on a screen that stopped
//! changing. The session id is known at once all the same: the Codex
//! process holds `$CODEX_HOME/thread-writer-locks/<id>.lock` open
//! ([`session_of_process`]).
//!
//! Always `--no-daemon` (otherwise a shared app-server daemon runs the
//! session and its hooks, and survives `/quit`), and
//! `tui.disable_paste_burst=true` (otherwise an Enter right after typed
//! text can become a newline). The appended system prompt goes in as
//! `developer_instructions`. `--no-bypass` passes `-a on-request`, Codex's
//! asking policy, so a user's `approval_policy = "never"` cannot silence it.

use super::{Harness, Launch, LaunchSpec, Permissions, Readiness, Supports, push_opt};
use crate::shellwords::quote as shell_quote;

pub const HARNESS: Harness = Harness {
    name: "codex",
    program: "codex",
    install_hint: "install the Codex CLI: npm install -g @openai/codex",
    readiness: Readiness::Screen(READY_SCREEN),
    events: "hooks passed with -c hooks.<Event>=… (pre-trusted with -c hooks.state=…) at spawn; ready read off the screen (Codex fires SessionStart only with the first prompt)",
    exit_command: Some("/quit"),
    assigns_session_id: false,
    injects_hooks: true,
    permissions: Permissions::ScreenOnly,
    supports: Supports {
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
    },
    build,
    ..Harness::BASE
};

/// On an idle Codex screen, in the footer (0.169–0.171).
pub const READY_SCREEN: &[&str] = &["? for shortcuts"];

/// Codex hook event → (`orch-hook` argument, hook timeout in seconds).
/// SessionEnd runs while Codex shuts down, which waits for it: short.
pub const HOOK_EVENTS: &[(&str, &str, u32)] = &[
    ("SessionStart", "session_start", 10),
    ("UserPromptSubmit", "prompt", 10),
    ("Stop", "stop", 10),
    ("PermissionRequest", "permission_request", 10),
    // Not recorded: a failed attempt starts the watch for a failed turn
    // (Codex has no StopFailure; see `codex_watch`).
    ("PostModelRequest", "model_request", 10),
    ("SessionEnd", "session_end", 3),
];

/// The config-layer name Codex gives `-c` overrides in trust keys.
const SESSION_FLAGS_LAYER: &str = "/<session-flags>/config.toml";

/// `SessionStart` → `session_start`, as Codex spells events in trust keys.
fn snake(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON (and TOML) basic string holding `s`. JSON's escapes are a
/// subset of TOML's, so the same quoting serves both.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The sha256 Codex trusts a command hook by (codex-rs hooks
/// `command_hook_hash`): of the compact JSON, keys sorted, of
/// `{"event_name", "hooks": [{"async", "command", "timeout", "type"}]}`
/// (no matcher: orch's hooks have none).
pub fn trust_hash(event: &str, command: &str, timeout: u32) -> String {
    let identity = format!(
        r#"{{"event_name":{},"hooks":[{{"async":false,"command":{},"timeout":{timeout},"type":"command"}}]}}"#,
        quoted(&snake(event)),
        quoted(command),
    );
    format!("sha256:{}", crate::sha256::hex(identity.as_bytes()))
}

/// The `-c` overrides carrying orch's hooks and their trust entries.
pub fn hook_overrides(hook_program: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut state = Vec::new();
    for (event, arg, timeout) in HOOK_EVENTS {
        let command = format!(
            "{} --spawned --harness codex {arg}",
            shell_quote(hook_program)
        );
        out.push("-c".into());
        out.push(format!(
            "hooks.{event}=[{{hooks=[{{type=\"command\",command={},timeout={timeout}}}]}}]",
            quoted(&command)
        ));
        state.push(format!(
            "{}={{trusted_hash={}}}",
            quoted(&format!("{SESSION_FLAGS_LAYER}:{}:0:0", snake(event))),
            quoted(&trust_hash(event, &command, *timeout))
        ));
    }
    out.push("-c".into());
    out.push(format!("hooks.state={{{}}}", state.join(",")));
    out
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    if let Some(id) = &s.resume {
        a.push("resume".into());
        a.push(id.clone());
    }
    a.push("--no-daemon".into());
    push_opt(a, "--model", &s.model);
    if s.bypass {
        a.push("--dangerously-bypass-approvals-and-sandbox".into());
    } else {
        a.push("--ask-for-approval".into());
        a.push("on-request".into());
    }
    for d in &s.add_dirs {
        a.push("--add-dir".into());
        a.push(d.clone());
    }
    a.push("-c".into());
    a.push("tui.disable_paste_burst=true".into());
    if !s.system_prompt.is_empty() {
        a.push("-c".into());
        a.push(format!(
            "developer_instructions={}",
            quoted(&s.system_prompt)
        ));
    }
    if let Some(hook) = &s.hook_program {
        a.extend(hook_overrides(hook));
    }
    a.extend(s.extra_args.iter().cloned());
    l
}

/// The Codex session (thread) id held by one of `pids`: the running Codex
/// keeps `$CODEX_HOME/thread-writer-locks/<id>.lock` open for its thread
/// from start-up on, before any hook has fired. Linux only (`/proc`).
pub fn session_of_process(pids: &[u32]) -> Option<String> {
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if target.parent().and_then(|p| p.file_name())
                != Some(std::ffi::OsStr::new("thread-writer-locks"))
            {
                continue;
            }
            if let Some(id) = target
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".lock"))
                .filter(|id| is_uuid(id))
            {
                return Some(id.to_string());
            }
        }
    }
    None
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "codex".into(),
            resume: Some("t-1".into()),
            model: Some("gpt-5".into()),
            system_prompt: "say \"hi\"\nthen stop".into(),
            bypass: true,
            allowed_tools: vec!["Read".into()],
            extra_args: vec!["--search".into()],
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "codex",
                "resume",
                "t-1",
                "--no-daemon",
                "--model",
                "gpt-5",
                "--dangerously-bypass-approvals-and-sandbox",
                "-c",
                "tui.disable_paste_burst=true",
                "-c",
                r#"developer_instructions="say \"hi\"\nthen stop""#,
                "--search",
            ]
        );
        assert_eq!(l.warnings.len(), 1);
        let l = HARNESS.launch(&LaunchSpec {
            program: "codex".into(),
            ..Default::default()
        });
        assert_eq!(
            l.argv[..4],
            ["codex", "--no-daemon", "--ask-for-approval", "on-request"]
        );
        assert!(!l.argv.iter().any(|a| a.starts_with("notify")));
    }

    /// The hashes Codex 0.171.0 itself wrote into config.toml after "Trust
    /// all and continue" for hooks given with `-c` (recipe hook script).
    #[test]
    fn trust_hashes_match_what_codex_writes() {
        let x = "/work/wt/codex/target/x";
        assert_eq!(
            trust_hash("Stop", &format!("{x}/hook.sh Stop {x}/w/out"), 600),
            "sha256:f7db79cf3f99ae847e019ec0dc95dcafab1eb5b1e8218d71e18749c932d4731a"
        );
        assert_eq!(
            trust_hash(
                "UserPromptSubmit",
                &format!("{x}/hook.sh UserPromptSubmit {x}/w/out"),
                600
            ),
            "sha256:6d14f07849a7d55d93775dfdf63cfd6aa068abb98265a90b62e6fccc9d8b66eb"
        );
    }

    #[test]
    fn hooks_and_trust_entries() {
        let o = hook_overrides("/opt/orch bin/orch-hook");
        assert_eq!(o.len(), 2 * (HOOK_EVENTS.len() + 1));
        assert!(o.chunks(2).all(|p| p[0] == "-c"));
        assert_eq!(
            o[5],
            r#"hooks.Stop=[{hooks=[{type="command",command="'/opt/orch bin/orch-hook' --spawned --harness codex stop",timeout=10}]}]"#
        );
        let state = o.last().unwrap();
        assert!(state.starts_with("hooks.state={\"/<session-flags>/config.toml:session_start:0:0\"={trusted_hash=\"sha256:"), "{state}");
        for (event, _, _) in HOOK_EVENTS {
            assert!(
                state.contains(&format!("config.toml:{}:0:0", snake(event))),
                "{state}"
            );
        }
        assert_eq!(snake("PermissionRequest"), "permission_request");
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("01a23722-74f1-7941-a081-de2aa81c740b"));
        assert!(!is_uuid(".coordination"));
        assert!(!is_uuid("01a23722-74f1-7941-a081-de2aa81c740"));
    }
}

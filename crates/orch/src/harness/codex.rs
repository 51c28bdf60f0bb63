//! OpenAI Codex CLI (`codex`).
//!
//! Events: codex calls a `notify` program with a JSON argument when a turn
//! completes (`agent-turn-complete`, carrying `last-assistant-message`).
//! spawn sets it for the session with `-c notify=[…]`, so turn ends are
//! recorded without any install step. Codex has no session-start or
//! prompt-receipt notification, so readiness is read off the screen.
//! The appended system prompt goes in as `developer_instructions`.

use super::{Harness, Launch, LaunchSpec, Permissions, Readiness, Supports, push_opt};

pub const HARNESS: Harness = Harness {
    name: "codex",
    program: "codex",
    install_hint: "install the Codex CLI: npm install -g @openai/codex",
    readiness: Readiness::SessionStartOrQuiet,
    events: "turn ends through `-c notify=[orch-hook …]` set at spawn; no session start or prompt receipts (state inferred from the screen)",
    exit_command: Some("/quit"),
    assigns_session_id: false,
    injects_hooks: true,
    glue: None,
    permissions: Permissions::ScreenOnly,
    receipt_wait: None,
    supports: Supports {
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
    },
    enter_delay: super::EnterDelay::NONE,
    ready_screen: None,
    build,
};

/// A TOML basic string holding `s`. JSON string escapes are a subset of
/// TOML's, so serde_json's quoting is valid TOML.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    if let Some(id) = &s.resume {
        a.push("resume".into());
        a.push(id.clone());
    }
    push_opt(a, "--model", &s.model);
    if s.bypass {
        a.push("--dangerously-bypass-approvals-and-sandbox".into());
    }
    for d in &s.add_dirs {
        a.push("--add-dir".into());
        a.push(d.clone());
    }
    if !s.system_prompt.is_empty() {
        a.push("-c".into());
        a.push(format!(
            "developer_instructions={}",
            toml_string(&s.system_prompt)
        ));
    }
    if let Some(hook) = &s.hook_program {
        let notify: Vec<String> = [hook.as_str(), "--spawned", "--harness", "codex", "stop"]
            .iter()
            .map(|p| toml_string(p))
            .collect();
        a.push("-c".into());
        a.push(format!("notify=[{}]", notify.join(",")));
    }
    a.extend(s.extra_args.iter().cloned());
    l
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
            hook_program: Some("/bin/orch-hook".into()),
            allowed_tools: vec!["Read".into()],
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "codex",
                "resume",
                "t-1",
                "--model",
                "gpt-5",
                "--dangerously-bypass-approvals-and-sandbox",
                "-c",
                r#"developer_instructions="say \"hi\"\nthen stop""#,
                "-c",
                r#"notify=["/bin/orch-hook","--spawned","--harness","codex","stop"]"#,
            ]
        );
        assert_eq!(l.warnings.len(), 1);
    }
}

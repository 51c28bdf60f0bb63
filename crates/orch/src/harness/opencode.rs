//! opencode (`opencode`).
//!
//! Events: none yet. opencode reports turns to plugins (`session.idle` and
//! friends, auto-loaded from `~/.config/opencode/plugins/`), but orch ships
//! no opencode plugin and `orch up` installs none, so readiness and state
//! are read off the screen (inferred). Permissions
//! are bypassed through `OPENCODE_CONFIG_CONTENT` (inline config, applied
//! over the user's files). opencode has no command-line option to append to
//! its system prompt, so the fleet prompt is not given: spawn says so.

use serde_json::json;

use super::{Harness, Launch, LaunchSpec, Readiness, Supports, push_opt};

pub const HARNESS: Harness = Harness {
    name: "opencode",
    program: "opencode",
    install_hint: "install opencode: npm install -g opencode-ai",
    readiness: Readiness::SessionStartOrQuiet,
    events: "no hooks yet (orch has no opencode plugin; `orch up` installs none): state inferred from the screen",
    exit_command: Some("/exit"),
    assigns_session_id: false,
    injects_hooks: false,
    supports: Supports {
        system_prompt: false,
        add_dirs: false,
        allowed_tools: false,
        disallowed_tools: false,
    },
    enter_delay: super::EnterDelay::NONE,
    ready_screen: None,
    build,
};

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    push_opt(a, "--session", &s.resume);
    push_opt(a, "--model", &s.model);
    a.extend(s.extra_args.iter().cloned());
    if s.bypass {
        let cfg = json!({"permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"}});
        l.env
            .push(("OPENCODE_CONFIG_CONTENT".into(), cfg.to_string()));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_and_bypass_through_env() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "opencode".into(),
            model: Some("anthropic/claude-sonnet-4".into()),
            bypass: true,
            ..Default::default()
        });
        assert_eq!(l.argv, ["opencode", "--model", "anthropic/claude-sonnet-4"]);
        assert_eq!(l.env[0].0, "OPENCODE_CONFIG_CONTENT");
        assert!(l.env[0].1.contains("\"bash\":\"allow\""));
    }
}

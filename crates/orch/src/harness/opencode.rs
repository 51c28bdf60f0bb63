//! opencode (`opencode`).
//!
//! Events: opencode plugins (`session.idle` and friends) auto-loaded from
//! `~/.config/opencode/plugins/`: they reach orch when `orch up` installed
//! orch's plugin; otherwise readiness is read off the screen. Permissions
//! are bypassed through `OPENCODE_CONFIG_CONTENT` (inline config, applied
//! over the user's files). opencode has no command-line option to append to
//! its system prompt, so the fleet prompt is not given: spawn says so.

use serde_json::json;

use super::{Harness, Launch, LaunchSpec, Readiness, push_opt, unsupported};

pub const HARNESS: Harness = Harness {
    name: "opencode",
    program: "opencode",
    install_hint: "install opencode: npm install -g opencode-ai",
    readiness: Readiness::SessionStartOrQuiet,
    events: "orch's plugin in ~/.config/opencode/plugins/ when `orch up` installed it; otherwise state inferred from the screen",
    exit_command: Some("/exit"),
    assigns_session_id: false,
    injects_hooks: false,
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
    unsupported(
        &mut l,
        "opencode",
        "an appended system prompt (fleet prompt and outfit system_prompt)",
        !s.system_prompt.is_empty(),
    );
    unsupported(
        &mut l,
        "opencode",
        "extra directories",
        !s.add_dirs.is_empty(),
    );
    unsupported(
        &mut l,
        "opencode",
        "allowed_tools",
        !s.allowed_tools.is_empty(),
    );
    unsupported(
        &mut l,
        "opencode",
        "disallowed_tools",
        !s.disallowed_tools.is_empty(),
    );
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_and_bypass_through_env() {
        let l = build(&LaunchSpec {
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

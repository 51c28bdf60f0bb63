//! pi coding agent (`pi`).
//!
//! Events: pi extensions (TypeScript, `pi.on("session_start"|"agent_end", …)`)
//! auto-discovered in `~/.pi/agent/extensions/`: they reach orch when
//! `orch up` installed orch's extension; otherwise readiness is read off the
//! screen. pi has no permission prompts to bypass and takes
//! `--append-system-prompt`.

use super::{Harness, Launch, LaunchSpec, Readiness, Supports, push_opt};

pub const HARNESS: Harness = Harness {
    name: "pi",
    program: "pi",
    install_hint: "install pi: npm install -g @mariozechner/pi-coding-agent",
    readiness: Readiness::SessionStartOrQuiet,
    events: "orch's extension in ~/.pi/agent/extensions/ when `orch up` installed it; otherwise state inferred from the screen",
    exit_command: Some("/quit"),
    assigns_session_id: false,
    injects_hooks: false,
    supports: Supports {
        add_dirs: false,
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
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
    if !s.system_prompt.is_empty() {
        a.push("--append-system-prompt".into());
        a.push(s.system_prompt.clone());
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
            program: "pi".into(),
            model: Some("sonnet".into()),
            system_prompt: "fleet".into(),
            bypass: true,
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            ["pi", "--model", "sonnet", "--append-system-prompt", "fleet"]
        );
        assert!(l.warnings.is_empty());
    }
}

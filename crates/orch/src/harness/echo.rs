//! orch's built-in echo agent (`orch-echo`, see [`crate::echo`]).
//!
//! It fires orch's hooks itself, so nothing is injected; it accepts the same
//! session, model and system-prompt options as claude, which lets tests
//! check what spawn passes without an API key.

use super::{Harness, Launch, LaunchSpec, Permissions, Readiness, Supports, push_opt};

pub const HARNESS: Harness = Harness {
    name: "echo",
    program: "orch-echo",
    install_hint: "orch-echo ships with orch: run ./install.sh (it must sit next to orch-spawn or on PATH)",
    readiness: Readiness::SessionStart,
    events: "the agent runs orch-hook itself (with --no-hooks: state inferred from the screen)",
    exit_command: Some("/exit"),
    assigns_session_id: true,
    injects_hooks: false,
    permissions: Permissions::Reported,
    supports: Supports::ALL,
    build,
    ..Harness::BASE
};

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    match (&s.resume, &s.session_id) {
        (Some(id), _) => push_opt(a, "--resume", &Some(id.clone())),
        (None, id) => push_opt(a, "--session-id", id),
    }
    push_opt(a, "--model", &s.model);
    if !s.system_prompt.is_empty() {
        a.push(format!("--append-system-prompt={}", s.system_prompt));
    }
    a.extend(s.extra_args.iter().cloned());
    // The echo agent has no tools and no permissions: outfit tool lists and
    // dirs are meaningless for it, not errors.
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "/bin/orch-echo".into(),
            session_id: Some("s1".into()),
            system_prompt: "fleet".into(),
            extra_args: vec!["--dialog".into()],
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "/bin/orch-echo",
                "--session-id",
                "s1",
                "--append-system-prompt=fleet",
                "--dialog"
            ]
        );
        let l = HARNESS.launch(&LaunchSpec {
            program: "orch-echo".into(),
            session_id: Some("s1".into()),
            resume: Some("old".into()),
            ..Default::default()
        });
        assert_eq!(l.argv, ["orch-echo", "--resume", "old"]);
    }
}

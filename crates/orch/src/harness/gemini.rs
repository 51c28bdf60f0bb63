//! Google Gemini CLI (`gemini`).
//!
//! Events: Gemini CLI hooks (Claude-style shape: `SessionStart`,
//! `BeforeAgent`, `AfterAgent`, `SessionEnd`, `Notification`) live only in
//! settings files (`~/.gemini/settings.json`, project `.gemini/`), with no
//! command-line way to add them, so they reach orch when `orch up` installed
//! them; otherwise readiness is read off the screen. Gemini has no option to
//! append to its system prompt (`GEMINI_SYSTEM_MD` replaces it whole), so
//! the fleet prompt is not given: spawn says so.

use super::{Harness, Launch, LaunchSpec, Permissions, Readiness, Supports, push_opt};

pub const HARNESS: Harness = Harness {
    name: "gemini",
    program: "gemini",
    install_hint: "install the Gemini CLI: npm install -g @google/gemini-cli",
    readiness: Readiness::SessionStartOrQuiet,
    events: "hooks in ~/.gemini/settings.json when `orch up` installed them; otherwise state inferred from the screen",
    exit_command: Some("/quit"),
    assigns_session_id: false,
    injects_hooks: false,
    glue: None,
    permissions: Permissions::Reported,
    ready_screen: None,
    receipt_wait: None,
    supports: Supports {
        system_prompt: false,
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
    },
    build,
};

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    push_opt(a, "--resume", &s.resume);
    push_opt(a, "--model", &s.model);
    if s.bypass {
        a.push("--yolo".into());
    }
    for d in &s.add_dirs {
        a.push("--include-directories".into());
        a.push(d.clone());
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
            model: Some("gemini-2.5-pro".into()),
            system_prompt: "fleet".into(),
            bypass: true,
            add_dirs: vec!["/d".into()],
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "gemini",
                "--model",
                "gemini-2.5-pro",
                "--yolo",
                "--include-directories",
                "/d"
            ]
        );
        assert!(l.warnings[0].contains("system prompt"), "{:?}", l.warnings);
    }
}

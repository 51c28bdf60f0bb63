//! pi coding agent (`pi`, verified on 0.73.1).
//!
//! Events: orch's pi extension (`hooks/pi/orch.ts`), which spawn writes to
//! the state dir's `glue/` and passes with `-e`, so a spawned pi reports
//! even where `orch up` never installed the extension; the copy `orch up`
//! installs in `~/.pi/agent/extensions/` stays quiet in spawned panes.
//! Readiness is pi's own `session_start`, the receipt its `input` event,
//! the turn end `agent_end` with the reply text.
//!
//! pi has no permission prompts at all (it runs every tool without asking):
//! nothing to bypass, and `--no-bypass` is said to change nothing. It takes
//! `--append-system-prompt` (the fleet prompt), `--model`, and
//! `--session <id|path>` to resume (an id is looked up among the sessions
//! of the working directory, so resume from the same directory).

use super::{
    GlueFile, Harness, Launch, LaunchSpec, Permissions, Readiness, Supports, push_opt,
    spawned_asset,
};

pub const HARNESS: Harness = Harness {
    name: "pi",
    program: "pi",
    install_hint: "install pi: npm install -g @mariozechner/pi-coding-agent",
    readiness: Readiness::SessionStart,
    events: "orch's extension passed with -e at spawn (orch-hook --spawned …); the one `orch up` installs is then quiet",
    exit_command: Some("/quit"),
    assigns_session_id: false,
    injects_hooks: true,
    glue: Some(glue),
    permissions: Permissions::None,
    supports: Supports {
        add_dirs: false,
        allowed_tools: false,
        disallowed_tools: false,
        ..Supports::ALL
    },
    build,
    ..Harness::BASE
};

/// The extension spawn passes with `-e`.
fn glue(hook_program: &str, _bypass: bool) -> GlueFile {
    spawned_asset("pi/orch.ts", "pi-orch", "ts", hook_program)
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    if let Some(f) = &s.glue_file {
        a.push("-e".into());
        a.push(f.clone());
    }
    push_opt(a, "--session", &s.resume);
    push_opt(a, "--model", &s.model);
    if !s.system_prompt.is_empty() {
        // pi's parser takes the next argument whatever it starts with (and
        // has no `--flag=value` form: that would be an unknown flag).
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
            model: Some("mock/m".into()),
            system_prompt: "fleet".into(),
            resume: Some("01a2358e".into()),
            glue_file: Some("/state/glue/pi-orch-1.ts".into()),
            bypass: true,
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            [
                "pi",
                "-e",
                "/state/glue/pi-orch-1.ts",
                "--session",
                "01a2358e",
                "--model",
                "mock/m",
                "--append-system-prompt",
                "fleet"
            ]
        );
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn no_bypass_says_pi_never_asks() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "pi".into(),
            bypass: false,
            ..Default::default()
        });
        assert_eq!(l.argv, ["pi"]);
        assert!(l.warnings[0].contains("no permission prompts"), "{l:?}");
    }

    #[test]
    fn spawned_extension_passes_the_spawned_flag() {
        let g = glue("/opt/orch/orch-hook", true);
        assert!(
            g.text
                .contains("const ORCH_HOOK = \"/opt/orch/orch-hook\";")
        );
        assert!(g.text.contains("const SPAWNED = true;"));
        assert!(!g.text.contains('@'), "placeholder left");
    }
}

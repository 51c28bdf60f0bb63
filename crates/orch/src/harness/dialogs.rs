//! Start-up screens that block an unattended agent, in one table.
//!
//! Each row: the harness, a short kind, the texts that identify the screen
//! (a row matches when **all** strings of **any one** of its alternatives are
//! on screen; matching is case-sensitive so a status-bar mention such as
//! claude's "bypass permissions on" does not look like the warning dialog),
//! and the fix a person or the operator can apply. `{pane}` and `{cwd}` in a
//! fix are filled in when it is reported.
//!
//! The claude rows were checked against Claude Code 2.1.197's and 2.1.332's
//! real screens (see the tests; 2.1.332 draws its menus without numbers and
//! preselects "No, exit" in the trust and bypass dialogs), the codex trust
//! and hooks-review rows against Codex 0.169–0.171; the other texts come from
//! the harnesses' own strings and are unverified here. Adjust a row when a
//! harness rewords a screen;
//! nothing else needs to change.

/// One start-up screen.
#[derive(Debug)]
pub struct Dialog {
    pub harness: &'static str,
    pub kind: &'static str,
    pub alternatives: &'static [&'static [&'static str]],
    pub fix: &'static str,
}

pub const DIALOGS: &[Dialog] = &[
    Dialog {
        harness: "claude",
        kind: "trust",
        alternatives: &[
            &["Do you trust the files in this folder?"],
            &["Is this a project you created or one you trust"],
            &["Yes, I trust this folder"],
        ],
        fix: "answer it in the pane (orch-spawn --show {pane}, or tmux select-pane -t {pane}); to skip it next time set projects[\"{cwd}\"].hasTrustDialogAccepted=true in $CLAUDE_CONFIG_DIR/.claude.json",
    },
    Dialog {
        harness: "claude",
        kind: "api-key",
        alternatives: &[
            &["Do you want to use this API key?"],
            &["Detected a custom API key"],
        ],
        fix: "answer it in the pane (orch-spawn --show {pane}); to skip it add the key's last 20 characters to customApiKeyResponses.approved in $CLAUDE_CONFIG_DIR/.claude.json, or use ANTHROPIC_AUTH_TOKEN instead of ANTHROPIC_API_KEY",
    },
    Dialog {
        harness: "claude",
        kind: "bypass-permissions",
        alternatives: &[
            &["Bypass Permissions mode", "Yes, I accept"],
            &["WARNING: Claude Code running in Bypass Permissions mode"],
        ],
        fix: "answer it in the pane (orch-spawn --show {pane}); to skip it set \"skipDangerousModePermissionPrompt\": true in $CLAUDE_CONFIG_DIR/settings.json, or spawn with --no-bypass",
    },
    Dialog {
        harness: "claude",
        kind: "login",
        alternatives: &[
            &["Select login method"],
            &["Claude account with subscription"],
            &["Invalid API key", "/login"],
        ],
        fix: "Claude Code is not logged in: run `claude` once yourself and log in (or export ANTHROPIC_API_KEY), then spawn again; the pane {pane} is left open",
    },
    Dialog {
        harness: "claude",
        kind: "settings-warning",
        alternatives: &[&["Settings Warning", "Continue"]],
        fix: "Claude Code found settings it does not understand (often a hook event name this version does not know) and waits for an answer: read it in the pane (orch-spawn --show {pane}), fix the file it names, then spawn again",
    },
    Dialog {
        harness: "claude",
        kind: "onboarding",
        alternatives: &[&["Choose the text style that looks best with your terminal"]],
        fix: "Claude Code's first-run setup is showing: run `claude` once yourself to finish it (or set \"hasCompletedOnboarding\": true in $CLAUDE_CONFIG_DIR/.claude.json), then spawn again",
    },
    Dialog {
        harness: "codex",
        kind: "trust",
        alternatives: &[
            &["Trust this folder?", "Trust and continue"],
            &["Do you trust the contents of this directory"],
            &["allow Codex to work in this folder"],
        ],
        fix: "answer it in the pane (orch-spawn --show {pane}); to skip it add [projects.\"{cwd}\"] trust_level = \"trusted\" to $CODEX_HOME/config.toml (default ~/.codex)",
    },
    Dialog {
        harness: "codex",
        kind: "hooks-review",
        alternatives: &[&["Hooks need review", "Trust all and continue"]],
        fix: "Codex did not trust orch's hooks (their trust hashes did not match this Codex version): answer it in the pane (orch-spawn --show {pane}; 2 trusts them), and report the Codex version to orch",
    },
    Dialog {
        harness: "codex",
        kind: "login",
        alternatives: &[&["Sign in with ChatGPT"], &["Provide your own API key"]],
        fix: "codex is not logged in: run `codex login` (or export OPENAI_API_KEY), then spawn again",
    },
    Dialog {
        harness: "codex",
        kind: "update",
        alternatives: &[&["Update available!", "Skip"]],
        fix: "codex offers an update: answer it in the pane (orch-spawn --show {pane}) or update codex, then spawn again",
    },
    Dialog {
        harness: "gemini",
        kind: "trust",
        // Gemini CLI 0.61.0's screen (shared/recipes/gemini/screens.txt).
        alternatives: &[
            &["Do you trust the files in this folder?", "Trust folder"],
            &["Do you trust this folder?"],
        ],
        fix: "answer it in the pane (orch-spawn --show {pane}); to skip it add {\"{cwd}\": \"TRUST_FOLDER\"} to ~/.gemini/trustedFolders.json (answering it restarts gemini)",
    },
    Dialog {
        harness: "gemini",
        kind: "login",
        alternatives: &[
            &["How would you like to authenticate"],
            &["Login with Google"],
        ],
        fix: "gemini has no auth method selected: run `gemini` once yourself and pick one (with GEMINI_API_KEY exported: set security.auth.selectedType to \"gemini-api-key\" in ~/.gemini/settings.json), then spawn again",
    },
    Dialog {
        harness: "echo",
        kind: "trust",
        alternatives: &[&["Do you trust the files in this folder?"]],
        fix: "answer it in the pane (press 1 in {pane}: orch-spawn --show {pane}), or spawn echo without --dialog",
    },
];

/// The first dialog of `harness` visible on `screen`.
pub fn detect(harness: &str, screen: &str) -> Option<&'static Dialog> {
    DIALOGS.iter().find(|d| {
        d.harness == harness
            && d.alternatives
                .iter()
                .any(|alt| alt.iter().all(|needle| screen.contains(needle)))
    })
}

impl Dialog {
    /// The fix with the pane and directory filled in.
    pub fn fix_for(&self, pane: &str, cwd: &str) -> String {
        self.fix.replace("{pane}", pane).replace("{cwd}", cwd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_screens() {
        let trust = "╭──────╮\n│ Do you trust the files in this folder? │\n│ ❯ 1. Yes, proceed │";
        assert_eq!(detect("claude", trust).unwrap().kind, "trust");
        let key = "Detected a custom API key in your environment\nDo you want to use this API key?";
        assert_eq!(detect("claude", key).unwrap().kind, "api-key");
        let warn = "WARNING: Claude Code running in Bypass Permissions mode\n 1. No, exit\n 2. Yes, I accept";
        assert_eq!(detect("claude", warn).unwrap().kind, "bypass-permissions");
        // The footer of a ready, bypassing session is not a dialog.
        let ready = "> \n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n ? for shortcuts";
        assert!(detect("claude", ready).is_none());
        assert_eq!(
            detect(
                "claude",
                "Select login method:\n 1. Claude account with subscription"
            )
            .unwrap()
            .kind,
            "login"
        );
    }

    /// Screens captured from Claude Code 2.1.197 started by orch-spawn
    /// (offline, mock API), 2026-11-20.
    #[test]
    fn real_claude_2_1_197_screens() {
        let trust = " Accessing workspace:\n /tmp/ccw/untrusted\n Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team). If not, take a moment to review what's in this\n folder first.\n Claude Code'll be able to read, edit, and execute files here.\n Security guide\n ❯ 1. Yes, I trust this folder\n   2. No, exit\n Enter to confirm · Esc to cancel";
        assert_eq!(detect("claude", trust).unwrap().kind, "trust");
        let key = "  Detected a custom API key in your environment\n  ANTHROPIC_API_KEY: sk-ant-...abcdefghijKLMNOPQRST\n  Do you want to use this API key?\n    1. Yes\n  ❯ 2. No (recommended)\n  Enter to confirm · Esc to cancel";
        assert_eq!(detect("claude", key).unwrap().kind, "api-key");
        let warn = "  WARNING: Claude Code running in Bypass Permissions mode\n  In Bypass Permissions mode, Claude Code will not ask for your approval before running potentially dangerous commands.\n  ❯ 1. No, exit\n    2. Yes, I accept\n  Enter to confirm · Esc to cancel";
        assert_eq!(detect("claude", warn).unwrap().kind, "bypass-permissions");
        let ready = "│   Opus 4.8 (1M context) · API Usage Billing   │\n❯ \n  ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents                   ● high · /effort";
        assert!(detect("claude", ready).is_none());
    }

    /// Screens of Codex 0.169 (recipe captures), cwd a git repo not in
    /// `[projects]`, and hooks given without trust entries.
    #[test]
    fn real_codex_screens() {
        let trust = "  Folder access\n  /tmp/untrusted\n\n  Trust this folder? Codex can read, edit, and run files here, subject to your permission settings.\n\n› 1. Trust and continue\n  2. Back to Agent Command Center\n\n  enter continue · esc back";
        assert_eq!(detect("codex", trust).unwrap().kind, "trust");
        let hooks = "  Hooks need review\n  14 hooks are new or changed.\n  Hooks can run outside the sandbox after you trust them.\n\n› 1. Review hooks\n  2. Trust all and continue\n  3. Continue without trusting (hooks won't run)\n\n  enter confirm · esc skip";
        assert_eq!(detect("codex", hooks).unwrap().kind, "hooks-review");
        let ready = "› Ask Codex to do anything\n\n  mock-model default · /p\n  ← for agents · ? for shortcuts";
        assert!(detect("codex", ready).is_none());
    }

    /// Claude Code 2.1.332's screens (offline, mock API).
    #[test]
    fn real_claude_2_1_332_screens() {
        let trust = " Accessing workspace:\n /tmp/p\n Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source project, or work from your team). If not, take a moment to review what's in this\n folder first.\n Security guide\n ❯ No, exit\n   Yes, I trust this folder\n Enter to confirm · Esc to cancel";
        assert_eq!(detect("claude", trust).unwrap().kind, "trust");
        let warn = "  WARNING: Claude Code running in Bypass Permissions mode\n  ❯ No, exit\n    Yes, I accept\n  Enter to confirm · Esc to cancel";
        assert_eq!(detect("claude", warn).unwrap().kind, "bypass-permissions");
        let settings = "  Settings Warning\n  /c/settings.json\n  └ hooks.FooBogusEvent: Unknown hook event \"FooBogusEvent\" was ignored.\n  ❯ 1. Continue\n    2. Fix with Claude\n    3. Exit and fix manually";
        assert_eq!(detect("claude", settings).unwrap().kind, "settings-warning");
        let ready =
            "❯ \n  ⏸ manual mode on · ? for shortcuts · ← for agents      ◐ medium · /effort";
        assert!(detect("claude", ready).is_none());
    }

    #[test]
    fn harness_scoped_and_fix_filled() {
        let echo = "Do you trust the files in this folder?\n\n  /tmp/x\n\n❯ 1. Yes, proceed";
        let d = detect("echo", echo).unwrap();
        assert_eq!(d.kind, "trust");
        assert!(d.fix_for("%4", "/tmp/x").contains("%4"));
        assert!(detect("pi", echo).is_none());
        let claude = detect("claude", echo).unwrap();
        assert!(
            claude
                .fix_for("%4", "/tmp/x")
                .contains("projects[\"/tmp/x\"]")
        );
    }

    #[test]
    fn every_row_has_text_and_a_fix() {
        for d in DIALOGS {
            assert!(!d.alternatives.is_empty() && d.alternatives.iter().all(|a| !a.is_empty()));
            assert!(!d.fix.is_empty());
            assert!(super::super::find(d.harness).is_some(), "{}", d.harness);
        }
    }
}

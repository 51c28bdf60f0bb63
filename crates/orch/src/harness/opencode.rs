//! opencode (`opencode`, verified on 1.18.33).
//!
//! Events: orch's opencode plugin (`hooks/opencode/orch.js`), which spawn
//! writes to the state dir's `glue/` and names in `OPENCODE_CONFIG_CONTENT`
//! (`"plugin": ["file://…"]`, inline config applied over the user's files).
//! opencode loads plugins before its TUI has drawn, so readiness is the
//! plugin's `session_start` and then the TUI's footer ([`READY_SCREEN`]).
//! The receipt is `chat.message`, the turn end `session.idle` with the reply
//! text and the token use (`usage`, from `message.updated`: opencode keeps
//! its sessions in SQLite, not a transcript orch reads), a permission prompt
//! `permission.asked` (→ `blocked:permission`). Its TUI reads a paste and
//! the Enter after it in order, so Enter goes at once (`enter_unseen`).
//!
//! Bypass is `"permission"` rules in the same inline config (`--auto` would
//! still raise `permission.asked` for every tool, read as a prompt). Without
//! bypass the user's own opencode rules apply; opencode's default allows most
//! tools, so it asks only where those rules say `"ask"`. No flag appends to
//! its system prompt: the plugin adds the fleet prompt (`ORCH_SYSTEM_PROMPT`)
//! in `experimental.chat.system.transform`. Resume: `--session <ses_…>` (the
//! id arrives with the first prompt: opencode makes a session only then).
//!
//! Offline, opencode first waits for an `npm install @opencode-ai/plugin`
//! into its config dir whenever any plugin is configured, unless the dir
//! already holds it (any start online does that): ~70 s of retries. Spawn
//! warns when the dir lacks it.

use std::path::PathBuf;

use serde_json::json;

use super::{
    GlueFile, Harness, Launch, LaunchSpec, Permissions, Readiness, ReadyScreen, Supports, push_opt,
    spawned_asset,
};

/// The TUI's footer, drawn once it takes input (idle and busy alike).
pub const READY_SCREEN: &str = "ctrl+p commands";

/// opencode's TUI hands a prompt to its server, which runs `chat.message`:
/// on a loaded machine (load 24 on 2 cores) paste → receipt took up to 9.3 s,
/// against orch's 10 s default.
pub const RECEIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub const HARNESS: Harness = Harness {
    name: "opencode",
    program: "opencode",
    install_hint: "install opencode: npm install -g opencode-ai",
    readiness: Readiness::SessionStart,
    events: "orch's plugin named in OPENCODE_CONFIG_CONTENT at spawn (orch-hook --spawned …)",
    exit_command: Some("/exit"),
    assigns_session_id: false,
    injects_hooks: true,
    glue: Some(glue),
    permissions: Permissions::Reported,
    receipt_wait: Some(RECEIPT_WAIT),
    supports: Supports {
        system_prompt: true,
        add_dirs: false,
        allowed_tools: false,
        disallowed_tools: false,
    },
    enter_delay: super::EnterDelay {
        enter_unseen: true,
        ..super::EnterDelay::NONE
    },
    ready_screen: Some(ReadyScreen {
        marker: READY_SCREEN,
        quiet_ms: 0,
    }),
    build,
};

/// The plugin spawn names in the inline config.
fn glue(hook_program: &str, _bypass: bool) -> GlueFile {
    spawned_asset("opencode/orch.js", "opencode-orch", "js", hook_program)
}

/// Permission rules that let every tool run without asking.
fn bypass_rules() -> serde_json::Value {
    json!({"*": "allow", "bash": "allow", "edit": "allow", "webfetch": "allow",
           "external_directory": "allow", "doom_loop": "allow"})
}

fn build(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    let a = &mut l.argv;
    a.push(s.program.clone());
    push_opt(a, "--session", &s.resume);
    push_opt(a, "--model", &s.model);
    a.extend(s.extra_args.iter().cloned());
    let mut cfg = serde_json::Map::new();
    if let Some(f) = &s.glue_file {
        cfg.insert("plugin".into(), json!([format!("file://{f}")]));
        if let Some(w) = plugin_install_warning() {
            l.warnings.push(w);
        }
    }
    if s.bypass {
        cfg.insert("permission".into(), bypass_rules());
    }
    if !cfg.is_empty() {
        l.env.push((
            "OPENCODE_CONFIG_CONTENT".into(),
            serde_json::Value::Object(cfg).to_string(),
        ));
    }
    if !s.system_prompt.is_empty() {
        l.env
            .push(("ORCH_SYSTEM_PROMPT".into(), s.system_prompt.clone()));
    }
    l
}

/// opencode's global config dir (`$XDG_CONFIG_HOME/opencode`).
fn config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("opencode"))
}

/// Said when opencode will first install its plugin package: offline that
/// stalls its start-up for over a minute.
fn plugin_install_warning() -> Option<String> {
    let dir = config_dir()?;
    let pkg = dir.join("node_modules/@opencode-ai/plugin");
    (!pkg.is_dir()).then(|| {
        format!(
            "{} has no node_modules/@opencode-ai/plugin: opencode installs it from npm before loading orch's plugin (offline that delays start-up by ~70 s); start opencode once online to fix",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_plugin_and_bypass_through_env() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "opencode".into(),
            model: Some("mock/m".into()),
            resume: Some("ses_1".into()),
            glue_file: Some("/state/glue/opencode-orch-1.js".into()),
            system_prompt: "fleet".into(),
            bypass: true,
            ..Default::default()
        });
        assert_eq!(
            l.argv,
            ["opencode", "--session", "ses_1", "--model", "mock/m"]
        );
        let (k, v) = &l.env[0];
        assert_eq!(k, "OPENCODE_CONFIG_CONTENT");
        let cfg: serde_json::Value = serde_json::from_str(v).unwrap();
        assert_eq!(cfg["plugin"][0], "file:///state/glue/opencode-orch-1.js");
        assert_eq!(cfg["permission"]["bash"], "allow");
        assert_eq!(l.env[1], ("ORCH_SYSTEM_PROMPT".into(), "fleet".into()));
    }

    #[test]
    fn no_bypass_leaves_the_users_rules() {
        let l = HARNESS.launch(&LaunchSpec {
            program: "opencode".into(),
            bypass: false,
            ..Default::default()
        });
        assert_eq!(l.argv, ["opencode"]);
        assert!(l.env.is_empty(), "{l:?}");
    }

    #[test]
    fn spawned_plugin_passes_the_spawned_flag() {
        let g = glue("/opt/orch/orch-hook", true);
        assert!(
            g.text
                .contains("const ORCH_HOOK = \"/opt/orch/orch-hook\";")
        );
        assert!(g.text.contains("const SPAWNED = true;"));
    }
}

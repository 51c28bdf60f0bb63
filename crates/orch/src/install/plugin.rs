//! orch as a Claude Code plugin: the second way in, next to `orch up`.
//!
//! The repository is a plugin marketplace (`.claude-plugin/marketplace.json`)
//! holding one plugin, the repository itself (`.claude-plugin/plugin.json`),
//! whose parts are the repository's `hooks/hooks.json` and `skills/`. Every
//! hook runs `hooks/claude/plugin-hook.sh`, which runs `orch-hook` when it
//! can find one and does nothing otherwise.
//!
//! Claude Code installs a plugin by copying it to
//! `$CLAUDE_CONFIG_DIR/plugins/cache/…` and recording it in
//! `plugins/installed_plugins.json`; `enabledPlugins` in `settings.json`
//! says whether it runs. `orch doctor` reads both to find the hooks the
//! plugin registers and probes them like `orch up`'s.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::assets::{CLAUDE_EVENTS, hook_asset};

/// The plugin's name (in `plugin.json` and `marketplace.json`).
pub const PLUGIN: &str = "orch";

/// How a person installs the plugin (the README says the same).
pub const INSTALL_HINT: &str =
    "claude plugin marketplace add orch-dev/orch && claude plugin install orch@orch";

/// The variable Claude Code sets (and expands) to the plugin's directory.
pub const ROOT_VAR: &str = "CLAUDE_PLUGIN_ROOT";

/// The command the plugin registers for `orch-hook` argument `arg`.
pub fn hook_command(arg: &str) -> String {
    format!("sh \"${{{ROOT_VAR}}}/hooks/claude/plugin-hook.sh\" {arg}")
}

/// (event, command) of every handler in a `hooks.json` document.
pub fn commands_in(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (event, groups) in doc["hooks"].as_object().into_iter().flatten() {
        for group in groups.as_array().into_iter().flatten() {
            for handler in group["hooks"].as_array().into_iter().flatten() {
                if let Some(c) = handler["command"].as_str() {
                    out.push((event.clone(), c.to_string()));
                }
            }
        }
    }
    out
}

/// Is `command` one of the plugin's hook commands? (Its `orch-hook`
/// argument, if so.)
pub fn parse_command(command: &str) -> Option<&str> {
    let arg = command.rsplit(' ').next()?;
    (hook_command(arg) == command).then_some(arg)
}

/// The embedded `hooks/hooks.json` (what this build's plugin registers).
pub fn embedded_hooks() -> Value {
    hook_asset("hooks.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null)
}

/// The orch plugin as Claude Code has it installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `orch@<marketplace>`.
    pub key: String,
    /// The plugin's copy (`CLAUDE_PLUGIN_ROOT` for its hooks).
    pub root: PathBuf,
    /// `enabledPlugins` says it runs (absent counts as enabled, as for
    /// Claude Code).
    pub enabled: bool,
}

impl Installed {
    /// The installed copy's `hooks/hooks.json` ((event, command) pairs);
    /// empty when it cannot be read.
    pub fn hooks(&self) -> Vec<(String, String)> {
        std::fs::read(self.root.join("hooks/hooks.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|d| commands_in(&d))
            .unwrap_or_default()
    }
}

/// The orch plugin installed in the Claude config dir `claude_dir`, if any:
/// `installed_plugins.json` (version 2: `{"plugins": {"orch@m": [{"installPath": …}]}}`)
/// joined with `enabledPlugins` in `settings.json`.
pub fn installed(claude_dir: &Path) -> Option<Installed> {
    let read = |p: PathBuf| -> Value {
        std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    let list = read(claude_dir.join("plugins/installed_plugins.json"));
    let settings = read(claude_dir.join("settings.json"));
    let (key, entries) = list["plugins"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.split('@').next() == Some(PLUGIN))?;
    let root = entries
        .as_array()?
        .iter()
        .find_map(|e| e["installPath"].as_str())?;
    let enabled = settings["enabledPlugins"][key.as_str()]
        .as_bool()
        .unwrap_or(true);
    Some(Installed {
        key: key.clone(),
        root: PathBuf::from(root),
        enabled,
    })
}

/// Does this `claude` have the plugin commands? (`claude plugin --help`
/// succeeds within a few seconds.)
pub fn claude_supports_plugins(claude: &Path) -> bool {
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new(claude)
        .args(["plugin", "--help"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    super::prereqs::wait_bounded(&mut child, std::time::Duration::from_secs(5))
        .is_some_and(|s| s.success())
}

/// The events (Claude Code's names) the plugin must register: the one
/// table, [`CLAUDE_EVENTS`].
pub fn events() -> impl Iterator<Item = (&'static str, &'static str)> {
    CLAUDE_EVENTS.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hooks/hooks.json registers exactly the events of the one table
    /// (CLAUDE_EVENTS), one plugin command each, and nothing else:
    /// Claude Code drops every hook of a plugin naming an event it does not
    /// know, so an extra event must be a deliberate change of the table.
    #[test]
    fn plugin_hooks_json_matches_the_event_table() {
        let doc = embedded_hooks();
        let got = commands_in(&doc);
        let want: Vec<(String, String)> = events()
            .map(|(e, a)| (e.to_string(), hook_command(a)))
            .collect();
        assert_eq!(got, want);
        for (_, c) in &got {
            assert!(parse_command(c).is_some(), "{c}");
        }
        // Same timeout as orch up's entries.
        for (_, groups) in doc["hooks"].as_object().unwrap() {
            assert_eq!(groups[0]["hooks"][0]["timeout"], 10);
        }
    }

    #[test]
    fn plugin_commands_are_recognised_exactly() {
        assert_eq!(
            parse_command("sh \"${CLAUDE_PLUGIN_ROOT}/hooks/claude/plugin-hook.sh\" stop"),
            Some("stop")
        );
        assert_eq!(
            parse_command("sh \"${CLAUDE_PLUGIN_ROOT}/hooks/claude/plugin-hook.sh\" stop; rm x"),
            None
        );
        assert_eq!(parse_command("orch-hook stop"), None);
    }

    #[test]
    fn installed_plugin_is_found_with_its_enabled_flag() {
        let d = std::env::temp_dir().join(format!("orch-plugin-test-{}", std::process::id()));
        std::fs::create_dir_all(d.join("plugins")).unwrap();
        assert!(installed(&d).is_none());
        std::fs::write(
            d.join("plugins/installed_plugins.json"),
            r#"{"version":2,"plugins":{"other@x":[{"installPath":"/o"}],"orch@orch":[{"scope":"user","installPath":"/c/orch"}]}}"#,
        )
        .unwrap();
        let p = installed(&d).unwrap();
        assert_eq!((p.key.as_str(), p.enabled), ("orch@orch", true));
        assert_eq!(p.root, PathBuf::from("/c/orch"));
        std::fs::write(
            d.join("settings.json"),
            r#"{"enabledPlugins":{"orch@orch":false}}"#,
        )
        .unwrap();
        assert!(!installed(&d).unwrap().enabled);
        std::fs::remove_dir_all(&d).unwrap();
    }
}

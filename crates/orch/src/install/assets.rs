//! The files orch installs, embedded from the repository's `skills/` and
//! `hooks/` trees (by `build.rs`), and what is made of them: hook entries
//! from a settings fragment, glue from a template, skill files.

use std::path::{Path, PathBuf};

use super::jsonhooks::HookSpec;
use crate::shellwords;

/// An embedded file from the repository's `skills/` or `hooks/`.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub data: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded hook glue file at `path` (relative to `hooks/`).
pub fn hook_asset(path: &str) -> Option<&'static [u8]> {
    HOOKS.iter().find(|a| a.path == path).map(|a| a.data)
}

/// Skill names embedded in this binary (directories under `skills/`).
pub fn skill_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SKILLS
        .iter()
        .filter_map(|a| a.path.split_once('/').map(|(n, _)| n))
        .collect();
    names.dedup();
    names
}

/// The skill files this binary installs under `skills_dir`.
pub fn skill_files(skills_dir: &Path) -> Vec<(PathBuf, &'static [u8], String)> {
    SKILLS
        .iter()
        .filter_map(|a| {
            let (name, _) = a.path.split_once('/')?;
            Some((skills_dir.join(a.path), a.data, format!("skill {name}")))
        })
        .collect()
}

/// Claude Code's event name → the `orch-hook` argument orch registers
/// (what `hooks/claude/settings.json` must contain; tested): the same
/// table spawn passes with `--settings`.
pub use crate::harness::claude::HOOK_EVENTS as CLAUDE_EVENTS;

/// The handlers a settings fragment from `hooks/` registers, with the
/// placeholder replaced by `orch_hook` (quoted for `sh`).
pub fn specs_from_fragment(asset: &str, orch_hook: &Path) -> Vec<HookSpec> {
    let data =
        hook_asset(asset).unwrap_or_else(|| panic!("hooks/{asset} is not embedded in this build"));
    let fragment: serde_json::Value = serde_json::from_slice(data)
        .unwrap_or_else(|e| panic!("hooks/{asset} is not valid JSON: {e}"));
    let quoted = shellwords::quote(&orch_hook.to_string_lossy());
    let mut specs = Vec::new();
    for (event, groups) in fragment["hooks"].as_object().into_iter().flatten() {
        for group in groups.as_array().into_iter().flatten() {
            for handler in group["hooks"].as_array().into_iter().flatten() {
                let command = handler["command"].as_str().unwrap_or_default();
                specs.push(HookSpec {
                    event: event.clone(),
                    command: command.replace("@ORCH_HOOK_SH@", &quoted),
                    timeout: handler["timeout"].as_u64(),
                });
            }
        }
    }
    specs
}

/// The hook entries orch registers in Claude Code's settings
/// (`hooks/claude/settings.json`).
pub fn claude_specs(orch_hook: &Path) -> Vec<HookSpec> {
    specs_from_fragment("claude/settings.json", orch_hook)
}

/// Fill a glue template's placeholders with the orch-hook path, for the
/// copy `orch up` installs (`@ORCH_SPAWNED@` is `false`).
pub fn render_template(template: &[u8], orch_hook: &Path) -> Vec<u8> {
    render(template, orch_hook, false)
}

/// The same for the copy `orch-spawn` passes on an agent's command line
/// (`@ORCH_SPAWNED@` is `true`: its hooks run `orch-hook --spawned`).
pub fn render_spawned(template: &[u8], orch_hook: &Path) -> Vec<u8> {
    render(template, orch_hook, true)
}

fn render(template: &[u8], orch_hook: &Path, spawned: bool) -> Vec<u8> {
    let path = orch_hook.to_string_lossy();
    String::from_utf8_lossy(template)
        .replace("@ORCH_SPAWNED@", if spawned { "true" } else { "false" })
        .replace("@ORCH_HOOK_SH@", &shellwords::quote(&path))
        .replace(
            "@ORCH_HOOK_JSON@",
            &serde_json::to_string(path.as_ref()).expect("string serializes"),
        )
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_quote_awkward_paths() {
        let specs = claude_specs(Path::new("/opt/my tools/orch-hook"));
        assert_eq!(specs[2].event, "Stop");
        assert_eq!(specs[2].command, "'/opt/my tools/orch-hook' stop");
        let parsed = super::super::jsonhooks::parse_orch_command(&specs[2].command).unwrap();
        assert_eq!(parsed.program, "/opt/my tools/orch-hook");
    }

    #[test]
    fn templates_are_filled() {
        let t = b"x @ORCH_HOOK_SH@ y @ORCH_HOOK_JSON@ @ORCH_SPAWNED@";
        let out = render_template(t, Path::new("/a b/orch-hook"));
        assert_eq!(out, b"x '/a b/orch-hook' y \"/a b/orch-hook\" false");
        let out = render_spawned(t, Path::new("/a b/orch-hook"));
        assert!(out.ends_with(b" true"));
    }

    #[test]
    fn embedded_assets_include_the_glue() {
        assert!(hook_asset("codex/notify.sh").is_some());
        assert!(hook_asset("pi/orch.ts").is_some());
        // Only files inside a skill directory are skills.
        assert!(
            skill_files(Path::new("/s"))
                .iter()
                .all(|(p, _, _)| p.parent() != Some(Path::new("/s")))
        );
    }
}

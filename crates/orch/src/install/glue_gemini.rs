//! Gemini CLI's glue: orch's hook entries in `~/.gemini/settings.json`,
//! merged like Claude Code's (`hooks/gemini/settings.json`).

use std::path::Path;

use anyhow::Result;

use super::assets::specs_from_fragment;
use super::glue::{Footprint, Glue, GluePlan, absent, skip};
use super::jsonhooks::HookSpec;
use super::manifest::Manifest;
use super::paths::gemini_dir;
use super::settings::JsonPlan;

pub const GLUE: Glue = Glue {
    harness: "gemini",
    hook_events: GEMINI_EVENTS,
    plan,
    footprint,
    check: None,
};

/// Gemini CLI's event name → `orch-hook` argument
/// (`hooks/gemini/settings.json`; tested).
pub const GEMINI_EVENTS: &[(&str, &str)] = &[
    ("SessionStart", "session_start"),
    ("BeforeAgent", "prompt"),
    ("AfterAgent", "stop"),
    ("Notification", "notify"),
    ("SessionEnd", "session_end"),
];

/// The hook entries orch registers in Gemini CLI's settings
/// (`hooks/gemini/settings.json`).
pub fn gemini_specs(orch_hook: &Path) -> Vec<HookSpec> {
    specs_from_fragment("gemini/settings.json", orch_hook)
}

fn plan(orch_hook: &Path, _: &Manifest) -> Result<Box<dyn GluePlan>> {
    let dir = gemini_dir()?;
    if let Some(absent) = absent("gemini", &dir, "~/.gemini") {
        return Ok(absent);
    }
    let path = dir.join("settings.json");
    match JsonPlan::new("gemini", &path, gemini_specs(orch_hook)) {
        Ok(p) => Ok(Box::new(p)),
        Err(e) => Ok(skip("gemini", "skipped", Some(path), format!("{e:#}"))),
    }
}

fn footprint(_: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        settings: vec![gemini_dir()?.join("settings.json")],
        ..Footprint::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::assets::{CLAUDE_EVENTS, claude_specs};
    use crate::install::jsonhooks;

    #[test]
    fn specs_quote_awkward_paths() {
        let g = gemini_specs(Path::new("/bin/orch-hook"));
        assert_eq!(g[2].command, "/bin/orch-hook stop --harness gemini");
        assert!(jsonhooks::parse_orch_command(&g[2].command).is_some());
    }

    #[test]
    fn fragments_register_exactly_the_documented_events() {
        let hook = Path::new("/bin/orch-hook");
        for (specs, table, harness) in [
            (claude_specs(hook), CLAUDE_EVENTS, None),
            (gemini_specs(hook), GEMINI_EVENTS, Some("gemini")),
        ] {
            assert_eq!(specs.len(), table.len());
            for (spec, (event, arg)) in specs.iter().zip(table) {
                assert_eq!(spec.event, *event);
                let c = jsonhooks::parse_orch_command(&spec.command).unwrap();
                assert_eq!(
                    (c.program.as_str(), c.event.as_str()),
                    ("/bin/orch-hook", *arg)
                );
                assert_eq!(c.harness.as_deref(), harness);
                assert!(spec.timeout.is_some());
            }
        }
        assert_eq!(claude_specs(hook)[0].timeout, Some(10), "seconds");
        assert_eq!(gemini_specs(hook)[0].timeout, Some(10_000), "milliseconds");
    }
}

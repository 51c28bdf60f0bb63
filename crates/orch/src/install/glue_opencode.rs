//! opencode's glue: a plugin, `<opencode config dir>/plugins/orch.js`
//! (auto-loaded: opencode imports `{plugin,plugins}/*.{js,ts}` of each
//! config dir), rendered from `hooks/opencode/orch.js`. It reports opencodes
//! started by hand; in panes `orch-spawn` started it stays quiet (spawn
//! passes its own copy).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::glue::{Footprint, Glue, GluePlan, absent, one_file_plan, rendered_record};
use super::manifest::Manifest;
use super::paths::opencode_config_dir;

pub const GLUE: Glue = Glue {
    harness: "opencode",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

fn plugin_path() -> Result<PathBuf> {
    Ok(opencode_config_dir()?.join("plugins").join("orch.js"))
}

fn plan(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    let dir = opencode_config_dir()?;
    if let Some(absent) = absent("opencode", &dir, "~/.config/opencode") {
        return Ok(absent);
    }
    one_file_plan(
        "opencode",
        plugin_path()?,
        "opencode/orch.js",
        "opencode plugin",
        orch_hook,
        manifest,
    )
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        files: rendered_record(
            plugin_path()?,
            "opencode/orch.js",
            "opencode plugin",
            orch_hook,
        )
        .into_iter()
        .collect(),
        ..Footprint::default()
    })
}

//! opencode's glue: a plugin, `<opencode config dir>/plugins/orch.js`
//! (auto-loaded: opencode imports `{plugin,plugins}/*.{js,ts}` of each
//! config dir), rendered from `hooks/opencode/orch.js`. It reports opencodes
//! started by hand; in panes `orch-spawn` started it stays quiet (spawn
//! passes its own copy).

use std::path::Path;

use anyhow::Result;

use super::glue::{AssetFile, Footprint, Glue, GluePlan};
use super::manifest::Manifest;
use super::paths::opencode_config_dir;

pub const GLUE: Glue = Glue {
    harness: "opencode",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

const FILE: AssetFile = AssetFile {
    harness: "opencode",
    dir: opencode_config_dir,
    dir_shown: "~/.config/opencode",
    file: "plugins/orch.js",
    asset: "opencode/orch.js",
    what: "opencode plugin",
};

fn plan(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    FILE.plan(orch_hook, manifest)
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    FILE.footprint(orch_hook)
}

//! pi's glue: an extension, `<pi agent dir>/extensions/orch.ts`, rendered
//! from `hooks/pi/orch.ts`.

use std::path::Path;

use anyhow::Result;

use super::glue::{AssetFile, Footprint, Glue, GluePlan};
use super::manifest::Manifest;
use super::paths::pi_agent_dir;

pub const GLUE: Glue = Glue {
    harness: "pi",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

const FILE: AssetFile = AssetFile {
    harness: "pi",
    dir: pi_agent_dir,
    dir_shown: "~/.pi/agent",
    file: "extensions/orch.ts",
    asset: "pi/orch.ts",
    what: "pi extension",
};

fn plan(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    FILE.plan(orch_hook, manifest)
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    FILE.footprint(orch_hook)
}

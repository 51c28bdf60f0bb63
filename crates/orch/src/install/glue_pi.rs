//! pi's glue: an extension, `<pi agent dir>/extensions/orch.ts`, rendered
//! from `hooks/pi/orch.ts`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::glue::{Footprint, Glue, GluePlan, absent, one_file_plan, rendered_record};
use super::manifest::Manifest;
use super::paths::pi_agent_dir;

pub const GLUE: Glue = Glue {
    harness: "pi",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

fn extension_path() -> Result<PathBuf> {
    Ok(pi_agent_dir()?.join("extensions").join("orch.ts"))
}

fn plan(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    let dir = pi_agent_dir()?;
    if let Some(absent) = absent("pi", &dir, "~/.pi/agent") {
        return Ok(absent);
    }
    one_file_plan(
        "pi",
        extension_path()?,
        "pi/orch.ts",
        "pi extension",
        orch_hook,
        manifest,
    )
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        files: rendered_record(extension_path()?, "pi/orch.ts", "pi extension", orch_hook)
            .into_iter()
            .collect(),
        ..Footprint::default()
    })
}

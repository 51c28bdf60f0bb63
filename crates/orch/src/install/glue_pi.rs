//! pi's glue: an extension, `<pi agent dir>/extensions/orch.ts`, rendered
//! from `hooks/pi/orch.ts`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::assets::{hook_asset, render_template};
use super::files::{FilePlan, apply_file, plan_file};
use super::glue::{Footprint, Glue, GlueOutcome, GluePlan, absent, rendered_record, skip};
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
    let template = hook_asset("pi/orch.ts").context("pi glue is missing from this build")?;
    let plan = plan_file(
        extension_path()?,
        render_template(template, orch_hook),
        0o644,
        "pi extension".into(),
        manifest,
    );
    if plan.action == "conflict" {
        let reason = plan.reason.clone().unwrap_or_default();
        return Ok(skip("pi", "skipped", Some(plan.path), reason));
    }
    Ok(Box::new(PiPlan(plan)))
}

struct PiPlan(FilePlan);

impl GluePlan for PiPlan {
    fn outcome(&self) -> GlueOutcome {
        GlueOutcome {
            harness: "pi",
            action: match self.0.action {
                "create" => "installed",
                "update" => "updated",
                _ => "unchanged",
            },
            path: Some(self.0.path.clone()),
            reason: None,
        }
    }
    fn changes(&self) -> bool {
        self.0.action != "unchanged"
    }
    fn apply(&self, manifest: &mut Manifest) -> Result<()> {
        apply_file(&self.0, manifest).map(|_| ())
    }
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        files: rendered_record(extension_path()?, "pi/orch.ts", "pi extension", orch_hook)
            .into_iter()
            .collect(),
        ..Footprint::default()
    })
}

//! The seam between `up`/`down`/`doctor` and each harness's glue (the
//! hook entries, scripts, extensions and config lines that make a
//! harness report to orch). Claude Code's hooks and orch's skills are the
//! core of `up` and not glue; every other harness is one `glue_<name>`
//! module exporting one [`Glue`], listed in [`GLUES`]. Adding a harness is
//! adding a module and a line here: `up`, `down` and `doctor` only walk
//! the list.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use anyhow::Context;

use super::files::{FilePlan, apply_file, plan_file};
use super::manifest::{FileRecord, Manifest, TomlRecord};
use super::{glue_codex, glue_gemini, glue_opencode, glue_pi};

/// One harness's glue: how to install it, find it again, check it.
pub struct Glue {
    pub harness: &'static str,
    /// The hook events its JSON settings register, event → `orch-hook`
    /// argument (empty when it has no JSON settings).
    pub hook_events: &'static [(&'static str, &'static str)],
    /// `orch up`: read and decide what to install for `orch_hook`; write
    /// nothing. A harness that is absent or whose files orch must not
    /// touch gives a [`skip`] plan, not an error.
    pub plan: fn(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>>,
    /// `orch down`: where this build's glue would be, for removal by
    /// recognition when the manifest does not record it. Files need the
    /// `orch-hook` they were rendered for (none when it cannot be found).
    pub footprint: fn(orch_hook: Option<&Path>) -> Result<Footprint>,
    /// `orch doctor`: checks beyond the manifest's file records, adding to
    /// the problems and warnings. `None`: the file records say it all.
    pub check: Option<GlueCheck>,
}

/// A `doctor` check: the manifest (if any) → problems, warnings.
pub type GlueCheck = fn(Option<&Manifest>, &mut Vec<String>, &mut Vec<String>);

/// Every harness's glue, in the order `up` reports them.
pub const GLUES: &[Glue] = &[
    glue_codex::GLUE,
    glue_gemini::GLUE,
    glue_pi::GLUE,
    glue_opencode::GLUE,
];

/// The glue for `harness`, if it has any.
pub fn find(harness: &str) -> Option<&'static Glue> {
    GLUES.iter().find(|g| g.harness == harness)
}

/// What `up` decided for one harness's glue.
pub trait GluePlan {
    /// What the report says about it (the same before and after applying).
    fn outcome(&self) -> GlueOutcome;
    /// Would applying it change a file?
    fn changes(&self) -> bool;
    /// The dry-run diff of the configuration it edits (files orch owns
    /// outright are listed, not diffed).
    fn diff(&self) -> String {
        String::new()
    }
    /// Write it, recording each step in `manifest` as it succeeds.
    fn apply(&self, manifest: &mut Manifest) -> Result<()>;
}

/// One harness's glue in `up`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct GlueOutcome {
    pub harness: &'static str,
    /// `installed`, `updated`, `unchanged`, `skipped`, `not_found`, or
    /// `not_needed` (the harness gets orch's glue per spawn: codex).
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where a harness's glue lives, for `down` without a record.
#[derive(Debug, Default)]
pub struct Footprint {
    /// JSON settings files that may hold orch's hook entries.
    pub settings: Vec<PathBuf>,
    /// Files this build writes, with the content it writes.
    pub files: Vec<FileRecord>,
    /// TOML files that may hold orch's lines.
    pub toml: Vec<TomlRecord>,
}

/// A plan that installs nothing: the harness is absent (`not_found`) or
/// orch must leave its files alone (`skipped`, reported as a warning).
struct Skipped(GlueOutcome);

impl GluePlan for Skipped {
    fn outcome(&self) -> GlueOutcome {
        self.0.clone()
    }
    fn changes(&self) -> bool {
        false
    }
    fn apply(&self, _: &mut Manifest) -> Result<()> {
        Ok(())
    }
}

pub fn skip(
    harness: &'static str,
    action: &'static str,
    path: Option<PathBuf>,
    reason: impl Into<String>,
) -> Box<dyn GluePlan> {
    Box::new(Skipped(GlueOutcome {
        harness,
        action,
        path,
        reason: Some(reason.into()),
    }))
}

/// Is the harness there at all: its config dir, or its binary on PATH?
fn found(dir: &Path, bin: &str) -> bool {
    dir.is_dir() || which::which(bin).is_ok()
}

/// The `not_found` outcome when harness `bin` is not here (neither its
/// config dir, shown as `shown`, nor its binary); `None` when it is.
pub fn absent(bin: &'static str, dir: &Path, shown: &str) -> Option<Box<dyn GluePlan>> {
    (!found(dir, bin)).then(|| {
        skip(
            bin,
            "not_found",
            None,
            format!("{bin} is not on PATH and {shown} does not exist"),
        )
    })
}

/// The record of glue file `asset` rendered for `orch_hook`, as this build
/// would write it at `path` (none without an `orch-hook` to render for).
pub fn rendered_record(
    path: PathBuf,
    asset: &str,
    what: &str,
    orch_hook: Option<&Path>,
) -> Option<FileRecord> {
    let template = super::assets::hook_asset(asset)?;
    Some(FileRecord {
        path,
        fnv: super::manifest::fnv64(&super::assets::render_template(template, orch_hook?)),
        what: what.into(),
    })
}

/// Glue that is one file orch owns outright, rendered from one of orch's
/// `hooks/` assets (pi's extension, opencode's plugin). Such a harness's
/// `plan` and `footprint` differ only in these facts, so they are written
/// once, here.
pub struct AssetFile {
    pub harness: &'static str,
    /// The harness's config dir; without it (and without the harness on
    /// PATH) the glue is `not_found`.
    pub dir: fn() -> Result<PathBuf>,
    /// `dir` as a person knows it (`~/.pi/agent`).
    pub dir_shown: &'static str,
    /// The file's path under `dir`.
    pub file: &'static str,
    pub asset: &'static str,
    /// What the manifest and the report call it (`pi extension`).
    pub what: &'static str,
}

impl AssetFile {
    fn path(&self) -> Result<PathBuf> {
        Ok((self.dir)()?.join(self.file))
    }

    /// For `up`: the file's plan, a `not_found` skip, or a skip when
    /// someone else's file is in the way.
    pub fn plan(&self, orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
        let dir = (self.dir)()?;
        if let Some(absent) = absent(self.harness, &dir, self.dir_shown) {
            return Ok(absent);
        }
        let template = super::assets::hook_asset(self.asset)
            .with_context(|| format!("{} glue is missing from this build", self.harness))?;
        let plan = plan_file(
            self.path()?,
            super::assets::render_template(template, orch_hook),
            0o644,
            self.what.into(),
            manifest,
        );
        if plan.action == "conflict" {
            let reason = plan.reason.clone().unwrap_or_default();
            return Ok(skip(self.harness, "skipped", Some(plan.path), reason));
        }
        Ok(Box::new(OneFile(self.harness, plan)))
    }

    /// For `down` without a manifest: the file as this build renders it.
    pub fn footprint(&self, orch_hook: Option<&Path>) -> Result<Footprint> {
        Ok(Footprint {
            files: rendered_record(self.path()?, self.asset, self.what, orch_hook)
                .into_iter()
                .collect(),
            ..Footprint::default()
        })
    }
}

struct OneFile(&'static str, FilePlan);

impl GluePlan for OneFile {
    fn outcome(&self) -> GlueOutcome {
        GlueOutcome {
            harness: self.0,
            action: match self.1.action {
                "create" => "installed",
                "update" => "updated",
                _ => "unchanged",
            },
            path: Some(self.1.path.clone()),
            reason: None,
        }
    }
    fn changes(&self) -> bool {
        self.1.action != "unchanged"
    }
    fn apply(&self, manifest: &mut Manifest) -> Result<()> {
        apply_file(&self.1, manifest).map(|_| ())
    }
}

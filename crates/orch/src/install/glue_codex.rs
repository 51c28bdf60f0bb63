//! Codex's glue: a notify script in orch's config dir (rendered from
//! `hooks/codex/notify.sh`) and the two lines in Codex's `config.toml`
//! that run it ([`super::codex_toml`]).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::assets::{hook_asset, render_template};
use super::codex_toml::{codex_edit, codex_lines};
use super::files::{FilePlan, apply_file, create_dirs, plan_file};
use super::glue::{Footprint, Glue, GlueOutcome, GluePlan, absent, rendered_record, skip};
use super::jsonfile::write_backup;
use super::manifest::{Manifest, TomlRecord};
use super::paths::codex_dir;
use super::settings::diff_of;
use crate::paths::write_durable;

pub const GLUE: Glue = Glue {
    harness: "codex",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

fn script_path() -> Result<PathBuf> {
    Ok(crate::layout::codex_notify_script(
        &crate::layout::config_dir()?,
    ))
}

fn config_path() -> Result<PathBuf> {
    Ok(codex_dir()?.join("config.toml"))
}

struct CodexPlan {
    script: FilePlan,
    config: PathBuf,
    old: Option<String>,
    new: Option<String>,
    lines: Vec<String>,
}

fn plan(orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    let dir = codex_dir()?;
    if let Some(absent) = absent("codex", &dir, "~/.codex") {
        return Ok(absent);
    }
    let template =
        hook_asset("codex/notify.sh").context("codex glue is missing from this build")?;
    let script_path = script_path()?;
    let script = plan_file(
        script_path.clone(),
        render_template(template, orch_hook),
        0o755,
        "codex notify glue".into(),
        manifest,
    );
    if script.action == "conflict" {
        return Ok(skip(
            "codex",
            "skipped",
            Some(script_path),
            script.reason.unwrap_or_default(),
        ));
    }
    let config = dir.join("config.toml");
    let old = match fs::read(&config) {
        Ok(b) => Some(String::from_utf8(b).map_err(|_| anyhow::anyhow!("not UTF-8"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.into())),
    };
    let old = match old {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            return Ok(skip(
                "codex",
                "skipped",
                Some(config),
                format!("cannot read it: {e}"),
            ));
        }
        None => None,
    };
    let lines = codex_lines(&script_path);
    let new = match codex_edit(old.as_deref().unwrap_or(""), &lines) {
        Ok(n) => n,
        Err(reason) => return Ok(skip("codex", "skipped", Some(config), reason)),
    };
    if new.is_some()
        && let Ok(m) = fs::metadata(&config)
        && m.permissions().mode() & 0o222 == 0
    {
        return Ok(skip(
            "codex",
            "skipped",
            Some(config),
            "config.toml is read-only",
        ));
    }
    Ok(Box::new(CodexPlan {
        script,
        config,
        old,
        new,
        lines,
    }))
}

impl GluePlan for CodexPlan {
    fn outcome(&self) -> GlueOutcome {
        GlueOutcome {
            harness: "codex",
            action: if self.changes() {
                "installed"
            } else {
                "unchanged"
            },
            path: Some(self.config.clone()),
            reason: None,
        }
    }

    fn changes(&self) -> bool {
        self.script.action != "unchanged" || self.new.is_some()
    }

    fn diff(&self) -> String {
        match &self.new {
            Some(new) => diff_of(&self.config, self.old.as_deref().unwrap_or(""), new),
            None => String::new(),
        }
    }

    fn apply(&self, manifest: &mut Manifest) -> Result<()> {
        let config = &self.config;
        apply_file(&self.script, manifest)?;
        if let Some(new) = &self.new {
            if let Some(old) = &self.old {
                let mode = fs::metadata(config)?.permissions().mode() & 0o7777;
                write_backup(config, old.as_bytes(), mode)?;
                write_durable(config, new.as_bytes(), mode, None)
            } else {
                if let Some(dir) = config.parent() {
                    create_dirs(dir, manifest)?;
                }
                write_durable(config, new.as_bytes(), 0o600, None)
            }
            .with_context(|| format!("cannot write {}", config.display()))?;
        }
        let prev = manifest.toml.iter().find(|t| &t.path == config).cloned();
        let rec = TomlRecord {
            path: config.clone(),
            lines: self.lines.clone(),
            file_created: prev.map(|p| p.file_created).unwrap_or(false) || self.old.is_none(),
        };
        manifest.toml.retain(|t| &t.path != config);
        manifest.toml.push(rec);
        Ok(())
    }
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        files: rendered_record(
            script_path()?,
            "codex/notify.sh",
            "codex notify glue",
            orch_hook,
        )
        .into_iter()
        .collect(),
        toml: vec![TomlRecord {
            path: config_path()?,
            lines: Vec::new(),
            file_created: false,
        }],
        ..Footprint::default()
    })
}

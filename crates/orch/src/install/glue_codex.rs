//! Codex's glue: none to install. `orch-spawn codex` passes Codex orch's
//! hooks on its command line (`-c hooks.<Event>=…`, pre-trusted with
//! `-c hooks.state=…`; see `harness::codex`), so `orch up` writes nothing
//! into `~/.codex` and a Codex started by hand does not report to orch.
//!
//! Older orch versions installed a `notify` program (Codex's deprecated
//! turn-complete callback): a script in orch's config dir (rendered from
//! `hooks/codex/notify.sh`) and two lines in Codex's `config.toml`
//! ([`super::codex_toml`]). `up` removes that legacy glue when it finds it,
//! and `down` still recognises it ([`footprint`]).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::codex_toml::codex_remove;
use super::glue::{Footprint, Glue, GlueOutcome, GluePlan, absent, rendered_record, skip};
use super::jsonfile::write_backup;
use super::manifest::{Manifest, TomlRecord};
use super::paths::codex_dir;
use super::settings::diff_of;

pub const GLUE: Glue = Glue {
    harness: "codex",
    hook_events: &[],
    plan,
    footprint,
    check: None,
};

/// Why `up` installs nothing for Codex (the report's `reason`).
pub const PER_SPAWN: &str = "nothing to install: orch-spawn passes Codex orch's hooks per spawn (-c hooks.…), so ~/.codex is not touched; a codex started by hand does not report to orch";

fn script_path() -> Result<PathBuf> {
    Ok(crate::layout::codex_notify_script(
        &crate::layout::config_dir()?,
    ))
}

fn config_path() -> Result<PathBuf> {
    Ok(codex_dir()?.join("config.toml"))
}

/// The legacy notify glue found on this machine, and its removal.
struct LegacyRemoval {
    config: PathBuf,
    old: Option<String>,
    /// `config.toml` without orch's notify block (none: no block there).
    new: Option<String>,
    /// orch's old notify script, to delete.
    script: Option<PathBuf>,
}

fn plan(_orch_hook: &Path, manifest: &Manifest) -> Result<Box<dyn GluePlan>> {
    let dir = codex_dir()?;
    if let Some(absent) = absent("codex", &dir, "~/.codex") {
        return Ok(absent);
    }
    let config = dir.join("config.toml");
    let old = match fs::read(&config) {
        Ok(b) => match String::from_utf8(b) {
            Ok(t) => Some(t),
            Err(_) => {
                return Ok(skip(
                    "codex",
                    "skipped",
                    Some(config),
                    "cannot read it: not UTF-8",
                ));
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Ok(skip(
                "codex",
                "skipped",
                Some(config),
                format!("cannot read it: {e}"),
            ));
        }
    };
    let recorded = manifest.toml.iter().find(|t| t.path == config);
    let new = old
        .as_deref()
        .and_then(|t| codex_remove(t, recorded.map(|r| r.lines.as_slice())));
    // orch's own config dir: the script there is orch's outright.
    let script = Some(script_path()?).filter(|p| p.is_file());
    if new.is_none() && script.is_none() {
        return Ok(skip("codex", "not_needed", None, PER_SPAWN));
    }
    if new.is_some()
        && let Ok(m) = fs::metadata(&config)
        && m.permissions().mode() & 0o222 == 0
    {
        return Ok(skip(
            "codex",
            "skipped",
            Some(config),
            "orch's old notify lines are in config.toml, which is read-only; remove them by hand",
        ));
    }
    Ok(Box::new(LegacyRemoval {
        config,
        old,
        new,
        script,
    }))
}

impl GluePlan for LegacyRemoval {
    fn outcome(&self) -> GlueOutcome {
        GlueOutcome {
            harness: "codex",
            action: "updated",
            path: Some(self.config.clone()),
            reason: Some(format!(
                "removed orch's old notify glue (Codex's notify is deprecated); {PER_SPAWN}"
            )),
        }
    }

    fn changes(&self) -> bool {
        true
    }

    fn diff(&self) -> String {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => diff_of(&self.config, old, new),
            _ => String::new(),
        }
    }

    fn apply(&self, manifest: &mut Manifest) -> Result<()> {
        if let (Some(old), Some(new)) = (&self.old, &self.new) {
            let config = &self.config;
            let mode = fs::metadata(config)?.permissions().mode() & 0o7777;
            write_backup(config, old.as_bytes(), mode)?;
            crate::paths::write_durable(config, new.as_bytes(), mode, None)
                .with_context(|| format!("cannot write {}", config.display()))?;
        }
        if let Some(script) = &self.script {
            match fs::remove_file(script) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", script.display()));
                }
            }
            manifest.files.retain(|f| &f.path != script);
        }
        manifest.toml.retain(|t| t.path != self.config);
        Ok(())
    }
}

fn footprint(orch_hook: Option<&Path>) -> Result<Footprint> {
    Ok(Footprint {
        files: rendered_record(
            script_path()?,
            "codex/notify.sh",
            "codex notify glue (legacy)",
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

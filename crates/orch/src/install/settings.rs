//! orch's hook entries in a JSON settings file (Claude Code's, Gemini
//! CLI's) on the way in: planning the merge without writing, committing it
//! with a backup, and recording it in the manifest. The merge rules are
//! [`super::jsonhooks`]; the file handling is [`super::jsonfile`].

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::files::create_dirs;
use super::glue::{GlueOutcome, GluePlan};
use super::jsonfile::{JsonFile, retry_on_change};
use super::jsonhooks::{self, EntryChange, HookSpec, MergeReport};
use super::manifest::{EntryRecord, Manifest, SettingsRecord};
use crate::exit::Fail;

/// A JSON settings file and what merging orch's entries does to it.
pub struct JsonPlan {
    pub harness: &'static str,
    pub file: JsonFile,
    pub new_text: String,
    pub report: MergeReport,
    specs: Vec<HookSpec>,
}

/// The change to one JSON settings file.
#[derive(Debug, Serialize)]
pub struct SettingsOutcome {
    pub harness: &'static str,
    pub path: PathBuf,
    /// `created`, `updated` or `unchanged`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
    pub hooks: Vec<EntryChange>,
}

impl JsonPlan {
    /// Read `path` and merge `specs` into it in memory. A file of an
    /// unexpected shape, or one that would change but is read-only, is an
    /// error; nothing is written either way.
    pub fn new(harness: &'static str, path: &Path, specs: Vec<HookSpec>) -> Result<JsonPlan> {
        let file = JsonFile::load(path)?;
        let mut value = file.value.clone();
        let report = jsonhooks::merge(&mut value, &specs).map_err(|e| {
            Fail::usage(format!(
                "{}: unexpected shape: {e}; fix it or move it aside, then run again; nothing was changed",
                path.display()
            ))
        })?;
        let new_text = if report.changed() {
            file.render(&value)
        } else {
            file.text()
        };
        if report.changed() {
            file.check_writable()?;
        }
        Ok(JsonPlan {
            harness,
            file,
            new_text,
            report,
            specs,
        })
    }

    pub fn changed(&self) -> bool {
        self.report.changed()
    }

    /// Write the merged file (with a backup) when it changes, and record
    /// orch's entries in `manifest` either way. Returns the backup taken.
    /// When another program (Claude Code) writes the file meanwhile, the
    /// merge is done again on what it wrote ([`retry_on_change`]).
    pub fn commit(&self, manifest: &mut Manifest) -> Result<Option<PathBuf>> {
        if !self.changed() {
            self.record(manifest, None);
            return Ok(None);
        }
        if let Some(dir) = self.file.path.parent() {
            create_dirs(dir, manifest)?;
        }
        let mut first = true;
        let backup = retry_on_change(|| {
            let fresh;
            let plan = if std::mem::take(&mut first) {
                self
            } else {
                fresh = JsonPlan::new(self.harness, &self.file.path, self.specs.clone())?;
                &fresh
            };
            if !plan.changed() {
                return Ok(None);
            }
            plan.file.commit(plan.new_text.as_bytes(), true)
        })?;
        self.record(manifest, backup.as_ref());
        Ok(backup)
    }

    /// Record (or refresh) orch's entries for this file in the manifest.
    fn record(&self, manifest: &mut Manifest, backup: Option<&PathBuf>) {
        let old = manifest
            .settings_for(&self.file.path)
            .cloned()
            .unwrap_or_default();
        let mut events_created = old.events_created.clone();
        for e in &self.report.events_created {
            if !events_created.contains(e) {
                events_created.push(e.clone());
            }
        }
        let rec = SettingsRecord {
            harness: self.harness.to_string(),
            path: self.file.path.clone(),
            file_created: old.file_created || (!self.file.exists() && self.changed()),
            hooks_key_created: old.hooks_key_created || self.report.hooks_key_created,
            events_created,
            entries: self
                .specs
                .iter()
                .map(|s| EntryRecord {
                    event: s.event.clone(),
                    command: s.command.clone(),
                })
                .collect(),
            original_backup: old.original_backup.or_else(|| backup.cloned()),
        };
        manifest.upsert_settings(rec);
    }

    /// The report on the core settings file (Claude Code's).
    pub fn settings_outcome(&self, backup: Option<PathBuf>) -> SettingsOutcome {
        SettingsOutcome {
            harness: self.harness,
            path: self.file.path.clone(),
            action: if !self.changed() {
                "unchanged"
            } else if self.file.exists() {
                "updated"
            } else {
                "created"
            },
            backup,
            hooks: self.report.entries.clone(),
        }
    }
}

/// A harness's JSON settings as glue (Gemini CLI's).
impl GluePlan for JsonPlan {
    fn outcome(&self) -> GlueOutcome {
        GlueOutcome {
            harness: self.harness,
            action: if self.changed() {
                "installed"
            } else {
                "unchanged"
            },
            path: Some(self.file.path.clone()),
            reason: None,
        }
    }
    fn changes(&self) -> bool {
        self.changed()
    }
    /// The unified diff of the change (empty when there is none).
    fn diff(&self) -> String {
        diff_of(&self.file.path, &self.file.text(), &self.new_text)
    }
    fn apply(&self, manifest: &mut Manifest) -> Result<()> {
        self.commit(manifest).map(|_| ())
    }
}

/// The dry-run diff of one file, labelled `a<path>` / `b<path>`.
pub fn diff_of(path: &Path, old: &str, new: &str) -> String {
    let p = path.display();
    super::diff::unified(old, new, &format!("a{p}"), &format!("b{p}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::fs;

    fn specs() -> Vec<HookSpec> {
        super::super::assets::claude_specs(Path::new("/opt/orch/bin/orch-hook"))
    }

    fn read(p: &Path) -> Value {
        serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn settings_written_by_another_program_meanwhile_are_merged_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        fs::write(&p, "{\"model\": \"opus\"}\n").unwrap();
        let plan = JsonPlan::new("claude", &p, specs()).unwrap();
        // Claude Code rewrites its settings between orch's read and write.
        fs::write(
            &p,
            "{\"model\": \"opus\", \"permissions\": {\"allow\": [\"Bash\"]}}\n",
        )
        .unwrap();
        plan.commit(&mut Manifest::default()).unwrap();
        let v = read(&p);
        assert_eq!(v["model"], "opus");
        assert_eq!(v["permissions"]["allow"][0], "Bash", "{v}");
        assert!(!jsonhooks::orch_commands(&v, "Stop").is_empty(), "{v}");
    }

    #[test]
    fn settings_caught_mid_write_are_not_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        // A writer that truncates first (Node's writeFileSync) has emptied
        // the file and not yet written it.
        fs::write(&p, "").unwrap();
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                fs::write(&p, "{\"model\": \"opus\", \"permissions\": {}}\n").unwrap();
            })
        };
        let plan = JsonPlan::new("claude", &p, specs()).unwrap();
        writer.join().unwrap();
        plan.commit(&mut Manifest::default()).unwrap();
        let v = read(&p);
        assert_eq!(v["model"], "opus", "{v}");
        assert!(v.get("permissions").is_some(), "{v}");
        assert!(!jsonhooks::orch_commands(&v, "Stop").is_empty(), "{v}");
    }

    #[test]
    fn delete_keeps_a_file_another_program_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        fs::write(&p, "{}\n").unwrap();
        let file = JsonFile::load(&p).unwrap();
        fs::write(&p, "{\"model\": \"opus\"}\n").unwrap();
        assert!(file.delete(false).is_err());
        assert_eq!(read(&p)["model"], "opus");
    }
}

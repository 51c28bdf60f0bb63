//! `orch-down`: remove exactly what `orch up` installed.
//!
//! Driven by the install manifest. Hook entries are removed by the
//! recognition rule (see [`super::jsonhooks`]) plus the exact commands
//! recorded; files only if they still have the content orch wrote; lines
//! from Codex's config only if they are still orch's. When the result is
//! semantically equal to the file as it was before `orch up` first changed
//! it, the original bytes are restored from that backup (so a round trip is
//! byte-identical where nothing else changed). Without a manifest (an older
//! install, a lost config dir) only entries matching the recognition rule
//! and files identical to what this build installs are removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use super::Approval;
use super::assets::{CLAUDE_EVENTS, skill_files};
use super::codex_toml::codex_remove;
use super::glue::{self, Footprint, GLUES};
use super::jsonfile::{JsonFile, retry_on_change, write_backup};
use super::jsonhooks::{self, Created, Removed};
use super::manifest::{FileRecord, Manifest, SettingsRecord, TomlRecord, fnv64};
use super::paths::{
    claude_dir, claude_settings_path, home_dir, locate_orch_hook, lock_install_if_configured,
    manifest_path,
};
use super::settings::diff_of;
use crate::exit::Fail;
use crate::paths::write_durable;

/// What `orch-down` was asked (its flags that change what it does).
#[derive(Debug, Clone, Default)]
pub struct DownRequest {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Keep orch's state directory.
    pub keep_state: bool,
    /// Also delete the backups orch wrote of a settings file that is now
    /// back to its original bytes (a full uninstall, `install.sh
    /// --uninstall`). Backups of a file changed since `orch up` stay.
    pub remove_backups: bool,
}

#[derive(Debug, Serialize)]
pub struct SettingsRemoval {
    pub harness: String,
    pub path: PathBuf,
    /// `updated`, `restored` (original bytes from the backup), `deleted`
    /// (orch created the file and nothing else is in it) or `unchanged`.
    pub action: &'static str,
    pub removed: Vec<Removed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct FileRemoval {
    pub path: PathBuf,
    pub what: String,
    /// `remove`, `kept` (changed since orch wrote it) or `gone`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DownReport {
    pub ok: bool,
    pub changed: bool,
    pub dry_run: bool,
    /// False when no manifest was found and removal went by recognition.
    pub manifest_found: bool,
    pub settings: Vec<SettingsRemoval>,
    pub files: Vec<FileRemoval>,
    pub toml: Vec<FileRemoval>,
    pub dirs_removed: Vec<PathBuf>,
    /// With `remove_backups`: the backups deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups_removed: Vec<PathBuf>,
    /// The state dir removed (absent with --keep-state or when missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir_removed: Option<PathBuf>,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Was there anything to remove (for the report to people)?
    #[serde(skip)]
    pub changes: bool,
}

struct SettingsPlan {
    harness: String,
    file: JsonFile,
    removed: Vec<Removed>,
    /// New content, or `None` to delete the file.
    new: Option<Vec<u8>>,
    action: &'static str,
    /// What the manifest said about the file (to plan again).
    rec: Option<SettingsRecord>,
}

impl SettingsPlan {
    /// Write the planned change. When another program (Claude Code) wrote
    /// the file since it was read, the removal is planned again on what it
    /// wrote ([`retry_on_change`]), so its change is kept.
    fn apply(&self) -> Result<Option<PathBuf>> {
        let mut first = true;
        retry_on_change(|| {
            let fresh;
            let plan = if std::mem::take(&mut first) {
                self
            } else {
                fresh = plan_settings(&self.harness, &self.file.path, self.rec.as_ref())?;
                &fresh
            };
            match (&plan.new, plan.action) {
                (_, "unchanged") => Ok(None),
                (Some(bytes), _) => plan.file.commit(bytes, true),
                // orch created this file and nothing but orch's entries
                // were in it: there is nothing of anyone's to back up.
                (None, _) => plan.file.delete(false),
            }
        })
    }
}

/// The events whose orch entries are removed from `harness`'s settings
/// (Claude Code's unless its glue names others).
fn default_events(harness: &str) -> &'static [(&'static str, &'static str)] {
    glue::find(harness)
        .map(|g| g.hook_events)
        .filter(|e| !e.is_empty())
        .unwrap_or(CLAUDE_EVENTS)
}

fn plan_settings(harness: &str, path: &Path, rec: Option<&SettingsRecord>) -> Result<SettingsPlan> {
    let file = JsonFile::load(path)?;
    let mut events: Vec<String> = default_events(harness)
        .iter()
        .map(|(e, _)| e.to_string())
        .collect();
    let mut also = Vec::new();
    if let Some(r) = rec {
        for e in &r.entries {
            if !events.contains(&e.event) {
                events.push(e.event.clone());
            }
            also.push(e.command.clone());
        }
    }
    let created = rec.map(|r| Created {
        hooks_key: r.hooks_key_created,
        events: r.events_created.clone(),
    });
    let mut value = file.value.clone();
    let removed = jsonhooks::remove(&mut value, &events, &also, created.as_ref()).map_err(|e| {
        Fail::usage(format!(
            "{}: unexpected shape: {e}; fix it or move it aside, then run again; nothing was changed",
            path.display()
        ))
    })?;
    let (new, action) = if removed.is_empty() {
        (Some(file.text().into_bytes()), "unchanged")
    } else if rec.is_some_and(|r| r.file_created) && value == Value::Object(Default::default()) {
        (None, "deleted")
    } else if let Some(original) = rec
        .and_then(|r| r.original_backup.as_ref())
        .and_then(|b| fs::read(b).ok())
        .filter(|bytes| original_equals(bytes, &value))
    {
        (Some(original), "restored")
    } else {
        (Some(file.render(&value).into_bytes()), "updated")
    };
    if action != "unchanged" {
        file.check_writable()?;
    }
    Ok(SettingsPlan {
        harness: harness.to_string(),
        file,
        removed,
        new,
        action,
        rec: rec.cloned(),
    })
}

/// Does the backup hold a document semantically equal to `value`?
fn original_equals(bytes: &[u8], value: &Value) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        return *value == Value::Object(Default::default());
    }
    serde_json::from_str::<Value>(text).is_ok_and(|v| v == *value)
}

fn plan_files(
    manifest: Option<&Manifest>,
    footprints: &[Footprint],
    warnings: &mut Vec<String>,
) -> Result<Vec<FileRemoval>> {
    let mut out = Vec::new();
    let records: Vec<FileRecord> = match manifest {
        Some(m) => m.files.clone(),
        None => {
            // No record: only files identical to what this build installs.
            let mut recs: Vec<FileRecord> = skill_files(&claude_dir()?.join("skills"))
                .into_iter()
                .map(|(path, data, what)| FileRecord {
                    path,
                    fnv: fnv64(data),
                    what,
                })
                .collect();
            recs.extend(footprints.iter().flat_map(|f| f.files.iter().cloned()));
            recs
        }
    };
    for rec in records {
        let (action, reason) = match fs::read(&rec.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => ("gone", None),
            Err(e) => ("kept", Some(format!("cannot read it: {e}"))),
            Ok(cur) if fnv64(&cur) == rec.fnv => ("remove", None),
            Ok(_) if manifest.is_none() => continue, // not ours: not reported
            Ok(_) => (
                "kept",
                Some("changed since orch installed it; left in place".to_string()),
            ),
        };
        if action == "kept" {
            warnings.push(format!(
                "{}: {}",
                rec.path.display(),
                reason.clone().unwrap_or_default()
            ));
        }
        if action == "gone" && manifest.is_none() {
            continue;
        }
        out.push(FileRemoval {
            path: rec.path,
            what: rec.what,
            action,
            reason,
        });
    }
    Ok(out)
}

struct TomlPlan {
    path: PathBuf,
    old: String,
    /// New text, or `None` to delete the file (orch created it and only
    /// orch's lines were in it).
    new: Option<String>,
}

fn plan_toml(manifest: Option<&Manifest>, footprints: &[Footprint]) -> Result<Vec<TomlPlan>> {
    let records: Vec<TomlRecord> = match manifest {
        Some(m) => m.toml.clone(),
        None => footprints.iter().flat_map(|f| f.toml.clone()).collect(),
    };
    let mut out = Vec::new();
    for rec in records {
        let Ok(old) = fs::read_to_string(&rec.path) else {
            continue;
        };
        let recorded = if rec.lines.is_empty() {
            None
        } else {
            Some(rec.lines.as_slice())
        };
        if let Some(new) = codex_remove(&old, recorded) {
            let new = if rec.file_created && new.trim().is_empty() {
                None
            } else {
                Some(new)
            };
            out.push(TomlPlan {
                path: rec.path,
                old,
                new,
            });
        }
    }
    Ok(out)
}

/// Is it safe to delete `state` recursively? Refuse obviously wrong
/// targets (an `ORCH_STATE_DIR` pointing at `/` or the home directory).
fn state_dir_removable(state: &Path) -> Result<(), String> {
    let state = fs::canonicalize(state).map_err(|e| format!("cannot resolve it: {e}"))?;
    if state.parent().is_none() {
        return Err("it is the root directory".into());
    }
    let mut guarded = Vec::new();
    if let Ok(h) = home_dir() {
        guarded.push(h);
    }
    if let Ok(c) = crate::layout::config_dir() {
        guarded.push(c);
    }
    if let Ok(c) = claude_dir() {
        guarded.push(c);
    }
    for g in guarded {
        let g = fs::canonicalize(&g).unwrap_or(g);
        if g.starts_with(&state) {
            return Err(format!("it contains {}", g.display()));
        }
    }
    Ok(())
}

/// Uninstall (see the module doc). Without approval given up front,
/// `approval` is asked before anything is removed; with no way to ask,
/// nothing is removed.
pub fn down(args: &DownRequest, approval: Approval) -> Result<DownReport> {
    let _lock = if args.dry_run {
        None
    } else {
        lock_install_if_configured()?
    };
    let manifest = Manifest::load()?;
    let mut warnings = Vec::new();

    // Which settings files to clean: those recorded, plus Claude's and
    // each glue's current ones (by recognition) when not recorded.
    let mut targets: Vec<(String, PathBuf, Option<SettingsRecord>)> = manifest
        .iter()
        .flat_map(|m| m.settings.iter())
        .map(|r| (r.harness.clone(), r.path.clone(), Some(r.clone())))
        .collect();
    let claude_path = claude_settings_path()?;
    if !targets.iter().any(|t| t.1 == claude_path) {
        targets.push(("claude".into(), claude_path, None));
    }
    // Without a manifest, glue files are found by rendering them for the
    // orch-hook this build would register.
    let orch_hook = match manifest {
        Some(_) => None,
        None => locate_orch_hook(None).ok(),
    };
    let footprints: Vec<Footprint> = GLUES
        .iter()
        .map(|g| (g.footprint)(orch_hook.as_deref()))
        .collect::<Result<_>>()?;
    for (g, f) in GLUES.iter().zip(&footprints) {
        for path in &f.settings {
            if !targets.iter().any(|t| &t.1 == path) && path.exists() {
                targets.push((g.harness.into(), path.clone(), None));
            }
        }
    }
    let mut settings = Vec::new();
    for (harness, path, rec) in &targets {
        match plan_settings(harness, path, rec.as_ref()) {
            Ok(p) => settings.push(p),
            // Claude's settings are the ones that matter: refuse outright.
            Err(e) if harness == "claude" => return Err(e),
            Err(e) => warnings.push(format!("{harness}: {e:#}; left alone")),
        }
    }
    let files = plan_files(manifest.as_ref(), &footprints, &mut warnings)?;
    let tomls = plan_toml(manifest.as_ref(), &footprints)?;
    let state = crate::layout::state_dir()?;
    let remove_state = !args.keep_state && state.exists();
    if remove_state && let Err(why) = state_dir_removable(&state) {
        return Err(Fail::refused(format!(
            "will not delete the state dir {}: {why}; check ORCH_STATE_DIR or pass --keep-state; nothing was changed",
            state.display()
        )));
    }

    let mut diff = String::new();
    for s in &settings {
        if s.action != "unchanged" {
            let new = s
                .new
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            diff.push_str(&diff_of(&s.file.path, &s.file.text(), &new));
        }
    }
    for t in &tomls {
        diff.push_str(&diff_of(&t.path, &t.old, t.new.as_deref().unwrap_or("")));
    }
    let changes = settings.iter().any(|s| s.action != "unchanged")
        || files.iter().any(|f| f.action == "remove")
        || !tomls.is_empty()
        || manifest.as_ref().is_some_and(|m| !m.dirs.is_empty())
        || remove_state
        || manifest.is_some();

    if !args.dry_run && changes {
        match approval {
            Approval::Given => {}
            Approval::Unavailable => {
                return Err(Fail::refused(
                    "refusing to remove orch without confirmation: pass --yes (there is no terminal to ask on); nothing was changed",
                ));
            }
            Approval::Ask(ask) => {
                let plan = format!(
                    "orch down will remove:\n{}\n{diff}",
                    pretty_plan(&settings, &files, &tomls, remove_state.then_some(&state))
                );
                if !ask(&plan, "orch down: remove these?")? {
                    return Err(Fail::refused("cancelled; nothing was changed"));
                }
            }
        }
    }

    let mut report = DownReport {
        ok: true,
        changed: false,
        dry_run: args.dry_run,
        manifest_found: manifest.is_some(),
        settings: Vec::new(),
        files,
        toml: Vec::new(),
        dirs_removed: Vec::new(),
        backups_removed: Vec::new(),
        state_dir_removed: None,
        warnings,
        diff: if args.dry_run {
            Some(diff.clone())
        } else {
            None
        },
        changes,
    };
    for s in &settings {
        let backup = if args.dry_run || s.action == "unchanged" {
            None
        } else {
            report.changed = true;
            s.apply()?
        };
        report.settings.push(SettingsRemoval {
            harness: s.harness.clone(),
            path: s.file.path.clone(),
            action: s.action,
            removed: s.removed.clone(),
            backup,
        });
    }
    if args.remove_backups && !args.dry_run {
        for s in &report.settings {
            let backups = super::jsonfile::backups_of(&s.path);
            if s.action == "restored" {
                for b in backups {
                    fs::remove_file(&b)
                        .with_context(|| format!("cannot remove {}", b.display()))?;
                    report.backups_removed.push(b);
                }
            } else if !backups.is_empty() {
                report.warnings.push(format!(
                    "kept the backups of {} ({}): it changed since orch up, so they may hold something you want",
                    s.path.display(),
                    backups.len()
                ));
            }
        }
    }
    for t in &tomls {
        let removal = FileRemoval {
            path: t.path.clone(),
            what: "codex notify setting".into(),
            action: if t.new.is_some() {
                "updated"
            } else {
                "deleted"
            },
            reason: None,
        };
        if !args.dry_run {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&t.path)?.permissions().mode() & 0o7777;
            // A file orch created and that held only orch's lines has
            // nothing of anyone's to back up.
            if t.new.is_some() {
                write_backup(&t.path, t.old.as_bytes(), mode)?;
            }
            match &t.new {
                Some(new) => write_durable(&t.path, new.as_bytes(), mode, None),
                None => fs::remove_file(&t.path),
            }
            .with_context(|| format!("cannot write {}", t.path.display()))?;
            report.changed = true;
        }
        report.toml.push(removal);
    }
    if !args.dry_run {
        for f in report.files.iter().filter(|f| f.action == "remove") {
            match fs::remove_file(&f.path) {
                Ok(()) => report.changed = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot remove {}", f.path.display())));
                }
            }
        }
        if let Some(m) = &manifest {
            // Deepest first, and only if empty: a directory someone put
            // files into stays.
            let mut dirs = m.dirs.clone();
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                if fs::remove_dir(&d).is_ok() {
                    report.dirs_removed.push(d);
                }
            }
            let mp = manifest_path()?;
            fs::remove_file(&mp).with_context(|| format!("cannot remove {}", mp.display()))?;
            report.changed = true;
        }
        if remove_state {
            fs::remove_dir_all(&state)
                .with_context(|| format!("cannot remove the state dir {}", state.display()))?;
            report.state_dir_removed = Some(state.clone());
            report.changed = true;
        }
        // orch's config dir goes only if nothing else (a person's outfits,
        // roles…) is left in it.
        if let Ok(cfg) = crate::layout::config_dir() {
            let _ = fs::remove_file(crate::layout::install_lock(&cfg));
            let _ = fs::remove_dir(crate::layout::config_glue_dir(&cfg));
            let _ = fs::remove_dir(&cfg);
        }
    } else if remove_state {
        report.state_dir_removed = Some(state.clone());
    }

    report.changes = changes;
    Ok(report)
}

fn pretty_plan(
    settings: &[SettingsPlan],
    files: &[FileRemoval],
    tomls: &[TomlPlan],
    state: Option<&PathBuf>,
) -> String {
    let mut s = String::new();
    for p in settings.iter().filter(|p| p.action != "unchanged") {
        s.push_str(&format!(
            "  {} hook entries from {}\n",
            p.removed.len(),
            p.file.path.display()
        ));
    }
    for f in files.iter().filter(|f| f.action == "remove") {
        s.push_str(&format!("  {} ({})\n", f.path.display(), f.what));
    }
    for t in tomls {
        s.push_str(&format!(
            "  orch's notify setting in {}\n",
            t.path.display()
        ));
    }
    if let Some(st) = state {
        s.push_str(&format!("  the state dir {}\n", st.display()));
    }
    s
}

impl DownReport {
    /// The report for people (the dry-run diff is printed after it).
    pub fn pretty(&self) -> String {
        pretty_report(self, self.dry_run, self.changes)
    }
}

fn pretty_report(r: &DownReport, dry_run: bool, changes: bool) -> String {
    let mut s = String::from(match (dry_run, changes) {
        (_, false) => "orch down: orch is not installed; nothing to remove\n",
        (true, true) => "orch down --dry-run: these would be removed (nothing was changed)\n",
        (false, true) => "orch down: removed\n",
    });
    for p in &r.settings {
        s.push_str(&format!(
            "  {}: {} ({} entries)\n",
            p.path.display(),
            p.action,
            p.removed.len()
        ));
        if let Some(b) = &p.backup {
            s.push_str(&format!("    backup: {}\n", b.display()));
        }
    }
    if !r.backups_removed.is_empty() {
        s.push_str(&format!(
            "  {} backups of restored settings removed\n",
            r.backups_removed.len()
        ));
    }
    for f in r.files.iter().chain(&r.toml) {
        s.push_str(&format!(
            "  {}: {} ({})\n",
            f.path.display(),
            f.action,
            f.what
        ));
    }
    if let Some(st) = &r.state_dir_removed {
        s.push_str(&format!("  state dir: {}\n", st.display()));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}

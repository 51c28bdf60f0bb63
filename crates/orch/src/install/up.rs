//! `orch-up`: install orch's hook entries, skills and harness glue.
//!
//! Everything is planned (read, parsed, merged) before anything is written,
//! so a refusal — invalid settings, an unexpected shape, a read-only file —
//! leaves every file untouched. Runs are serialized by a lock in orch's
//! config dir, so two `up`s at once cannot lose an update.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::jsonfile::{JsonFile, write_backup, write_replace};
use super::jsonhooks::{self, EntryChange, MergeReport};
use super::*;
use crate::exit::Fail;
use crate::time::{now_secs, timestamp_compact};

/// What `orch-up` was asked (its flags that change what it does).
#[derive(Debug, Clone, Default)]
pub struct UpRequest {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Register this orch-hook instead of the one next to this binary.
    pub hook: Option<PathBuf>,
    /// Leave Codex, Gemini CLI and pi alone.
    pub claude_only: bool,
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

/// One harness's glue.
#[derive(Debug, Serialize)]
pub struct GlueOutcome {
    pub harness: &'static str,
    /// `installed`, `updated`, `unchanged`, `skipped` or `not_found`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub ok: bool,
    /// Did any of the user's files change?
    pub changed: bool,
    pub already_installed: bool,
    pub dry_run: bool,
    pub orch_hook: PathBuf,
    pub tmux: TmuxCheck,
    pub agents: Vec<AgentCli>,
    pub claude: SettingsOutcome,
    pub skills: Vec<FilePlan>,
    pub glue: Vec<GlueOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// With --dry-run: the unified diff of every settings file that would
    /// change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A JSON settings file and what merging orch's entries does to it.
struct JsonPlan {
    harness: &'static str,
    file: JsonFile,
    new_text: String,
    report: MergeReport,
    specs: Vec<jsonhooks::HookSpec>,
}

impl JsonPlan {
    fn changed(&self) -> bool {
        self.report.changed()
    }
}

fn plan_json(
    harness: &'static str,
    path: &Path,
    specs: Vec<jsonhooks::HookSpec>,
) -> Result<JsonPlan> {
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

enum GluePlan {
    Codex {
        script: FilePlan,
        config: PathBuf,
        old: Option<String>,
        new: Option<String>,
        lines: Vec<String>,
    },
    Gemini(JsonPlan),
    Pi(FilePlan),
    Skip(GlueOutcome),
}

fn found(dir: &Path, bin: &str) -> bool {
    dir.is_dir() || which::which(bin).is_ok()
}

fn skip(
    harness: &'static str,
    action: &'static str,
    path: Option<PathBuf>,
    reason: impl Into<String>,
) -> GluePlan {
    GluePlan::Skip(GlueOutcome {
        harness,
        action,
        path,
        reason: Some(reason.into()),
    })
}

fn plan_codex(orch_hook: &Path, manifest: &Manifest) -> Result<GluePlan> {
    let dir = codex_dir()?;
    if !found(&dir, "codex") {
        return Ok(skip(
            "codex",
            "not_found",
            None,
            "codex is not on PATH and ~/.codex does not exist",
        ));
    }
    let template =
        hook_asset("codex/notify.sh").context("codex glue is missing from this build")?;
    let script_path = crate::layout::codex_notify_script(&crate::layout::config_dir()?);
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
    {
        use std::os::unix::fs::PermissionsExt;
        if m.permissions().mode() & 0o222 == 0 {
            return Ok(skip(
                "codex",
                "skipped",
                Some(config),
                "config.toml is read-only",
            ));
        }
    }
    Ok(GluePlan::Codex {
        script,
        config,
        old,
        new,
        lines,
    })
}

fn plan_gemini(orch_hook: &Path) -> Result<GluePlan> {
    let dir = gemini_dir()?;
    if !found(&dir, "gemini") {
        return Ok(skip(
            "gemini",
            "not_found",
            None,
            "gemini is not on PATH and ~/.gemini does not exist",
        ));
    }
    let path = dir.join("settings.json");
    match plan_json("gemini", &path, gemini_specs(orch_hook)) {
        Ok(p) => Ok(GluePlan::Gemini(p)),
        Err(e) => Ok(skip("gemini", "skipped", Some(path), format!("{e:#}"))),
    }
}

fn plan_pi(orch_hook: &Path, manifest: &Manifest) -> Result<GluePlan> {
    let dir = pi_agent_dir()?;
    if !found(&dir, "pi") {
        return Ok(skip(
            "pi",
            "not_found",
            None,
            "pi is not on PATH and ~/.pi/agent does not exist",
        ));
    }
    let template = hook_asset("pi/orch.ts").context("pi glue is missing from this build")?;
    let plan = plan_file(
        dir.join("extensions").join("orch.ts"),
        render_template(template, orch_hook),
        0o644,
        "pi extension".into(),
        manifest,
    );
    if plan.action == "conflict" {
        let reason = plan.reason.clone().unwrap_or_default();
        return Ok(skip("pi", "skipped", Some(plan.path), reason));
    }
    Ok(GluePlan::Pi(plan))
}

fn glue_changes(g: &GluePlan) -> bool {
    match g {
        GluePlan::Codex { script, new, .. } => script.action != "unchanged" || new.is_some(),
        GluePlan::Gemini(p) => p.changed(),
        GluePlan::Pi(f) => f.action != "unchanged",
        GluePlan::Skip(_) => false,
    }
}

fn diff_of(path: &Path, old: &str, new: &str) -> String {
    let p = path.display();
    super::diff::unified(old, new, &format!("a{p}"), &format!("b{p}"))
}

/// Record (or refresh) orch's entries for a settings file in the manifest.
fn record_settings(manifest: &mut Manifest, plan: &JsonPlan, backup: Option<&PathBuf>) {
    let old = manifest
        .settings_for(&plan.file.path)
        .cloned()
        .unwrap_or_default();
    let mut events_created = old.events_created.clone();
    for e in &plan.report.events_created {
        if !events_created.contains(e) {
            events_created.push(e.clone());
        }
    }
    let rec = SettingsRecord {
        harness: plan.harness.to_string(),
        path: plan.file.path.clone(),
        file_created: old.file_created || (!plan.file.exists() && plan.changed()),
        hooks_key_created: old.hooks_key_created || plan.report.hooks_key_created,
        events_created,
        entries: plan
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

fn commit_json(plan: &JsonPlan, manifest: &mut Manifest) -> Result<Option<PathBuf>> {
    if !plan.changed() {
        record_settings(manifest, plan, None);
        return Ok(None);
    }
    if let Some(dir) = plan.file.path.parent() {
        create_dirs(dir, manifest)?;
    }
    let backup = plan.file.commit(plan.new_text.as_bytes(), true)?;
    record_settings(manifest, plan, backup.as_ref());
    Ok(backup)
}

fn settings_outcome(plan: &JsonPlan, backup: Option<PathBuf>) -> SettingsOutcome {
    SettingsOutcome {
        harness: plan.harness,
        path: plan.file.path.clone(),
        action: if !plan.changed() {
            "unchanged"
        } else if plan.file.exists() {
            "updated"
        } else {
            "created"
        },
        backup,
        hooks: plan.report.entries.clone(),
    }
}

/// Install (see the module doc). `approval` is asked before anything is
/// written, when there is something to write.
pub fn up(args: &UpRequest, approval: Approval) -> Result<UpReport> {
    let tmux = check_tmux();
    if !tmux.ok {
        return Err(anyhow::anyhow!(
            "{}; install tmux 3.0 or newer (apt-get install tmux / brew install tmux) and run again; nothing was changed",
            tmux.problem.clone().unwrap_or_default()
        ));
    }
    let orch_hook = locate_orch_hook(args.hook.as_deref())?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock_install()?)
    };
    let old_manifest = Manifest::load()?;
    let mut manifest = old_manifest.clone().unwrap_or_default();

    // Plan everything before writing anything.
    let claude = plan_json("claude", &claude_settings_path()?, claude_specs(&orch_hook))?;
    let skills_dir = claude_dir()?.join("skills");
    let skills: Vec<FilePlan> = skill_files(&skills_dir)
        .into_iter()
        .map(|(path, data, what)| plan_file(path, data.to_vec(), 0o644, what, &manifest))
        .collect();
    let glue: Vec<GluePlan> = if args.claude_only {
        Vec::new()
    } else {
        vec![
            plan_codex(&orch_hook, &manifest)?,
            plan_gemini(&orch_hook)?,
            plan_pi(&orch_hook, &manifest)?,
        ]
    };

    let mut warnings: Vec<String> = skills
        .iter()
        .filter(|f| f.action == "conflict")
        .map(|f| {
            format!(
                "{}: {}",
                f.path.display(),
                f.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    for g in &glue {
        if let GluePlan::Skip(o) = g
            && o.action == "skipped"
        {
            warnings.push(format!(
                "{}: {}",
                o.harness,
                o.reason.clone().unwrap_or_default()
            ));
        }
    }
    let changes = claude.changed()
        || skills
            .iter()
            .any(|f| f.action == "create" || f.action == "update")
        || glue.iter().any(glue_changes);

    let mut diff = String::new();
    diff.push_str(&diff_of(
        &claude.file.path,
        &claude.file.text(),
        &claude.new_text,
    ));
    for g in &glue {
        match g {
            GluePlan::Gemini(p) => {
                diff.push_str(&diff_of(&p.file.path, &p.file.text(), &p.new_text))
            }
            GluePlan::Codex {
                config,
                old,
                new: Some(new),
                ..
            } => diff.push_str(&diff_of(config, old.as_deref().unwrap_or(""), new)),
            _ => {}
        }
    }

    if !args.dry_run && changes {
        let plan = pretty_plan(&claude, &skills, &glue, &diff);
        if let Approval::Ask(ask) = approval
            && !ask(&plan, "orch up: apply these changes?")?
        {
            return Err(Fail::refused("cancelled; nothing was changed"));
        }
    }

    let mut claude_backup = None;
    let mut glue_out = Vec::new();
    if !args.dry_run {
        let applied = apply(
            &claude,
            &skills,
            &glue,
            &mut manifest,
            &mut glue_out,
            &mut claude_backup,
        );
        manifest.version = MANIFEST_VERSION;
        manifest.orch_hook = orch_hook.to_string_lossy().into_owned();
        let mut unchanged_manifest = manifest.clone();
        if let Some(old) = &old_manifest {
            unchanged_manifest.updated = old.updated.clone();
        }
        if old_manifest.as_ref() != Some(&unchanged_manifest) {
            manifest.updated = timestamp_compact(now_secs());
            manifest.save()?;
        }
        applied?;
    } else {
        for g in &glue {
            glue_out.push(glue_outcome(g));
        }
    }

    let report = UpReport {
        ok: true,
        changed: changes && !args.dry_run,
        already_installed: !changes,
        dry_run: args.dry_run,
        orch_hook,
        tmux,
        agents: agent_clis(),
        claude: settings_outcome(&claude, claude_backup),
        skills,
        glue: glue_out,
        manifest: if args.dry_run {
            None
        } else {
            Some(manifest_path()?)
        },
        warnings,
        diff: if args.dry_run {
            Some(diff.clone())
        } else {
            None
        },
    };
    Ok(report)
}

/// Write everything planned, recording each step in `manifest` as it
/// succeeds (so a failure half-way still lets `down` undo what was done).
fn apply(
    claude: &JsonPlan,
    skills: &[FilePlan],
    glue: &[GluePlan],
    manifest: &mut Manifest,
    glue_out: &mut Vec<GlueOutcome>,
    claude_backup: &mut Option<PathBuf>,
) -> Result<()> {
    *claude_backup = commit_json(claude, manifest)?;
    for f in skills {
        apply_file(f, manifest)?;
    }
    for g in glue {
        match g {
            GluePlan::Codex {
                script,
                config,
                old,
                new,
                lines,
            } => {
                apply_file(script, manifest)?;
                if let Some(new) = new {
                    if let Some(old) = old {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = fs::metadata(config)?.permissions().mode() & 0o7777;
                        write_backup(config, old.as_bytes(), mode)?;
                        write_replace(config, new.as_bytes(), mode, None)
                    } else {
                        if let Some(dir) = config.parent() {
                            create_dirs(dir, manifest)?;
                        }
                        write_replace(config, new.as_bytes(), 0o600, None)
                    }
                    .with_context(|| format!("cannot write {}", config.display()))?;
                }
                let prev = manifest.toml.iter().find(|t| &t.path == config).cloned();
                let rec = TomlRecord {
                    path: config.clone(),
                    lines: lines.clone(),
                    file_created: prev.map(|p| p.file_created).unwrap_or(false) || old.is_none(),
                };
                manifest.toml.retain(|t| &t.path != config);
                manifest.toml.push(rec);
            }
            GluePlan::Gemini(p) => {
                commit_json(p, manifest)?;
            }
            GluePlan::Pi(f) => {
                apply_file(f, manifest)?;
            }
            GluePlan::Skip(_) => {}
        }
        glue_out.push(glue_outcome(g));
    }
    Ok(())
}

fn glue_outcome(g: &GluePlan) -> GlueOutcome {
    match g {
        GluePlan::Codex { config, .. } => GlueOutcome {
            harness: "codex",
            action: if glue_changes(g) {
                "installed"
            } else {
                "unchanged"
            },
            path: Some(config.clone()),
            reason: None,
        },
        GluePlan::Gemini(p) => GlueOutcome {
            harness: "gemini",
            action: if p.changed() {
                "installed"
            } else {
                "unchanged"
            },
            path: Some(p.file.path.clone()),
            reason: None,
        },
        GluePlan::Pi(f) => GlueOutcome {
            harness: "pi",
            action: match f.action {
                "create" => "installed",
                "update" => "updated",
                _ => "unchanged",
            },
            path: Some(f.path.clone()),
            reason: None,
        },
        GluePlan::Skip(o) => GlueOutcome {
            harness: o.harness,
            action: o.action,
            path: o.path.clone(),
            reason: o.reason.clone(),
        },
    }
}

fn pretty_plan(claude: &JsonPlan, skills: &[FilePlan], glue: &[GluePlan], diff: &str) -> String {
    let mut s = String::from("orch up will make these changes:\n");
    if claude.changed() {
        s.push_str(&format!(
            "  {}: add orch's hook entries (a backup is kept)\n",
            claude.file.path.display()
        ));
    }
    for f in skills
        .iter()
        .filter(|f| f.action == "create" || f.action == "update")
    {
        s.push_str(&format!(
            "  {} {} ({})\n",
            f.action,
            f.path.display(),
            f.what
        ));
    }
    for g in glue.iter().filter(|g| glue_changes(g)) {
        let o = glue_outcome(g);
        s.push_str(&format!(
            "  {}: install glue ({})\n",
            o.harness,
            o.path.map(|p| p.display().to_string()).unwrap_or_default()
        ));
    }
    s.push('\n');
    s.push_str(diff);
    s
}

impl UpReport {
    /// The report for people (the dry-run diff is printed after it).
    pub fn pretty(&self) -> String {
        pretty_report(self)
    }
}

fn pretty_report(r: &UpReport) -> String {
    let mut s = String::new();
    let head = if r.dry_run {
        if r.already_installed {
            "orch up --dry-run: already installed; nothing would change"
        } else {
            "orch up --dry-run: these changes would be made (nothing was changed)"
        }
    } else if r.already_installed {
        "orch up: already installed; nothing changed"
    } else {
        "orch up: installed"
    };
    s.push_str(head);
    s.push('\n');
    s.push_str(&format!(
        "  tmux {}\n",
        r.tmux.version.as_deref().unwrap_or("?")
    ));
    s.push_str(&format!(
        "  Claude Code: {} {}{}\n",
        r.claude.path.display(),
        r.claude.action,
        r.claude
            .backup
            .as_ref()
            .map(|b| format!(" (backup: {})", b.display()))
            .unwrap_or_default()
    ));
    for h in &r.claude.hooks {
        s.push_str(&format!(
            "    {:<17}{:<8} {}\n",
            h.event, h.action, h.command
        ));
    }
    for f in &r.skills {
        s.push_str(&format!(
            "  {}: {} {}\n",
            f.what,
            f.action,
            f.path.display()
        ));
    }
    for g in &r.glue {
        s.push_str(&format!(
            "  {}: {}{}\n",
            g.harness,
            g.action,
            g.path
                .as_ref()
                .map(|p| format!(" {}", p.display()))
                .unwrap_or_default()
        ));
    }
    let agents: Vec<String> = r
        .agents
        .iter()
        .map(|a| match &a.path {
            Some(_) => format!("{} ✓", a.name),
            None => format!("{} ✗ ({})", a.name, a.hint.unwrap_or("")),
        })
        .collect();
    s.push_str(&format!("  agents: {}\n", agents.join(", ")));
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}

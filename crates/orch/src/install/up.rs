//! `orch-up`: install orch's hook entries, skills and harness glue.
//!
//! Everything is planned (read, parsed, merged) before anything is written,
//! so a refusal — invalid settings, an unexpected shape, a read-only file —
//! leaves every file untouched. Runs are serialized by a lock in orch's
//! config dir, so two `up`s at once cannot lose an update.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::Approval;
use super::assets::{claude_specs, skill_files};
use super::files::{FilePlan, apply_file, plan_file};
pub use super::glue::GlueOutcome;
use super::glue::{GLUES, GluePlan};
use super::manifest::{MANIFEST_VERSION, Manifest};
use super::paths::{
    claude_dir, claude_settings_path, locate_orch_hook, lock_install, manifest_path,
};
use super::plugin;
use super::prereqs::{AgentCli, TmuxCheck, agent_clis, check_tmux};
use super::settings::JsonPlan;
pub use super::settings::SettingsOutcome;
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
    /// The other way in: orch as a Claude Code plugin.
    pub plugin: PluginRoute,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// With --dry-run: the unified diff of every settings file that would
    /// change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// orch as a Claude Code plugin, as `orch up` sees it.
#[derive(Debug, Serialize)]
pub struct PluginRoute {
    /// The `claude` on PATH has `claude plugin`.
    pub available: bool,
    /// The orch plugin is installed (and enabled) too: `orch@…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    /// How to install it instead.
    pub how: &'static str,
}

fn plugin_route() -> Result<PluginRoute> {
    let installed = plugin::installed(&claude_dir()?)
        .filter(|p| p.enabled)
        .map(|p| p.key);
    let available = which::which("claude").is_ok_and(|c| plugin::claude_supports_plugins(&c));
    Ok(PluginRoute {
        available,
        installed,
        how: plugin::INSTALL_HINT,
    })
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
    let claude = JsonPlan::new("claude", &claude_settings_path()?, claude_specs(&orch_hook))?;
    let skills_dir = claude_dir()?.join("skills");
    let skills: Vec<FilePlan> = skill_files(&skills_dir)
        .into_iter()
        .map(|(path, data, what)| plan_file(path, data.to_vec(), 0o644, what, &manifest))
        .collect();
    let glue: Vec<Box<dyn GluePlan>> = if args.claude_only {
        Vec::new()
    } else {
        GLUES
            .iter()
            .map(|g| (g.plan)(&orch_hook, &manifest))
            .collect::<Result<_>>()?
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
    warnings.extend(super::jsonhooks::disabled_hooks_warning(
        &claude.file.value,
        &claude.file.path,
    ));
    for o in glue.iter().map(|g| g.outcome()) {
        if o.action == "skipped" {
            warnings.push(format!(
                "{}: {}",
                o.harness,
                o.reason.clone().unwrap_or_default()
            ));
        }
    }
    let plugin = plugin_route()?;
    if let Some(key) = &plugin.installed {
        warnings.push(format!(
            "the orch Claude Code plugin {key} is installed too: with orch up's hooks every event \
             is recorded twice; keep one (orch down, or claude plugin uninstall {key})"
        ));
    }
    let changes = claude.changed()
        || skills
            .iter()
            .any(|f| f.action == "create" || f.action == "update")
        || glue.iter().any(|g| g.changes());

    let mut diff = claude.diff();
    for g in &glue {
        diff.push_str(&g.diff());
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
        glue_out.extend(glue.iter().map(|g| g.outcome()));
    }

    let report = UpReport {
        ok: true,
        changed: changes && !args.dry_run,
        already_installed: !changes,
        dry_run: args.dry_run,
        orch_hook,
        tmux,
        agents: agent_clis(),
        claude: claude.settings_outcome(claude_backup),
        skills,
        glue: glue_out,
        plugin,
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
    glue: &[Box<dyn GluePlan>],
    manifest: &mut Manifest,
    glue_out: &mut Vec<GlueOutcome>,
    claude_backup: &mut Option<PathBuf>,
) -> Result<()> {
    *claude_backup = claude.commit(manifest)?;
    for f in skills {
        apply_file(f, manifest)?;
    }
    for g in glue {
        g.apply(manifest)?;
        glue_out.push(g.outcome());
    }
    Ok(())
}

fn pretty_plan(
    claude: &JsonPlan,
    skills: &[FilePlan],
    glue: &[Box<dyn GluePlan>],
    diff: &str,
) -> String {
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
    for g in glue.iter().filter(|g| g.changes()) {
        let o = g.outcome();
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
        s.push_str(&super::files::report_line(&f.what, f.action, &f.path));
    }
    // A harness that is not installed is optional: say what it would add,
    // never a cross that reads like a failure.
    for g in r.glue.iter().filter(|g| g.action != "not_found") {
        s.push_str(&format!(
            "  {} glue: {}{}\n",
            g.harness,
            g.action,
            g.path
                .as_ref()
                .map(|p| format!(" {}", p.display()))
                .unwrap_or_default()
        ));
    }
    let (found, missing): (Vec<&AgentCli>, Vec<&AgentCli>) =
        r.agents.iter().partition(|a| a.path.is_some());
    if !found.is_empty() {
        let names: Vec<&str> = found.iter().map(|a| a.name).collect();
        s.push_str(&format!("  agent CLIs found: {}\n", names.join(", ")));
    }
    for a in missing {
        s.push_str(&format!(
            "  {}: not installed (optional) — would add {}; {}\n",
            a.name,
            super::prereqs::adds(a.name),
            a.hint.unwrap_or("")
        ));
    }
    if r.plugin.available && r.plugin.installed.is_none() {
        s.push_str(&format!(
            "  Claude Code can also take orch as a plugin instead ({}; then orch down)\n",
            r.plugin.how
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}

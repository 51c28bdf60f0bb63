//! `orch-doctor`: prove the installed hooks work, and find what is broken.
//!
//! The checks of what is installed are in [`super::doctor_checks`]; the
//! proof that the hooks fire, a probe in a private tmux server, is in
//! [`super::probe`]; each harness's glue adds its own checks through
//! [`super::glue::Glue::check`]. This module runs them and reports.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

pub use super::doctor_checks::{BinaryCheck, FileCheck, HookCheck, StateDirCheck};
use super::doctor_checks::{
    check_binaries, check_files, check_hooks, check_login_path, check_plugin_hooks, check_state_dir,
};
use super::glue::GLUES;
use super::manifest::Manifest;
use super::paths::{claude_dir, claude_settings_path, manifest_path};
use super::plugin;
use super::prereqs::{TmuxCheck, check_tmux};
use super::probe;
pub use super::probe::probe_run;

/// What `orch-doctor` was asked.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// Only check what is installed; run nothing.
    pub no_probe: bool,
    /// How long the hook probe may take.
    pub timeout: Duration,
}

#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub healthy: bool,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub tmux: TmuxCheck,
    pub settings: PathBuf,
    /// The orch Claude Code plugin's installed copy, when it is installed
    /// and enabled.
    pub plugin: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    pub probe: &'static str,
    pub hooks: Vec<HookCheck>,
    pub files: Vec<FileCheck>,
    pub binaries: Vec<BinaryCheck>,
    pub state_dir: StateDirCheck,
    /// PATH in a fresh login shell (a new tmux pane), when it could be read.
    pub login_shell_path: Option<String>,
}

/// Check the installation (see the module doc). A report that is not
/// `healthy` lists each problem.
pub fn doctor(args: &DoctorRequest) -> Result<DoctorReport> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    let tmux = check_tmux();
    if let Some(p) = &tmux.problem {
        problems.push(p.clone());
    }
    let manifest = match Manifest::load() {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("{e:#}"));
            None
        }
    };
    let settings_path = claude_settings_path()?;
    let installed_plugin = plugin::installed(&claude_dir()?);
    if let Some(p) = installed_plugin.as_ref().filter(|p| !p.enabled) {
        warnings.push(format!(
            "the orch plugin {} is installed but disabled (claude plugin enable {})",
            p.key, p.key
        ));
    }
    let enabled_plugin = installed_plugin.filter(|p| p.enabled);
    let mut hooks = check_hooks(
        &settings_path,
        manifest.as_ref(),
        enabled_plugin.is_some(),
        &mut problems,
        &mut warnings,
    );
    if let Some(p) = &enabled_plugin {
        if !hooks.is_empty() {
            warnings.push(format!(
                "orch's hooks are installed twice, by orch up ({}) and by the plugin {}: \
                 every event would be recorded twice; keep one (orch down, or claude plugin uninstall {})",
                settings_path.display(),
                p.key,
                p.key
            ));
        }
        hooks.extend(check_plugin_hooks(p, &mut problems, &mut warnings));
    }
    let state_dir = check_state_dir(&mut problems)?;

    let probe = if args.no_probe {
        "skipped"
    } else if !tmux.ok {
        "impossible (no usable tmux)"
    } else {
        probe::probe_hooks(&mut hooks, args.timeout, &mut problems)
    };

    // Without an `orch up` record the plugin brings the skills itself.
    let files = if manifest.is_none() && enabled_plugin.is_some() {
        Vec::new()
    } else {
        check_files(manifest.as_ref(), &mut problems, &mut warnings)?
    };
    for check in GLUES.iter().filter_map(|g| g.check) {
        check(manifest.as_ref(), &mut problems, &mut warnings);
    }
    let binaries = check_binaries(&mut problems, &mut warnings);
    let login_path = check_login_path(&mut warnings);

    let report = DoctorReport {
        healthy: problems.is_empty(),
        problems,
        warnings,
        tmux,
        settings: settings_path,
        plugin: enabled_plugin.map(|p| p.root),
        manifest: manifest.as_ref().map(|_| manifest_path()).transpose()?,
        probe,
        hooks,
        files,
        binaries,
        state_dir,
        login_shell_path: login_path,
    };
    Ok(report)
}

impl DoctorReport {
    /// The report for people.
    pub fn pretty(&self) -> String {
        pretty(self)
    }

    /// One line naming the first problem, for stderr.
    pub fn summary(&self) -> String {
        format!(
            "not healthy: {}{}",
            self.problems.first().map_or("", String::as_str),
            if self.problems.len() > 1 {
                format!(" (and {} more problems)", self.problems.len() - 1)
            } else {
                String::new()
            }
        )
    }
}

fn pretty(r: &DoctorReport) -> String {
    let mut s = String::from(if r.healthy {
        "orch doctor: healthy\n"
    } else {
        "orch doctor: NOT healthy\n"
    });
    s.push_str(&format!(
        "  tmux {}\n",
        r.tmux.version.as_deref().unwrap_or("missing")
    ));
    s.push_str(&format!(
        "  settings: {} (probe: {})\n",
        r.settings.display(),
        r.probe
    ));
    if let Some(p) = &r.plugin {
        s.push_str(&format!("  plugin: {}\n", p.display()));
    }
    for h in &r.hooks {
        let fired = match h.fired {
            Some(true) => " fired",
            Some(false) => " DID NOT FIRE",
            None => "",
        };
        s.push_str(&format!(
            "    {:<17}{:<9}{:<10}{}{}\n",
            h.event,
            h.source,
            h.status,
            fired,
            h.ms.map(|m| format!(" ({m} ms)")).unwrap_or_default()
        ));
    }
    for f in &r.files {
        s.push_str(&super::files::report_line(&f.what, f.status, &f.path));
    }
    let missing: Vec<&str> = r
        .binaries
        .iter()
        .filter(|b| b.on_path.is_none())
        .map(|b| b.name.as_str())
        .collect();
    s.push_str(&format!(
        "  binaries: {} found next to this one{}\n",
        r.binaries.len(),
        if missing.is_empty() {
            ", all on PATH".to_string()
        } else {
            format!("; not on PATH: {}", missing.join(", "))
        }
    ));
    s.push_str(&format!(
        "  state dir: {} {}\n",
        r.state_dir.path.display(),
        match (&r.state_dir.mode, r.state_dir.exists) {
            (Some(m), _) => format!("mode {m}"),
            (None, _) => "(not created yet)".to_string(),
        }
    ));
    for p in &r.problems {
        s.push_str(&format!("  problem: {p}\n"));
    }
    for w in &r.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}

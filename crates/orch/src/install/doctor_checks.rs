//! `orch-doctor`'s checks of what is installed: Claude Code's hook
//! entries against the manifest, the managed files, orch's binaries on
//! PATH, the state dir's permissions. Each adds what it finds wrong to the
//! problems (unhealthy) or warnings (worth knowing).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::assets::{CLAUDE_EVENTS, skill_files};
use super::jsonfile::JsonFile;
use super::jsonhooks;
use super::manifest::{FileRecord, Manifest, fnv64};
use super::paths::{claude_dir, home_dir};
use super::plugin::{self, Installed};

#[derive(Debug, Clone, Serialize)]
pub struct HookCheck {
    pub event: String,
    /// Who registered it: `settings` (`orch up`, in settings.json) or
    /// `plugin` (the orch Claude Code plugin).
    pub source: &'static str,
    /// `ok`, `missing`, `changed` (differs from what `orch up` wrote),
    /// `broken` (the program does not exist), `not_fired`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Environment the command runs with (the plugin's root).
    #[serde(skip)]
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct FileCheck {
    pub path: PathBuf,
    pub what: String,
    /// `ok`, `missing` or `modified`.
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
pub struct BinaryCheck {
    pub name: String,
    pub on_path: Option<PathBuf>,
    pub expected: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct StateDirCheck {
    pub path: PathBuf,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub ok: bool,
}

/// orch's hooks in Claude Code's settings.json. With `plugin` (the orch
/// plugin is installed and enabled), none there at all is not a problem:
/// the plugin's hooks are checked instead.
pub fn check_hooks(
    path: &Path,
    manifest: Option<&Manifest>,
    plugin: bool,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<HookCheck> {
    let file = match JsonFile::load(path) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("{e:#}"));
            return Vec::new();
        }
    };
    let none_at_all = CLAUDE_EVENTS
        .iter()
        .all(|(e, _)| jsonhooks::orch_commands(&file.value, e).is_empty());
    if plugin && none_at_all {
        return Vec::new();
    }
    if !file.exists() {
        problems.push(format!(
            "{} does not exist: orch's hooks are not installed (run orch up)",
            path.display()
        ));
    }
    warnings.extend(jsonhooks::disabled_hooks_warning(&file.value, path));
    let record = manifest.and_then(|m| m.settings_for(path));
    if none_at_all && file.exists() {
        problems.push(match record {
            Some(_) => format!(
                "all of orch's hooks were removed from {} since orch up (run orch up)",
                path.display()
            ),
            None => format!(
                "orch's hooks are not installed in {} (run orch up)",
                path.display()
            ),
        });
    }
    let mut out = Vec::new();
    for (event, _) in CLAUDE_EVENTS {
        let cmds = jsonhooks::orch_commands(&file.value, event);
        let installed = record
            .and_then(|r| r.entries.iter().find(|e| e.event == *event))
            .map(|e| e.command.clone());
        let mut check = HookCheck {
            event: event.to_string(),
            source: "settings",
            status: "ok",
            command: cmds.first().cloned(),
            installed: installed.clone(),
            fired: None,
            ms: None,
            detail: None,
            env: Vec::new(),
        };
        match cmds.first() {
            None => {
                check.status = "missing";
                if !none_at_all {
                    problems.push(format!(
                        "the {event} hook is missing from {} (someone removed it? run orch up)",
                        path.display()
                    ));
                }
            }
            Some(cmd) => {
                if cmds.len() > 1 {
                    warnings.push(format!(
                        "{event}: orch's hook is registered {} times (orch up collapses them)",
                        cmds.len()
                    ));
                }
                if let Some(inst) = &installed
                    && inst != cmd
                {
                    check.status = "changed";
                    problems.push(format!(
                        "the {event} hook changed since orch up: now {cmd:?}, installed {inst:?} (run orch up)"
                    ));
                }
                let program = jsonhooks::parse_orch_command(cmd).map(|c| c.program);
                if let Some(p) = program {
                    let expanded = expand_tilde(&p);
                    let ok = fs::metadata(&expanded)
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                    if !ok {
                        check.status = "broken";
                        problems.push(format!("the {event} hook runs {p}, which does not exist or is not executable (run orch up)"));
                    }
                }
            }
        }
        out.push(check);
    }
    out
}

/// The hooks of the installed orch plugin: each event of the table
/// registered with the plugin's command, and its script present.
pub fn check_plugin_hooks(
    plugin: &Installed,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<HookCheck> {
    let registered = plugin.hooks();
    let script = plugin.root.join("hooks/claude/plugin-hook.sh");
    for (event, _) in &registered {
        if !CLAUDE_EVENTS.iter().any(|(e, _)| e == event) {
            warnings.push(format!(
                "the orch plugin ({}) registers {event}, an event this orch does not know; \
                 Claude Code drops all of a plugin's hooks when one event is unknown to it \
                 (update the plugin: claude plugin update {})",
                plugin.root.display(),
                plugin.key
            ));
        }
    }
    let mut out = Vec::new();
    for (event, arg) in CLAUDE_EVENTS {
        let want = plugin::hook_command(arg);
        let cmd = registered
            .iter()
            .find(|(e, _)| e == event)
            .map(|(_, c)| c.clone());
        let mut check = HookCheck {
            event: event.to_string(),
            source: "plugin",
            status: "ok",
            command: cmd.clone(),
            installed: Some(want.clone()),
            fired: None,
            ms: None,
            detail: None,
            env: vec![(
                plugin::ROOT_VAR.to_string(),
                plugin.root.to_string_lossy().into_owned(),
            )],
        };
        match &cmd {
            None => {
                check.status = "missing";
                problems.push(format!(
                    "the orch plugin ({}) has no {event} hook (update it: claude plugin update {})",
                    plugin.root.display(),
                    plugin.key
                ));
            }
            Some(c) if *c != want => {
                check.status = "changed";
                problems.push(format!(
                    "the orch plugin's {event} hook is {c:?}, not {want:?} (update it: claude plugin update {})",
                    plugin.key
                ));
            }
            Some(_) if !script.is_file() => {
                check.status = "broken";
                problems.push(format!(
                    "the orch plugin's hooks run {}, which does not exist (reinstall: claude plugin install {})",
                    script.display(),
                    plugin.key
                ));
            }
            Some(_) => {}
        }
        out.push(check);
    }
    out
}

fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), home_dir()) {
        (Some(rest), Ok(h)) => h.join(rest),
        _ => PathBuf::from(p),
    }
}

pub fn check_state_dir(problems: &mut Vec<String>) -> Result<StateDirCheck> {
    let path = crate::layout::state_dir()?;
    Ok(match fs::metadata(&path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o7777;
            let mut ok = true;
            if mode & 0o077 != 0 {
                ok = false;
                problems.push(format!(
                    "the state dir {} has mode {mode:o}; orch keeps it private: chmod 700 {}",
                    path.display(),
                    path.display()
                ));
            }
            if m.uid() != nix::unistd::geteuid().as_raw() {
                ok = false;
                problems.push(format!(
                    "the state dir {} belongs to uid {}, not you",
                    path.display(),
                    m.uid()
                ));
            }
            StateDirCheck {
                path,
                exists: true,
                mode: Some(format!("{mode:o}")),
                ok,
            }
        }
        Err(_) => StateDirCheck {
            path,
            exists: false,
            mode: None,
            ok: true,
        },
    })
}

pub fn check_files(
    manifest: Option<&Manifest>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<FileCheck>> {
    let records: Vec<FileRecord> = match manifest {
        Some(m) => m.files.clone(),
        None => skill_files(&claude_dir()?.join("skills"))
            .into_iter()
            .map(|(path, data, what)| FileRecord {
                path,
                fnv: fnv64(data),
                what,
            })
            .collect(),
    };
    let mut out = Vec::new();
    for rec in records {
        let status = match fs::read(&rec.path) {
            Ok(b) if fnv64(&b) == rec.fnv => "ok",
            Ok(_) => {
                warnings.push(format!(
                    "{} ({}) was changed since orch installed it",
                    rec.path.display(),
                    rec.what
                ));
                "modified"
            }
            Err(_) => {
                problems.push(format!(
                    "{} ({}) is missing (run orch up)",
                    rec.path.display(),
                    rec.what
                ));
                "missing"
            }
        };
        out.push(FileCheck {
            path: rec.path,
            what: rec.what,
            status,
        });
    }
    Ok(out)
}

/// orch's binaries installed next to this one must be on PATH (skills call
/// them by name) and PATH must not find stale copies elsewhere first.
pub fn check_binaries(problems: &mut Vec<String>, warnings: &mut Vec<String>) -> Vec<BinaryCheck> {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (n == "orch" || n.starts_with("orch-")) && !n.contains('.'))
                .filter(|n| {
                    fs::metadata(dir.join(n))
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let expected = dir.join(&name);
            let on_path = which::which(&name).ok();
            match &on_path {
                None => problems.push(format!(
                    "{name} is not on PATH (add {} to PATH)",
                    dir.display()
                )),
                Some(p) if fs::canonicalize(p).ok() != fs::canonicalize(&expected).ok() => warnings
                    .push(format!(
                        "{name} on PATH is {}, not {} (an older install?)",
                        p.display(),
                        expected.display()
                    )),
                Some(_) => {}
            }
            BinaryCheck {
                name,
                on_path,
                expected,
            }
        })
        .collect()
}

/// New tmux panes run login shells: warn when their PATH lacks the
/// directory orch's binaries are in (there `orch` is "not found" and skills
/// calling it fail). Returns that PATH when it could be read.
pub fn check_login_path(warnings: &mut Vec<String>) -> Option<String> {
    let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let path = super::prereqs::login_shell_path()?;
    if !super::prereqs::path_has(&path, &dir) {
        warnings.push(format!(
            "a login shell (what a new tmux pane starts) has PATH={path}, without {d}: there orch is \"not found\"; \
             add this line to ~/.profile and open a new pane: export PATH=\"{d}:$PATH\"",
            d = dir.display()
        ));
    }
    Some(path)
}

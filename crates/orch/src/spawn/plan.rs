//! Checking a spawn request and deciding everything about it — harness,
//! outfit, directory, name, placement, worktree, command line and
//! environment — before anything is created.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::launch::LaunchFile;
use super::place::{Placement, Position};
use super::report::{DryRunReport, WorktreeInfo};
use super::worktree;
use super::{DEFAULT_TIMEOUT, FLEET_PROMPT, NOT_INHERITED, PROJECTS_ENV, SpawnRequest, caller};
use crate::exit::Fail;
use crate::harness::{self, Harness, LaunchSpec, Readiness};
use crate::outfit::{self, Outfit};
use crate::pane::PaneId;
use crate::roles::Role;
use crate::store::Store;

/// What a restart carries over from the agent it replaces.
#[derive(Debug, Clone, Default)]
pub(super) struct Inherit {
    pub parent: Option<PaneId>,
    /// Use `parent` even when it is None (instead of the caller's pane).
    pub keep_parent: bool,
    pub restart_of: Option<PaneId>,
    pub worktree: Option<String>,
    pub bypass: Option<bool>,
}

/// A checked spawn request.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) harness: &'static Harness,
    pub(super) name: Option<String>,
    pub(super) role: Role,
    pub(super) parent: Option<PaneId>,
    pub(super) cwd: PathBuf,
    pub(super) worktree: Option<worktree::Worktree>,
    /// A worktree made for an earlier incarnation (restart).
    pub(super) worktree_path: Option<String>,
    pub(super) outfit: Option<Outfit>,
    pub(super) model: Option<String>,
    pub(super) resume: Option<String>,
    pub(super) session_id: Option<String>,
    pub(super) bypass: bool,
    pub(super) add_dirs: Vec<String>,
    /// `--add-dir` as given (the rest of `add_dirs` comes from the outfit).
    pub(super) explicit_add_dirs: Vec<String>,
    pub(super) extra_args: Vec<String>,
    pub(super) placement: Placement,
    pub(super) note: Option<String>,
    pub(super) program: String,
    pub(super) prompt: Option<String>,
    pub(super) timeout: Duration,
    pub(super) warnings: Vec<String>,
    pub(super) restart_of: Option<PaneId>,
    /// `--watch`: the pane this spy watches.
    pub(super) watch: Option<PaneId>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '%', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(Fail::usage(format!(
            "invalid --name {name:?}: use up to 64 letters, digits, '.', '_' or '-', not starting with '-', '%' or '.'"
        )));
    }
    if ["self", "operator", "parent", "any", "all"].contains(&name) {
        return Err(Fail::usage(format!(
            "--name {name:?} is reserved (orch uses it as an address); choose another"
        )));
    }
    Ok(())
}

fn projects_root() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(PROJECTS_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| Fail::usage(format!("--project needs {PROJECTS_ENV} or HOME set")))?;
    Ok(PathBuf::from(home).join("projects"))
}

fn resolve_cwd(args: &SpawnRequest) -> Result<PathBuf> {
    let dir = if let Some(p) = &args.project {
        if p.is_empty() || p.contains('/') || p == "." || p == ".." {
            return Err(Fail::usage(format!(
                "invalid --project {p:?}: give a directory name under the projects root"
            )));
        }
        let root = projects_root()?;
        let d = root.join(p);
        if !d.is_dir() {
            return Err(Fail::usage(format!(
                "no project {p:?}: {} is not a directory (projects live under {}; set {PROJECTS_ENV} to change that)",
                d.display(),
                root.display()
            )));
        }
        d
    } else if let Some(c) = &args.cwd {
        if !c.is_dir() {
            return Err(Fail::usage(format!(
                "--cwd {}: no such directory",
                c.display()
            )));
        }
        c.clone()
    } else {
        std::env::current_dir().context("cannot read the current directory")?
    };
    std::fs::canonicalize(&dir).with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Find the harness's program: echo next to orch, the rest on PATH.
fn find_program(h: &Harness) -> Option<PathBuf> {
    if h.name == harness::echo::HARNESS.name {
        return crate::exe::sibling("echo");
    }
    which::which(h.program).ok()
}

/// Check a request and decide everything about the spawn; creates nothing.
pub(super) fn plan(args: &SpawnRequest, inherit: Inherit) -> Result<Plan> {
    let outfit = args.outfit.as_deref().map(outfit::load).transpose()?;
    let from_outfit = outfit.as_ref().and_then(|o| o.harness.clone());
    let hname = match (&args.harness, &from_outfit) {
        (Some(h), Some(o)) if h != o => {
            return Err(Fail::usage(format!(
                "harness {h:?} conflicts with outfit {:?}, which is for {o:?}; drop one of them",
                args.outfit.as_deref().unwrap_or_default()
            )));
        }
        (Some(h), _) => h.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => {
            let hint = match &args.worktree {
                Some(w) if harness::find(w).is_some() => format!(
                    " (did --worktree take {w:?} as its branch? write `orch-spawn {w} --worktree`)"
                ),
                _ => String::new(),
            };
            return Err(Fail::usage(format!(
                "which agent? give a harness ({}) or an --outfit that names one{hint}",
                harness::names()
            )));
        }
    };
    let h = harness::find(&hname).ok_or_else(|| {
        Fail::usage(format!(
            "unknown harness {hname:?}; choose one of {}",
            harness::names()
        ))
    })?;
    if let Some(n) = &args.name {
        check_name(n)?;
    }
    let role = match (&args.role, outfit.as_ref().and_then(|o| o.role.as_ref())) {
        (Some(r), _) => r.clone(),
        (None, Some(Role::Observer)) => Role::Observer,
        _ => Role::Worker,
    };
    let timeout = args
        .timeout
        .unwrap_or(DEFAULT_TIMEOUT)
        .min(Duration::from_secs(10_000_000));
    if args.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(Fail::usage("--prompt is empty: give the first task's text"));
    }
    let base_cwd = resolve_cwd(args)?;
    let mut add_dirs = Vec::new();
    for d in &args.add_dir {
        if !d.is_dir() {
            return Err(Fail::usage(format!(
                "--add-dir {}: no such directory",
                d.display()
            )));
        }
        add_dirs.push(std::fs::canonicalize(d)?.to_string_lossy().into_owned());
    }
    let explicit_add_dirs = add_dirs.clone();
    let mut warnings = Vec::new();
    if let Some(o) = &outfit {
        for d in &o.skills_dirs {
            let p = outfit::resolve_dir(d, &o.name)?;
            if h.name == "claude" && !p.join(".claude/skills").is_dir() {
                warnings.push(format!(
                    "outfit {:?}: claude loads skills from {}/.claude/skills/, which does not exist",
                    o.name,
                    p.display()
                ));
            }
            let p = p.to_string_lossy().into_owned();
            if !add_dirs.contains(&p) {
                add_dirs.push(p);
            }
        }
    }
    let worktree = match &args.worktree {
        Some(branch) => {
            let branch = if branch.is_empty() {
                match &args.name {
                    Some(n) => format!("orch/{n}"),
                    None => format!("orch/{}-{}", h.name, &harness::new_session_id()[..8]),
                }
            } else {
                branch.clone()
            };
            Some(worktree::plan(&base_cwd, &branch)?)
        }
        None => None,
    };
    let cwd = worktree.as_ref().map(|w| w.cwd.clone()).unwrap_or(base_cwd);

    let caller = caller();
    let (watch, prompt) = match &args.watch {
        None => (None, args.prompt.clone()),
        Some(arg) => {
            if role != Role::Observer {
                return Err(Fail::usage(
                    "--watch starts an observer: use --outfit spy (or --role observer); nothing was started",
                ));
            }
            let store = Store::current()?;
            let target = super::spy::target(&store, arg, caller)?;
            let brief = super::spy::brief(&store, target, args.prompt.as_deref());
            (Some(target), Some(brief))
        }
    };
    let (placement, note) = if args.placing.headless {
        (Placement::Headless, None)
    } else if args.placing.window {
        (Placement::Window(caller), None)
    } else {
        let pos = args.placing.position.unwrap_or(Position::Right);
        match caller {
            Some(p) if args.placing.position.is_some() => (Placement::Split(pos, p), None),
            Some(p) => (Placement::Tile(p), None),
            None => (
                Placement::Window(None),
                Some(format!(
                    "not inside a tmux pane (TMUX_PANE unset): opened a new window instead of splitting {}",
                    pos.as_str()
                )),
            ),
        }
    };
    let program = find_program(h);
    if program.is_none() && !args.dry_run {
        return Err(anyhow::anyhow!(
            "{} is not installed (not found on PATH): {}",
            h.program,
            h.install_hint
        ));
    }
    let resume = args.resume.clone();
    let session_id = (h.assigns_session_id && resume.is_none()).then(harness::new_session_id);
    Ok(Plan {
        harness: h,
        name: args.name.clone(),
        role,
        parent: if inherit.keep_parent {
            inherit.parent
        } else {
            caller
        },
        cwd,
        worktree,
        worktree_path: inherit.worktree,
        model: args
            .model
            .clone()
            .or_else(|| outfit.as_ref().and_then(|o| o.model.clone())),
        outfit,
        resume,
        session_id,
        bypass: inherit.bypass.unwrap_or(!args.no_bypass),
        add_dirs,
        explicit_add_dirs,
        extra_args: args.harness_args.clone(),
        placement,
        note,
        program: program
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| h.program.to_string()),
        prompt,
        timeout,
        warnings,
        restart_of: inherit.restart_of,
        watch,
    })
}

/// Said when gemini would refuse spawn's hooks file, unless `orch up`'s
/// hooks are in `~/.gemini/settings.json` (then events come from those).
fn gemini_global_hooks_warning(why: &str) -> Option<String> {
    (!harness::gemini::global_hooks_installed()).then(|| {
        format!(
            "gemini loads per-spawn hooks only from a file it considers secure (root-owned, not group/world-writable, up to /), and {why}; \
             without hooks orch reads its state off the screen and cannot confirm receipts: run `orch up` to put orch's hooks in ~/.gemini/settings.json"
        )
    })
}

/// The fleet prompt for an agent, placeholders filled.
pub fn fleet_prompt(
    pane: &str,
    name: Option<&str>,
    role: &Role,
    parent: Option<PaneId>,
    harness: &str,
) -> String {
    let template = crate::layout::config_dir()
        .ok()
        .and_then(|d| std::fs::read_to_string(crate::layout::fleet_prompt_file(&d)).ok())
        .unwrap_or_else(|| FLEET_PROMPT.to_string());
    let parent = parent
        .map(|p| p.to_string())
        .unwrap_or_else(|| "none (started from outside tmux)".into());
    template
        .replace("{{pane}}", pane)
        .replace("{{name}}", name.unwrap_or("(none; address it by pane id)"))
        .replace("{{role}}", role.as_str())
        .replace("{{parent}}", &parent)
        .replace("{{harness}}", harness)
}

/// A glue file for one launch: its path and contents.
type Glue = (PathBuf, String);

impl Plan {
    fn system_prompt(&self, pane: &str) -> String {
        let mut p = fleet_prompt(
            pane,
            self.name.as_deref(),
            &self.role,
            self.parent,
            self.harness.name,
        );
        if let Some(extra) = self
            .outfit
            .as_ref()
            .and_then(|o| o.system_prompt.as_deref())
        {
            p.push_str("\n\n");
            p.push_str(extra);
        }
        p
    }

    /// Variables of the spawner this harness must not see (Gemini CLI
    /// treats a set `CI` as "not interactive" and exits at start with "No
    /// input provided via stdin").
    fn harness_drops(&self, var: &str) -> bool {
        self.harness.name == harness::gemini::HARNESS.name
            && harness::gemini::NOT_INHERITED.contains(&var)
    }

    fn hook_program(&self) -> Result<Option<String>> {
        if !self.harness.injects_hooks {
            return Ok(None);
        }
        match crate::exe::sibling("hook") {
            Some(p) => Ok(Some(p.to_string_lossy().into_owned())),
            None => Err(anyhow::anyhow!(
                "orch-hook is not installed next to orch-spawn or on PATH; run ./install.sh"
            )),
        }
    }

    /// The harness's glue file for this launch (claude's `--settings`,
    /// pi's extension, opencode's plugin): its path and contents. Named by
    /// the content's hash, so spawns that need the same file share it.
    fn glue_file(&self, hook: &str) -> Result<Option<Glue>> {
        let Some(make) = self.harness.glue else {
            return Ok(None);
        };
        let g = make(hook, self.bypass);
        let hash = crate::event::prompt_hash(&g.text);
        let short = hash.rsplit(':').next().unwrap_or("0");
        let dir = crate::layout::spawn_glue_dir(&crate::layout::state_dir()?);
        Ok(Some((
            dir.join(format!("{}-{short}.{}", g.stem, g.ext)),
            g.text,
        )))
    }

    /// The agent's command line and environment, for pane `pane`.
    pub(super) fn launch(
        &self,
        pane: &str,
        write_glue: bool,
    ) -> Result<(LaunchFile, Vec<String>, Option<Glue>)> {
        let hook = self.hook_program()?;
        let mut glue = match &hook {
            Some(hook) => self.glue_file(hook)?,
            None => None,
        };
        // Whether the hooks given on the command line will really fire
        // (gemini may refuse its file): only then do global ones stand down.
        let mut injected = self.harness.injects_hooks;
        let mut glue_warning = None;
        if self.harness.name == harness::gemini::HARNESS.name
            && let Some((path, _)) = &glue
            && let Err(why) = harness::gemini::loadable(path)
        {
            injected = false;
            glue_warning = gemini_global_hooks_warning(&why);
            glue = None;
        }
        if let Some((path, text)) = &glue
            && write_glue
            && crate::paths::read(path).ok().as_deref() != Some(text.as_bytes())
        {
            if let Some(d) = path.parent() {
                crate::paths::ensure_private_dir(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
            }
            crate::paths::write_atomic(path, text.as_bytes(), 0o600)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let glue_file = glue.as_ref().map(|(p, _)| p.to_string_lossy().into_owned());
        let outfit = self.outfit.as_ref();
        let spec = LaunchSpec {
            program: self.program.clone(),
            session_id: self.session_id.clone(),
            resume: self.resume.clone(),
            model: self.model.clone(),
            system_prompt: self.system_prompt(pane),
            bypass: self.bypass,
            add_dirs: self.add_dirs.clone(),
            allowed_tools: outfit.map(|o| o.allowed_tools.clone()).unwrap_or_default(),
            disallowed_tools: outfit
                .map(|o| o.disallowed_tools.clone())
                .unwrap_or_default(),
            extra_args: self.extra_args.clone(),
            hook_program: hook,
            glue_file,
            is_root: nix::unistd::geteuid().is_root(),
        };
        let built = self.harness.launch(&spec);
        let mut env = BTreeMap::new();
        // The spawner's environment goes to the agent through a pipe, never
        // the launch file (it holds provider keys): see `launch`.
        let inherited: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| !NOT_INHERITED.contains(&k.as_str()))
            .filter(|(k, _)| !self.harness_drops(k))
            .collect();
        // Also removed from what the pane gets from the tmux server's
        // global environment (a server started from Claude Code has them).
        let mut unset = vec![
            "CLAUDECODE".to_string(),
            "CLAUDE_CODE_ENTRYPOINT".to_string(),
            "CLAUDE_CODE_SESSION_ID".to_string(),
        ];
        if self.harness.name == harness::gemini::HARNESS.name {
            unset.extend(harness::gemini::NOT_INHERITED.iter().map(|v| v.to_string()));
        }
        env.insert("ORCH_ROLE".into(), self.role.as_str().into());
        env.insert("ORCH_HARNESS".into(), self.harness.name.into());
        match &self.name {
            Some(n) => {
                env.insert("ORCH_NAME".into(), n.clone());
            }
            None => unset.push("ORCH_NAME".into()),
        }
        match self.parent {
            Some(p) => {
                env.insert("ORCH_PARENT".into(), p.to_string());
            }
            None => unset.push("ORCH_PARENT".into()),
        }
        if injected {
            env.insert(crate::hook::SPAWNED_HOOKS_ENV.into(), "1".into());
        } else {
            unset.push(crate::hook::SPAWNED_HOOKS_ENV.into());
        }
        env.extend(built.env);
        if let Some(o) = outfit {
            env.extend(o.env.clone());
        }
        let mut warnings = self.warnings.clone();
        warnings.extend(built.warnings);
        warnings.extend(glue_warning);
        Ok((
            LaunchFile {
                argv: built.argv,
                env,
                unset,
                env_fifo: None,
                inherited,
            },
            warnings,
            glue,
        ))
    }
}

impl Plan {
    /// What `--dry-run` reports: everything about the spawn but the pane.
    pub(super) fn dry_run(&self) -> Result<DryRunReport> {
        let plan = self;
        let pane = "(assigned at spawn)";
        let (lf, warnings, glue) = plan.launch(pane, false)?;
        // The inherited environment holds secrets: names only, values never
        // printed (orch's own variables win over inherited ones).
        let mut env: BTreeMap<String, String> = lf
            .inherited
            .keys()
            .map(|k| (k.clone(), "(from your environment)".to_string()))
            .collect();
        env.extend(lf.env.clone());
        let mut notes: Vec<String> = plan.note.iter().cloned().collect();
        if !plan.program.starts_with('/') {
            notes.push(format!(
                "{} is not on PATH: {}",
                plan.harness.program, plan.harness.install_hint
            ));
        }
        Ok(DryRunReport {
            harness: plan.harness.name,
            argv: lf.argv,
            env,
            unset: lf.unset,
            cwd: plan.cwd.clone(),
            placement: plan.placement.describe(),
            role: plan.role.clone(),
            readiness: match plan.harness.readiness_for(&plan.extra_args) {
                Readiness::SessionStart => "session_start event",
                Readiness::SessionStartOrQuiet => {
                    "session_start event, else screen quiescence (inferred)"
                }
                Readiness::Screen(_) => "its idle screen, quiet (inferred)",
            },
            events: plan.harness.events,
            name: plan.name.clone(),
            parent: plan.parent,
            session_id: plan.session_id.clone(),
            outfit: plan.outfit.as_ref().map(|o| o.name.clone()),
            worktree: plan.worktree.as_ref().map(|w| WorktreeInfo {
                path: w.path.clone(),
                branch: Some(w.branch.clone()),
                new_branch: Some(w.new_branch),
            }),
            settings: glue
                .as_ref()
                .and_then(|(_, text)| serde_json::from_str(text).ok()),
            glue_file: glue.map(|(path, _)| path),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["reviewer", "a.b-c_d", "x1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "%3",
            "-x",
            "a b",
            "self",
            "operator",
            ".hidden",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fleet_prompt_placeholders_are_filled() {
        let p = fleet_prompt("%7", Some("rev"), &Role::Worker, Some(PaneId(2)), "claude");
        assert!(p.contains("Your pane: %7"));
        assert!(p.contains("Your name: rev"));
        assert!(p.contains("%2"));
        assert!(!p.contains("{{"), "unfilled placeholder in:\n{p}");
        for axis in ["taste", "architecture", "ethics", "reversibility"] {
            assert!(p.contains(axis));
        }
        assert!(p.contains("[orch]"));
    }

    /// Found by the real-Claude e2e suite (issue 5): with no parent, the
    /// prompt told the agent to run `orch tell none (started from outside
    /// tmux) "…"`. The example uses tell's `parent` keyword instead.
    #[test]
    fn fleet_prompt_commands_are_runnable_without_a_parent() {
        let p = fleet_prompt("%7", None, &Role::Worker, None, "claude");
        assert!(p.contains("orch tell parent "), "{p}");
        for line in p.lines().filter(|l| l.trim_start().starts_with("orch ")) {
            assert!(!line.contains("none"), "not a command: {line}");
        }
    }
}

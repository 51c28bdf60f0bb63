//! `orch up` / `orch down` / `orch doctor`: installing orch into a user's
//! agent harnesses without ever damaging their settings. The contract is in
//! `docs/install.md`; this module holds what the three commands share.
//!
//! - [`jsonhooks`]: the pure merge/removal rules for Claude-style hook
//!   tables (and the recognition rule for orch's own entries).
//! - [`jsonfile`]: reading/rewriting a JSON settings file safely (layout
//!   kept, backup, temp + rename, mode kept, read-only refused).
//! - [`Manifest`]: what `up` installed, so `down` removes exactly that.
//! - managed files (skills, glue) and Codex's `config.toml` lines.

pub mod diff;
pub mod doctor;
pub mod down;
pub mod jsonedit;
pub mod jsonfile;
pub mod jsonhooks;
pub mod up;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::exit::Fail;
use crate::lock::FileLock;
use crate::shellwords;
use jsonhooks::HookSpec;

/// An embedded file from the repository's `skills/` or `hooks/`.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub data: &'static [u8],
}

mod assets {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}
pub use assets::{HOOKS, SKILLS};

/// The embedded hook glue file at `path` (relative to `hooks/`).
pub fn hook_asset(path: &str) -> Option<&'static [u8]> {
    HOOKS.iter().find(|a| a.path == path).map(|a| a.data)
}

/// Skill names embedded in this binary (directories under `skills/`).
pub fn skill_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = SKILLS
        .iter()
        .filter_map(|a| a.path.split_once('/').map(|(n, _)| n))
        .collect();
    names.dedup();
    names
}

/// Claude Code's event name → the `orch-hook` argument orch registers
/// (what `hooks/claude/settings.json` must contain; tested): the same
/// table spawn passes with `--settings`.
pub use crate::harness::claude::HOOK_EVENTS as CLAUDE_EVENTS;

/// Gemini CLI's event name → `orch-hook` argument
/// (`hooks/gemini/settings.json`; tested).
pub const GEMINI_EVENTS: &[(&str, &str)] = &[
    ("SessionStart", "session_start"),
    ("BeforeAgent", "prompt"),
    ("AfterAgent", "stop"),
    ("Notification", "notify"),
    ("SessionEnd", "session_end"),
];

/// The handlers a settings fragment from `hooks/` registers, with the
/// placeholder replaced by `orch_hook` (quoted for `sh`).
fn specs_from_fragment(asset: &str, orch_hook: &Path) -> Vec<HookSpec> {
    let data =
        hook_asset(asset).unwrap_or_else(|| panic!("hooks/{asset} is not embedded in this build"));
    let fragment: serde_json::Value = serde_json::from_slice(data)
        .unwrap_or_else(|e| panic!("hooks/{asset} is not valid JSON: {e}"));
    let quoted = shellwords::quote(&orch_hook.to_string_lossy());
    let mut specs = Vec::new();
    for (event, groups) in fragment["hooks"].as_object().into_iter().flatten() {
        for group in groups.as_array().into_iter().flatten() {
            for handler in group["hooks"].as_array().into_iter().flatten() {
                let command = handler["command"].as_str().unwrap_or_default();
                specs.push(HookSpec {
                    event: event.clone(),
                    command: command.replace("@ORCH_HOOK_SH@", &quoted),
                    timeout: handler["timeout"].as_u64(),
                });
            }
        }
    }
    specs
}

/// The hook entries orch registers in Claude Code's settings
/// (`hooks/claude/settings.json`).
pub fn claude_specs(orch_hook: &Path) -> Vec<HookSpec> {
    specs_from_fragment("claude/settings.json", orch_hook)
}

/// The hook entries orch registers in Gemini CLI's settings
/// (`hooks/gemini/settings.json`).
pub fn gemini_specs(orch_hook: &Path) -> Vec<HookSpec> {
    specs_from_fragment("gemini/settings.json", orch_hook)
}

// ---------------------------------------------------------------- paths --

pub fn home_dir() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .context("cannot find the home directory; set HOME")
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn claude_dir() -> Result<PathBuf> {
    match env_dir("CLAUDE_CONFIG_DIR") {
        Some(d) => Ok(d),
        None => Ok(home_dir()?.join(".claude")),
    }
}

pub fn claude_settings_path() -> Result<PathBuf> {
    Ok(claude_dir()?.join("settings.json"))
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_dir() -> Result<PathBuf> {
    match env_dir("CODEX_HOME") {
        Some(d) => Ok(d),
        None => Ok(home_dir()?.join(".codex")),
    }
}

pub fn gemini_dir() -> Result<PathBuf> {
    Ok(home_dir()?.join(".gemini"))
}

/// `$PI_CODING_AGENT_DIR`, else `~/.pi/agent`.
pub fn pi_agent_dir() -> Result<PathBuf> {
    match env_dir("PI_CODING_AGENT_DIR") {
        Some(d) => Ok(d),
        None => Ok(home_dir()?.join(".pi").join("agent")),
    }
}

pub fn manifest_path() -> Result<PathBuf> {
    Ok(crate::layout::install_manifest(
        &crate::layout::config_dir()?
    ))
}

fn lock_path() -> Result<PathBuf> {
    Ok(crate::layout::install_lock(&crate::layout::config_dir()?))
}

/// Serialize `up`/`down` runs (across processes): held until dropped.
pub fn lock_install() -> Result<FileLock> {
    let dir = crate::layout::config_dir()?;
    crate::paths::ensure_private_dir(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let p = lock_path()?;
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

/// Where the `orch-hook` to register lives: `explicit`, else next to the
/// running binary, else on PATH. Always absolute.
pub fn locate_orch_hook(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        };
        if !abs.is_file() {
            return Err(Fail::usage(format!(
                "--hook {}: no such file",
                abs.display()
            )));
        }
        return Ok(abs);
    }
    crate::exe::sibling("hook").ok_or_else(|| {
        anyhow::anyhow!(
            "cannot find orch-hook next to this binary or on PATH; install orch with ./install.sh (or pass --hook PATH)"
        )
    })
}

// ------------------------------------------------------------- agents --

/// An agent CLI orch can drive, and how to get it.
pub const AGENT_CLIS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("pi", "npm install -g @mariozechner/pi-coding-agent"),
    ("opencode", "npm install -g opencode-ai"),
];

#[derive(Debug, Clone, Serialize)]
pub struct AgentCli {
    pub name: &'static str,
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

pub fn agent_clis() -> Vec<AgentCli> {
    AGENT_CLIS
        .iter()
        .map(|(name, hint)| {
            let path = which::which(name).ok();
            AgentCli {
                name,
                hint: if path.is_none() { Some(hint) } else { None },
                path,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct TmuxCheck {
    pub version: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// orch needs tmux 3.0 or newer.
pub fn check_tmux() -> TmuxCheck {
    match crate::tmux::version() {
        Ok((maj, min)) if (maj, min) >= (3, 0) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: true,
            problem: None,
        },
        Ok((maj, min)) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: false,
            problem: Some(format!(
                "tmux {maj}.{min} is too old: orch needs tmux 3.0 or newer"
            )),
        },
        Err(e) => TmuxCheck {
            version: None,
            ok: false,
            problem: Some(format!("{e:#}")),
        },
    }
}

// ------------------------------------------------------------ manifest --

/// What `orch up` installed: `$ORCH_CONFIG_DIR/install.json`. `orch down`
/// removes exactly what is listed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u32,
    /// The orch-hook path the entries point at.
    #[serde(default)]
    pub orch_hook: String,
    /// UTC time of the last change, `YYYYMMDDTHHMMSSZ`.
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub settings: Vec<SettingsRecord>,
    #[serde(default)]
    pub files: Vec<FileRecord>,
    /// Directories `up` created, removed by `down` when empty.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    #[serde(default)]
    pub toml: Vec<TomlRecord>,
}

/// orch's hook entries in one JSON settings file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SettingsRecord {
    /// `claude` or `gemini`.
    pub harness: String,
    pub path: PathBuf,
    /// The file did not exist before `up`.
    #[serde(default)]
    pub file_created: bool,
    #[serde(default)]
    pub hooks_key_created: bool,
    #[serde(default)]
    pub events_created: Vec<String>,
    /// Each event's registered command, as written.
    #[serde(default)]
    pub entries: Vec<EntryRecord>,
    /// The backup taken before orch first changed the file: `down`
    /// restores these exact bytes when the result is semantically equal.
    #[serde(default)]
    pub original_backup: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EntryRecord {
    pub event: String,
    pub command: String,
}

/// A file `up` wrote (a skill file, glue).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    pub path: PathBuf,
    /// FNV-1a 64 of the content written: `down` removes the file only if it
    /// still has this content.
    pub fnv: String,
    /// What it is, for people (`skill orch`, `codex notify glue`…).
    pub what: String,
}

/// Lines `up` added to a TOML file (Codex's `config.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TomlRecord {
    pub path: PathBuf,
    pub lines: Vec<String>,
    #[serde(default)]
    pub file_created: bool,
}

pub const MANIFEST_VERSION: u32 = 1;

impl Manifest {
    /// The manifest on disk, `None` if there is none. A corrupt manifest is
    /// an error (someone should look at it), not silently ignored.
    pub fn load() -> Result<Option<Manifest>> {
        let p = manifest_path()?;
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a valid orch install manifest ({e}); move it aside and run again",
                    p.display()
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", p.display()))),
        }
    }

    pub fn save(&self) -> Result<PathBuf> {
        let p = manifest_path()?;
        let dir = p.parent().expect("manifest has a parent");
        crate::paths::ensure_private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        jsonfile::write_replace(&p, text.as_bytes(), 0o600, None)
            .with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    }

    pub fn settings_for(&self, path: &Path) -> Option<&SettingsRecord> {
        self.settings.iter().find(|s| s.path == path)
    }

    pub fn file(&self, path: &Path) -> Option<&FileRecord> {
        self.files.iter().find(|f| f.path == path)
    }

    pub fn upsert_settings(&mut self, rec: SettingsRecord) {
        match self.settings.iter_mut().find(|s| s.path == rec.path) {
            Some(s) => *s = rec,
            None => self.settings.push(rec),
        }
    }

    pub fn upsert_file(&mut self, rec: FileRecord) {
        match self.files.iter_mut().find(|f| f.path == rec.path) {
            Some(f) => *f = rec,
            None => self.files.push(rec),
        }
    }

    pub fn add_dir(&mut self, dir: PathBuf) {
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
    }
}

/// The content fingerprint the manifest records ([`crate::event::fnv1a64`]).
pub fn fnv64(data: &[u8]) -> String {
    format!("{:016x}", crate::event::fnv1a64(data))
}

// ------------------------------------------------------- managed files --

/// What `up` will do with one file it manages.
#[derive(Debug, Clone, Serialize)]
pub struct FilePlan {
    pub path: PathBuf,
    /// `create`, `update`, `unchanged` or `conflict`.
    pub action: &'static str,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip)]
    pub data: Vec<u8>,
    #[serde(skip)]
    pub mode: u32,
    #[serde(skip)]
    pub old: Option<Vec<u8>>,
}

/// Decide what to do with `path`: create it, leave it (already identical),
/// update it (an unmodified older copy orch wrote), or refuse to touch it
/// (someone else's file, or orch's but edited since).
pub fn plan_file(
    path: PathBuf,
    data: Vec<u8>,
    mode: u32,
    what: String,
    manifest: &Manifest,
) -> FilePlan {
    let (action, reason, old) = match fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => ("create", None, None),
        Err(e) => ("conflict", Some(format!("cannot read it: {e}")), None),
        Ok(cur) if cur == data => ("unchanged", None, Some(cur)),
        Ok(cur) => match manifest.file(&path) {
            Some(rec) if rec.fnv == fnv64(&cur) => ("update", None, Some(cur)),
            Some(_) => (
                "conflict",
                Some("changed since orch installed it; orch left it alone".to_string()),
                Some(cur),
            ),
            None => (
                "conflict",
                Some(
                    "a different file is already there (not installed by orch); orch left it alone"
                        .to_string(),
                ),
                Some(cur),
            ),
        },
    };
    FilePlan {
        path,
        action,
        what,
        reason,
        data,
        mode,
        old,
    }
}

/// Create `dir` and missing parents, recording each one created.
pub fn create_dirs(dir: &Path, manifest: &mut Manifest) -> Result<()> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    for m in missing.into_iter().rev() {
        match fs::create_dir(&m) {
            Ok(()) => manifest.add_dir(m),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot create {}", m.display())));
            }
        }
    }
    Ok(())
}

/// Carry out a [`FilePlan`] and record it.
pub fn apply_file(plan: &FilePlan, manifest: &mut Manifest) -> Result<bool> {
    match plan.action {
        "create" | "update" => {
            if let Some(dir) = plan.path.parent() {
                create_dirs(dir, manifest)?;
            }
            jsonfile::write_replace(&plan.path, &plan.data, plan.mode, None)
                .with_context(|| format!("cannot write {}", plan.path.display()))?;
        }
        "unchanged" => {}
        _ => return Ok(false),
    }
    manifest.upsert_file(FileRecord {
        path: plan.path.clone(),
        fnv: fnv64(&plan.data),
        what: plan.what.clone(),
    });
    Ok(plan.action != "unchanged")
}

/// The skill files this binary installs under `skills_dir`.
pub fn skill_files(skills_dir: &Path) -> Vec<(PathBuf, &'static [u8], String)> {
    SKILLS
        .iter()
        .filter_map(|a| {
            let (name, _) = a.path.split_once('/')?;
            Some((skills_dir.join(a.path), a.data, format!("skill {name}")))
        })
        .collect()
}

/// Fill a glue template's placeholders with the orch-hook path.
pub fn render_template(template: &[u8], orch_hook: &Path) -> Vec<u8> {
    let path = orch_hook.to_string_lossy();
    String::from_utf8_lossy(template)
        .replace("@ORCH_HOOK_SH@", &shellwords::quote(&path))
        .replace(
            "@ORCH_HOOK_JSON@",
            &serde_json::to_string(path.as_ref()).expect("string serializes"),
        )
        .into_bytes()
}

// ------------------------------------------------------- codex config --

/// The comment that marks orch's lines in Codex's `config.toml`.
pub const CODEX_MARKER: &str =
    "# orch: report Codex turn ends to orch (added by `orch up`, removed by `orch down`)";

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The two lines orch adds to Codex's `config.toml`.
pub fn codex_lines(script: &Path) -> Vec<String> {
    vec![
        CODEX_MARKER.to_string(),
        format!("notify = [{}]", toml_string(&script.to_string_lossy())),
    ]
}

fn is_notify_key(line: &str) -> bool {
    let t = line.trim_start();
    let rest = t
        .strip_prefix("notify")
        .or_else(|| t.strip_prefix("\"notify\""))
        .or_else(|| t.strip_prefix("'notify'"));
    rest.is_some_and(|r| r.trim_start().starts_with('='))
}

/// The index of orch's block (marker line followed by a notify line).
pub fn find_codex_block(lines: &[&str]) -> Option<usize> {
    lines
        .windows(2)
        .position(|w| w[0] == CODEX_MARKER && is_notify_key(w[1]))
}

/// What to do to Codex's config text: `Ok(None)` when orch's lines are
/// already there, `Err(reason)` when another `notify` is set (Codex allows
/// one; orch does not replace someone else's).
pub fn codex_edit(text: &str, ours: &[String]) -> Result<Option<String>, String> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = find_codex_block(&lines) {
        if lines[i + 1] == ours[1] {
            return Ok(None);
        }
        // An older orch block (another script path): replace it in place.
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out[i + 1] = ours[1].clone();
        return Ok(Some(join_lines(&out, text)));
    }
    if let Some(l) = lines.iter().find(|l| is_notify_key(l)) {
        return Err(format!(
            "Codex already has a notify program ({}); Codex allows only one, so orch left it alone",
            l.trim()
        ));
    }
    // Top-level keys must come before the first [table]: the top of the
    // file is always top level.
    let mut out: Vec<String> = ours.to_vec();
    out.extend(lines.iter().map(|l| l.to_string()));
    Ok(Some(join_lines(&out, text)))
}

/// Remove orch's block; `None` when it is not there.
pub fn codex_remove(text: &str, recorded: Option<&[String]>) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let i = match recorded {
        Some(rec) if rec.len() == 2 => lines
            .windows(2)
            .position(|w| w[0] == rec[0] && w[1] == rec[1])
            .or_else(|| find_codex_block(&lines)),
        _ => find_codex_block(&lines),
    }?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.drain(i..i + 2);
    Some(join_lines(&out, text))
}

fn join_lines(lines: &[String], like: &str) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = lines.join("\n");
    if like.is_empty() || like.ends_with('\n') {
        s.push('\n');
    }
    s
}

// ------------------------------------------------------------ approval --

/// Whether `up`/`down` may go ahead once they know what they would change.
pub enum Approval<'a> {
    /// Yes, without asking (`--yes`).
    Given,
    /// Ask: the plan to show, the question; true means go ahead.
    Ask(&'a mut dyn FnMut(&str, &str) -> Result<bool>),
    /// Nobody to ask (no terminal): `up` goes ahead, `down` refuses.
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv64(b""), "cbf29ce484222325");
        assert_eq!(fnv64(b"a"), "af63dc4c8601ec8c");
    }

    #[test]
    fn specs_quote_awkward_paths() {
        let specs = claude_specs(Path::new("/opt/my tools/orch-hook"));
        assert_eq!(specs[2].event, "Stop");
        assert_eq!(specs[2].command, "'/opt/my tools/orch-hook' stop");
        let parsed = jsonhooks::parse_orch_command(&specs[2].command).unwrap();
        assert_eq!(parsed.program, "/opt/my tools/orch-hook");
        let g = gemini_specs(Path::new("/bin/orch-hook"));
        assert_eq!(g[2].command, "/bin/orch-hook stop --harness gemini");
        assert!(jsonhooks::parse_orch_command(&g[2].command).is_some());
    }

    #[test]
    fn fragments_register_exactly_the_documented_events() {
        let hook = Path::new("/bin/orch-hook");
        for (specs, table, harness) in [
            (claude_specs(hook), CLAUDE_EVENTS, None),
            (gemini_specs(hook), GEMINI_EVENTS, Some("gemini")),
        ] {
            assert_eq!(specs.len(), table.len());
            for (spec, (event, arg)) in specs.iter().zip(table) {
                assert_eq!(spec.event, *event);
                let c = jsonhooks::parse_orch_command(&spec.command).unwrap();
                assert_eq!(
                    (c.program.as_str(), c.event.as_str()),
                    ("/bin/orch-hook", *arg)
                );
                assert_eq!(c.harness.as_deref(), harness);
                assert!(spec.timeout.is_some());
            }
        }
        assert_eq!(claude_specs(hook)[0].timeout, Some(10), "seconds");
        assert_eq!(gemini_specs(hook)[0].timeout, Some(10_000), "milliseconds");
    }

    #[test]
    fn codex_config_edits() {
        let ours = codex_lines(Path::new("/x/codex-notify.sh"));
        let original = "model = \"o3\"\n\n[mcp_servers.a]\ncommand = \"a\"\n";
        let edited = codex_edit(original, &ours).unwrap().unwrap();
        assert!(edited.starts_with(CODEX_MARKER));
        assert!(edited.ends_with(original));
        assert_eq!(codex_edit(&edited, &ours), Ok(None));
        assert_eq!(codex_remove(&edited, Some(&ours)).unwrap(), original);
        // An older orch block is updated in place.
        let old = codex_lines(Path::new("/old/codex-notify.sh"));
        let older = codex_edit(original, &old).unwrap().unwrap();
        assert_eq!(codex_edit(&older, &ours).unwrap().unwrap(), edited);
        // Someone else's notify is left alone.
        let theirs = "notify = [\"notify-send\"]\n";
        assert!(
            codex_edit(theirs, &ours)
                .unwrap_err()
                .contains("notify-send")
        );
        // Empty / missing file.
        let fresh = codex_edit("", &ours).unwrap().unwrap();
        assert_eq!(codex_remove(&fresh, Some(&ours)).unwrap(), "");
        assert_eq!(codex_remove(original, Some(&ours)), None);
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
    }

    #[test]
    fn templates_are_filled() {
        let t = b"x @ORCH_HOOK_SH@ y @ORCH_HOOK_JSON@";
        let out = render_template(t, Path::new("/a b/orch-hook"));
        assert_eq!(out, b"x '/a b/orch-hook' y \"/a b/orch-hook\"");
    }

    #[test]
    fn managed_file_plans() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/file.md");
        let mut m = Manifest::default();
        let plan = plan_file(p.clone(), b"v1".to_vec(), 0o644, "skill t".into(), &m);
        assert_eq!(plan.action, "create");
        assert!(apply_file(&plan, &mut m).unwrap());
        assert_eq!(m.dirs, vec![dir.path().join("sub")]);
        assert_eq!(
            plan_file(p.clone(), b"v1".to_vec(), 0o644, "t".into(), &m).action,
            "unchanged"
        );
        // An unmodified copy from an older orch is updated…
        assert_eq!(
            plan_file(p.clone(), b"v2".to_vec(), 0o644, "t".into(), &m).action,
            "update"
        );
        // …but not one the user edited, nor someone else's file.
        fs::write(&p, b"edited").unwrap();
        assert_eq!(
            plan_file(p.clone(), b"v2".to_vec(), 0o644, "t".into(), &m).action,
            "conflict"
        );
        assert_eq!(
            plan_file(p, b"v2".to_vec(), 0o644, "t".into(), &Manifest::default()).action,
            "conflict"
        );
    }

    #[test]
    fn embedded_assets_include_the_glue() {
        assert!(hook_asset("codex/notify.sh").is_some());
        assert!(hook_asset("pi/orch.ts").is_some());
        // Only files inside a skill directory are skills.
        assert!(
            skill_files(Path::new("/s"))
                .iter()
                .all(|(p, _, _)| p.parent() != Some(Path::new("/s")))
        );
    }
}

//! Reading and rewriting a user's JSON settings file without damaging it.
//!
//! - Object key order is kept (serde_json's `preserve_order` feature).
//! - Only what changes is rewritten: unchanged parts keep their exact
//!   bytes ([`super::jsonedit`]); new parts follow the file's layout
//!   (indent unit, compact vs. pretty, trailing newline, CRLF). Claude Code
//!   rewrites its settings itself, so no formatting is assumed to survive;
//!   this only keeps orch's own diff small.
//! - A symlinked file (dotfile managers) is edited at its target; the link
//!   stays a link.
//! - Writes are a temp file in the same directory + `rename`, with the old
//!   file's mode (and owner, when we are root). Claude Code rewrites its
//!   settings while it runs, so the slow parts (the backup, the temp file
//!   and their fsyncs) come first; only then is the file re-read and, if
//!   it still holds what the change was computed from, replaced at once.
//!   If someone changed it, nothing is written and [`Changed`] says so: the
//!   caller computes the change again from the new content
//!   ([`retry_on_change`]), so nobody's keys are lost.
//! - A file that reads as empty or invalid may be caught mid-write by a
//!   writer that truncates first (Node's `writeFileSync`): it is read again
//!   for a moment before it is believed ([`JsonFile::load`]).
//! - A read-only file (no write bit at all) is refused, even for root: a
//!   rename could replace it, but the user has said "don't".

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::exit::{Code, Fail};
use crate::time::{now_secs, timestamp_compact};

/// How a JSON file is laid out, so a rewrite looks like the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// `None`: compact, one line. `Some(unit)`: pretty with this indent.
    pub indent: Option<String>,
    pub trailing_newline: bool,
    pub crlf: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            indent: Some("  ".into()),
            trailing_newline: true,
            crlf: false,
        }
    }
}

impl Style {
    /// Guess the layout of `text` (a valid JSON document).
    pub fn detect(text: &str) -> Style {
        let trimmed = text.trim();
        let crlf = text.contains("\r\n");
        let trailing_newline = text.ends_with('\n');
        let indent = if !trimmed.contains('\n') {
            // One line: keep it compact, unless it is just an empty
            // object/array with nothing to imitate.
            if trimmed.len() <= 2 {
                Some("  ".to_string())
            } else {
                None
            }
        } else {
            trimmed
                .lines()
                .skip(1)
                .map(|l| {
                    let l = l.trim_end_matches('\r');
                    &l[..l.len() - l.trim_start().len()]
                })
                .find(|ws| !ws.is_empty())
                .map(str::to_string)
                .or(Some("  ".to_string()))
        };
        Style {
            indent,
            trailing_newline: trailing_newline || trimmed.is_empty(),
            crlf,
        }
    }

    /// Serialize `value` in this style.
    pub fn render(&self, value: &Value) -> String {
        let mut out = Vec::new();
        match &self.indent {
            None => serde_json::to_writer(&mut out, value).expect("Value serializes"),
            Some(unit) => {
                let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
                let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
                value.serialize(&mut ser).expect("Value serializes");
            }
        }
        let mut s = String::from_utf8(out).expect("serde_json writes UTF-8");
        if self.trailing_newline {
            s.push('\n');
        }
        if self.crlf {
            s = s.replace('\n', "\r\n");
        }
        s
    }
}

/// A JSON settings file as read, before any change.
#[derive(Debug, Clone)]
pub struct JsonFile {
    /// The path as named (e.g. `~/.claude/settings.json`).
    pub path: PathBuf,
    /// Where writes go: `path` with symlinks resolved.
    pub target: PathBuf,
    /// The bytes read; `None` when the file does not exist.
    pub raw: Option<Vec<u8>>,
    /// The parsed document (`{}` for a missing or blank file).
    pub value: Value,
    pub style: Style,
    /// Permission bits of the existing file.
    pub mode: Option<u32>,
}

/// The file changed between the read a change was computed from and the
/// moment it would have been written: nothing was written.
#[derive(Debug)]
pub struct Changed(pub PathBuf);

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} changed while orch was editing it (another program wrote it); run again",
            self.0.display()
        )
    }
}

impl std::error::Error for Changed {}

/// How long a change is computed again while another writer keeps
/// changing the file, and the pause between tries (plus jitter).
const CHANGE_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);
const CHANGE_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// Run `attempt` (load, compute, commit) until it does not fail with
/// [`Changed`], for up to [`CHANGE_BUDGET`]. Each try's window (first read
/// to last re-read) spans two fsyncs, so against a writer that rewrites the
/// file every few milliseconds it takes a few tries to land in a gap.
pub fn retry_on_change<T>(mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let start = std::time::Instant::now();
    loop {
        match attempt() {
            Err(e) if e.downcast_ref::<Changed>().is_some() && start.elapsed() < CHANGE_BUDGET => {
                // Jitter, so two retrying writers do not keep meeting at
                // the same moment.
                let jitter = crate::paths::random_u64() % 20;
                std::thread::sleep(CHANGE_PAUSE + std::time::Duration::from_millis(jitter));
            }
            r => return r,
        }
    }
}

/// How long a file that reads as empty or invalid is read again, waiting
/// for a writer that truncates before it writes.
const SETTLE_TRIES: usize = 40;
const SETTLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);

/// Could these bytes be a settings file caught mid-write (empty, or not
/// a whole JSON document)?
fn looks_unsettled(bytes: &[u8]) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => return true,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.trim().is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
}

/// Read `target`, reading again for a moment while it looks unsettled.
fn read_settled(target: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = fs::read(target)?;
    for _ in 0..SETTLE_TRIES {
        if !looks_unsettled(&bytes) {
            break;
        }
        std::thread::sleep(SETTLE_PAUSE);
        bytes = fs::read(target)?;
    }
    Ok(bytes)
}

impl JsonFile {
    /// Read and parse `path`. Invalid JSON is a usage error (exit 2) that
    /// says where, and changes nothing. An empty or invalid file is read
    /// again for up to a second first: it may be mid-write.
    pub fn load(path: &Path) -> Result<JsonFile> {
        let target = resolve_links(path)?;
        let raw = match read_settled(&target) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => {
                return Err(Fail::usage(format!(
                    "{} is a directory, not a settings file; move it aside and run again",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
                );
            }
        };
        let mode = match &raw {
            Some(_) => Some(fs::metadata(&target)?.permissions().mode() & 0o7777),
            None => None,
        };
        let (value, style) = match &raw {
            None => (Value::Object(Default::default()), Style::default()),
            Some(bytes) => {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    Fail::usage(format!(
                        "{} is not valid UTF-8 (byte {}); fix it or move it aside, then run again; nothing was changed",
                        path.display(),
                        e.valid_up_to()
                    ))
                })?;
                let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
                if text_no_bom.trim().is_empty() {
                    (Value::Object(Default::default()), Style::default())
                } else {
                    let value: Value = serde_json::from_str(text_no_bom).map_err(|e| {
                        Fail::usage(format!(
                            "{} is not valid JSON (line {}, column {}: {}); fix it or move it aside, then run again; nothing was changed",
                            path.display(),
                            e.line(),
                            e.column(),
                            strip_position(&e.to_string())
                        ))
                    })?;
                    (value, Style::detect(text_no_bom))
                }
            }
        };
        Ok(JsonFile {
            path: path.to_path_buf(),
            target,
            raw,
            value,
            style,
            mode,
        })
    }

    /// The text for `value`: the original text with only the differences
    /// rewritten (see [`super::jsonedit`]), else a fresh rendering in the
    /// file's style.
    pub fn render(&self, value: &Value) -> String {
        let text = self.text();
        if !text.trim().is_empty()
            && let Some(out) = super::jsonedit::rerender(&text, value, &self.style)
        {
            return out;
        }
        self.style.render(value)
    }

    pub fn exists(&self) -> bool {
        self.raw.is_some()
    }

    /// The text as read ("" for a missing file).
    pub fn text(&self) -> String {
        self.raw
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    /// Refuse (exit 4) if the file exists but has no write bit: the user
    /// made it read-only on purpose.
    pub fn check_writable(&self) -> Result<()> {
        if let Some(mode) = self.mode
            && mode & 0o222 == 0
        {
            return Err(Fail::new(
                Code::Refused,
                format!(
                    "{} is read-only (mode {:o}); make it writable (chmod u+w) and run again; nothing was changed",
                    self.path.display(),
                    mode
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Fail with [`Changed`] unless the file still holds what was read.
    fn unchanged_since_read(&self) -> Result<()> {
        let now = match fs::read(&self.target) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot read {}", self.path.display()))
                );
            }
        };
        if now != self.raw {
            return Err(Changed(self.path.clone()).into());
        }
        Ok(())
    }

    /// The backup (when the file exists and `backup` is set), taken before
    /// anything else.
    fn take_backup(&self, backup: bool) -> Result<Option<PathBuf>> {
        match (&self.raw, backup) {
            (Some(raw), true) => Ok(Some(write_backup(
                &self.path,
                raw,
                self.mode.unwrap_or(0o600),
            )?)),
            _ => Ok(None),
        }
    }

    /// Replace the file's content with `data`: the backup (when the file
    /// exists and `backup` is set) and the synced temp file first, then a
    /// re-read and, if the file is unchanged, the rename. Returns the
    /// backup path. Fails with [`Changed`], writing nothing (and removing
    /// its backup), if the file changed since it was read.
    pub fn commit(&self, data: &[u8], backup: bool) -> Result<Option<PathBuf>> {
        self.check_writable()?;
        self.unchanged_since_read()?;
        let backup_path = self.take_backup(backup)?;
        let discard = |e: anyhow::Error| {
            if let Some(b) = &backup_path {
                let _ = fs::remove_file(b);
            }
            e
        };
        let dir = self.target.parent().unwrap_or(Path::new("."));
        if !dir.is_dir() {
            crate::paths::create_private_dir(dir)
                .with_context(|| format!("cannot create {}", dir.display()))
                .map_err(discard)?;
        }
        let owner = fs::metadata(&self.target).ok().map(|m| (m.uid(), m.gid()));
        let temp =
            crate::paths::prepare_temp(&self.target, data, self.mode.unwrap_or(0o600), true, owner)
                .with_context(|| format!("cannot write {}", self.path.display()))
                .map_err(discard)?;
        self.unchanged_since_read().map_err(discard)?;
        temp.install()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(backup_path)
    }

    /// Delete the file (after a backup). Used when `orch down` finds a
    /// file that `orch up` created now holds nothing but `{}`. Like
    /// [`JsonFile::commit`], fails with [`Changed`] if the file changed.
    pub fn delete(&self, backup: bool) -> Result<Option<PathBuf>> {
        self.check_writable()?;
        let backup_path = self.take_backup(backup)?;
        if let Err(e) = self.unchanged_since_read() {
            if let Some(b) = &backup_path {
                let _ = fs::remove_file(b);
            }
            return Err(e);
        }
        match fs::remove_file(&self.target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot remove {}", self.path.display()))
                );
            }
        }
        Ok(backup_path)
    }
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Follow symlinks (also dangling ones, whose target may be created).
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)?;
                p = if link.is_absolute() {
                    link
                } else {
                    p.parent().unwrap_or(Path::new("/")).join(link)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Fail::usage(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// The backups [`write_backup`] made of `path` (`<name>.orch-backup-<UTC
/// YYYYMMDDTHHMMSSZ>[-N]` next to it), oldest first.
pub fn backups_of(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!("{name}.orch-backup-");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix(&prefix).is_some_and(|rest| {
                        let (stamp, n) = rest.split_once('-').unwrap_or((rest, "2"));
                        stamp.len() == 16
                            && stamp.ends_with('Z')
                            && stamp.as_bytes()[8] == b'T'
                            && n.bytes().all(|b| b.is_ascii_digit())
                    })
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Write `data` as `<path>.orch-backup-<UTC timestamp>` (never overwriting
/// an existing backup), with the original's mode.
pub fn write_backup(path: &Path, data: &[u8], mode: u32) -> Result<PathBuf> {
    let stamp = timestamp_compact(now_secs());
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let dir = path.parent().unwrap_or(Path::new("."));
    for n in 1..1000 {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let candidate = dir.join(format!("{name}.orch-backup-{stamp}{suffix}"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&candidate)
        {
            Ok(mut f) => {
                f.write_all(data)
                    .and_then(|_| f.sync_all())
                    .with_context(|| format!("cannot write backup {}", candidate.display()))?;
                fs::set_permissions(&candidate, fs::Permissions::from_mode(mode))?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot write backup {}", candidate.display())));
            }
        }
    }
    anyhow::bail!("cannot find a free backup name for {}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn styles_are_detected_and_reproduced() {
        for text in [
            "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}\n",
            "{\n    \"a\": 1\n}",
            "{\n\t\"a\": {\n\t\t\"b\": null\n\t}\n}\n",
            "{\"a\":1,\"b\":[1,2]}",
            "{\r\n  \"a\": \"ü\"\r\n}\r\n",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Style::detect(text).render(&v), text, "{text:?}");
        }
    }

    #[test]
    fn key_order_is_preserved() {
        let text = "{\n  \"zeta\": 1,\n  \"alpha\": 2,\n  \"mid\": {\n    \"y\": 1,\n    \"x\": 2\n  }\n}\n";
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Style::detect(text).render(&v), text);
    }

    #[test]
    fn empty_documents_get_the_default_style() {
        assert_eq!(Style::detect("{}\n"), Style::default());
        // No newline at the end stays that way.
        assert!(!Style::detect("{}").trailing_newline);
        assert_eq!(
            Style::default().render(&json!({"a": 1})),
            "{\n  \"a\": 1\n}\n"
        );
    }

    #[test]
    fn load_missing_blank_and_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        let f = JsonFile::load(&p).unwrap();
        assert!(!f.exists());
        assert_eq!(f.value, json!({}));
        fs::write(&p, "  \n").unwrap();
        assert_eq!(JsonFile::load(&p).unwrap().value, json!({}));
        fs::write(&p, "{\"a\": 1,,}").unwrap();
        let err = JsonFile::load(&p).unwrap_err();
        assert_eq!(crate::exit::code_of(&err), Code::Usage);
        let msg = format!("{err:#}");
        assert!(msg.contains("not valid JSON (line 1, column 9"), "{msg}");
        assert_eq!(msg.lines().count(), 1);
    }

    #[test]
    fn commit_keeps_mode_backs_up_and_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-settings.json");
        fs::write(&real, "{\"a\": 1}").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("settings.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let f = JsonFile::load(&link).unwrap();
        let backup = f.commit(b"{\"a\": 2}", true).unwrap().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "{\"a\": 2}");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_to_string(&backup).unwrap(), "{\"a\": 1}");
        assert_eq!(
            fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(
            backup
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("settings.json.orch-backup-")
        );
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn commit_refuses_a_file_changed_since_it_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        fs::write(&p, "{}").unwrap();
        let f = JsonFile::load(&p).unwrap();
        fs::write(&p, "{\"skipDangerousModePermissionPrompt\": true}").unwrap();
        assert!(f.commit(b"{\"x\": 1}", true).is_err());
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "{\"skipDangerousModePermissionPrompt\": true}"
        );
    }

    #[test]
    fn read_only_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        fs::write(&p, "{}").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        let f = JsonFile::load(&p).unwrap();
        let err = f.commit(b"{\"x\": 1}", true).unwrap_err();
        assert_eq!(crate::exit::code_of(&err), Code::Refused);
        assert_eq!(fs::read_to_string(&p).unwrap(), "{}");
    }
}

//! The install manifest, `$ORCH_CONFIG_DIR/install.json`: what `orch up`
//! installed, so `orch down` removes exactly that and `orch doctor` knows
//! what to expect.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::paths::manifest_path;

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
        crate::paths::create_private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::paths::write_durable(&p, text.as_bytes(), 0o600, None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv64(b""), "cbf29ce484222325");
        assert_eq!(fnv64(b"a"), "af63dc4c8601ec8c");
    }
}

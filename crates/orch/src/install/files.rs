//! Files orch manages outright (skills, glue scripts): deciding whether
//! one may be written (created, updated, left alone, or someone else's),
//! and writing it with the directories it needs, recorded in the manifest.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::manifest::{FileRecord, Manifest, fnv64};

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

/// A managed file's line in `up`'s and `doctor`'s reports for people:
/// `  skill orch: create /path`. One format, so both commands read alike.
pub fn report_line(what: &str, word: &str, path: &Path) -> String {
    format!("  {what}: {word} {}\n", path.display())
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
            crate::paths::write_durable(&plan.path, &plan.data, plan.mode, None)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

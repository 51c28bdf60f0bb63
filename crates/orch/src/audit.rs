//! The audit log: one JSON line per send attempt (and operator claim), in
//! `$ORCH_STATE_DIR/audit.jsonl` (0600).
//!
//! Appends are serialized by `audit.lock` beside it, so concurrent tells
//! never interleave a line. The log is bounded: past
//! [`DEFAULT_AUDIT_MAX_BYTES`] (or `ORCH_AUDIT_MAX_BYTES`) it is renamed to
//! `audit.jsonl.1` (replacing the previous generation) and a new one starts.
//! The record's fields are documented in docs/tell.md ("Audit log").

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::roles::Role;

pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 4 * 1024 * 1024;
pub const AUDIT_MAX_ENV: &str = "ORCH_AUDIT_MAX_BYTES";
/// Bytes of the prompt kept as `preview`.
pub const PREVIEW_BYTES: usize = 200;

/// One audit line. Optional fields are omitted when empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditRecord {
    pub v: u32,
    /// Nanoseconds since the Unix epoch.
    pub ts: u64,
    /// `send`, `confirm` (a queued send confirmed later, written by the
    /// hook) or `claim-operator` / `release-operator`.
    pub action: String,
    /// The tmux server (`Server::key`).
    pub server: String,
    /// The pane the send is made as (None: outside tmux).
    pub from: Option<PaneId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_name: Option<String>,
    /// The pane the command really ran in, when `--from` named another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<PaneId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_role: Option<Role>,
    /// The send came over ssh from this `user@host %pane` (`orch --host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_from: Option<String>,
    /// What the user typed as target (`reviewer`, `operator`, `%3`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_arg: String,
    pub target: Option<PaneId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_role: Option<Role>,
    /// Bytes of the prompt (sanitized, before any pointer file).
    #[serde(default)]
    pub bytes: u64,
    /// `prompt_hash` of the text the agent receives.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview: String,
    /// `allowed`, `denied` or `not-checked` (the send stopped earlier).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role_check: String,
    #[serde(default)]
    pub forced: bool,
    /// What `--force` overrode: `--from`, `roles`, `unknown-target`
    /// (not a known agent), `command-text` (`!`/`/` into Claude Code).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    /// `delivered`, `queued`, `unconfirmed`, `refused`, `blocked`,
    /// `exited`, `timeout`, `failed`, `claimed`, `released`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The prompt went through this file (large prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The `sent` event's seq in the target's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_seq: Option<u64>,
    /// What confirmed a queued prompt: `prompt_event` or `transcript`
    /// (`confirm` records, and sends whose receipt said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
}

pub fn path(root: &Path) -> PathBuf {
    crate::layout::audit_log(root)
}

fn max_bytes() -> u64 {
    crate::env::positive(AUDIT_MAX_ENV, DEFAULT_AUDIT_MAX_BYTES)
}

/// Append one record under the audit lock, rotating first if the log is
/// over its bound.
pub fn append(root: &Path, rec: &AuditRecord) -> Result<()> {
    append_bounded(root, rec, max_bytes())
}

fn append_bounded(root: &Path, rec: &AuditRecord, max: u64) -> Result<()> {
    paths::ensure_private_dir(root)?;
    let mut line = serde_json::to_vec(rec)?;
    line.push(b'\n');
    let lock_path = crate::layout::audit_lock(root);
    let _lock = FileLock::acquire(&lock_path)
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let p = path(root);
    if fs::symlink_metadata(&p).is_ok_and(|m| m.len() > max) {
        fs::rename(&p, crate::layout::rotated(&p))
            .with_context(|| format!("cannot rotate {}", p.display()))?;
    }
    let mut f = paths::open_append(&p).with_context(|| format!("cannot open {}", p.display()))?;
    f.write_all(&line)
        .with_context(|| format!("cannot append to {}", p.display()))
}

/// Which records `--audit` shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Records whose sender or target is one of these panes.
    pub panes: Vec<PaneId>,
    /// Records whose sender or target carries this name.
    pub name: Option<String>,
    /// Records at or after this time (ns).
    pub since_ts: Option<u64>,
}

impl Filter {
    fn matches(&self, v: &Value) -> bool {
        if let Some(since) = self.since_ts
            && v.get("ts").and_then(Value::as_u64).unwrap_or(0) < since
        {
            return false;
        }
        if self.panes.is_empty() && self.name.is_none() {
            return true;
        }
        let field = |k: &str| v.get(k).and_then(Value::as_str);
        let pane_hit = ["from", "target", "via"].iter().any(|k| {
            field(k)
                .and_then(|s| s.parse::<PaneId>().ok())
                .is_some_and(|p| self.panes.contains(&p))
        });
        let name_hit = self
            .name
            .as_deref()
            .is_some_and(|n| field("from_name") == Some(n) || field("target_name") == Some(n));
        pane_hit || name_hit
    }
}

/// Every retained record matching `filter`, oldest first (kept as JSON so
/// fields written by newer versions survive).
pub fn read(root: &Path, filter: &Filter) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for p in [crate::layout::rotated(&path(root)), path(root)] {
        let data = match paths::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
        };
        for line in data.split(|&b| b == b'\n') {
            if let Ok(v) = serde_json::from_slice::<Value>(line)
                && v.is_object()
                && filter.matches(&v)
            {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// One record as a line for people:
/// `2026-11-20T10:00:00Z  send  %3 rev [worker] → %1 [operator]  delivered 12ms`.
pub fn describe(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
    let who = |pane: &str, name: &str, role: &str| {
        let mut w = if pane.is_empty() {
            "(outside tmux)".to_string()
        } else {
            pane.to_string()
        };
        if !name.is_empty() {
            w.push_str(&format!(" {name}"));
        }
        if !role.is_empty() {
            w.push_str(&format!(" [{role}]"));
        }
        w
    };
    let mut line = format!(
        "{}  {:<16} {} → {}  {}",
        crate::time::format_utc(r.get("ts").and_then(Value::as_u64).unwrap_or(0)),
        s("action"),
        who(s("from"), s("from_name"), s("sender_role")),
        who(s("target"), s("target_name"), s("target_role")),
        s("outcome"),
    );
    if let Some(ms) = r.get("receipt_ms").and_then(Value::as_f64) {
        line.push_str(&format!(" {ms}ms"));
    }
    if r.get("forced").and_then(Value::as_bool) == Some(true) {
        line.push_str(" FORCED");
    }
    if !s("escalation").is_empty() {
        line.push_str(&format!(" escalation:{}", s("escalation")));
    }
    if !s("confirmed_by").is_empty() {
        line.push_str(&format!(" by:{}", s("confirmed_by")));
    }
    if let Some(b) = r.get("bytes").and_then(Value::as_u64).filter(|&b| b > 0) {
        line.push_str(&format!(
            " {b}B {:?}",
            s("preview").chars().take(60).collect::<String>()
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_bounds_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for i in 0..50u64 {
            let rec = AuditRecord {
                v: 1,
                ts: i,
                action: "send".into(),
                outcome: "delivered".into(),
                preview: "x".repeat(100),
                ..Default::default()
            };
            append_bounded(root, &rec, 1000).unwrap();
        }
        let cur = fs::metadata(path(root)).unwrap().len();
        let old = fs::metadata(root.join("audit.jsonl.1")).unwrap().len();
        assert!(cur <= 1000 + 300 && old <= 1000 + 300, "{cur} {old}");
        // The newest records survive, in order, across both generations.
        let all = read(root, &Filter::default()).unwrap();
        let ts: Vec<u64> = all.iter().map(|v| v["ts"].as_u64().unwrap()).collect();
        assert_eq!(*ts.last().unwrap(), 49);
        assert!(ts.windows(2).all(|w| w[1] == w[0] + 1), "{ts:?}");
    }

    #[test]
    fn append_rotate_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for i in 0..3u32 {
            let rec = AuditRecord {
                v: 1,
                ts: 1000 + u64::from(i),
                action: "send".into(),
                target: Some(PaneId(i)),
                target_name: Some(format!("a{i}")),
                outcome: "delivered".into(),
                ..Default::default()
            };
            append(root, &rec).unwrap();
        }
        let all = read(root, &Filter::default()).unwrap();
        assert_eq!(all.len(), 3);
        let f = Filter {
            panes: vec![PaneId(1)],
            ..Default::default()
        };
        assert_eq!(read(root, &f).unwrap().len(), 1);
        let f = Filter {
            name: Some("a2".into()),
            ..Default::default()
        };
        assert_eq!(read(root, &f).unwrap()[0]["target"], "%2");
        let f = Filter {
            since_ts: Some(1001),
            ..Default::default()
        };
        assert_eq!(read(root, &f).unwrap().len(), 2);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path(root)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! What spawn reports. Field names and order are the JSON contract
//! (docs/spawn.md); `--pretty` renders the same facts for people.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::place::HEADLESS_SESSION;
use super::plan::Plan;
use super::ready::Outcome;
use crate::exit::Code;
use crate::pane::PaneId;
use crate::roles::Role;
use crate::state::State;

/// A git worktree made (or reused) for the agent.
#[derive(Debug, Clone, Serialize)]
pub struct WorktreeInfo {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Dry run: the branch will be created from HEAD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_branch: Option<bool>,
}

/// A spawn (or restart): ready, or why not.
#[derive(Debug, Clone, Serialize)]
pub struct SpawnReport {
    pub pane: PaneId,
    pub name: Option<String>,
    pub harness: &'static str,
    pub role: Role,
    pub session_id: Option<String>,
    /// Spawn start → ready; null when it did not get ready.
    pub ready_ms: Option<u64>,
    /// `idle` (ready), `blocked:dialog`, `exited` or `starting` (timed out).
    pub state: State,
    /// Ready was read off the screen (a harness without hooks).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// The start-up dialog in the way (`trust`, `api-key`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialog: Option<&'static str>,
    /// The agent's exit status, when it died (null: tmux did not learn it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<Option<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// How a person or the operator gets past the dialog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exited_ms: Option<u64>,
    pub cwd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<PaneId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outfit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_of: Option<PaneId>,
    pub placement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// orch-tell's answer for the first task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    /// `--watch`: the watched pane and whether the subscription took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watching: Option<Value>,
    /// The exit code this spawn earns.
    #[serde(skip)]
    pub code: Code,
    /// Why it is not ready, for stderr (None when ready).
    #[serde(skip)]
    pub error: Option<String>,
}

impl SpawnReport {
    pub(super) fn new(
        plan: &Plan,
        pane: PaneId,
        outcome: Outcome,
        elapsed: Duration,
        warnings: Vec<String>,
    ) -> SpawnReport {
        let h = plan.harness;
        let ms = elapsed.as_millis() as u64;
        let mut r = SpawnReport {
            pane,
            name: plan.name.clone(),
            harness: h.name,
            role: plan.role.clone(),
            session_id: plan.session_id.clone().or_else(|| plan.resume.clone()),
            ready_ms: None,
            state: State::Idle,
            inferred: false,
            dialog: None,
            exit_status: None,
            excerpt: None,
            fix: None,
            exited_ms: None,
            cwd: plan.cwd.to_string_lossy().into_owned(),
            parent: plan.parent,
            outfit: plan.outfit.as_ref().map(|o| o.name.clone()),
            worktree: match (&plan.worktree, &plan.worktree_path) {
                (Some(w), _) => Some(WorktreeInfo {
                    path: w.path.clone(),
                    branch: Some(w.branch.clone()),
                    new_branch: None,
                }),
                (None, Some(p)) => Some(WorktreeInfo {
                    path: PathBuf::from(p),
                    branch: None,
                    new_branch: None,
                }),
                (None, None) => None,
            },
            restart_of: plan.restart_of,
            placement: plan.placement.describe(),
            note: plan.note.clone(),
            warnings,
            prompt: None,
            watching: None,
            code: Code::Ok,
            error: None,
        };
        match outcome {
            Outcome::Ready {
                session_id,
                inferred,
            } => {
                if session_id.is_some() {
                    r.session_id = session_id;
                }
                r.ready_ms = Some(ms);
                r.inferred = inferred;
            }
            Outcome::Blocked { kind, excerpt, fix } => {
                r.state = State::BlockedDialog;
                r.dialog = Some(kind);
                r.excerpt = Some(excerpt);
                r.code = Code::Blocked;
                r.error = Some(format!(
                    "{} in {pane} is blocked by a start-up dialog ({kind}); {fix}",
                    h.name
                ));
                r.fix = Some(fix);
            }
            Outcome::Exited { status, excerpt } => {
                r.state = State::Exited;
                r.exit_status = Some(status);
                r.exited_ms = Some(ms);
                r.code = Code::Exited;
                let last = excerpt.lines().last().unwrap_or("(no output)");
                r.error = Some(format!(
                    "{} exited during start-up{} after {ms} ms; last output: {last}",
                    h.name,
                    status
                        .map(|s| format!(" with status {s}"))
                        .unwrap_or_default()
                ));
                r.excerpt = Some(excerpt);
            }
            Outcome::Timeout { excerpt } => {
                r.state = State::Starting;
                r.excerpt = Some(excerpt);
                r.code = Code::Timeout;
                r.error = Some(format!(
                    "{} in {pane} was not ready after {}s (no session_start event); it is still starting: check it with orch-spawn --show {pane}",
                    h.name,
                    plan.timeout.as_secs_f64()
                ));
            }
        }
        r
    }

    /// The report for people.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        let who = match &self.name {
            Some(n) => format!("{} ({n}, {})", self.pane, self.role),
            None => format!("{} ({})", self.pane, self.role),
        };
        let h = self.harness;
        let _ = match self.state {
            State::Idle => writeln!(
                out,
                "{h} is ready in {who} after {} ms{}",
                Value::from(self.ready_ms),
                if self.inferred {
                    " (read off the screen)"
                } else {
                    ""
                }
            ),
            State::BlockedDialog => writeln!(
                out,
                "{h} in {who} is blocked by a start-up dialog ({}):",
                self.dialog.unwrap_or("")
            ),
            State::Exited => writeln!(out, "{h} in {who} exited during start-up:"),
            other => writeln!(out, "{h} in {who} is still {other}:"),
        };
        for line in self.excerpt.as_deref().unwrap_or("").lines() {
            let _ = writeln!(out, "  │ {line}");
        }
        let parent = self.parent.map(|p| p.to_string());
        for (key, value) in [
            ("fix", self.fix.as_deref()),
            ("session_id", self.session_id.as_deref()),
            ("cwd", Some(self.cwd.as_str())),
            ("parent", parent.as_deref()),
            ("outfit", self.outfit.as_deref()),
            ("placement", Some(self.placement.as_str())),
            ("note", self.note.as_deref()),
        ] {
            if let Some(x) = value {
                let _ = writeln!(out, "  {key:<10} {x}");
            }
        }
        if let Some(w) = &self.worktree {
            let _ = writeln!(out, "  {:<10} {}", "worktree", w.path.display());
        }
        for w in &self.warnings {
            let _ = writeln!(out, "  warning    {w}");
        }
        if let Some(p) = &self.prompt {
            let _ = writeln!(out, "  {:<10} {p}", "prompt");
        }
        out
    }
}

/// What `--dry-run` prints: the command line, environment and placement.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunReport {
    pub harness: &'static str,
    pub argv: Vec<String>,
    /// Provider keys show as `(from your environment)`, never their values.
    pub env: BTreeMap<String, String>,
    pub unset: Vec<String>,
    pub cwd: PathBuf,
    pub placement: String,
    pub role: Role,
    pub readiness: &'static str,
    pub events: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<PaneId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outfit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeInfo>,
    /// claude: the `--settings` document carrying orch's hooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// The glue file spawn writes for the harness (claude's settings, pi's
    /// extension, opencode's plugin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub glue_file: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `--stop`.
#[derive(Debug, Clone, Serialize)]
pub struct StopReport {
    pub pane: PaneId,
    pub name: Option<String>,
    /// Always `exited`.
    pub state: State,
    /// `exit-command`, `killed-after-grace`, `killed`, `was-dead`, `already-gone`.
    pub how: &'static str,
    /// The agent's processes still running once its pane had closed, and
    /// how they were ended (empty lists: none were left).
    pub processes: crate::proctree::Ended,
    pub stop_ms: u64,
}

impl StopReport {
    pub fn pretty(&self) -> String {
        format!(
            "stopped {}{} ({}) in {} ms\n",
            self.pane,
            self.name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            self.how,
            self.stop_ms
        )
    }
}

/// `--show`.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub pane: PaneId,
    pub shown: bool,
    pub beside: PaneId,
    pub position: &'static str,
}

/// `--hide`.
#[derive(Debug, Clone, Serialize)]
pub struct HideReport {
    pub pane: PaneId,
    pub hidden: bool,
    pub session: &'static str,
}

impl HideReport {
    pub(super) fn new(pane: PaneId) -> HideReport {
        HideReport {
            pane,
            hidden: true,
            session: HEADLESS_SESSION,
        }
    }
}

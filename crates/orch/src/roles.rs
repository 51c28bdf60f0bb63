//! Roles (`operator`, `worker`, `observer`), who may tell whom, the claimed
//! operator pane, and escalation axes.
//!
//! The default matrix (docs/tell.md, "Roles"):
//!
//! | sender \ target | operator | worker | observer |
//! |---|---|---|---|
//! | operator | yes | yes | yes |
//! | worker   | yes | yes | no  |
//! | observer | yes | no  | no  |
//!
//! `$ORCH_CONFIG_DIR/roles.json` replaces rows of it, and may add roles:
//!
//! ```json
//! {"may_tell": {"observer": ["operator", "worker"], "reviewer": ["operator", "*"]}}
//! ```
//!
//! A row lists the target roles a sender role may tell (`"*"`: any). Rows
//! the file does not name keep their default. A sender role with no row may
//! tell no one.
//!
//! A pane's role: its registry `role`; for the pane the command runs in,
//! else `ORCH_ROLE`; else `operator` if it is the claimed operator pane;
//! else `operator` — a pane orch did not spawn with a role belongs to the
//! person (a plain shell, a hand-started agent), and so does a command run
//! outside tmux.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::exit::Fail;
use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;
use crate::time::now_ns;

pub const OPERATOR: &str = "operator";
pub const WORKER: &str = "worker";
pub const OBSERVER: &str = "observer";
/// The roles orch knows without a roles file.
pub const BUILTIN_ROLES: &[Role] = &[Role::Operator, Role::Worker, Role::Observer];
/// Environment variable naming the role of the process's own pane.
pub const ROLE_ENV: &str = "ORCH_ROLE";
/// File name of the role matrix under the config dir.
pub const ROLES_FILE: &str = "roles.json";

/// The only questions a worker escalates to the operator; everything else
/// it decides itself.
pub const AXES: &[&str] = &["taste", "architecture", "ethics", "reversibility"];

/// A pane's role. The three built-in ones have variants; a roles file may
/// name others (`reviewer`), which are kept as they are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Operator,
    Worker,
    Observer,
    Other(String),
}

impl Role {
    pub fn as_str(&self) -> &str {
        match self {
            Role::Operator => OPERATOR,
            Role::Worker => WORKER,
            Role::Observer => OBSERVER,
            Role::Other(s) => s,
        }
    }

    /// Any name is a role (unknown ones are checked against the matrix).
    pub fn named(name: &str) -> Role {
        match name {
            OPERATOR => Role::Operator,
            WORKER => Role::Worker,
            OBSERVER => Role::Observer,
            other => Role::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Role::named(&String::deserialize(d)?))
    }
}

/// One entry of a matrix row: a role, or `*`, anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MayTell {
    Anyone,
    Role(Role),
}

impl MayTell {
    fn named(name: &str) -> MayTell {
        match name {
            "*" => MayTell::Anyone,
            r => MayTell::Role(Role::named(r)),
        }
    }

    fn admits(&self, to: &Role) -> bool {
        match self {
            MayTell::Anyone => true,
            MayTell::Role(r) => r == to,
        }
    }
}

impl std::fmt::Display for MayTell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MayTell::Anyone => f.write_str("*"),
            MayTell::Role(r) => r.fmt(f),
        }
    }
}

/// Who may tell whom: sender role → the roles it may tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub may_tell: BTreeMap<Role, Vec<MayTell>>,
    /// Where the matrix came from (the roles file, or built-in).
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    may_tell: BTreeMap<String, Vec<String>>,
}

impl Matrix {
    pub fn builtin() -> Matrix {
        let row = |r: &[&str]| r.iter().map(|s| MayTell::named(s)).collect::<Vec<_>>();
        let mut may_tell = BTreeMap::new();
        may_tell.insert(Role::Operator, row(&["*"]));
        may_tell.insert(Role::Worker, row(&[OPERATOR, WORKER]));
        may_tell.insert(Role::Observer, row(&[OPERATOR]));
        Matrix {
            may_tell,
            source: "built-in".into(),
        }
    }

    pub fn path() -> Result<PathBuf> {
        Ok(crate::layout::roles_file(&crate::layout::config_dir()?))
    }

    /// The built-in matrix with the rows of the roles file (if any) applied.
    /// An unreadable or invalid file is an error: a typo must not silently
    /// open or close the fleet.
    pub fn load() -> Result<Matrix> {
        let path = Matrix::path()?;
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Matrix::builtin()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Matrix::from_json(&data).map_err(|e| {
            Fail::usage(format!(
                "invalid role matrix {}: {e}; expected {{\"may_tell\": {{\"worker\": [\"operator\", \"worker\"]}}}} (see docs/tell.md)",
                path.display()
            ))
        }).map(|mut m| {
            m.source = path.display().to_string();
            m
        })
    }

    pub fn from_json(data: &[u8]) -> std::result::Result<Matrix, String> {
        let file: RolesFile = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let mut m = Matrix::builtin();
        for (role, targets) in file.may_tell {
            if role.trim().is_empty() || targets.iter().any(|t| t.trim().is_empty()) {
                return Err("role names must not be empty".into());
            }
            let row = targets.iter().map(|t| MayTell::named(t)).collect();
            m.may_tell.insert(Role::named(&role), row);
        }
        Ok(m)
    }

    pub fn knows(&self, role: &Role) -> bool {
        self.may_tell.contains_key(role)
    }

    /// May a `from` pane tell a `to` pane?
    pub fn allows(&self, from: &Role, to: &Role) -> bool {
        self.row(from).iter().any(|t| t.admits(to))
    }

    pub fn row(&self, from: &Role) -> &[MayTell] {
        self.may_tell.get(from).map_or(&[], Vec::as_slice)
    }
}

/// A pane's role and how orch knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleOf {
    pub role: Role,
    /// `registry`, `env` (ORCH_ROLE), `claimed` (the operator claim) or
    /// `default`.
    pub source: &'static str,
}

/// The role of `pane`. `own_env_role` is `ORCH_ROLE` when `pane` is the
/// pane this process runs in (or there is no pane: a command run outside
/// tmux); it is ignored for other panes.
pub fn role_of(
    store: &Store,
    pane: Option<PaneId>,
    own_env_role: Option<&str>,
    operator: Option<PaneId>,
) -> RoleOf {
    if let Some(p) = pane
        && let Some(role) = store
            .read_registry(p)
            .and_then(|r| r.role)
            .filter(|r| !r.as_str().trim().is_empty())
    {
        return RoleOf {
            role,
            source: "registry",
        };
    }
    if let Some(r) = own_env_role.filter(|r| !r.trim().is_empty()) {
        return RoleOf {
            role: Role::named(r.trim()),
            source: "env",
        };
    }
    let source = if pane.is_some() && pane == operator {
        "claimed"
    } else {
        "default"
    };
    RoleOf {
        role: Role::Operator,
        source,
    }
}

/// The role a send is made as: pane `from`'s, with this process's
/// `ORCH_ROLE` counted only when `from` is this process's own pane `me`
/// (sending `--from` another pane must not lend it the caller's role).
pub fn sender_role(
    store: &Store,
    me: Option<PaneId>,
    from: Option<PaneId>,
    operator: Option<PaneId>,
) -> RoleOf {
    let own = if from == me { env_role() } else { None };
    role_of(store, from, own.as_deref(), operator)
}

/// The role this process sends as (its pane's registry role, else
/// `ORCH_ROLE`, else operator), carried across an ssh hop so the far end
/// enforces the same matrix. `None` outside any tmux server.
pub fn own_role_name() -> Option<String> {
    let Ok(store) = Store::current() else {
        return env_role();
    };
    let me = PaneId::from_env();
    let operator = claimed_operator(&store);
    Some(
        role_of(&store, me, env_role().as_deref(), operator)
            .role
            .as_str()
            .to_string(),
    )
}

/// `ORCH_ROLE` of this process, if set.
pub fn env_role() -> Option<String> {
    std::env::var(ROLE_ENV)
        .ok()
        .filter(|r| !r.trim().is_empty())
}

/// An escalation axis, checked. Anything else is refused: the worker
/// decides it itself.
pub fn check_axis(axis: &str) -> Result<&'static str> {
    let a = axis.trim().to_ascii_lowercase();
    AXES.iter().copied().find(|x| *x == a).ok_or_else(|| {
        Fail::refused(format!(
            "{axis:?} is not an escalation axis; escalate only on {} — decide everything else yourself",
            AXES.join(", ")
        ))
    })
}

/// The claimed operator: `servers/<key>/operator.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorClaim {
    pub pane: PaneId,
    pub ts: u64,
}

/// The pane that claimed the operator role on this server, if any.
pub fn claimed_operator(store: &Store) -> Option<PaneId> {
    let data = paths::read(&store.layout().operator()).ok()?;
    serde_json::from_slice::<OperatorClaim>(&data)
        .ok()
        .map(|c| c.pane)
}

/// Record `pane` as the operator. Returns the previous claim.
pub fn claim_operator(store: &Store, pane: PaneId) -> Result<Option<PaneId>> {
    let previous = claimed_operator(store);
    let claim = OperatorClaim { pane, ts: now_ns() };
    let path = store.layout().operator();
    paths::write_atomic(&path, &serde_json::to_vec(&claim)?, 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(previous)
}

/// Remove the operator claim. Returns the pane that held it.
pub fn release_operator(store: &Store) -> Result<Option<PaneId>> {
    let previous = claimed_operator(store);
    match fs::remove_file(store.layout().operator()) {
        Ok(()) => Ok(previous),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("cannot remove the operator claim"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_matrix() {
        let m = Matrix::builtin();
        use Role::*;
        for to in BUILTIN_ROLES {
            assert!(m.allows(&Operator, to));
        }
        assert!(m.allows(&Worker, &Operator));
        assert!(m.allows(&Worker, &Worker));
        assert!(!m.allows(&Worker, &Observer));
        assert!(m.allows(&Observer, &Operator));
        assert!(!m.allows(&Observer, &Worker));
        assert!(!m.allows(&Observer, &Observer));
        assert!(!m.allows(&Role::named("stranger"), &Operator));
    }

    #[test]
    fn file_replaces_rows_and_adds_roles() {
        let m = Matrix::from_json(
            br#"{"may_tell": {"observer": ["operator", "worker"], "reviewer": ["*"]}}"#,
        )
        .unwrap();
        let reviewer = Role::named("reviewer");
        assert!(m.allows(&Role::Observer, &Role::Worker));
        assert!(m.allows(&reviewer, &Role::Observer));
        assert!(
            !m.allows(&Role::Worker, &Role::Observer),
            "untouched rows keep defaults"
        );
        assert!(Matrix::from_json(b"{\"may_tel\": {}}").is_err());
        assert!(Matrix::from_json(b"not json").is_err());
        assert!(Matrix::from_json(br#"{"may_tell": {"": ["x"]}}"#).is_err());
    }

    #[test]
    fn axes() {
        assert_eq!(check_axis("Architecture").unwrap(), "architecture");
        let e = check_axis("budget").unwrap_err().to_string();
        assert!(e.contains("decide everything else yourself"), "{e}");
    }
}

//! Turning what a user typed (`%12`, `reviewer`, `self`, `parent`,
//! `operator`) into a pane id.
//!
//! The keywords win over agent names: an agent named `operator` can only be
//! addressed by its pane id.

use anyhow::Result;

use crate::exit::Fail;
use crate::pane::PaneId;
use crate::server::Server;
use crate::store::Store;

/// Target words with a fixed meaning.
pub const KEYWORDS: &[&str] = &["self", "parent", "operator"];
/// Environment variable naming the parent pane (set by whoever started the
/// agent) when the registry does not record one.
pub const PARENT_ENV: &str = "ORCH_PARENT";

/// The pane this process runs in, if it belongs to `store`'s server (a
/// command run in another server's pane is, for this one, outside tmux).
pub fn own_pane(store: &Store) -> Option<PaneId> {
    if Server::from_env().as_ref() != Some(store.server()) {
        return None;
    }
    PaneId::from_env()
}

/// The agent name the registry records for `pane`.
pub fn name_of(store: &Store, pane: PaneId) -> Option<String> {
    store.read_registry(pane).and_then(|r| r.name)
}

/// `%3, %7`.
fn ids(panes: &[PaneId]) -> String {
    panes
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `%7 (reviewer)`, or `%7` for a pane without a name.
pub fn label(store: &Store, pane: PaneId) -> String {
    match name_of(store, pane) {
        Some(n) => format!("{pane} ({n})"),
        None => pane.to_string(),
    }
}

/// Resolve one target as seen from the pane we run in (`TMUX_PANE`).
pub fn resolve(store: &Store, target: &str) -> Result<PaneId> {
    resolve_from(store, target, PaneId::from_env())
}

/// Resolve one target as seen from pane `me` (what `self` and `parent`
/// mean): a pane id, `self`, `parent` (the registry's `parent` of `me`,
/// else `ORCH_PARENT`), `operator` (the claimed operator pane, else the one
/// registry record with role operator), or a name some registry record
/// carries. Unknown or ambiguous names are a usage error listing what
/// exists. Whether the pane exists in tmux is the caller's question.
pub fn resolve_from(store: &Store, target: &str, me: Option<PaneId>) -> Result<PaneId> {
    // `box:reviewer` run on box itself (the far end of `orch --host`).
    let target = match crate::remote::split_target(target) {
        (None, local) => local,
        (Some(host), _) => {
            return Err(Fail::usage(format!(
                "{target:?} is on host {host:?}: run it through `orch` (orch tell {target} …), which reaches other hosts over ssh"
            )));
        }
    };
    if target.starts_with('%') {
        return target
            .parse::<PaneId>()
            .map_err(|e| Fail::usage(e.to_string()));
    }
    match target {
        "" => {
            return Err(Fail::usage(
                "empty target: give a pane id like %12 or an agent name",
            ));
        }
        "self" => {
            return me.ok_or_else(|| {
                Fail::usage("`self` needs to run inside a tmux pane (TMUX_PANE is unset)")
            });
        }
        "parent" => return parent_of(store, me),
        "operator" => return operator(store, me),
        _ => {}
    }
    let recs = store.list_registry();
    let hits: Vec<_> = recs
        .iter()
        .filter(|r| r.gone_ts.is_none() && r.name.as_deref() == Some(target))
        .filter_map(|r| r.pane)
        .collect();
    let hits = if hits.is_empty() {
        // Only a gone agent has the name (GC or a stop marked it): resolve
        // to the newest, so the caller says it is gone (exit 7) rather than
        // that no such agent was ever known. A live agent takes the name
        // over, and GC forgets gone ones after its grace.
        newest(recs.iter().filter(|r| r.name.as_deref() == Some(target)))
            .into_iter()
            .collect()
    } else {
        prefer_live(store, &recs, hits)
    };
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(Fail::usage(format!(
            "no agent named {target:?}; {}",
            known_agents(store)
        ))),
        many => Err(Fail::usage(format!(
            "name {target:?} is ambiguous: panes {}; use a pane id",
            ids(many)
        ))),
    }
}

/// Of several panes carrying one name, the live ones: a dead agent's name
/// is free to reuse, so the agent running now wins over a record whose pane
/// died before GC noticed. With none alive, the newest record (so the
/// caller reports it as exited). One hit needs no tmux call.
fn prefer_live(
    store: &Store,
    recs: &[crate::registry::PaneRecord],
    hits: Vec<PaneId>,
) -> Vec<PaneId> {
    if hits.len() < 2 {
        return hits;
    }
    let Ok(listed) = crate::tmux::Tmux::for_server(store.server()).list_panes() else {
        return hits; // tmux cannot say: ambiguous, as the records are
    };
    let live: Vec<PaneId> = hits
        .iter()
        .copied()
        .filter(|h| is_live(&listed, *h))
        .collect();
    if !live.is_empty() {
        return live;
    }
    newest(
        recs.iter()
            .filter(|r| r.pane.is_some_and(|p| hits.contains(&p))),
    )
    .into_iter()
    .collect()
}

/// The pane of the most recently created or spawned of `recs`.
fn newest<'a>(recs: impl Iterator<Item = &'a crate::registry::PaneRecord>) -> Option<PaneId> {
    recs.max_by_key(|r| (r.spawned_ts.unwrap_or(0).max(r.created_ts), r.pane))
        .and_then(|r| r.pane)
}

/// Is this pane listed by tmux and not dead?
pub fn is_live(listed: &[crate::tmux::PaneInfo], pane: PaneId) -> bool {
    listed.iter().any(|p| p.pane == pane && !p.dead)
}

/// One phrase listing the agents this server knows, for error messages.
pub fn known_agents(store: &Store) -> String {
    let known: Vec<String> = store
        .list_registry()
        .iter()
        .filter(|r| r.gone_ts.is_none())
        .filter_map(|r| {
            let p = r.pane?;
            Some(match &r.name {
                Some(n) => format!("{n} ({p})"),
                None => p.to_string(),
            })
        })
        .collect();
    if known.is_empty() {
        "no agents are known on this tmux server (spawn one with `orch spawn`)".into()
    } else {
        format!(
            "known agents: {} (or a pane id, self, parent, operator)",
            known.join(", ")
        )
    }
}

fn parent_of(store: &Store, me: Option<PaneId>) -> Result<PaneId> {
    if let Some(p) = me
        .and_then(|m| store.read_registry(m))
        .and_then(|r| r.parent)
    {
        return Ok(p);
    }
    match std::env::var(PARENT_ENV) {
        Ok(v) if !v.is_empty() => v
            .parse::<PaneId>()
            .map_err(|e| Fail::usage(format!("{PARENT_ENV} is not a pane id: {e}"))),
        _ => Err(Fail::usage(match me {
            Some(m) => format!(
                "`parent`: {m} has no parent recorded (orch did not spawn it) and {PARENT_ENV} is unset"
            ),
            None => format!(
                "`parent` needs to run inside a tmux pane spawned by orch, or {PARENT_ENV} set"
            ),
        })),
    }
}

fn operator(store: &Store, me: Option<PaneId>) -> Result<PaneId> {
    if let Some(p) = crate::roles::claimed_operator(store) {
        return Ok(p);
    }
    let ops: Vec<PaneId> = store
        .list_registry()
        .iter()
        .filter(|r| r.gone_ts.is_none() && r.role == Some(crate::roles::Role::Operator))
        .filter_map(|r| r.pane)
        .collect();
    match ops.as_slice() {
        [one] => Ok(*one),
        [] => implicit_operator(store, me).ok_or_else(|| {
            Fail::usage(
                "no operator on this tmux server: run `orch tell --claim-operator` in the operator's pane",
            )
        }),
        many => Err(Fail::usage(format!(
            "several panes have role operator ({}) and none claimed it: run `orch tell --claim-operator` in the right one",
            ids(many)
        ))),
    }
}

/// The operator nobody claimed, when that is unambiguous (issue 15): the
/// pane at the root of `me`'s chain of spawners — a pane orch did not
/// spawn, which the role rules give to the person. Without `me` (or when
/// `me` was not spawned), the one root every live spawned agent leads to.
pub fn implicit_operator(store: &Store, me: Option<PaneId>) -> Option<PaneId> {
    let root_of = |start: PaneId| -> Option<PaneId> {
        let mut p = start;
        // Bounded: a parent cycle in hand-edited records must not hang.
        for _ in 0..64 {
            match store.read_registry(p).and_then(|r| r.parent) {
                Some(parent) if parent != p => p = parent,
                _ => break,
            }
        }
        let rec = store.read_registry(p);
        let unspawned = rec
            .as_ref()
            .is_none_or(|r| r.role.is_none() || r.role == Some(crate::roles::Role::Operator));
        (p != start && unspawned).then_some(p)
    };
    if let Some(root) = me.and_then(root_of) {
        return Some(root);
    }
    let mut roots: Vec<PaneId> = store
        .list_registry()
        .iter()
        .filter(|r| r.gone_ts.is_none() && r.parent.is_some())
        .filter_map(|r| r.pane)
        .filter_map(root_of)
        .collect();
    roots.sort();
    roots.dedup();
    match roots.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

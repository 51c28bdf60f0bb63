//! Turning what a user typed (`%12`, `reviewer`, `self`) into a pane id.

use anyhow::Result;

use crate::exit::Fail;
use crate::pane::PaneId;
use crate::store::Store;

/// Resolve one target: a pane id, `self` (the pane we run in), or a name
/// some registry record carries. Unknown names are a usage error listing
/// what exists.
pub fn resolve(store: &Store, target: &str) -> Result<PaneId> {
    if target.starts_with('%') {
        return target
            .parse::<PaneId>()
            .map_err(|e| Fail::usage(e.to_string()));
    }
    if target == "self" {
        return PaneId::from_env().ok_or_else(|| {
            Fail::usage("`self` needs to run inside a tmux pane (TMUX_PANE is unset)")
        });
    }
    if target.is_empty() {
        return Err(Fail::usage(
            "empty target: give a pane id like %12 or an agent name",
        ));
    }
    let recs = store.list_registry();
    let hits: Vec<_> = recs
        .iter()
        .filter(|r| r.gone_ts.is_none() && r.name.as_deref() == Some(target))
        .filter_map(|r| r.pane)
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => {
            let known: Vec<String> = recs
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
            Err(Fail::usage(if known.is_empty() {
                format!(
                    "no agent named {target:?}: no agents are known on this tmux server (spawn one with `orch spawn`)"
                )
            } else {
                format!(
                    "no agent named {target:?}; known agents: {}",
                    known.join(", ")
                )
            }))
        }
        many => Err(Fail::usage(format!(
            "name {target:?} is ambiguous: panes {}; use a pane id",
            many.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

//! Garbage collection: state for panes and servers that no longer exist.
//!
//! Rule (docs/protocol.md, "Retention"): a pane missing from one
//! `tmux list-panes -a` answer is marked `gone_ts` (survey shows it as
//! `gone` once); on a later pass, at least [`grace`] after it was marked,
//! its files are deleted. A dead tmux server's directory is kept for
//! `orch restore`, then deleted whole (`crate::restore::collect_dead_servers`).

use std::collections::HashSet;
use std::fs;
use std::time::Duration;

use crate::pane::PaneId;
use crate::store::Store;
use crate::time::now_ns;

pub const GRACE_ENV: &str = "ORCH_GC_GRACE_SECS";

/// How long a gone pane's state is kept after it was first found gone.
pub fn grace() -> Duration {
    Duration::from_secs(
        std::env::var(GRACE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    )
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Newly found gone (marked).
    pub marked: Vec<PaneId>,
    /// Deleted.
    pub removed: Vec<PaneId>,
    /// Killed writers' temp files removed.
    pub temps_removed: usize,
}

/// Collect panes of `store` that are not in `live` (one `list-panes -a`).
pub fn collect(store: &Store, live: &[PaneId]) -> GcReport {
    collect_listed_at(store, live, u64::MAX)
}

/// How much older than the listing a pane's state must be before a missing
/// pane is marked: file times come from the kernel's coarse clock, which can
/// lag the wall clock by a few milliseconds.
const CLOCK_SLACK_NS: u64 = 20_000_000;

/// Like [`collect`], for a `live` list that tmux produced after `listed_ns`
/// (taken just before the `list-panes` call). A pane whose state files
/// changed after that moment may have been created after the listing (a
/// spawn racing this pass), so it is left for the next pass instead of
/// being marked gone.
pub fn collect_listed_at(store: &Store, live: &[PaneId], listed_ns: u64) -> GcReport {
    let live: HashSet<PaneId> = live.iter().copied().collect();
    let grace_ns = grace().as_nanos() as u64;
    let now = now_ns();
    let mut report = GcReport::default();
    for pane in store.known_panes() {
        if live.contains(&pane) {
            continue;
        }
        let gone_since = store.read_registry(pane).and_then(|r| r.gone_ts);
        match gone_since {
            Some(t) if now.saturating_sub(t) >= grace_ns => {
                if let Ok(_lock) = store.lock_pane(pane) {
                    store.remove_pane(pane);
                }
                report.removed.push(pane);
            }
            Some(_) => {}
            None if listed_ns != u64::MAX
                && changed_ns(store, pane).saturating_add(CLOCK_SLACK_NS) >= listed_ns => {}
            None => {
                if store
                    .update_registry(pane, |r| {
                        r.gone_ts = Some(now);
                    })
                    .is_ok()
                {
                    report.marked.push(pane);
                }
            }
        }
    }
    // Subscriptions to or from panes missing from the listing end here.
    crate::subs::collect_garbage(store, &live.iter().copied().collect::<Vec<_>>(), listed_ns);
    report.temps_removed = remove_stale_temps(store);
    report
}

/// A temp file lives for microseconds (written, then renamed); one this
/// old, or whose writer's pid is gone, was left by a killed writer.
const TEMP_MAX_AGE_NS: u64 = 10 * 60 * 1_000_000_000;

/// Remove killed writers' temp files (`.<name>.<pid>.<random>.tmp`) from
/// every directory orch writes them in.
fn remove_stale_temps(store: &Store) -> usize {
    let l = store.layout();
    [
        l.panes_dir(),
        l.inbox_dir(),
        l.subs_dir(),
        l.dir().to_path_buf(),
        store.root().to_path_buf(),
        crate::layout::spawn_glue_dir(store.root()),
    ]
    .iter()
    .map(|d| crate::paths::remove_stale_temps(d, TEMP_MAX_AGE_NS))
    .sum()
}

/// When `pane`'s registry record or log last changed (ns; 0 if neither exists).
fn changed_ns(store: &Store, pane: PaneId) -> u64 {
    [store.layout().registry(pane), store.layout().log(pane)]
        .iter()
        .filter_map(|p| fs::metadata(p).ok()?.modified().ok())
        .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .max()
        .unwrap_or(0)
}

//! The subscription files: who receives notices about whom. One model,
//! used by `orch-subscribe` (which changes them), the hook's notice fan-out
//! (which reads one peer's file) and survey (which shows them all).
//! `docs/subscribe.md` describes them for people.
//!
//! ```text
//! <server dir>/subs/<P>.json   who subscribes to pane %P (keyed by the peer,
//!                              so its hook finds them with one open)
//! <server dir>/subs/.lock      every change to subs/ happens under it
//! ```
//!
//! `{"v":1,"peer":"%7","subscribers":[{"pane":"%3","kinds":["stop"],"since_ts":…}]}`

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::io;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Kind;
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;

/// The kinds a subscription may ask for, and the default.
pub const SUBSCRIBABLE: &[Kind] = &[
    Kind::Stop,
    Kind::Notify,
    Kind::StopFailure,
    Kind::SessionEnd,
];
pub const DEFAULT_KINDS: &[Kind] = &[Kind::Stop];

/// `subs/<P>.json`. Unknown keys are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubsFile {
    #[serde(default)]
    pub v: u32,
    pub peer: PaneId,
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscriber {
    pub pane: PaneId,
    /// Kind names; empty means [`DEFAULT_KINDS`].
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub since_ts: u64,
}

impl Subscriber {
    pub fn wants(&self, kind: Kind) -> bool {
        if self.kinds.is_empty() {
            DEFAULT_KINDS.contains(&kind)
        } else {
            self.kinds.iter().any(|k| k == kind.as_str())
        }
    }
}

pub(crate) fn lock_subs(store: &Store) -> Result<FileLock> {
    let dir = store.layout().subs_dir();
    paths::ensure_private_dir(&dir)?;
    let p = store.layout().subs_lock();
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

/// Every subscription file of the server, by peer. Unreadable files are
/// skipped (and left alone).
pub(crate) fn load_all(store: &Store) -> BTreeMap<PaneId, SubsFile> {
    let mut out = BTreeMap::new();
    let Ok(rd) = fs::read_dir(store.layout().subs_dir()) else {
        return out;
    };
    for e in rd.flatten() {
        let Some(peer) = crate::layout::peer_of_subs_file(&e.file_name().to_string_lossy()) else {
            continue;
        };
        if let Some(mut f) = paths::read(&e.path())
            .ok()
            .and_then(|d| serde_json::from_slice::<SubsFile>(&d).ok())
        {
            f.peer = peer;
            out.insert(peer, f);
        }
    }
    out
}

/// Write the files of `after` that differ from `before` (removing the ones
/// left with no subscribers). The caller holds the subs lock.
pub(crate) fn save_changes(
    store: &Store,
    before: &BTreeMap<PaneId, SubsFile>,
    after: &BTreeMap<PaneId, SubsFile>,
) -> Result<()> {
    let peers: HashSet<PaneId> = before.keys().chain(after.keys()).copied().collect();
    for peer in peers {
        let (old, new) = (before.get(&peer), after.get(&peer));
        let same = match (old, new) {
            (Some(o), Some(n)) => o.subscribers == n.subscribers,
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        let p = store.layout().subs(peer);
        match new.filter(|f| !f.subscribers.is_empty()) {
            Some(f) => {
                let mut f = f.clone();
                f.v = 1;
                paths::write_atomic(&p, &serde_json::to_vec(&f)?, 0o600)
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
            None => match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", p.display()));
                }
                _ => {}
            },
        }
    }
    Ok(())
}

/// Remove every subscription to or from a pane that is not in `live`.
/// Returns the panes forgotten. The caller holds the subs lock.
pub(crate) fn prune(files: &mut BTreeMap<PaneId, SubsFile>, live: &HashSet<PaneId>) -> Vec<PaneId> {
    let mut gone = Vec::new();
    files.retain(|peer, _| {
        if live.contains(peer) {
            true
        } else {
            gone.push(*peer);
            false
        }
    });
    for f in files.values_mut() {
        f.subscribers.retain(|s| {
            let keep = live.contains(&s.pane);
            if !keep {
                gone.push(s.pane);
            }
            keep
        });
    }
    files.retain(|_, f| !f.subscribers.is_empty());
    gone.sort();
    gone.dedup();
    gone
}

pub(crate) fn remove_inbox(store: &Store, pane: PaneId) {
    for p in store.layout().inbox_files(pane) {
        let _ = fs::remove_file(p);
    }
}

/// Forget `pane` entirely: its subscriptions both ways and its inbox. For
/// a pane found gone (by a flusher, or by GC).
pub fn forget_pane(store: &Store, pane: PaneId) {
    if let Ok(_lock) = lock_subs(store) {
        let before = load_all(store);
        let mut after = before.clone();
        after.remove(&pane);
        for f in after.values_mut() {
            f.subscribers.retain(|s| s.pane != pane);
        }
        if let Err(e) = save_changes(store, &before, &after) {
            crate::store::log_error(
                store.root(),
                &format!("cannot remove the subscriptions of gone pane {pane}: {e:#}"),
            );
        }
    }
    remove_inbox(store, pane);
}

/// GC's part (called by [`crate::gc::collect_listed_at`]): subscriptions
/// and inboxes of panes missing from `live`, a `list-panes -a` answer
/// taken just after `listed_ns`. As for pane state, anything written after
/// the listing may concern a pane created after it, and is left for the
/// next pass.
pub fn collect_garbage(store: &Store, live: &[PaneId], listed_ns: u64) -> Vec<PaneId> {
    const SLACK_NS: u64 = 20_000_000;
    let live: HashSet<PaneId> = live.iter().copied().collect();
    let old_enough = |ts: u64| listed_ns == u64::MAX || ts.saturating_add(SLACK_NS) < listed_ns;
    let mtime = |p: &std::path::Path| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let mut gone = Vec::new();
    if store.layout().subs_dir().is_dir()
        && let Ok(_lock) = lock_subs(store)
    {
        let before = load_all(store);
        let mut after = before.clone();
        after.retain(|peer, _| {
            let dead = !live.contains(peer) && old_enough(mtime(&store.layout().subs(*peer)));
            if dead {
                gone.push(*peer);
            }
            !dead
        });
        for f in after.values_mut() {
            f.subscribers.retain(|s| {
                let dead = !live.contains(&s.pane) && old_enough(s.since_ts);
                if dead {
                    gone.push(s.pane);
                }
                !dead
            });
        }
        after.retain(|_, f| !f.subscribers.is_empty());
        if let Err(e) = save_changes(store, &before, &after) {
            crate::store::log_error(store.root(), &format!("subscription GC: {e:#}"));
        }
    }
    if let Ok(rd) = fs::read_dir(store.layout().inbox_dir()) {
        for e in rd.flatten() {
            if let Some(p) = crate::layout::pane_of_inbox_file(&e.file_name().to_string_lossy())
                && !live.contains(&p)
                && old_enough(mtime(&e.path()))
            {
                let _ = fs::remove_file(e.path());
                gone.push(p);
            }
        }
    }
    gone.sort();
    gone.dedup();
    gone
}

/// A path of notice flow `from → … → to` (each step: the next pane
/// subscribes to the previous), if there is one.
pub(crate) fn flow_path(
    files: &BTreeMap<PaneId, SubsFile>,
    from: PaneId,
    to: PaneId,
) -> Option<Vec<PaneId>> {
    let mut prev: HashMap<PaneId, PaneId> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = HashSet::from([from]);
    while let Some(p) = queue.pop_front() {
        if p == to {
            let mut path = vec![to];
            let mut cur = to;
            while let Some(&b) = prev.get(&cur) {
                path.push(b);
                cur = b;
            }
            path.reverse();
            return Some(path);
        }
        for s in files
            .get(&p)
            .map(|f| f.subscribers.as_slice())
            .unwrap_or(&[])
        {
            if seen.insert(s.pane) {
                prev.insert(s.pane, p);
                queue.push_back(s.pane);
            }
        }
    }
    None
}

/// One subscription as survey shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    /// The pane whose turn ends / attention needs are pushed.
    pub peer: PaneId,
    /// Event kinds pushed; empty means subscribe's default.
    pub kinds: Vec<String>,
}

/// Every subscription of a server, read with one directory listing.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_subscriber: HashMap<PaneId, Vec<Subscription>>,
    by_peer: HashMap<PaneId, Vec<PaneId>>,
}

impl Subscriptions {
    pub fn load(store: &Store) -> Subscriptions {
        let mut s = Subscriptions::default();
        for (peer, file) in load_all(store) {
            for sub in file.subscribers {
                s.by_subscriber
                    .entry(sub.pane)
                    .or_default()
                    .push(Subscription {
                        peer,
                        kinds: sub.kinds,
                    });
                s.by_peer.entry(peer).or_default().push(sub.pane);
            }
        }
        for v in s.by_subscriber.values_mut() {
            v.sort_by_key(|x| x.peer);
        }
        for v in s.by_peer.values_mut() {
            v.sort();
            v.dedup();
        }
        s
    }

    /// Peers `pane` subscribes to.
    pub fn of(&self, pane: PaneId) -> Vec<Subscription> {
        self.by_subscriber.get(&pane).cloned().unwrap_or_default()
    }

    /// Panes subscribed to `pane`.
    pub fn subscribers_of(&self, pane: PaneId) -> Vec<PaneId> {
        self.by_peer.get(&pane).cloned().unwrap_or_default()
    }
}

/// The subscribers of `peer` (one open; a missing file is no subscribers).
pub fn subscribers_of(store: &Store, peer: PaneId) -> Result<Vec<Subscriber>> {
    let path = store.layout().subs(peer);
    let data = match paths::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let file: SubsFile = serde_json::from_slice(&data)
        .with_context(|| format!("{} is not a subscription file", path.display()))?;
    Ok(file.subscribers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(peer: u32, subs: &[u32]) -> (PaneId, SubsFile) {
        (
            PaneId(peer),
            SubsFile {
                v: 1,
                peer: PaneId(peer),
                subscribers: subs
                    .iter()
                    .map(|&s| Subscriber {
                        pane: PaneId(s),
                        kinds: vec![],
                        since_ts: 1,
                    })
                    .collect(),
                extra: Default::default(),
            },
        )
    }

    #[test]
    fn flow_paths_find_cycles() {
        // %3 subscribes to %2, %2 subscribes to %1: notices flow 1 → 2 → 3.
        let files: BTreeMap<_, _> = [file(1, &[2]), file(2, &[3])].into_iter().collect();
        assert_eq!(
            flow_path(&files, PaneId(1), PaneId(3)),
            Some(vec![PaneId(1), PaneId(2), PaneId(3)])
        );
        assert_eq!(flow_path(&files, PaneId(3), PaneId(1)), None);
        // %1 subscribing to %3 (flow 3 → 1) would close 1 → 2 → 3 → 1.
        assert!(flow_path(&files, PaneId(1), PaneId(3)).is_some());
    }

    #[test]
    fn subscriber_defaults_to_stop() {
        let s = Subscriber {
            pane: PaneId(1),
            kinds: vec![],
            since_ts: 0,
        };
        assert!(s.wants(Kind::Stop) && !s.wants(Kind::Notify));
        let s = Subscriber {
            kinds: vec!["notify".into()],
            ..s
        };
        assert!(!s.wants(Kind::Stop) && s.wants(Kind::Notify));
    }

    #[test]
    fn prune_drops_both_directions() {
        let mut files: BTreeMap<_, _> = [file(1, &[2, 3]), file(4, &[1])].into_iter().collect();
        let live: HashSet<PaneId> = [PaneId(1), PaneId(3)].into_iter().collect();
        let gone = prune(&mut files, &live);
        assert_eq!(gone, [PaneId(2), PaneId(4)]);
        assert_eq!(files.len(), 1);
        assert_eq!(files[&PaneId(1)].subscribers.len(), 1);
    }
}

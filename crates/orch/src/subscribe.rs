//! `orch-subscribe`: make a pane receive push notices when chosen peers
//! finish a turn or need attention — with no background process. This
//! module owns the subscription files; delivery is [`crate::notice`].
//! `docs/subscribe.md` is the user-facing description.
//!
//! ```text
//! <server dir>/subs/<P>.json   who subscribes to pane %P (keyed by the peer,
//!                              so its hook finds them with one open)
//! <server dir>/subs/.lock      every change to subs/ happens under it
//! ```
//!
//! `{"v":1,"peer":"%7","subscribers":[{"pane":"%3","kinds":["stop"],"since_ts":…}]}`
//! — the layout `orch-survey` reads ([`crate::survey::Subscriptions`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::event::Kind;
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::notice;
use crate::pane::PaneId;
use crate::paths;
use crate::server::Server;
use crate::store::Store;
use crate::target::resolve_from;
use crate::time::now_ns;
use crate::tmux::{PaneInfo, Tmux};

/// The kinds a subscription may ask for, and the default.
pub const SUBSCRIBABLE: &[Kind] = &[
    Kind::Stop,
    Kind::Notify,
    Kind::StopFailure,
    Kind::SessionEnd,
];
pub const DEFAULT_KINDS: &[Kind] = &[Kind::Stop];

/// Make this pane receive notices when chosen peers finish or need attention.
#[derive(Debug, Parser)]
#[command(
    name = "orch-subscribe",
    version,
    about = "Have a pane receive notices when chosen peers finish (no background process)",
    after_help = "PEER / --for: a pane id (%7), an agent name, parent or operator.\n\n\
When a peer finishes a turn, its own hook types one line into the subscriber:\n  \
[orch] %7 (reviewer) finished: <first line of its reply> (notice from orch; no reply needed)\n\
Notices that arrive while the subscriber is busy are delivered together, as one\n\
message, when its turn ends. A turn started by a notice never sends notices on.\n\
Self-subscriptions and cycles (A gets B's notices and B gets A's) are refused.\n\n\
Prints JSON (--pretty for people). Exit codes: 0 ok, 1 failure, 2 bad arguments,\n\
4 refused (self, cycle, subscriber at a shell prompt), 7 a pane does not exist.\n\n\
Examples:\n  \
orch-subscribe reviewer                      # in an agent's pane: tell me when reviewer finishes\n  \
orch-subscribe %7 %9 --kinds stop,notify     # also when they need attention\n  \
orch-subscribe --for %3 backend              # on behalf of pane %3\n  \
orch-subscribe --list --pretty\n  \
orch-subscribe --unsub reviewer\n  \
orch-subscribe --cancel"
)]
pub struct SubscribeArgs {
    /// Peers whose events this pane should hear about.
    #[arg(value_name = "PEER")]
    pub peers: Vec<String>,
    /// Event kinds to push: stop (default), notify, stop_failure,
    /// session_end. Comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub kinds: Vec<String>,
    /// The subscriber: act on behalf of this pane instead of the pane this
    /// runs in (TMUX_PANE).
    #[arg(long = "for", value_name = "PANE")]
    pub for_pane: Option<String>,
    /// List the subscriber's subscriptions, its subscribers and pending
    /// notices (with --all: every subscription on this tmux server).
    #[arg(long, conflicts_with_all = ["unsub", "cancel", "kinds"])]
    pub list: bool,
    /// With --list: every subscription on this tmux server.
    #[arg(long, requires = "list", conflicts_with = "for_pane")]
    pub all: bool,
    /// Stop receiving notices about these peers.
    #[arg(long, value_name = "PEER", num_args = 1.., conflicts_with_all = ["cancel", "kinds"])]
    pub unsub: Vec<String>,
    /// Remove every subscription of the subscriber.
    #[arg(long, conflicts_with = "kinds")]
    pub cancel: bool,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Internal: deliver the notices waiting for these panes (orch-hook
    /// starts this, detached).
    #[arg(long, hide = true, value_name = "PANE", num_args = 1.., exclusive = true)]
    pub flush: Vec<String>,
}

// ---------------------------------------------------------------------------
// The files.

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

pub fn subs_dir(store: &Store) -> PathBuf {
    crate::survey::subs_dir(store)
}
pub fn subs_path(store: &Store, peer: PaneId) -> PathBuf {
    subs_dir(store).join(format!("{}.json", peer.0))
}
fn subs_lock_path(store: &Store) -> PathBuf {
    subs_dir(store).join(".lock")
}

fn lock_subs(store: &Store) -> Result<FileLock> {
    let dir = subs_dir(store);
    paths::ensure_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let p = subs_lock_path(store);
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

fn peer_of_file(name: &str) -> Option<PaneId> {
    name.strip_suffix(".json")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .map(PaneId)
}

/// Every subscription file of the server, by peer. Unreadable files are
/// skipped (and left alone).
fn load_all(store: &Store) -> BTreeMap<PaneId, SubsFile> {
    let mut out = BTreeMap::new();
    let Ok(rd) = fs::read_dir(subs_dir(store)) else {
        return out;
    };
    for e in rd.flatten() {
        let Some(peer) = peer_of_file(&e.file_name().to_string_lossy()) else {
            continue;
        };
        if let Some(mut f) = fs::read(e.path())
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
fn save_changes(
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
        let p = subs_path(store, peer);
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
fn prune(files: &mut BTreeMap<PaneId, SubsFile>, live: &HashSet<PaneId>) -> Vec<PaneId> {
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

fn remove_inbox(store: &Store, pane: PaneId) {
    for p in notice::inbox_files(store, pane) {
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
    if subs_dir(store).is_dir()
        && let Ok(_lock) = lock_subs(store)
    {
        let before = load_all(store);
        let mut after = before.clone();
        after.retain(|peer, _| {
            let dead = !live.contains(peer) && old_enough(mtime(&subs_path(store, *peer)));
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
    if let Ok(rd) = fs::read_dir(notice::inbox_dir(store)) {
        for e in rd.flatten() {
            if let Some(p) = notice::pane_of_inbox_file(&e.file_name().to_string_lossy())
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
fn flow_path(files: &BTreeMap<PaneId, SubsFile>, from: PaneId, to: PaneId) -> Option<Vec<PaneId>> {
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

// ---------------------------------------------------------------------------
// The command.

fn own_pane(store: &Store) -> Option<PaneId> {
    if Server::from_env().as_ref() != Some(store.server()) {
        return None;
    }
    PaneId::from_env()
}

fn name_of(store: &Store, pane: PaneId) -> Option<String> {
    store.read_registry(pane).and_then(|r| r.name)
}

fn label(store: &Store, pane: PaneId) -> String {
    match name_of(store, pane) {
        Some(n) => format!("{pane} ({n})"),
        None => pane.to_string(),
    }
}

fn parse_kinds(raw: &[String]) -> Result<Vec<String>> {
    if raw.is_empty() {
        return Ok(DEFAULT_KINDS
            .iter()
            .map(|k| k.as_str().to_string())
            .collect());
    }
    let mut out: Vec<Kind> = Vec::new();
    for k in raw.iter().map(|k| k.trim()) {
        let kind = k
            .parse::<Kind>()
            .ok()
            .filter(|k| SUBSCRIBABLE.contains(k))
            .ok_or_else(|| {
                Fail::usage(format!(
                    "--kinds: {k:?} is not an event kind a subscription can push; choose from stop, notify, stop_failure, session_end"
                ))
            })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    // A stable order, so re-subscribing with the same set is "unchanged".
    out.sort_by_key(|k| SUBSCRIBABLE.iter().position(|s| s == k));
    Ok(out.iter().map(|k| k.as_str().to_string()).collect())
}

fn print(v: &Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    Ok(())
}

fn live_panes(tmux: &Tmux) -> Result<Vec<PaneInfo>> {
    tmux.list_panes()
        .context("cannot list tmux panes (is the tmux server running?)")
}

/// The pane must be in tmux and alive.
fn check_live(pane: PaneId, panes: &[PaneInfo], what: &str) -> Result<()> {
    match panes.iter().find(|p| p.pane == pane) {
        None => Err(Fail::new(
            Code::Exited,
            format!("{what} {pane} does not exist on this tmux server; nothing changed"),
        )
        .into()),
        Some(p) if p.dead => Err(Fail::new(
            Code::Exited,
            format!("the process in {what} {pane} has exited; nothing changed"),
        )
        .into()),
        Some(_) => Ok(()),
    }
}

pub fn run(args: SubscribeArgs) -> Result<Code> {
    if !args.flush.is_empty() {
        return run_flush(&args.flush);
    }
    let kinds = parse_kinds(&args.kinds)?;
    let action = if args.list {
        if !args.peers.is_empty() {
            return Err(Fail::usage(
                "--list takes no peers (use --for PANE to list another pane's subscriptions)",
            ));
        }
        "list"
    } else if args.cancel {
        if !args.peers.is_empty() {
            return Err(Fail::usage(
                "--cancel removes all subscriptions and takes no peers (use --unsub PEER for one)",
            ));
        }
        "cancel"
    } else if !args.unsub.is_empty() {
        if !args.peers.is_empty() {
            return Err(Fail::usage(
                "give the peers to drop after --unsub only (subscribing and unsubscribing at once is ambiguous)",
            ));
        }
        "unsub"
    } else if args.peers.is_empty() {
        return Err(Fail::usage(
            "nothing to do: give the peers to subscribe to (a pane id, name, parent or operator), or --list, --unsub PEER, --cancel",
        ));
    } else {
        "subscribe"
    };
    let store = Store::current()?;
    let tmux = Tmux::for_server(store.server());
    if action == "list" && args.all {
        return list_all(&store, &tmux, args.pretty);
    }
    let me = own_pane(&store);
    let subscriber = match &args.for_pane {
        Some(t) => resolve_from(&store, t, me)?,
        None => me.ok_or_else(|| {
            Fail::usage(
                "run this inside the subscriber's tmux pane, or name the subscriber with --for PANE",
            )
        })?,
    };
    match action {
        "list" => list(&store, &tmux, subscriber, args.pretty),
        "cancel" => unsubscribe(&store, &tmux, subscriber, None, args.pretty),
        "unsub" => {
            let peers = resolve_all(&store, &args.unsub, subscriber)?;
            unsubscribe(&store, &tmux, subscriber, Some(&peers), args.pretty)
        }
        _ => {
            let peers = resolve_all(&store, &args.peers, subscriber)?;
            subscribe(&store, &tmux, subscriber, &peers, &kinds, args.pretty)
        }
    }
}

fn resolve_all(store: &Store, raw: &[String], subscriber: PaneId) -> Result<Vec<PaneId>> {
    let mut out = Vec::new();
    for t in raw {
        let p = resolve_from(store, t, Some(subscriber))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn run_flush(raw: &[String]) -> Result<Code> {
    let panes = raw
        .iter()
        .map(|p| p.parse::<PaneId>().map_err(|e| Fail::usage(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    let store = Store::current()?;
    notice::flush(&store, &panes);
    Ok(Code::Ok)
}

fn subscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: &[PaneId],
    kinds: &[String],
    pretty: bool,
) -> Result<Code> {
    if peers.contains(&subscriber) {
        return Err(Fail::refused(format!(
            "{} cannot subscribe to itself: its own turn ends would be typed back into it; nothing changed",
            label(store, subscriber)
        )));
    }
    let _lock = lock_subs(store)?;
    let panes = live_panes(tmux)?;
    check_live(subscriber, &panes, "subscriber")?;
    let info = panes.iter().find(|p| p.pane == subscriber);
    if let Some(cmd) = info.map(|p| p.current_command.rsplit('/').next().unwrap_or(""))
        && deliver_is_shell(cmd)
    {
        return Err(Fail::refused(format!(
            "subscriber {subscriber} is at a {cmd} prompt, not an agent: notices are typed into the subscriber's pane and would run as commands; nothing changed (subscribe from an agent's pane, or --for one)"
        )));
    }
    for &p in peers {
        check_live(p, &panes, "peer")?;
    }
    let live: HashSet<PaneId> = panes.iter().map(|p| p.pane).collect();
    let before = load_all(store);
    let mut after = before.clone();
    let gone = prune(&mut after, &live);
    let now = now_ns();
    let mut results = Vec::new();
    for &peer in peers {
        // Notices would flow peer → subscriber; a flow already going from
        // the subscriber to the peer closes a loop.
        if let Some(path) = flow_path(&after, subscriber, peer) {
            let mut shown: Vec<String> = path.iter().map(|p| p.to_string()).collect();
            shown.push(subscriber.to_string());
            let why = if path.len() == 2 {
                format!(
                    "{} already subscribes to {}, so a mutual subscription",
                    label(store, peer),
                    label(store, subscriber)
                )
            } else {
                format!(
                    "{} already gets {}'s notices through other subscriptions, so this",
                    label(store, peer),
                    subscriber
                )
            };
            return Err(Fail::refused(format!(
                "{why} would loop notices ({}); nothing changed",
                shown.join(" → ")
            )));
        }
        let file = after.entry(peer).or_insert_with(|| SubsFile {
            v: 1,
            peer,
            subscribers: Vec::new(),
            extra: Default::default(),
        });
        let status = match file.subscribers.iter_mut().find(|s| s.pane == subscriber) {
            Some(s) if s.kinds == kinds => "unchanged",
            Some(s) => {
                s.kinds = kinds.to_vec();
                "updated"
            }
            None => {
                file.subscribers.push(Subscriber {
                    pane: subscriber,
                    kinds: kinds.to_vec(),
                    since_ts: now,
                });
                "added"
            }
        };
        let since = file
            .subscribers
            .iter()
            .find(|s| s.pane == subscriber)
            .map_or(now, |s| s.since_ts);
        let mut r = json!({"peer": peer, "name": name_of(store, peer), "kinds": kinds,
                           "since_ts": since, "status": status});
        let rec = store.read_registry(peer);
        if !crate::deliver::has_hooks(store, peer, rec.as_ref()) {
            r["warning"] = json!(format!(
                "{peer} has never fired a hook: notices come only from agents whose hooks run orch-hook (orch spawn, or orch up)"
            ));
        }
        results.push(r);
    }
    save_changes(store, &before, &after)?;
    for p in &gone {
        remove_inbox(store, *p);
    }
    if pretty {
        for r in &results {
            println!(
                "{} {} → {}: {}{}",
                r["status"].as_str().unwrap_or(""),
                label(store, peer_of(r)),
                label(store, subscriber),
                kinds.join(","),
                r["warning"]
                    .as_str()
                    .map(|w| format!(" (warning: {w})"))
                    .unwrap_or_default()
            );
        }
    } else {
        print(
            &json!({"subscriber": subscriber, "name": name_of(store, subscriber),
                      "subscriptions": results, "pruned": gone}),
        )?;
    }
    Ok(Code::Ok)
}

fn peer_of(r: &Value) -> PaneId {
    r["peer"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PaneId(0))
}

fn deliver_is_shell(cmd: &str) -> bool {
    crate::deliver::is_shell(cmd)
}

fn unsubscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: Option<&[PaneId]>,
    pretty: bool,
) -> Result<Code> {
    let _lock = lock_subs(store)?;
    let live: HashSet<PaneId> = live_panes(tmux)?.iter().map(|p| p.pane).collect();
    let before = load_all(store);
    let mut after = before.clone();
    let gone = prune(&mut after, &live);
    let mut removed = Vec::new();
    let mut not_subscribed = Vec::new();
    let targets: Vec<PaneId> = match peers {
        Some(p) => p.to_vec(),
        None => before
            .iter()
            .filter(|(_, f)| f.subscribers.iter().any(|s| s.pane == subscriber))
            .map(|(p, _)| *p)
            .collect(),
    };
    for &peer in &targets {
        let had = before
            .get(&peer)
            .is_some_and(|f| f.subscribers.iter().any(|s| s.pane == subscriber));
        if let Some(f) = after.get_mut(&peer) {
            f.subscribers.retain(|s| s.pane != subscriber);
        }
        if had {
            removed.push(peer);
        } else {
            not_subscribed.push(peer);
        }
    }
    after.retain(|_, f| !f.subscribers.is_empty());
    save_changes(store, &before, &after)?;
    for p in &gone {
        remove_inbox(store, *p);
    }
    if pretty {
        for p in &removed {
            println!(
                "removed {} → {}",
                label(store, *p),
                label(store, subscriber)
            );
        }
        for p in &not_subscribed {
            println!(
                "{} was not subscribed to {}",
                label(store, subscriber),
                label(store, *p)
            );
        }
        if removed.is_empty() && not_subscribed.is_empty() {
            println!("{} had no subscriptions", label(store, subscriber));
        }
    } else {
        print(&json!({"subscriber": subscriber, "removed": removed,
                      "not_subscribed": not_subscribed, "pruned": gone}))?;
    }
    Ok(Code::Ok)
}

/// Prune gone panes (the lazy check) and return the files.
fn load_pruned(store: &Store, tmux: &Tmux) -> Result<BTreeMap<PaneId, SubsFile>> {
    let _lock = lock_subs(store)?;
    let live: HashSet<PaneId> = live_panes(tmux)?.iter().map(|p| p.pane).collect();
    let before = load_all(store);
    let mut after = before.clone();
    let gone = prune(&mut after, &live);
    if !gone.is_empty() {
        save_changes(store, &before, &after)?;
        for p in &gone {
            remove_inbox(store, *p);
        }
    }
    Ok(after)
}

fn list(store: &Store, tmux: &Tmux, pane: PaneId, pretty: bool) -> Result<Code> {
    let files = load_pruned(store, tmux)?;
    let mut subscriptions = Vec::new();
    for (peer, f) in &files {
        if let Some(s) = f.subscribers.iter().find(|s| s.pane == pane) {
            subscriptions.push(json!({"peer": peer, "name": name_of(store, *peer),
                                      "kinds": kinds_or_default(&s.kinds), "since_ts": s.since_ts}));
        }
    }
    let subscribers: Vec<Value> = files
        .get(&pane)
        .map(|f| {
            f.subscribers
                .iter()
                .map(|s| {
                    json!({"pane": s.pane, "name": name_of(store, s.pane),
                           "kinds": kinds_or_default(&s.kinds), "since_ts": s.since_ts})
                })
                .collect()
        })
        .unwrap_or_default();
    let pending = notice::pending(store, pane).map_or(0, |(_, p, _)| p.len());
    if pretty {
        println!("{} gets notices about:", label(store, pane));
        if subscriptions.is_empty() {
            println!("  (nothing)");
        }
        for s in &subscriptions {
            println!(
                "  {:<24} {:<32} since {}",
                label(store, peer_of(s)),
                s["kinds"]
                    .as_array()
                    .map(|k| k
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default(),
                crate::time::age_of(s["since_ts"].as_u64().unwrap_or(0))
            );
        }
        println!("notices about {} go to:", label(store, pane));
        if subscribers.is_empty() {
            println!("  (nobody)");
        }
        for s in &subscribers {
            let p = s["pane"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(PaneId(0));
            println!("  {}", label(store, p));
        }
        println!("{pending} notice(s) waiting to be delivered");
    } else {
        print(&json!({"pane": pane, "name": name_of(store, pane),
                      "subscriptions": subscriptions, "subscribers": subscribers,
                      "pending": pending}))?;
    }
    Ok(Code::Ok)
}

fn kinds_or_default(kinds: &[String]) -> Vec<String> {
    if kinds.is_empty() {
        DEFAULT_KINDS
            .iter()
            .map(|k| k.as_str().to_string())
            .collect()
    } else {
        kinds.to_vec()
    }
}

fn list_all(store: &Store, tmux: &Tmux, pretty: bool) -> Result<Code> {
    let files = load_pruned(store, tmux)?;
    let mut all = Vec::new();
    for (peer, f) in &files {
        for s in &f.subscribers {
            all.push(
                json!({"subscriber": s.pane, "subscriber_name": name_of(store, s.pane),
                            "peer": peer, "peer_name": name_of(store, *peer),
                            "kinds": kinds_or_default(&s.kinds), "since_ts": s.since_ts}),
            );
        }
    }
    if pretty {
        if all.is_empty() {
            println!("no subscriptions on this tmux server");
        }
        for (peer, f) in &files {
            for s in &f.subscribers {
                println!(
                    "{:<24} gets notices about {:<24} {}",
                    label(store, s.pane),
                    label(store, *peer),
                    kinds_or_default(&s.kinds).join(",")
                );
            }
        }
    } else {
        print(&json!({"subscriptions": all}))?;
    }
    Ok(Code::Ok)
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
    fn kinds_are_checked_and_ordered() {
        assert_eq!(parse_kinds(&[]).unwrap(), ["stop"]);
        assert_eq!(
            parse_kinds(&["notify".into(), "stop".into(), "notify".into()]).unwrap(),
            ["stop", "notify"]
        );
        assert!(parse_kinds(&["prompt".into()]).is_err());
        assert!(parse_kinds(&["bogus".into()]).is_err());
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

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        SubscribeArgs::command().debug_assert();
    }
}

//! `orch-subscribe`: make a pane receive push notices when chosen peers
//! finish a turn or need attention — with no background process. The
//! subscription files are [`crate::subs`]; delivery is [`crate::notice`].
//! `docs/subscribe.md` is the user-facing description.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::event::Kind;
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::notice;
use crate::pane::PaneId;
use crate::store::Store;
use crate::subs::{
    DEFAULT_KINDS, SUBSCRIBABLE, SubsFile, Subscriber, flow_path, load_all, lock_subs, prune,
    remove_inbox, save_changes,
};
use crate::target::{label, name_of, own_pane, resolve_from};
use crate::time::now_ns;
use crate::tmux::{PaneInfo, Tmux};

/// What `orch-subscribe` was asked to do (its flags).
#[derive(Debug, Clone, Default)]
pub struct SubscribeRequest {
    pub peers: Vec<String>,
    pub kinds: Vec<String>,
    /// The subscriber, when not the pane this runs in.
    pub for_pane: Option<String>,
    pub list: bool,
    /// With `list`: every subscription on the server.
    pub all: bool,
    pub unsub: Vec<String>,
    pub cancel: bool,
    /// Answer in text for people instead of JSON.
    pub pretty: bool,
    /// Deliver the notices waiting for these panes (the detached flusher).
    pub flush: Vec<String>,
}

/// What `orch-subscribe` prints: JSON for models, or text for people.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(Report),
    Text(String),
}

// ---------------------------------------------------------------------------
// The command.

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

/// Carry out a request (see the module doc).
pub fn run(args: SubscribeRequest) -> Result<Reply> {
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
        return Ok(reply(&store, list_all(&store, &tmux)?, args.pretty));
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
    let report = match action {
        "list" => list(&store, &tmux, subscriber)?,
        "cancel" => unsubscribe(&store, &tmux, subscriber, None)?,
        "unsub" => {
            let peers = resolve_all(&store, &args.unsub, subscriber)?;
            unsubscribe(&store, &tmux, subscriber, Some(&peers))?
        }
        _ => {
            let peers = resolve_all(&store, &args.peers, subscriber)?;
            subscribe(&store, &tmux, subscriber, &peers, &kinds)?
        }
    };
    Ok(reply(&store, report, args.pretty))
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

fn run_flush(raw: &[String]) -> Result<Reply> {
    let panes = raw
        .iter()
        .map(|p| p.parse::<PaneId>().map_err(|e| Fail::usage(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    let store = Store::current()?;
    notice::flush(&store, &panes);
    Ok(Reply::Text(String::new()))
}

/// The subscription files under the subs lock, with the panes tmux no
/// longer has pruned (the lazy check every command makes).
struct Edit {
    _lock: FileLock,
    panes: Vec<PaneInfo>,
    before: BTreeMap<PaneId, SubsFile>,
    after: BTreeMap<PaneId, SubsFile>,
    gone: Vec<PaneId>,
}

impl Edit {
    fn open(store: &Store, tmux: &Tmux) -> Result<Edit> {
        let lock = lock_subs(store)?;
        let panes = live_panes(tmux)?;
        let live: HashSet<PaneId> = panes.iter().map(|p| p.pane).collect();
        let before = load_all(store);
        let mut after = before.clone();
        let gone = prune(&mut after, &live);
        Ok(Edit {
            _lock: lock,
            panes,
            before,
            after,
            gone,
        })
    }

    /// Write what changed and drop the inboxes of pruned panes; returns
    /// the files as they now are and the pruned panes.
    fn commit(self, store: &Store) -> Result<(BTreeMap<PaneId, SubsFile>, Vec<PaneId>)> {
        save_changes(store, &self.before, &self.after)?;
        for p in &self.gone {
            remove_inbox(store, *p);
        }
        Ok((self.after, self.gone))
    }
}

/// The JSON answer of each action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    Subscribed(SubscribeReport),
    Unsubscribed(UnsubscribeReport),
    Pane(PaneList),
    Server(ServerList),
}

/// The report, or its text for people.
fn reply(store: &Store, report: Report, pretty: bool) -> Reply {
    if !pretty {
        return Reply::Json(report);
    }
    let mut out = String::new();
    match &report {
        Report::Subscribed(r) => render_subscribed(store, r, &mut out),
        Report::Unsubscribed(r) => render_unsubscribed(store, r, &mut out),
        Report::Pane(r) => render_pane(store, r, &mut out),
        Report::Server(r) => render_server(store, r, &mut out),
    }
    Reply::Text(out)
}

/// What a subscription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One peer of a subscribe request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscribed {
    #[serde(flatten)]
    pub link: Link,
    pub status: Change,
    /// The peer has never fired a hook, so it cannot send notices yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// `orch-subscribe PEER…`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscribeReport {
    pub subscriber: PaneId,
    pub name: Option<String>,
    pub subscriptions: Vec<Subscribed>,
    /// Panes found gone and removed from every subscription.
    pub pruned: Vec<PaneId>,
}

fn subscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: &[PaneId],
    kinds: &[String],
) -> Result<Report> {
    if peers.contains(&subscriber) {
        return Err(Fail::refused(format!(
            "{} cannot subscribe to itself: its own turn ends would be typed back into it; nothing changed",
            label(store, subscriber)
        )));
    }
    let mut edit = Edit::open(store, tmux)?;
    check_live(subscriber, &edit.panes, "subscriber")?;
    let info = edit.panes.iter().find(|p| p.pane == subscriber);
    if let Some(info) = info
        && let Some(cmd) =
            crate::deliver::at_shell_prompt(store, subscriber, &info.current_command, info.pid)
    {
        return Err(Fail::refused(format!(
            "subscriber {subscriber} is at a {cmd} prompt, not an agent: notices are typed into the subscriber's pane and would run as commands; nothing changed (subscribe from an agent's pane, or --for one)"
        )));
    }
    for &p in peers {
        check_live(p, &edit.panes, "peer")?;
    }
    let now = now_ns();
    let mut results = Vec::new();
    for &peer in peers {
        // Notices would flow peer → subscriber; a flow already going from
        // the subscriber to the peer closes a loop.
        if let Some(path) = flow_path(&edit.after, subscriber, peer) {
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
        let file = edit.after.entry(peer).or_insert_with(|| SubsFile {
            v: 1,
            peer,
            subscribers: Vec::new(),
            extra: Default::default(),
        });
        let status = match file.subscribers.iter_mut().find(|s| s.pane == subscriber) {
            Some(s) if s.kinds == kinds => Change::Unchanged,
            Some(s) => {
                s.kinds = kinds.to_vec();
                Change::Updated
            }
            None => {
                file.subscribers.push(Subscriber {
                    pane: subscriber,
                    kinds: kinds.to_vec(),
                    since_ts: now,
                });
                Change::Added
            }
        };
        let since_ts = file
            .subscribers
            .iter()
            .find(|s| s.pane == subscriber)
            .map_or(now, |s| s.since_ts);
        let rec = store.read_registry(peer);
        let warning = (!crate::deliver::has_hooks(store, peer, rec.as_ref())).then(|| {
            format!(
                "{peer} has never fired a hook: notices come only from agents whose hooks run orch-hook (orch spawn, or orch up)"
            )
        });
        results.push(Subscribed {
            link: Link {
                end: End::Peer(peer),
                name: name_of(store, peer),
                kinds: kinds.to_vec(),
                since_ts,
            },
            status,
            warning,
        });
    }
    let (_, pruned) = edit.commit(store)?;
    Ok(Report::Subscribed(SubscribeReport {
        subscriber,
        name: name_of(store, subscriber),
        subscriptions: results,
        pruned,
    }))
}

fn render_subscribed(store: &Store, r: &SubscribeReport, out: &mut String) {
    for s in &r.subscriptions {
        let _ = writeln!(
            out,
            "{} {} → {}: {}{}",
            s.status.as_str(),
            label(store, s.link.end.pane()),
            label(store, r.subscriber),
            s.link.kinds.join(","),
            s.warning
                .as_deref()
                .map(|w| format!(" (warning: {w})"))
                .unwrap_or_default()
        );
    }
}

/// `--unsub PEER…` and `--cancel`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnsubscribeReport {
    pub subscriber: PaneId,
    pub removed: Vec<PaneId>,
    pub not_subscribed: Vec<PaneId>,
    pub pruned: Vec<PaneId>,
}

fn unsubscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: Option<&[PaneId]>,
) -> Result<Report> {
    let mut edit = Edit::open(store, tmux)?;
    let mut removed = Vec::new();
    let mut not_subscribed = Vec::new();
    let targets: Vec<PaneId> = match peers {
        Some(p) => p.to_vec(),
        None => edit
            .before
            .iter()
            .filter(|(_, f)| f.subscribers.iter().any(|s| s.pane == subscriber))
            .map(|(p, _)| *p)
            .collect(),
    };
    for &peer in &targets {
        let had = edit
            .before
            .get(&peer)
            .is_some_and(|f| f.subscribers.iter().any(|s| s.pane == subscriber));
        if let Some(f) = edit.after.get_mut(&peer) {
            f.subscribers.retain(|s| s.pane != subscriber);
        }
        if had {
            removed.push(peer);
        } else {
            not_subscribed.push(peer);
        }
    }
    edit.after.retain(|_, f| !f.subscribers.is_empty());
    let (_, pruned) = edit.commit(store)?;
    Ok(Report::Unsubscribed(UnsubscribeReport {
        subscriber,
        removed,
        not_subscribed,
        pruned,
    }))
}

fn render_unsubscribed(store: &Store, r: &UnsubscribeReport, out: &mut String) {
    let me = label(store, r.subscriber);
    for p in &r.removed {
        let _ = writeln!(out, "removed {} → {me}", label(store, *p));
    }
    for p in &r.not_subscribed {
        let _ = writeln!(out, "{me} was not subscribed to {}", label(store, *p));
    }
    if r.removed.is_empty() && r.not_subscribed.is_empty() {
        let _ = writeln!(out, "{me} had no subscriptions");
    }
}

/// The other end of a listed subscription, keyed by what it is to the
/// listed pane.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// A peer the listed pane gets notices about.
    Peer(PaneId),
    /// A pane that gets notices about the listed pane.
    Pane(PaneId),
}

impl End {
    pub fn pane(self) -> PaneId {
        match self {
            End::Peer(p) | End::Pane(p) => p,
        }
    }
}

/// One subscription as `--list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    #[serde(flatten)]
    pub end: End,
    pub name: Option<String>,
    pub kinds: Vec<String>,
    pub since_ts: u64,
}

impl Link {
    fn new(store: &Store, end: End, s: &Subscriber) -> Link {
        Link {
            end,
            name: name_of(store, end.pane()),
            kinds: kinds_or_default(&s.kinds),
            since_ts: s.since_ts,
        }
    }
}

/// `--list`: one pane's subscriptions both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaneList {
    pub pane: PaneId,
    pub name: Option<String>,
    /// The peers it gets notices about.
    pub subscriptions: Vec<Link>,
    /// The panes that get notices about it.
    pub subscribers: Vec<Link>,
    /// Notices waiting to be delivered to it.
    pub pending: usize,
}

fn list(store: &Store, tmux: &Tmux, pane: PaneId) -> Result<Report> {
    let (files, _) = Edit::open(store, tmux)?.commit(store)?;
    let subscriptions = files
        .iter()
        .filter_map(|(peer, f)| {
            let s = f.subscribers.iter().find(|s| s.pane == pane)?;
            Some(Link::new(store, End::Peer(*peer), s))
        })
        .collect();
    let subscribers = files
        .get(&pane)
        .map(|f| {
            f.subscribers
                .iter()
                .map(|s| Link::new(store, End::Pane(s.pane), s))
                .collect()
        })
        .unwrap_or_default();
    Ok(Report::Pane(PaneList {
        pane,
        name: name_of(store, pane),
        subscriptions,
        subscribers,
        pending: notice::pending(store, pane).map_or(0, |(_, p, _)| p.len()),
    }))
}

fn render_pane(store: &Store, r: &PaneList, out: &mut String) {
    let me = label(store, r.pane);
    let _ = writeln!(out, "{me} gets notices about:");
    if r.subscriptions.is_empty() {
        let _ = writeln!(out, "  (nothing)");
    }
    for s in &r.subscriptions {
        let _ = writeln!(
            out,
            "  {:<24} {:<32} since {}",
            label(store, s.end.pane()),
            s.kinds.join(","),
            crate::time::age_of(s.since_ts)
        );
    }
    let _ = writeln!(out, "notices about {me} go to:");
    if r.subscribers.is_empty() {
        let _ = writeln!(out, "  (nobody)");
    }
    for s in &r.subscribers {
        let _ = writeln!(out, "  {}", label(store, s.end.pane()));
    }
    let _ = writeln!(out, "{} notice(s) waiting to be delivered", r.pending);
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

/// One subscription of `--list --all`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerLink {
    pub subscriber: PaneId,
    pub subscriber_name: Option<String>,
    pub peer: PaneId,
    pub peer_name: Option<String>,
    pub kinds: Vec<String>,
    pub since_ts: u64,
}

/// `--list --all`: every subscription on the tmux server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerList {
    pub subscriptions: Vec<ServerLink>,
}

fn list_all(store: &Store, tmux: &Tmux) -> Result<Report> {
    let (files, _) = Edit::open(store, tmux)?.commit(store)?;
    let subscriptions = files
        .iter()
        .flat_map(|(peer, f)| {
            f.subscribers.iter().map(|s| ServerLink {
                subscriber: s.pane,
                subscriber_name: name_of(store, s.pane),
                peer: *peer,
                peer_name: name_of(store, *peer),
                kinds: kinds_or_default(&s.kinds),
                since_ts: s.since_ts,
            })
        })
        .collect();
    Ok(Report::Server(ServerList { subscriptions }))
}

fn render_server(store: &Store, r: &ServerList, out: &mut String) {
    if r.subscriptions.is_empty() {
        let _ = writeln!(out, "no subscriptions on this tmux server");
    }
    for s in &r.subscriptions {
        let _ = writeln!(
            out,
            "{:<24} gets notices about {:<24} {}",
            label(store, s.subscriber),
            label(store, s.peer),
            s.kinds.join(",")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

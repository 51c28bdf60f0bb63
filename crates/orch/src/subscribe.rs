//! `orch-subscribe`: make a pane receive push notices when chosen peers
//! finish a turn or need attention — with no background process. The
//! subscription files are [`crate::subs`]; delivery is [`crate::notice`].
//! `docs/subscribe.md` is the user-facing description.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::event::Kind;
use crate::exit::{Code, Fail};
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
    Json(Value),
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

fn run_flush(raw: &[String]) -> Result<Reply> {
    let panes = raw
        .iter()
        .map(|p| p.parse::<PaneId>().map_err(|e| Fail::usage(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    let store = Store::current()?;
    notice::flush(&store, &panes);
    Ok(Reply::Text(String::new()))
}

fn subscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: &[PaneId],
    kinds: &[String],
    pretty: bool,
) -> Result<Reply> {
    let mut out = String::new();
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
    if let Some(info) = info
        && let cmd = info.current_command.rsplit('/').next().unwrap_or("")
        && crate::tmux::is_shell(cmd)
        && !crate::deliver::live_session_under_shell(store, subscriber, info.pid)
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
            let _ = writeln!(
                out,
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
        return Ok(Reply::Json(
            json!({"subscriber": subscriber, "name": name_of(store, subscriber),
                      "subscriptions": results, "pruned": gone}),
        ));
    }
    Ok(Reply::Text(out))
}

fn peer_of(r: &Value) -> PaneId {
    r["peer"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PaneId(0))
}

fn unsubscribe(
    store: &Store,
    tmux: &Tmux,
    subscriber: PaneId,
    peers: Option<&[PaneId]>,
    pretty: bool,
) -> Result<Reply> {
    let mut out = String::new();
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
            let _ = writeln!(
                out,
                "removed {} → {}",
                label(store, *p),
                label(store, subscriber)
            );
        }
        for p in &not_subscribed {
            let _ = writeln!(
                out,
                "{} was not subscribed to {}",
                label(store, subscriber),
                label(store, *p)
            );
        }
        if removed.is_empty() && not_subscribed.is_empty() {
            let _ = writeln!(out, "{} had no subscriptions", label(store, subscriber));
        }
    } else {
        return Ok(Reply::Json(
            json!({"subscriber": subscriber, "removed": removed,
                      "not_subscribed": not_subscribed, "pruned": gone}),
        ));
    }
    Ok(Reply::Text(out))
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

fn list(store: &Store, tmux: &Tmux, pane: PaneId, pretty: bool) -> Result<Reply> {
    let mut out = String::new();
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
        let _ = writeln!(out, "{} gets notices about:", label(store, pane));
        if subscriptions.is_empty() {
            let _ = writeln!(out, "  (nothing)");
        }
        for s in &subscriptions {
            let _ = writeln!(
                out,
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
        let _ = writeln!(out, "notices about {} go to:", label(store, pane));
        if subscribers.is_empty() {
            let _ = writeln!(out, "  (nobody)");
        }
        for s in &subscribers {
            let p = s["pane"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(PaneId(0));
            let _ = writeln!(out, "  {}", label(store, p));
        }
        let _ = writeln!(out, "{pending} notice(s) waiting to be delivered");
    } else {
        return Ok(Reply::Json(
            json!({"pane": pane, "name": name_of(store, pane),
                      "subscriptions": subscriptions, "subscribers": subscribers,
                      "pending": pending}),
        ));
    }
    Ok(Reply::Text(out))
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

fn list_all(store: &Store, tmux: &Tmux, pretty: bool) -> Result<Reply> {
    let mut out = String::new();
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
            let _ = writeln!(out, "no subscriptions on this tmux server");
        }
        for (peer, f) in &files {
            for s in &f.subscribers {
                let _ = writeln!(
                    out,
                    "{:<24} gets notices about {:<24} {}",
                    label(store, s.pane),
                    label(store, *peer),
                    kinds_or_default(&s.kinds).join(",")
                );
            }
        }
    } else {
        return Ok(Reply::Json(json!({"subscriptions": all})));
    }
    Ok(Reply::Text(out))
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

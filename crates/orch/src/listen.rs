//! `orch-listen`: block until agents finish a turn or need attention.
//!
//! Waiting is inotify on the server's `events/` directory (one instance, one
//! watch, however many panes). The watch is armed before the logs are read,
//! and the logs are re-read after every wake, so nothing is missed; cursors
//! (per-pane sequence numbers) make sure nothing is reported twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::event::{Event, Kind};
use crate::exit::{Code, Fail};
use crate::layout::pane_of_file;
use crate::pane::PaneId;
use crate::roles::Role;
use crate::store::{LogCursor, Store};
use crate::watch::{Waiter, Wake};

/// What to listen for (`orch-listen`'s flags).
#[derive(Debug, Clone, Default)]
pub struct ListenRequest {
    /// Pane ids or agent names.
    pub targets: Vec<String>,
    /// Every pane on the server (except the caller's and observers).
    pub any: bool,
    /// Report every matching event until the timeout, not just the first.
    pub stream: bool,
    /// Kind names; empty: the turn-end kinds.
    pub kinds: Vec<String>,
    /// Replay events with a sequence number above this (per pane).
    pub since: Option<u64>,
    /// Only events appended after listen starts, even for one target.
    pub new: bool,
    pub timeout: Option<Duration>,
    pub include_self: bool,
    pub include_observers: bool,
}

/// Parse `--kinds`; empty means the turn-end default.
pub fn parse_kinds(kinds: &[String]) -> Result<Vec<Kind>> {
    if kinds.is_empty() {
        return Ok(crate::event::ALL_KINDS
            .iter()
            .copied()
            .filter(Kind::is_turn_end)
            .collect());
    }
    kinds
        .iter()
        .map(|k| k.trim().parse::<Kind>().map_err(Fail::usage))
        .collect()
}

/// Where a single target's cursor starts by default: after the last prompt
/// it received (a `prompt` receipt or orch's own `sent`), so a reply that
/// landed before listen started is still returned.
pub fn after_last_prompt(store: &Store, pane: PaneId) -> Result<u64> {
    let events = store.read_events(pane, 0)?;
    let last_prompt = events
        .iter()
        .rev()
        .find(|e| matches!(e.kind, Some(Kind::Prompt) | Some(Kind::Sent)))
        .map(|e| e.seq);
    // Never prompted (e.g. a task given on the agent's command line): every
    // turn end it has had counts.
    Ok(last_prompt.unwrap_or(0))
}

/// Listen (see the module doc), handing each matching event to `report`
/// (with the agent's name filled in if it was named after the event was
/// written). Returns once one event was reported (without `stream`); the
/// timeout is an error ([`Fail::timeout`]) either way.
pub fn listen(
    args: &ListenRequest,
    report: &mut dyn FnMut(&Event) -> std::io::Result<()>,
) -> Result<Code> {
    let kinds = parse_kinds(&args.kinds)?;
    let deadline = args.timeout.map(|t| Instant::now() + t);
    if args.targets.is_empty() && !args.any {
        return Err(Fail::usage(
            "nothing to listen to: name panes (orch-listen %3) or pass --any",
        ));
    }
    // Validate pane ids before touching tmux, so a typo is a usage error.
    for t in &args.targets {
        if t.starts_with('%') {
            t.parse::<PaneId>()
                .map_err(|e| Fail::usage(e.to_string()))?;
        }
    }
    let store = Store::current()?;
    let own = crate::target::own_pane(&store);

    let mut targets = Vec::new();
    for t in &args.targets {
        targets.push(crate::target::resolve(&store, t)?);
    }
    targets.sort();
    targets.dedup();

    let mut cursors: BTreeMap<PaneId, LogCursor> = BTreeMap::new();
    for &p in &targets {
        let start = match (args.since, args.new) {
            (Some(s), _) => s,
            (None, true) => store.last_seq(p)?,
            (None, false) if targets.len() == 1 => after_last_prompt(&store, p)?,
            (None, false) => store.last_seq(p)?,
        };
        cursors.insert(p, LogCursor::new(p, start));
    }
    let mut listener = Listener {
        store: &store,
        any: args.any,
        since: args.since,
        skip_self: own.filter(|_| !args.include_self),
        skip_observers: !args.include_observers,
        names: HashMap::new(),
        cursors,
    };
    if args.any {
        for p in store.known_panes() {
            listener.add_pane(p, false)?;
        }
    }
    // Cursors are fixed; now arm the watch, then read. Whatever is appended
    // after this point either is read by the first pass or wakes us.
    let waiter = Waiter::new(&store.layout().events_dir());

    let mut printed = 0usize;
    let mut wake = Wake::Changed(Vec::new());
    loop {
        let changed: Vec<PaneId> = match &wake {
            Wake::Changed(paths) if !paths.is_empty() => {
                let mut ps: Vec<PaneId> = paths
                    .iter()
                    .filter_map(|p| p.file_name())
                    .filter_map(|n| pane_of_file(&n.to_string_lossy()))
                    .collect();
                ps.sort();
                ps.dedup();
                ps
            }
            _ => {
                if listener.any {
                    for p in store.known_panes() {
                        listener.add_pane(p, true)?;
                    }
                }
                listener.cursors.keys().copied().collect()
            }
        };
        for p in changed {
            if listener.any && !listener.cursors.contains_key(&p) {
                listener.add_pane(p, true)?;
            }
            let Some(cursor) = listener.cursors.get_mut(&p) else {
                continue;
            };
            let events = cursor
                .poll(&store)
                .with_context(|| format!("cannot read the event log of {p}"))?;
            for ev in events {
                if !ev.kind.is_some_and(|k| kinds.contains(&k)) {
                    continue;
                }
                let mut ev = ev;
                if ev.name.is_none() {
                    ev.name = listener.name_of(p);
                }
                report(&ev)?;
                printed += 1;
                if !args.stream {
                    return Ok(Code::Ok);
                }
            }
        }
        wake = waiter.wait(deadline);
        if wake == Wake::Timeout {
            let what = if args.any {
                "any pane".to_string()
            } else {
                targets
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let kinds: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
            let msg = format!(
                "timed out after {}s waiting for {} on {what} ({printed} event(s) printed)",
                args.timeout.unwrap_or_default().as_secs_f64(),
                kinds.join("/")
            );
            return Err(Fail::timeout(msg));
        }
    }
}

struct Listener<'a> {
    store: &'a Store,
    any: bool,
    since: Option<u64>,
    skip_self: Option<PaneId>,
    skip_observers: bool,
    names: HashMap<PaneId, Option<String>>,
    cursors: BTreeMap<PaneId, LogCursor>,
}

impl Listener<'_> {
    /// Start following a pane seen by `--any`. Panes that appear after
    /// listen started are read from their first event.
    fn add_pane(&mut self, p: PaneId, appeared_later: bool) -> Result<()> {
        if self.cursors.contains_key(&p) || Some(p) == self.skip_self {
            return Ok(());
        }
        if self.skip_observers
            && self
                .store
                .read_registry(p)
                .is_some_and(|r| r.role == Some(Role::Observer))
        {
            return Ok(());
        }
        let start = match self.since {
            Some(s) => s,
            None if appeared_later => 0,
            None => self.store.last_seq(p)?,
        };
        self.cursors.insert(p, LogCursor::new(p, start));
        Ok(())
    }

    fn name_of(&mut self, p: PaneId) -> Option<String> {
        self.names
            .entry(p)
            .or_insert_with(|| crate::target::name_of(self.store, p))
            .clone()
    }
}

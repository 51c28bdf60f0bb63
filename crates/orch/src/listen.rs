//! `orch-listen`: block until agents finish a turn or need attention.
//!
//! Waiting is inotify on the server's `events/` directory (one instance, one
//! watch, however many panes). The watch is armed before the logs are read,
//! and the logs are re-read after every wake, so nothing is missed; cursors
//! (per-pane sequence numbers) make sure nothing is reported twice.
//!
//! Death and absence end a wait. A named target whose pane is gone, or whose
//! process exited (a dead pane), has no event to wake anyone: every
//! [`RECHECK`] the listener sends signal 0 to each target's pane process,
//! asks tmux (`list-panes`, one call for all targets) when one has gone or
//! [`LISTING_EVERY`] passed, and, once a target's log holds nothing more to
//! report, reports an `exited` event for it that is not in the log (`seq`
//! 0, `reason` `pane_gone` or `pane_dead`) — exit 7, as `tell --wait` does.
//! A pane that does not exist and that orch has no record of is an error
//! (exit 7).
//! Each target's state is its own ([`Follow`]), so a rule over every target
//! can be built on the same pieces.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::deliver::RECHECK;
use crate::event::{Event, Kind, SCHEMA_VERSION};
use crate::exit::{Code, Fail};
use crate::layout::pane_of_file;
use crate::pane::PaneId;
use crate::roles::Role;
use crate::store::{LogCursor, Store};
use crate::time::now_ns;
use crate::tmux::{PaneInfo, Tmux};
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
    /// Fan-in: return once every named target has reported one event.
    pub all: bool,
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

/// The exit code a reported event ends a one-shot listen with: 7 when the
/// agent's session ended or its pane died (like `tell --wait`), else 0.
pub fn code_of_event(ev: &Event) -> Code {
    match ev.kind {
        Some(Kind::SessionEnd) | Some(Kind::Exited) => Code::Exited,
        _ => Code::Ok,
    }
}

/// Listen (see the module doc), handing each matching event to `report`
/// (with the agent's name filled in if it was named after the event was
/// written). Returns once one event was reported (without `stream`), with
/// [`code_of_event`]; a stream whose named targets have all died returns
/// exit 7; the timeout is an error ([`Fail::timeout`]) either way.
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
    if args.all && (args.any || args.stream || args.targets.is_empty()) {
        return Err(Fail::usage(
            "--all waits for each named target (orch-listen --all a b c); it does not go with --any or --stream",
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

    let mut follows: BTreeMap<PaneId, Follow> = BTreeMap::new();
    for &p in &targets {
        let start = match (args.since, args.new) {
            (Some(s), _) => s,
            (None, true) => store.last_seq(p)?,
            // Every named target by the single-target rule (issue 15): a
            // turn that ended before listen started still counts.
            (None, false) => after_last_prompt(&store, p)?,
        };
        follows.insert(p, Follow::named(p, start));
    }
    let mut listener = Listener {
        store: &store,
        kinds: &kinds,
        any: args.any,
        since: args.since,
        skip_self: own.filter(|_| !args.include_self),
        skip_observers: !args.include_observers,
        names: HashMap::new(),
        follows,
    };
    if args.any {
        for p in store.known_panes() {
            listener.add_pane(p, false)?;
        }
    }
    let tmux = Tmux::for_server(store.server());
    // Cursors are fixed; now arm the watch, then read. Whatever is appended
    // after this point either is read by the first pass or wakes us.
    let waiter = Waiter::new(&store.layout().events_dir());

    let mut printed = 0usize;
    // --all: the targets still owed an event, and the worst code so far.
    let mut missing: Vec<PaneId> = if args.all {
        targets.clone()
    } else {
        Vec::new()
    };
    let mut arrived: BTreeMap<PaneId, Event> = BTreeMap::new();
    let mut wake = Wake::Changed(Vec::new());
    // The first pass looks at tmux too: a target that is already gone ends
    // the listen at once.
    let mut next_check = Instant::now();
    let mut next_listing = Instant::now();
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
                listener.follows.keys().copied().collect()
            }
        };
        let mut found = Vec::new();
        for p in changed {
            if listener.any && !listener.follows.contains_key(&p) {
                listener.add_pane(p, true)?;
            }
            found.extend(listener.poll(p)?);
        }
        let now = Instant::now();
        if listener.has_live_targets() && now >= next_check {
            // Signal 0 to each pane's process costs no process of our own;
            // tmux is asked when one has gone, and every LISTING_EVERY for
            // panes killed while their process lives on.
            if now >= next_listing || listener.a_process_is_gone() {
                found.extend(listener.deaths(&tmux, printed + found.len() == 0)?);
                next_listing = now + LISTING_EVERY;
            }
            next_check = now + RECHECK;
        }
        for ev in found {
            if args.all {
                // One event per target, its first; printed in target order
                // once every target has one (or at the timeout).
                if let Some(p) = ev.pane.filter(|p| missing.contains(p)) {
                    missing.retain(|m| *m != p);
                    arrived.insert(p, ev);
                }
                if missing.is_empty() {
                    return report_all(&targets, &arrived, report);
                }
                continue;
            }
            report(&ev)?;
            printed += 1;
            if !args.stream {
                return Ok(code_of_event(&ev));
            }
        }
        if args.stream && !listener.any && !listener.has_live_targets() {
            return Ok(Code::Exited);
        }
        let now = Instant::now();
        let until = match (deadline, listener.has_live_targets()) {
            (Some(d), true) => Some(d.min(next_check.max(now))),
            (None, true) => Some(next_check.max(now)),
            (d, false) => d,
        };
        wake = waiter.wait(until);
        if wake == Wake::Timeout && deadline.is_some_and(|d| Instant::now() >= d) {
            let labels = |ps: &[PaneId]| {
                ps.iter()
                    .map(|p| crate::target::label(&store, *p))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let what = if args.any {
                "any pane".to_string()
            } else if args.all {
                format!(
                    "every one of {}; missing: {}",
                    labels(&targets),
                    labels(&missing)
                )
            } else {
                labels(&targets)
            };
            if args.all {
                report_all(&targets, &arrived, report)?;
                printed = arrived.len();
            }
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

/// `--all`: print what arrived in target order; exit 7 if any target is
/// gone, else 0.
fn report_all(
    targets: &[PaneId],
    arrived: &BTreeMap<PaneId, Event>,
    report: &mut dyn FnMut(&Event) -> std::io::Result<()>,
) -> Result<Code> {
    let mut code = Code::Ok;
    for ev in targets.iter().filter_map(|p| arrived.get(p)) {
        report(ev)?;
        if code_of_event(ev) != Code::Ok {
            code = code_of_event(ev);
        }
    }
    Ok(code)
}

/// How often a listener asks tmux about its named targets even when their
/// processes live (a pane killed while its process ignores SIGHUP).
const LISTING_EVERY: Duration = Duration::from_secs(10);

/// One followed pane.
struct Follow {
    cursor: LogCursor,
    /// The pane's process at the last listing (`pane_pid`).
    pid: Option<u32>,
    /// Named on the command line (not found by `--any`): its death ends
    /// the wait.
    named: bool,
    /// Its pane died and that was reported: nothing more will come.
    ended: bool,
}

impl Follow {
    fn named(pane: PaneId, after: u64) -> Follow {
        Follow {
            cursor: LogCursor::new(pane, after),
            pid: None,
            named: true,
            ended: false,
        }
    }
}

/// The `exited` event listen reports for a target whose pane went away
/// (not in the log: `seq` 0).
fn death_event(pane: PaneId, name: Option<String>, info: Option<&PaneInfo>) -> Event {
    let (reason, message) = match info {
        None => (
            "pane_gone",
            format!("pane {pane} no longer exists on this tmux server; its agent is gone"),
        ),
        Some(_) => (
            "pane_dead",
            format!("the process in pane {pane} has exited (the pane is kept dead)"),
        ),
    };
    Event {
        v: SCHEMA_VERSION,
        seq: 0,
        ts: now_ns(),
        pane: Some(pane),
        kind: Some(Kind::Exited),
        name,
        reason: Some(reason.into()),
        message: Some(message),
        ..Default::default()
    }
}

struct Listener<'a> {
    store: &'a Store,
    kinds: &'a [Kind],
    any: bool,
    since: Option<u64>,
    skip_self: Option<PaneId>,
    skip_observers: bool,
    names: HashMap<PaneId, Option<String>>,
    follows: BTreeMap<PaneId, Follow>,
}

impl Listener<'_> {
    /// Start following a pane seen by `--any`. Panes that appear after
    /// listen started are read from their first event.
    fn add_pane(&mut self, p: PaneId, appeared_later: bool) -> Result<()> {
        if self.follows.contains_key(&p) || Some(p) == self.skip_self {
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
        self.follows.insert(
            p,
            Follow {
                cursor: LogCursor::new(p, start),
                pid: None,
                named: false,
                ended: false,
            },
        );
        Ok(())
    }

    /// The new matching events of pane `p`, names filled in.
    fn poll(&mut self, p: PaneId) -> Result<Vec<Event>> {
        let Some(f) = self.follows.get_mut(&p) else {
            return Ok(Vec::new());
        };
        let events = f
            .cursor
            .poll(self.store)
            .with_context(|| format!("cannot read the event log of {p}"))?;
        let mut out = Vec::new();
        for mut ev in events {
            if !ev.kind.is_some_and(|k| self.kinds.contains(&k)) {
                continue;
            }
            if ev.name.is_none() {
                ev.name = self.name_of(p);
            }
            out.push(ev);
        }
        Ok(out)
    }

    /// Has the process of a named, live target gone (or is it unknown)?
    fn a_process_is_gone(&self) -> bool {
        self.follows
            .values()
            .filter(|f| f.named && !f.ended)
            .any(|f| f.pid.is_none_or(|p| !crate::server::pid_alive(p)))
    }

    /// Are there named targets whose death we have not reported yet?
    fn has_live_targets(&self) -> bool {
        self.follows.values().any(|f| f.named && !f.ended)
    }

    /// Ask tmux (once) which named targets are gone or dead. For each: what
    /// its log still holds, then its [`death_event`]. Where tmux cannot be
    /// asked the logs alone decide (nothing is reported). `first`: nothing
    /// has been reported yet, so a pane orch never knew is an error.
    fn deaths(&mut self, tmux: &Tmux, first: bool) -> Result<Vec<Event>> {
        let Ok(panes) = tmux.list_panes() else {
            return Ok(Vec::new());
        };
        let by_pane: HashMap<PaneId, &PaneInfo> = panes.iter().map(|p| (p.pane, p)).collect();
        for (p, f) in self.follows.iter_mut() {
            f.pid = by_pane.get(p).filter(|i| !i.dead).map(|i| i.pid);
        }
        let candidates: Vec<PaneId> = self
            .follows
            .iter()
            .filter(|(_, f)| f.named && !f.ended)
            .map(|(p, _)| *p)
            .filter(|p| by_pane.get(p).is_none_or(|i| i.dead))
            .collect();
        let mut out = Vec::new();
        for p in candidates {
            // Read after the listing: an agent that replied and then died
            // has its reply reported first.
            let pending = self.poll(p)?;
            let info = by_pane.get(&p).copied();
            if first
                && pending.is_empty()
                && info.is_none()
                && self.store.last_seq(p)? == 0
                && self.store.read_registry(p).is_none()
            {
                return Err(Fail::new(
                    Code::Exited,
                    format!(
                        "pane {p} does not exist on this tmux server and orch has no record of it; nothing to listen to ({})",
                        crate::target::known_agents(self.store)
                    ),
                )
                .into());
            }
            out.extend(pending);
            let name = self.name_of(p);
            out.push(death_event(p, name, info));
            if let Some(f) = self.follows.get_mut(&p) {
                f.ended = true;
            }
        }
        Ok(out)
    }

    fn name_of(&mut self, p: PaneId) -> Option<String> {
        self.names
            .entry(p)
            .or_insert_with(|| crate::target::name_of(self.store, p))
            .clone()
    }
}

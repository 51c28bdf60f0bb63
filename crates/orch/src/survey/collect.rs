//! Collecting a survey: the registry, one `tmux list-panes -a`, GC, and
//! only where needed a bounded read of a log tail or a transcript.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::Result;

use super::{Agent, Counts, Filters, GcMode, GcOut, Report, ServerOut, TextAt};
use crate::agent_state::{self, Derived};
use crate::event::Event;
use crate::exit::Fail;
use crate::gc::{self, GcReport};
use crate::pane::PaneId;
use crate::registry::PaneRecord;
use crate::state::State;
use crate::store::{Store, parse_complete_lines};
use crate::subs::Subscriptions;
use crate::time::now_ns;
use crate::tmux::{PaneInfo, Tmux};
use crate::usage::{Tokens, UsageCache};

/// How much of a pane's log is read when its last event does not decide.
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// The complete events in the last [`LOG_TAIL_BYTES`] of `pane`'s log (and of
/// its previous generation when the current one is nearly empty).
fn log_tail(store: &Store, pane: PaneId) -> Vec<Event> {
    fn tail_of(path: &Path) -> Vec<Event> {
        let Ok(f) = crate::paths::open_read(path) else {
            return Vec::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(LOG_TAIL_BYTES);
        let mut buf = vec![0u8; (len - start) as usize];
        if f.read_exact_at(&mut buf, start).is_err() {
            return Vec::new();
        }
        let body = if start > 0 {
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => &buf[i + 1..],
                None => return Vec::new(),
            }
        } else {
            &buf[..]
        };
        let mut out = Vec::new();
        parse_complete_lines(body, |e| out.push(e));
        out
    }
    let mut events = tail_of(&store.layout().log(pane));
    if events.len() < 4 {
        let mut older = tail_of(&store.layout().rotated_log(pane));
        let first = events.first().map_or(u64::MAX, |e| e.seq);
        older.retain(|e| e.seq < first);
        older.extend(events);
        events = older;
    }
    events
}

/// Which agents the targets name; `Err` for a target that names none.
fn resolve_targets(
    store: &Store,
    records: &[PaneRecord],
    listed: &[PaneInfo],
    targets: &[String],
) -> Result<Option<HashSet<PaneId>>> {
    if targets.is_empty() {
        return Ok(None);
    }
    let mut out = HashSet::new();
    for t in targets {
        let want_pane = if t == "self" {
            Some(PaneId::from_env().ok_or_else(|| {
                Fail::usage("`self` needs to run inside a tmux pane (TMUX_PANE is unset)")
            })?)
        } else if t.starts_with('%') {
            Some(
                t.parse::<PaneId>()
                    .map_err(|e| Fail::usage(e.to_string()))?,
            )
        } else {
            None
        };
        let hits: Vec<PaneId> = records
            .iter()
            .filter_map(|r| {
                let p = r.pane?;
                let hit = match want_pane {
                    Some(w) => p == w,
                    None => r.name.as_deref() == Some(t.as_str()),
                };
                hit.then_some(p)
            })
            .collect();
        // A name resolves to the live agent that has it: a dead agent of the
        // same name shows only when no live one does.
        let live: Vec<PaneId> = hits
            .iter()
            .copied()
            .filter(|p| crate::target::is_live(listed, *p))
            .collect();
        let chosen = if want_pane.is_none() && !live.is_empty() {
            live
        } else {
            hits
        };
        let found = !chosen.is_empty();
        out.extend(chosen);
        if !found {
            let what = match want_pane {
                Some(p) => format!("no agent is known in pane {p}"),
                None => format!("no agent named {t:?}"),
            };
            return Err(Fail::usage(format!(
                "{what}; {}",
                crate::target::known_agents(store)
            )));
        }
    }
    Ok(Some(out))
}

/// Take a survey of `store`'s agents on the tmux server `tmux` talks to.
pub fn collect(store: &Store, tmux: &Tmux, filters: &Filters, gc_mode: GcMode) -> Result<Report> {
    // Registry first, then tmux: every record read existed before the
    // listing, so a pane missing from the listing really is missing.
    let records = store.list_registry();
    let listed_ns = now_ns();
    let panes = tmux.list_panes()?;
    let wanted = resolve_targets(store, &records, &panes, &filters.targets)?;
    let by_pane: HashMap<PaneId, &PaneInfo> = panes.iter().map(|p| (p.pane, p)).collect();

    let gc_report = match gc_mode {
        GcMode::Collect => {
            let live: Vec<PaneId> = panes.iter().map(|p| p.pane).collect();
            // Dead servers' state is kept for `orch restore`, then collected.
            crate::restore::collect_dead_servers(store.root());
            gc::collect_listed_at(store, &live, listed_ns)
        }
        GcMode::ReadOnly => GcReport::default(),
    };
    let marked: HashSet<PaneId> = gc_report.marked.iter().copied().collect();
    let removed: HashSet<PaneId> = gc_report.removed.iter().copied().collect();
    let mut usage_cache = match gc_mode {
        GcMode::Collect => Some(UsageCache::load(store)),
        GcMode::ReadOnly => None,
    };

    let subs = Subscriptions::load(store);
    let operator = crate::roles::claimed_operator(store);
    let now = now_ns();
    let min_since = filters
        .since
        .map(|d| now.saturating_sub(d.as_nanos() as u64));
    let mut agents = Vec::new();
    for rec in &records {
        let Some(pane) = rec.pane else { continue };
        if removed.contains(&pane) {
            continue;
        }
        let targeted = wanted.as_ref().is_some_and(|w| w.contains(&pane));
        if wanted.is_some() && !targeted {
            continue;
        }
        let info = by_pane.get(&pane).copied();
        let mut rec = rec.clone();
        if info.is_none() {
            // Gone ones show once: in the pass that finds them missing.
            let seen_gone_before = rec.gone_ts.is_some() && !marked.contains(&pane);
            if seen_gone_before
                && !targeted
                && !filters.wants_gone()
                && (rec.pid.is_none() || orphans(&rec).is_empty())
            {
                continue;
            }
            if marked.contains(&pane) && rec.gone_ts.is_none() {
                rec.gone_ts = Some(now);
            }
        } else {
            // A live pane is never gone, whatever a racing GC pass wrote.
            rec.gone_ts = None;
        }
        // The claimed operator shows as such, whatever its record says.
        if rec.role.is_none() && Some(pane) == operator {
            rec.role = Some(crate::roles::Role::Operator);
        }
        if !filters.roles.is_empty() && !filters.roles.iter().any(|x| Some(x) == rec.role.as_ref())
        {
            continue;
        }
        let derived = derive(store, &rec, info, now);
        if !filters.state_matches(derived.state) {
            continue;
        }
        if min_since.is_some_and(|m| derived.since < m) {
            continue;
        }
        let tokens = match (&rec.transcript_path, &mut usage_cache) {
            _ if derived.state == State::Gone => None,
            (Some(tp), Some(cache)) => cache.tokens(pane, Path::new(tp)),
            // No transcript to read: what the latest turn end reported.
            (None, _) => rec.tokens.clone(),
            _ => None,
        };
        agents.push(agent(&rec, pane, info, derived, now, &subs, tokens));
    }
    if let Some(cache) = usage_cache {
        let keep: HashSet<PaneId> = records
            .iter()
            .filter_map(|r| r.pane)
            .filter(|p| !removed.contains(p))
            .collect();
        cache.save(store, &keep);
    }
    let server = store.server();
    Ok(Report {
        v: crate::event::SCHEMA_VERSION,
        ts: now,
        server: ServerOut {
            socket: server.socket.display().to_string(),
            pid: server.pid,
            key: server.key(),
        },
        counts: Counts::of(&agents),
        agents,
        gc: GcOut {
            marked: gc_report.marked,
            removed: gc_report.removed,
        },
    })
}

/// The pane is gone, but is the agent? Some outlive their pane (Gemini
/// CLI's relaunched child) and keep working, and spending: the pids of its
/// processes still running.
fn orphans(rec: &PaneRecord) -> Vec<u32> {
    match (rec.pid, rec.pane) {
        (Some(l), Some(pane)) => {
            crate::proctree::of_agent(l, Some(pane), crate::proctree::Match::Strict)
                .iter()
                .map(|p| p.pid)
                .collect()
        }
        _ => Vec::new(),
    }
}

fn derive(store: &Store, rec: &PaneRecord, info: Option<&PaneInfo>, now: u64) -> Derived {
    let pane = rec.pane.unwrap_or(PaneId(u32::MAX));
    let from_events = agent_state::from_record(rec, &mut || log_tail(store, pane));
    let derived = agent_state::with_tmux(
        rec,
        from_events.clone(),
        info,
        now,
        &agent_state::has_children,
    );
    if derived.state != State::Gone {
        return derived;
    }
    let running = orphans(rec);
    if running.is_empty() {
        return derived;
    }
    let mut d = from_events;
    d.evidence.detail = format!(
        "pane {pane} no longer exists in tmux, but its agent's processes still run (pids {}): \
         end them with `orch-spawn --stop {pane}` (last known state: {})",
        running
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        d.state
    );
    d
}

fn agent(
    rec: &PaneRecord,
    pane: PaneId,
    info: Option<&PaneInfo>,
    d: Derived,
    now: u64,
    subs: &Subscriptions,
    tokens: Option<Tokens>,
) -> Agent {
    let age_ms = now.saturating_sub(d.since) / 1_000_000;
    Agent {
        pane,
        location: info.map(PaneInfo::location),
        name: rec.name.clone(),
        harness: rec.harness.clone(),
        role: rec.role.clone(),
        parent: rec.parent,
        state: d.state,
        state_since: d.since,
        state_age_ms: age_ms,
        state_age: crate::time::human_age(age_ms / 1000),
        evidence: d.evidence,
        error: d.error,
        rate_limit: d.rate_limit,
        cwd: rec.cwd.clone().or_else(|| info.map(|i| i.cwd.clone())),
        session_id: rec.session_id.clone(),
        model: rec.model.clone(),
        last_prompt: rec.last_prompt.as_ref().map(TextAt::from),
        last_reply: rec.last_reply.as_ref().map(TextAt::from),
        turns: rec.turns,
        queued: rec
            .pending_queued
            .iter()
            .map(|q| super::QueuedOut {
                sent_seq: q.sent_seq,
                ts: q.ts,
                hash: q.hash.clone(),
                from: q.from,
                preview: q.preview.clone(),
            })
            .collect(),
        subscriptions: subs.of(pane),
        subscribers: subs.subscribers_of(pane),
        tokens,
        command: info.map(|i| i.current_command.clone()),
        pid: info.map(|i| i.pid),
        outfit: rec.outfit.clone(),
        worktree: rec.worktree.clone(),
        created_ts: rec.created_ts,
        spawned_ts: rec.spawned_ts,
        gone_ts: rec.gone_ts,
    }
}

//! `orch-survey`: what every agent is doing, as JSON for models and as a
//! table for people.
//!
//! One refresh costs: one directory listing plus one small read per
//! registry record, ONE `tmux list-panes -a` call, and, only where needed,
//! small bounded reads — the tail of a pane's event log when its last event
//! does not decide its state, `/proc/<pid>/task/<pid>/children` when a
//! shell is in an agent pane's foreground, the new bytes of a Claude Code
//! transcript (see [`crate::usage`]). Never a tmux call or a full log scan
//! per pane. Writes, at most: GC marks/deletions and one token-cache file. The output schema is documented in `docs/survey.md`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use serde::{Deserialize, Serialize};

use crate::agent_state::{self, ALL_STATES, Derived, Evidence, RateLimit, State};
use crate::event::Event;
use crate::exit::{Code, Fail};
use crate::gc::{self, GcReport};
use crate::pane::PaneId;
use crate::registry::{PaneRecord, Preview};
use crate::server::Server;
use crate::store::{Store, parse_complete_lines};
use crate::time::now_ns;
use crate::time::parse_duration;
use crate::tmux::{PaneInfo, Tmux};
use crate::usage::{Tokens, UsageCache};

/// Show what every agent is doing.
#[derive(Debug, Parser)]
#[command(
    name = "orch-survey",
    version,
    about = "Show what every agent is doing: state, age, last prompt/reply, tokens, blockers",
    after_help = "Prints one JSON object ({\"agents\": [...], \"counts\": {...}, ...}; fields in docs/survey.md).\n\n\
States: starting idle working blocked:permission blocked:dialog blocked:rate-limit exited gone\n\
Status line symbols: ◌ starting  ⚙ working  ✓ idle  ⚠ blocked (any)  ✗ exited\n\n\
Exit codes: 0 printed, 2 bad arguments or unknown agent, 1 other failure (e.g. no tmux server).\n\n\
Examples:\n  \
  orch-survey                        # every live agent, JSON\n  \
  orch-survey --pretty               # a table\n  \
  orch-survey reviewer %7            # just these agents\n  \
  orch-survey --state blocked        # every blocked:* agent\n  \
  orch-survey --role worker --since 5m\n  \
  orch-survey --watch                # live table, redrawn on every event (at least every 2 s)\n  \
  orch-survey --status-line          # ⚙3 ✓2 ⚠1 (see share/tmux/orch-status.conf)"
)]
pub struct SurveyArgs {
    /// Only these agents: pane ids (%12), names, or `self`.
    #[arg(value_name = "AGENT")]
    pub targets: Vec<String>,
    /// An aligned table for people instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Redraw the table live: on every event, and at least every SECS seconds [default: 2].
    #[arg(
        long,
        value_name = "SECS",
        num_args = 0..=1,
        default_missing_value = "2"
    )]
    pub watch: Option<String>,
    /// One compact line for the tmux status bar, e.g. `⚙3 ✓2 ⚠1`.
    #[arg(long, conflicts_with = "pretty")]
    pub status_line: bool,
    /// Only agents with these roles (operator, worker, observer; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ROLE,…")]
    pub role: Vec<String>,
    /// Only agents in these states; a prefix before `:` matches a family, so
    /// `blocked` matches every blocked:* state (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "STATE,…")]
    pub state: Vec<String>,
    /// Only agents whose state changed within DURATION (e.g. 30s, 5m, 2h, 1d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Include agents whose panes are gone (kept for the GC grace period,
    /// `ORCH_GC_GRACE_SECS`, default 60 s) with their last known info.
    #[arg(long)]
    pub all: bool,
}

/// What to show. Built from [`SurveyArgs`] after validation.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub targets: Vec<String>,
    pub roles: Vec<String>,
    /// State names or families (`blocked`).
    pub states: Vec<String>,
    pub since: Option<Duration>,
    pub all: bool,
}

pub const ROLES: &[&str] = &["operator", "worker", "observer"];

impl Filters {
    /// Check every flag value before anything is read or changed.
    pub fn from_args(a: &SurveyArgs) -> Result<Filters> {
        for r in &a.role {
            if !ROLES.contains(&r.as_str()) {
                return Err(Fail::usage(format!(
                    "unknown role {r:?} for --role; roles: {}",
                    ROLES.join(", ")
                )));
            }
        }
        for s in &a.state {
            if s.parse::<State>().is_err() && s != "blocked" {
                let names: Vec<_> = ALL_STATES.iter().map(State::as_str).collect();
                return Err(Fail::usage(format!(
                    "unknown state {s:?} for --state; states: {}, or blocked for all blocked:*",
                    names.join(", ")
                )));
            }
        }
        let since = a
            .since
            .as_deref()
            .map(|s| parse_duration(s).map_err(|e| Fail::usage(format!("--since: {e}"))))
            .transpose()?;
        for t in &a.targets {
            if t.starts_with('%') {
                t.parse::<PaneId>()
                    .map_err(|e| Fail::usage(e.to_string()))?;
            } else if t.is_empty() {
                return Err(Fail::usage(
                    "empty agent: give a pane id like %12 or an agent name",
                ));
            }
        }
        Ok(Filters {
            targets: a.targets.clone(),
            roles: a.role.clone(),
            states: a.state.clone(),
            since,
            all: a.all,
        })
    }

    fn state_matches(&self, s: State) -> bool {
        self.states.is_empty()
            || self.states.iter().any(|f| {
                let name = s.as_str();
                name == f || (name.starts_with(f.as_str()) && name[f.len()..].starts_with(':'))
            })
    }

    fn wants_gone(&self) -> bool {
        self.all || self.states.iter().any(|s| s == "gone")
    }
}

/// A time-stamped text (a prompt or reply preview).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextAt {
    pub text: String,
    pub ts: u64,
    pub seq: u64,
}

impl From<&Preview> for TextAt {
    fn from(p: &Preview) -> TextAt {
        TextAt {
            text: p.text.clone(),
            ts: p.ts,
            seq: p.seq,
        }
    }
}

/// One agent in the survey. Field names are the JSON contract.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    pub pane: PaneId,
    /// `session:window.pane`; null once the pane is gone.
    pub location: Option<String>,
    pub name: Option<String>,
    pub harness: Option<String>,
    pub role: Option<String>,
    pub parent: Option<PaneId>,
    pub state: State,
    /// When the agent entered its state (ns since the epoch).
    pub state_since: u64,
    pub state_age_ms: u64,
    /// `3s`, `4m`, `2h`, `5d`.
    pub state_age: String,
    pub evidence: Evidence,
    /// Why the last turn failed, when it failed for a reason other than a rate limit.
    pub error: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub cwd: Option<String>,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub last_prompt: Option<TextAt>,
    pub last_reply: Option<TextAt>,
    pub turns: u64,
    /// Peers this agent receives notices about (`orch subscribe`).
    pub subscriptions: Vec<Subscription>,
    /// Panes that receive notices about this agent.
    pub subscribers: Vec<PaneId>,
    /// Claude Code token use (from its transcript); null for other harnesses.
    pub tokens: Option<Tokens>,
    /// The pane's foreground process (tmux `pane_current_command`).
    pub command: Option<String>,
    /// The pane's first process (tmux `pane_pid`).
    pub pid: Option<u32>,
    pub outfit: Option<String>,
    pub worktree: Option<String>,
    pub created_ts: u64,
    pub spawned_ts: Option<u64>,
    /// When the pane was first found missing (ns).
    pub gone_ts: Option<u64>,
}

/// Counts by state over the agents listed; `blocked` sums the blocked:* states.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub total: u64,
    pub starting: u64,
    pub idle: u64,
    pub working: u64,
    pub blocked: u64,
    #[serde(rename = "blocked:permission")]
    pub blocked_permission: u64,
    #[serde(rename = "blocked:dialog")]
    pub blocked_dialog: u64,
    #[serde(rename = "blocked:rate-limit")]
    pub blocked_rate_limit: u64,
    pub exited: u64,
    pub gone: u64,
}

impl Counts {
    pub fn of(agents: &[Agent]) -> Counts {
        let mut c = Counts::default();
        for a in agents {
            c.total += 1;
            match a.state {
                State::Starting => c.starting += 1,
                State::Idle => c.idle += 1,
                State::Working => c.working += 1,
                State::BlockedPermission => c.blocked_permission += 1,
                State::BlockedDialog => c.blocked_dialog += 1,
                State::BlockedRateLimit => c.blocked_rate_limit += 1,
                State::Exited => c.exited += 1,
                State::Gone => c.gone += 1,
            }
            if a.state.is_blocked() {
                c.blocked += 1;
            }
        }
        c
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerOut {
    pub socket: String,
    pub pid: u32,
    /// The state directory name (`<socket name>-<pid>`).
    pub key: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GcOut {
    /// Panes found missing for the first time by this survey.
    pub marked: Vec<PaneId>,
    /// Panes whose state was deleted (missing for longer than the grace).
    pub removed: Vec<PaneId>,
}

/// The whole survey.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub v: u32,
    /// When the survey was taken (ns).
    pub ts: u64,
    pub server: ServerOut,
    pub counts: Counts,
    pub agents: Vec<Agent>,
    pub gc: GcOut,
}

// ---------------------------------------------------------------------------
// Subscriptions: the hook point the subscribe engine fills.

/// One subscription as survey shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    /// The pane whose turn ends / attention needs are pushed.
    pub peer: PaneId,
    /// Event kinds pushed; empty means subscribe's default.
    pub kinds: Vec<String>,
}

/// `<server dir>/subs/<P>.json`: who subscribes to pane %P (keyed by the
/// peer, so the peer's hook finds its subscribers with one open). Layout
/// documented in docs/survey.md ("Subscriptions"); unknown keys are ignored.
#[derive(Debug, Deserialize)]
struct SubsFile {
    #[serde(default)]
    subscribers: Vec<SubsEntry>,
}

#[derive(Debug, Deserialize)]
struct SubsEntry {
    pane: PaneId,
    #[serde(default)]
    kinds: Vec<String>,
}

/// Every subscription of a server, read with one directory listing.
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_subscriber: HashMap<PaneId, Vec<Subscription>>,
    by_peer: HashMap<PaneId, Vec<PaneId>>,
}

pub fn subs_dir(store: &Store) -> std::path::PathBuf {
    store.dir().join("subs")
}

impl Subscriptions {
    pub fn load(store: &Store) -> Subscriptions {
        let mut s = Subscriptions::default();
        let Ok(rd) = fs::read_dir(subs_dir(store)) else {
            return s;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Some(peer) = name
                .strip_suffix(".json")
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .map(PaneId)
            else {
                continue;
            };
            let Some(file) = fs::read(e.path())
                .ok()
                .and_then(|d| serde_json::from_slice::<SubsFile>(&d).ok())
            else {
                continue;
            };
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

/// Peers `pane` subscribes to (reads the whole `subs/` dir: for many panes
/// use [`Subscriptions::load`] once).
pub fn subscriptions_of(store: &Store, pane: PaneId) -> Vec<Subscription> {
    Subscriptions::load(store).of(pane)
}

// ---------------------------------------------------------------------------
// Collecting.

/// How much of a pane's log is read when its last event does not decide.
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// The complete events in the last [`LOG_TAIL_BYTES`] of `pane`'s log (and of
/// its previous generation when the current one is nearly empty).
fn log_tail(store: &Store, pane: PaneId) -> Vec<Event> {
    fn tail_of(path: &Path) -> Vec<Event> {
        let Ok(f) = File::open(path) else {
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
    let mut events = tail_of(&store.log_path(pane));
    if events.len() < 4 {
        let mut older = tail_of(&store.rotated_log_path(pane));
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
    targets: &[String],
) -> Result<Option<HashSet<PaneId>>> {
    if targets.is_empty() {
        return Ok(None);
    }
    let mut out = HashSet::new();
    for t in targets {
        let mut found = false;
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
        for r in records {
            let Some(p) = r.pane else { continue };
            let hit = match want_pane {
                Some(w) => p == w,
                None => r.name.as_deref() == Some(t.as_str()),
            };
            if hit {
                out.insert(p);
                found = true;
            }
        }
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

/// How a survey treats garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcMode {
    /// Mark missing panes gone, delete those past the grace (the default).
    Collect,
    /// A glance (the status line): writes nothing, so it neither consumes
    /// "gone once" nor counts tokens (`tokens` is null).
    ReadOnly,
}

/// Take a survey of `store`'s agents on the tmux server `tmux` talks to.
pub fn collect(store: &Store, tmux: &Tmux, filters: &Filters, gc_mode: GcMode) -> Result<Report> {
    // Registry first, then tmux: every record read existed before the
    // listing, so a pane missing from the listing really is missing.
    let records = store.list_registry();
    let listed_ns = now_ns();
    let panes = tmux.list_panes()?;
    let wanted = resolve_targets(store, &records, &filters.targets)?;
    let by_pane: HashMap<PaneId, &PaneInfo> = panes.iter().map(|p| (p.pane, p)).collect();

    let gc_report = match gc_mode {
        GcMode::Collect => {
            let live: Vec<PaneId> = panes.iter().map(|p| p.pane).collect();
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
            if seen_gone_before && !targeted && !filters.wants_gone() {
                continue;
            }
            if marked.contains(&pane) && rec.gone_ts.is_none() {
                rec.gone_ts = Some(now);
            }
        } else {
            // A live pane is never gone, whatever a racing GC pass wrote.
            rec.gone_ts = None;
        }
        if !filters.roles.is_empty()
            && !filters
                .roles
                .iter()
                .any(|x| Some(x.as_str()) == rec.role.as_deref())
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
            (Some(tp), Some(cache)) if derived.state != State::Gone => {
                cache.tokens(pane, Path::new(tp))
            }
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

fn derive(store: &Store, rec: &PaneRecord, info: Option<&PaneInfo>, now: u64) -> Derived {
    let pane = rec.pane.unwrap_or(PaneId(u32::MAX));
    let from_events = agent_state::from_record(rec, &mut || log_tail(store, pane));
    agent_state::with_tmux(rec, from_events, info, now, &agent_state::has_children)
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

// ---------------------------------------------------------------------------
// Rendering.

/// The status-bar line: `◌1 ⚙3 ✓2 ⚠1 ✗1`, zero counts left out; empty when
/// there are no agents. Gone panes are not counted.
pub fn status_line(c: &Counts) -> String {
    [
        ("◌", c.starting),
        ("⚙", c.working),
        ("✓", c.idle),
        ("⚠", c.blocked),
        ("✗", c.exited),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(s, n)| format!("{s}{n}"))
    .collect::<Vec<_>>()
    .join(" ")
}

/// One line of untrusted text made safe for a terminal: control characters
/// (ESC, C0, C1, DEL) become spaces, runs of whitespace one space.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c.is_whitespace() {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim_end().to_string()
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `12.3k`, `1.2M`.
fn short_count(n: u64) -> String {
    match n {
        n if n < 1000 => n.to_string(),
        n if n < 1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        n => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// The NOTE column: what a person wants to know about that state.
fn note(a: &Agent) -> String {
    let text = match a.state {
        State::Working => match &a.last_prompt {
            Some(p) => format!("» {}", p.text),
            None => a.evidence.detail.clone(),
        },
        State::Idle => match (&a.error, &a.last_reply) {
            (Some(e), _) => format!("! {e}"),
            (None, Some(r)) => format!("« {}", r.text),
            (None, None) => a.evidence.detail.clone(),
        },
        _ => a.evidence.detail.clone(),
    };
    clean(&text)
}

fn state_colour(s: State) -> &'static str {
    match s {
        State::Starting => "36",
        State::Idle => "32",
        State::Working => "33",
        State::BlockedPermission | State::BlockedDialog | State::BlockedRateLimit => "1;31",
        State::Exited | State::Gone => "2",
    }
}

/// The `--pretty` table. `width` bounds each line (the NOTE column is cut);
/// `colour` adds ANSI colour to the STATE column.
pub fn render_table(r: &Report, width: usize, colour: bool) -> String {
    let mut out = String::new();
    if r.agents.is_empty() {
        out.push_str(
            "no agents on this tmux server (start one with `orch spawn`; --all shows gone ones)\n",
        );
        return out;
    }
    const HEAD: [&str; 10] = [
        "PANE", "NAME", "ROLE", "HARNESS", "STATE", "AGE", "TURNS", "CTX", "WHERE", "NOTE",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 10]> = r
        .agents
        .iter()
        .map(|a| {
            [
                a.pane.to_string(),
                a.name
                    .as_deref()
                    .map(clean)
                    .map(|n| cut(&n, 24))
                    .unwrap_or_else(dash),
                a.role.as_deref().map(clean).unwrap_or_else(dash),
                a.harness.as_deref().map(clean).unwrap_or_else(dash),
                a.state.to_string(),
                a.state_age.clone(),
                a.turns.to_string(),
                a.tokens
                    .as_ref()
                    .map(|t| short_count(t.context))
                    .unwrap_or_else(dash),
                a.location.as_deref().map(clean).unwrap_or_else(dash),
                note(a),
            ]
        })
        .collect();
    let mut widths = HEAD.map(|h| h.chars().count());
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(9) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let fixed: usize = widths[..9].iter().map(|w| w + 2).sum();
    let note_w = width.saturating_sub(fixed).max(16);
    let line = |cells: &[String; 10], state: Option<State>| -> String {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 9 {
                l.push_str(&cut(cell, note_w));
                break;
            }
            let pad = widths[i] - cell.chars().count();
            match (i, state, colour) {
                (4, Some(s), true) => {
                    l.push_str(&format!("\x1b[{}m{cell}\x1b[0m", state_colour(s)));
                }
                _ => l.push_str(cell),
            }
            // AGE, TURNS and CTX are numbers: right-aligned would move the
            // column starts, so they stay left-aligned like the rest.
            l.push_str(&" ".repeat(pad + 2));
        }
        l.trim_end().to_string()
    };
    out.push_str(&line(&HEAD.map(String::from), None));
    out.push('\n');
    for (row, a) in rows.iter().zip(&r.agents) {
        out.push_str(&line(row, Some(a.state)));
        out.push('\n');
    }
    let c = &r.counts;
    let mut parts = Vec::new();
    for (n, what) in [
        (c.starting, "starting"),
        (c.working, "working"),
        (c.idle, "idle"),
        (c.blocked, "blocked"),
        (c.exited, "exited"),
        (c.gone, "gone"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    out.push_str(&format!(
        "{} agent{}: {}\n",
        c.total,
        if c.total == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    out
}

/// The terminal's width, when stdout is one.
fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(c);
    }
    if !io::stdout().is_terminal() {
        return None;
    }
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

fn use_colour() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

// ---------------------------------------------------------------------------
// The binary.

pub fn run(args: SurveyArgs) -> Result<Code> {
    let filters = Filters::from_args(&args)?;
    let watch = args
        .watch
        .as_deref()
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.1 && *v <= 86400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    Fail::usage(format!(
                        "--watch takes seconds between redraws (0.1 to 86400), not {s:?}; \
                         put agent names before --watch or write --watch=SECS"
                    ))
                })
        })
        .transpose()?;
    let server = Server::current()?;
    let store = Store::open(&server)?;
    let tmux = Tmux::for_server(&server);
    let gc_mode = if args.status_line {
        GcMode::ReadOnly
    } else {
        GcMode::Collect
    };
    let stdout = io::stdout();
    if let Some(every) = watch {
        return watch_loop(&store, &tmux, &filters, gc_mode, args.status_line, every);
    }
    let report = collect(&store, &tmux, &filters, gc_mode)?;
    let mut out = stdout.lock();
    if args.status_line {
        writeln!(out, "{}", status_line(&report.counts))?;
    } else if args.pretty {
        let width = terminal_width().unwrap_or(160);
        out.write_all(render_table(&report, width, use_colour()).as_bytes())?;
    } else {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(Code::Ok)
}

/// Redraw on every event in the server's log directory, and at least every
/// `every` (ages tick, panes die without an event). Bursts of events cost
/// one redraw per [`MIN_REDRAW`].
fn watch_loop(
    store: &Store,
    tmux: &Tmux,
    filters: &Filters,
    gc_mode: GcMode,
    status: bool,
    every: Duration,
) -> Result<Code> {
    const MIN_REDRAW: Duration = Duration::from_millis(100);
    let waiter = crate::watch::Waiter::new(&store.events_dir());
    let tty = io::stdout().is_terminal();
    loop {
        let drawn = Instant::now();
        let report = collect(store, tmux, filters, gc_mode)?;
        let frame = if status {
            format!("{}\n", status_line(&report.counts))
        } else {
            let clock = crate::time::clock_hms(report.ts);
            format!(
                "orch survey · {} · {clock} · every {}s (Ctrl-C to quit)\n\n{}",
                report.server.key,
                every.as_secs_f64(),
                render_table(
                    &report,
                    terminal_width().unwrap_or(160),
                    tty && use_colour()
                )
            )
        };
        let mut out = io::stdout().lock();
        if tty && !status {
            // Home, draw each line over the old one, clear what is left:
            // no blank flash between frames.
            let mut s = String::from("\x1b[H");
            for l in frame.lines() {
                s.push_str(l);
                s.push_str("\x1b[K\n");
            }
            s.push_str("\x1b[J");
            out.write_all(s.as_bytes())?;
        } else {
            out.write_all(frame.as_bytes())?;
            if !status {
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        drop(out);
        let deadline = drawn + every;
        if waiter.is_polling() {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        } else {
            waiter.wait(Some(deadline));
            let soonest = drawn + MIN_REDRAW;
            std::thread::sleep(soonest.saturating_duration_since(Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        SurveyArgs::command().debug_assert();
    }

    #[test]
    fn cleaning_strips_escapes() {
        assert_eq!(clean("a\x1b[31mred\x07\nb\u{9b}c\t d"), "a [31mred b c d");
    }

    #[test]
    fn state_filter_families() {
        let f = Filters {
            states: vec!["blocked".into()],
            ..Default::default()
        };
        assert!(f.state_matches(State::BlockedPermission));
        assert!(f.state_matches(State::BlockedRateLimit));
        assert!(!f.state_matches(State::Idle));
        let f = Filters {
            states: vec!["idle".into(), "exited".into()],
            ..Default::default()
        };
        assert!(f.state_matches(State::Exited) && !f.state_matches(State::Working));
    }

    #[test]
    fn status_symbols() {
        let c = Counts {
            total: 7,
            working: 3,
            idle: 2,
            blocked: 1,
            blocked_permission: 1,
            gone: 1,
            ..Default::default()
        };
        assert_eq!(status_line(&c), "⚙3 ✓2 ⚠1");
        assert_eq!(status_line(&Counts::default()), "");
    }
}

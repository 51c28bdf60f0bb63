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

pub mod collect;
pub mod render;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::agent_state::{Evidence, RateLimit};
use crate::exit::{Code, Fail};
use crate::pane::PaneId;
use crate::registry::Preview;
use crate::roles::{BUILTIN_ROLES, Role};
use crate::server::Server;
use crate::state::{ALL_STATES, State, StateFilter};
use crate::store::Store;
use crate::subs::Subscription;
use crate::tmux::Tmux;
use crate::usage::Tokens;

pub use collect::collect;

/// Which agents to show (`orch-survey`'s filters).
#[derive(Debug, Clone, Default)]
pub struct SurveyRequest {
    /// Pane ids, names or `self`; empty: every agent.
    pub targets: Vec<String>,
    /// Only these roles.
    pub role: Vec<String>,
    /// Only these states, or state families (`blocked`).
    pub state: Vec<String>,
    /// Only agents whose state changed within this long.
    pub since: Option<Duration>,
    /// Include gone panes still within the GC grace.
    pub all: bool,
}

/// What to show, checked (see [`Filters::new`]).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub targets: Vec<String>,
    pub roles: Vec<Role>,
    pub states: Vec<StateFilter>,
    pub since: Option<Duration>,
    pub all: bool,
}

impl Filters {
    /// Check every value before anything is read or changed.
    pub fn new(a: &SurveyRequest) -> Result<Filters> {
        let mut roles = Vec::new();
        for r in &a.role {
            match Role::named(r) {
                Role::Other(_) => {
                    let names: Vec<_> = BUILTIN_ROLES.iter().map(Role::as_str).collect();
                    return Err(Fail::usage(format!(
                        "unknown role {r:?} for --role; roles: {}",
                        names.join(", ")
                    )));
                }
                role => roles.push(role),
            }
        }
        let mut states = Vec::new();
        for s in &a.state {
            let Ok(f) = s.parse::<StateFilter>() else {
                let names: Vec<_> = ALL_STATES.iter().map(State::as_str).collect();
                return Err(Fail::usage(format!(
                    "unknown state {s:?} for --state; states: {}, or blocked for all blocked:*",
                    names.join(", ")
                )));
            };
            states.push(f);
        }
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
            roles,
            states,
            since: a.since,
            all: a.all,
        })
    }

    pub(crate) fn state_matches(&self, s: State) -> bool {
        self.states.is_empty() || self.states.iter().any(|f| f.matches(s))
    }

    pub(crate) fn wants_gone(&self) -> bool {
        self.all || self.states.contains(&StateFilter::Is(State::Gone))
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

/// A queued prompt not confirmed yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuedOut {
    /// The `sent` event's seq in the agent's log.
    pub sent_seq: u64,
    pub ts: u64,
    pub hash: String,
    pub from: Option<PaneId>,
    pub preview: String,
}

/// One agent in the survey. Field names are the JSON contract.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    pub pane: PaneId,
    /// `session:window.pane`; null once the pane is gone.
    pub location: Option<String>,
    pub name: Option<String>,
    pub harness: Option<String>,
    pub role: Option<Role>,
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
    /// Prompts typed into it with `tell --queue` while it was busy that no
    /// evidence has confirmed yet (no matching `prompt` event, not found
    /// taken into a turn in its transcript), oldest first.
    pub queued: Vec<QueuedOut>,
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

/// Counts by state over the agents listed; `blocked` sums the blocked:*
/// states. The operator is listed but is not one of the agents counted (so
/// not in the status line either).
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
        for a in agents
            .iter()
            .filter(|a| a.role != Some(crate::roles::Role::Operator))
        {
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

/// How a survey treats garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcMode {
    /// Mark missing panes gone, delete those past the grace (the default).
    Collect,
    /// A glance (the status line): writes nothing, so it neither consumes
    /// "gone once" nor counts tokens (`tokens` is null).
    ReadOnly,
}

/// Take one survey of the agents on the tmux server we run under.
pub fn survey(req: &SurveyRequest, gc_mode: GcMode) -> Result<Report> {
    let filters = Filters::new(req)?;
    let server = Server::current()?;
    let store = Store::open(&server)?;
    collect(&store, &Tmux::for_server(&server), &filters, gc_mode)
}

/// Survey again and again, handing each report to `draw`: on every event in
/// the server's log directory, and at least every `every` (ages tick, panes
/// die without an event). Bursts of events cost one redraw per
/// `MIN_REDRAW`. Returns only on an error (`draw`'s included).
pub fn watch(
    req: &SurveyRequest,
    gc_mode: GcMode,
    every: Duration,
    draw: &mut dyn FnMut(&Report) -> std::io::Result<()>,
) -> Result<Code> {
    const MIN_REDRAW: Duration = Duration::from_millis(100);
    let filters = Filters::new(req)?;
    let server = Server::current()?;
    let store = Store::open(&server)?;
    let tmux = Tmux::for_server(&server);
    let waiter = crate::watch::Waiter::new(&store.layout().events_dir());
    loop {
        let drawn = Instant::now();
        draw(&collect(&store, &tmux, &filters, gc_mode)?)?;
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
    fn state_filter_families() {
        let f = Filters {
            states: vec![StateFilter::Blocked],
            ..Default::default()
        };
        assert!(f.state_matches(State::BlockedPermission));
        assert!(f.state_matches(State::BlockedRateLimit));
        assert!(!f.state_matches(State::Idle));
        let f = Filters {
            states: vec!["idle".parse().unwrap(), "exited".parse().unwrap()],
            ..Default::default()
        };
        assert!(f.state_matches(State::Exited) && !f.state_matches(State::Working));
    }
}

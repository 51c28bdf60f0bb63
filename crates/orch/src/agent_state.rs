//! What an agent is doing, derived from the evidence orch has about it.
//!
//! Order of trust (docs/survey.md, "States"):
//! 1. **tmux** — a pane that no longer exists is `gone`; a dead pane
//!    (`remain-on-exit`) or a pane whose agent process is gone (a shell in
//!    the foreground with nothing running under it) is `exited`, whatever
//!    the hook log last said: an agent that died mid-turn must not look busy.
//! 2. **screen** — a state spawn read off the screen (a start-up dialog, a
//!    hookless harness). The registry drops it on the next hook event, so
//!    when it is present it is newer than any event.
//! 3. **events** — the latest decisive hook event. The registry's
//!    `last_event` usually decides alone; only when it is not decisive (a
//!    notification of a neutral type, a `session_end` whose reason matters)
//!    is the tail of the pane's log read, a bounded read.
//!
//! Pure functions over the registry record and one `list-panes` row, so the
//! rules are unit-tested without tmux.

use serde::Serialize;

use crate::state::State;

use crate::event::{Event, Kind};
use crate::registry::PaneRecord;
use crate::tmux::PaneInfo;

/// Where a state came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A hook event in the pane's log (`seq`, `kind` say which).
    Event,
    /// Read off the pane's screen ("inferred from screen").
    Screen,
    /// What tmux reports about the pane (dead, shell in the foreground).
    Tmux,
    /// The pane is missing from tmux (garbage collection marked it).
    Gc,
    /// Only the registry record exists: no hook event yet.
    Registry,
}

/// Why survey believes a state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    /// When the evidence was recorded (ns).
    pub ts: u64,
    /// One line for people.
    pub detail: String,
    /// The screen lines a screen-inferred state was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

/// A rate / usage limit and when it lifts, as far as the message says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    /// The reset time as the harness wrote it (`5pm`, `3pm (Europe/London)`).
    pub reset: Option<String>,
    /// The reset time as a timestamp (ns), when the message carries one.
    pub reset_ts: Option<u64>,
    pub message: Option<String>,
}

/// A derived state with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub state: State,
    /// Since when (ns). For an exit tmux noticed without a time, the last
    /// event's time: the agent was alive then.
    pub since: u64,
    pub evidence: Evidence,
    /// A turn that failed for a reason other than a rate limit leaves the
    /// agent idle, with the error here.
    pub error: Option<String>,
    pub rate_limit: Option<RateLimit>,
}

/// What one event says about the state, or `None` when it says nothing on
/// its own (look further back) or more must be read first (`NeedReason`).
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Decides(Box<Derived>),
    Neutral,
    /// A `session_end` whose reason is unknown: `clear` means a new session
    /// follows, anything else means the agent quit.
    NeedReason,
}

fn from_event(sig: &Event, state: State, detail: String) -> Derived {
    Derived {
        state,
        since: sig.ts,
        evidence: Evidence {
            source: Source::Event,
            seq: Some(sig.seq),
            kind: sig.kind,
            notification_type: sig.notification_type.clone(),
            ts: sig.ts,
            detail,
            excerpt: None,
        },
        error: None,
        rate_limit: None,
    }
}

/// The rule for one event (docs/survey.md, "States").
pub fn judge(sig: &Event) -> Verdict {
    let decide = |state, detail: String| Verdict::Decides(Box::new(from_event(sig, state, detail)));
    match sig.kind {
        Some(Kind::Spawned) => decide(
            State::Starting,
            "spawned; waiting for the agent's session_start".into(),
        ),
        Some(Kind::SessionStart) => decide(
            State::Idle,
            match &sig.source {
                Some(s) => format!("session started ({s})"),
                None => "session started".into(),
            },
        ),
        Some(Kind::Prompt) => decide(State::Working, "prompt accepted; turn running".into()),
        Some(Kind::Stop) => decide(State::Idle, "turn finished".into()),
        Some(Kind::StopFailure) => {
            let text = [sig.error.as_deref(), sig.message.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            if is_rate_limit(sig.error.as_deref(), sig.message.as_deref()) {
                let (reset, reset_ts) = sig
                    .message
                    .as_deref()
                    .or(sig.error.as_deref())
                    .map(parse_reset)
                    .unwrap_or((None, None));
                let mut d = from_event(
                    sig,
                    State::BlockedRateLimit,
                    match &reset {
                        Some(r) => format!("rate limited; resets {r}"),
                        None => format!("rate limited: {text}"),
                    },
                );
                d.rate_limit = Some(RateLimit {
                    reset,
                    reset_ts,
                    message: sig.message.clone().or_else(|| sig.error.clone()),
                });
                Verdict::Decides(Box::new(d))
            } else {
                let mut d = from_event(sig, State::Idle, format!("turn failed: {text}"));
                d.error = Some(if text.is_empty() {
                    "stop_failure".into()
                } else {
                    text
                });
                Verdict::Decides(Box::new(d))
            }
        }
        Some(Kind::Notify) => match sig.notification_type.as_deref() {
            Some("permission_prompt") => decide(
                State::BlockedPermission,
                sig.message
                    .clone()
                    .unwrap_or_else(|| "waiting for a permission answer".into()),
            ),
            Some("elicitation_dialog") => decide(
                State::BlockedDialog,
                sig.message
                    .clone()
                    .unwrap_or_else(|| "waiting for a dialog answer".into()),
            ),
            // Claude Code sends this ~60 s after a turn ended while the input
            // box sits empty: the agent is at its prompt.
            Some("idle_prompt") => decide(State::Idle, "waiting for input (idle_prompt)".into()),
            _ => Verdict::Neutral,
        },
        Some(Kind::SessionEnd) => match sig.reason.as_deref() {
            None => Verdict::NeedReason,
            // `/clear` ends one session and starts the next at once.
            Some("clear") => Verdict::Neutral,
            Some(r) => decide(State::Exited, format!("session ended ({r})")),
        },
        Some(Kind::Exited) => decide(State::Exited, "orch saw the agent exit".into()),
        Some(Kind::Sent) | Some(Kind::Error) | None => Verdict::Neutral,
    }
}

/// Is a `stop_failure` a rate / usage limit?
pub fn is_rate_limit(error: Option<&str>, message: Option<&str>) -> bool {
    let e = error.unwrap_or("").to_ascii_lowercase();
    if matches!(
        e.as_str(),
        "rate_limit" | "rate_limit_error" | "usage_limit" | "rate_limited"
    ) {
        return true;
    }
    let text = format!("{e} {}", message.unwrap_or("")).to_ascii_lowercase();
    [
        "rate limit",
        "rate_limit",
        "rate-limit",
        "usage limit",
        "limit reached",
        "hit your limit",
        "too many requests",
    ]
    .iter()
    .any(|n| text.contains(n))
}

/// The reset time a rate-limit message gives: `resets at 5pm` → `5pm`,
/// `resets 3pm (Europe/London)` → `3pm (Europe/London)`, `try again in
/// 5 minutes` → `in 5 minutes`, Claude's older `…|1712345678` → a timestamp.
pub fn parse_reset(msg: &str) -> (Option<String>, Option<u64>) {
    if let Some((_, tail)) = msg.rsplit_once('|') {
        let tail = tail.trim();
        if (9..=11).contains(&tail.len())
            && tail.bytes().all(|b| b.is_ascii_digit())
            && let Ok(secs) = tail.parse::<u64>()
        {
            return (None, Some(secs * 1_000_000_000));
        }
    }
    let lower = msg.to_ascii_lowercase();
    let (at, skip) = if let Some(i) = lower.find("resets") {
        (i, "resets".len())
    } else if let Some(i) = lower.find("try again in") {
        (i, "try again".len())
    } else if let Some(i) = lower.find("reset at") {
        (i, "reset".len())
    } else {
        return (None, None);
    };
    let mut rest = msg[at + skip..].trim_start_matches([' ', ':']);
    for word in ["at ", "on "] {
        if rest.to_ascii_lowercase().starts_with(word) {
            rest = &rest[word.len()..];
        }
    }
    let end = rest.find(['.', ';', '\n', ',']).unwrap_or(rest.len());
    let r = rest[..end].trim();
    if r.is_empty() {
        (None, None)
    } else {
        (Some(r.to_string()), None)
    }
}

/// Does process `pid` have children? `None` when the system cannot say
/// (no `/proc/<pid>/task/<pid>/children`).
pub fn has_children(pid: u32) -> Option<bool> {
    let data = std::fs::read(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    Some(data.iter().any(u8::is_ascii_digit))
}

/// How long a spawned agent may show a bare shell before that counts as an
/// exit: spawn may type the command into an interactive shell.
pub const START_GRACE_NS: u64 = 5_000_000_000;

/// The state the hook events (and the screen) give, before tmux's view of
/// the process is applied. `tail` reads the pane's recent events, oldest
/// first; it is called only when the registry's last event does not decide.
pub fn from_record(rec: &PaneRecord, tail: &mut dyn FnMut() -> Vec<Event>) -> Derived {
    if let Some(scr) = &rec.screen {
        let state = scr.state;
        let first = scr
            .excerpt
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
        return Derived {
            state,
            since: scr.ts,
            evidence: Evidence {
                source: Source::Screen,
                seq: None,
                kind: None,
                notification_type: None,
                ts: scr.ts,
                detail: if first.is_empty() {
                    "inferred from screen".into()
                } else {
                    format!("inferred from screen: {first}")
                },
                excerpt: (!scr.excerpt.is_empty()).then(|| scr.excerpt.clone()),
            },
            error: None,
            rate_limit: None,
        };
    }
    if let Some(last) = &rec.last_event {
        match judge(&last.to_event()) {
            Verdict::Decides(d) => return *d,
            Verdict::Neutral | Verdict::NeedReason => {
                // Walk the recent log backwards to the newest deciding event.
                let events = tail();
                for ev in events.iter().rev().filter(|e| e.seq <= last.seq) {
                    match judge(ev) {
                        Verdict::Decides(d) => return *d,
                        // The log always has the reason; a record without
                        // one is a session that ended for an unknown reason.
                        Verdict::NeedReason => {
                            return from_event(ev, State::Exited, "session ended".into());
                        }
                        Verdict::Neutral => {}
                    }
                }
                // Nothing readable decides: a session end stays an end.
                if last.kind == Some(Kind::SessionEnd) {
                    return from_event(&last.to_event(), State::Exited, "session ended".into());
                }
            }
        }
    }
    let ts = rec.spawned_ts.unwrap_or(rec.created_ts);
    Derived {
        state: State::Starting,
        since: ts,
        evidence: Evidence {
            source: Source::Registry,
            seq: None,
            kind: None,
            notification_type: None,
            ts,
            detail: "no hook event yet".into(),
            excerpt: None,
        },
        error: None,
        rate_limit: None,
    }
}

/// Apply what tmux says about the pane to an event-derived state. `pane` is
/// `None` when the pane is missing from `list-panes`; `children` answers
/// "does this pid have child processes?".
pub fn with_tmux(
    rec: &PaneRecord,
    derived: Derived,
    pane: Option<&PaneInfo>,
    now: u64,
    children: &dyn Fn(u32) -> Option<bool>,
) -> Derived {
    let last_ts = rec
        .last_event
        .as_ref()
        .map(|e| e.ts)
        .unwrap_or(rec.created_ts);
    let tmux_says = |state: State, since: u64, detail: String, source: Source| Derived {
        state,
        since,
        evidence: Evidence {
            source,
            seq: None,
            kind: None,
            notification_type: None,
            ts: since,
            detail,
            excerpt: None,
        },
        error: derived.error.clone(),
        rate_limit: None,
    };
    let Some(p) = pane else {
        let since = rec.gone_ts.unwrap_or(now);
        return tmux_says(
            State::Gone,
            since,
            format!(
                "pane no longer exists in tmux (last known state: {})",
                derived.state
            ),
            Source::Gc,
        );
    };
    if p.dead {
        let since = p.dead_time.map(|s| s * 1_000_000_000).unwrap_or(last_ts);
        return tmux_says(
            State::Exited,
            since,
            format!(
                "pane is dead: its process exited (last known state: {})",
                derived.state
            ),
            Source::Tmux,
        );
    }
    if derived.state == State::Exited {
        return derived;
    }
    if crate::tmux::is_shell(&p.current_command) {
        let young =
            derived.state == State::Starting && now.saturating_sub(derived.since) < START_GRACE_NS;
        // A shell that still has children is a wrapper (`sh -c 'cd x &&
        // claude'`) whose agent runs under it.
        let wrapper = children(p.pid) == Some(true);
        if !young && !wrapper {
            return tmux_says(
                State::Exited,
                last_ts,
                format!(
                    "agent process gone: {} is in the foreground with nothing running under it \
                     (exit time unknown; last event shown)",
                    p.current_command
                ),
                Source::Tmux,
            );
        }
    }
    derived
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pane::PaneId;
    use crate::registry::{LastEvent, ScreenState};

    fn last(seq: u64, kind: Kind) -> LastEvent {
        LastEvent {
            seq,
            ts: seq * 1000,
            kind: Some(kind),
            ..Default::default()
        }
    }

    fn rec_with(le: LastEvent) -> PaneRecord {
        PaneRecord {
            harness: Some("claude".into()),
            last_event: Some(le),
            ..Default::default()
        }
    }

    fn no_tail() -> Vec<Event> {
        panic!("the log tail must not be read when the registry decides")
    }

    fn ev(seq: u64, kind: Kind) -> Event {
        let mut e = Event::new(kind);
        e.seq = seq;
        e.ts = seq * 1000;
        e
    }

    fn pane(cmd: &str) -> PaneInfo {
        PaneInfo {
            pane: PaneId(1),
            session: "main".into(),
            window: 1,
            index: 0,
            pid: 4242,
            current_command: cmd.into(),
            dead: false,
            width: 80,
            height: 24,
            dead_time: None,
            cwd: "/".into(),
        }
    }

    #[test]
    fn decisive_events_need_no_log_read() {
        for (kind, state) in [
            (Kind::SessionStart, State::Idle),
            (Kind::Prompt, State::Working),
            (Kind::Stop, State::Idle),
            (Kind::Spawned, State::Starting),
            (Kind::Exited, State::Exited),
        ] {
            let d = from_record(&rec_with(last(4, kind)), &mut no_tail);
            assert_eq!(d.state, state, "{kind}");
            assert_eq!(d.since, 4000);
            assert_eq!(d.evidence.seq, Some(4));
            assert_eq!(d.evidence.kind, Some(kind));
        }
    }

    #[test]
    fn permission_and_idle_notifications() {
        let mut le = last(5, Kind::Notify);
        le.notification_type = Some("permission_prompt".into());
        le.message = Some("Claude needs your permission to use Bash".into());
        let d = from_record(&rec_with(le.clone()), &mut no_tail);
        assert_eq!(d.state, State::BlockedPermission);
        assert!(d.evidence.detail.contains("permission to use Bash"));
        le.notification_type = Some("idle_prompt".into());
        assert_eq!(from_record(&rec_with(le), &mut no_tail).state, State::Idle);
    }

    #[test]
    fn neutral_notification_looks_back_in_the_log() {
        let mut le = last(3, Kind::Notify);
        le.notification_type = Some("auth_success".into());
        let mut tail = || {
            let mut n = ev(3, Kind::Notify);
            n.notification_type = Some("auth_success".into());
            vec![ev(1, Kind::SessionStart), ev(2, Kind::Prompt), n]
        };
        let d = from_record(&rec_with(le), &mut tail);
        assert_eq!(d.state, State::Working);
        assert_eq!(d.evidence.seq, Some(2));
    }

    #[test]
    fn rate_limit_with_reset_and_other_failures() {
        let mut le = last(6, Kind::StopFailure);
        le.error = Some("rate_limit".into());
        le.message = Some("rate limit reached; resets at 5pm".into());
        let d = from_record(&rec_with(le.clone()), &mut no_tail);
        assert_eq!(d.state, State::BlockedRateLimit);
        let rl = d.rate_limit.unwrap();
        assert_eq!(rl.reset.as_deref(), Some("5pm"));
        le.error = Some("server_error".into());
        le.message = Some("overloaded".into());
        let d = from_record(&rec_with(le), &mut no_tail);
        assert_eq!(d.state, State::Idle);
        assert_eq!(d.error.as_deref(), Some("server_error: overloaded"));
    }

    #[test]
    fn reset_texts() {
        assert_eq!(
            parse_reset("5-hour limit reached ∙ resets 3pm (Europe/London)").0,
            Some("3pm (Europe/London)".into())
        );
        assert_eq!(
            parse_reset("Claude AI usage limit reached|1712345678"),
            (None, Some(1_712_345_678_000_000_000))
        );
        assert_eq!(
            parse_reset("Too many requests, try again in 5 minutes.").0,
            Some("in 5 minutes".into())
        );
        assert_eq!(parse_reset("overloaded"), (None, None));
        assert!(is_rate_limit(
            None,
            Some("You've hit your limit · resets 2am")
        ));
        assert!(!is_rate_limit(Some("server_error"), Some("overloaded")));
    }

    #[test]
    fn session_end_reason_from_the_log() {
        let le = last(8, Kind::SessionEnd);
        let mut quit = || {
            let mut e = ev(8, Kind::SessionEnd);
            e.reason = Some("prompt_input_exit".into());
            vec![ev(7, Kind::Stop), e]
        };
        let d = from_record(&rec_with(le.clone()), &mut quit);
        assert_eq!(d.state, State::Exited);
        assert!(d.evidence.detail.contains("prompt_input_exit"));
        let mut clear = || {
            let mut e = ev(8, Kind::SessionEnd);
            e.reason = Some("clear".into());
            vec![ev(7, Kind::Stop), e]
        };
        assert_eq!(from_record(&rec_with(le), &mut clear).state, State::Idle);
    }

    #[test]
    fn screen_state_wins_over_older_events() {
        let mut rec = rec_with(last(1, Kind::Spawned));
        rec.screen = Some(ScreenState {
            state: State::BlockedDialog,
            ts: 9000,
            excerpt: "\nDo you trust the files in this folder?\n❯ 1. Yes".into(),
        });
        let d = from_record(&rec, &mut no_tail);
        assert_eq!(d.state, State::BlockedDialog);
        assert_eq!(d.evidence.source, Source::Screen);
        assert!(
            d.evidence
                .detail
                .starts_with("inferred from screen: Do you trust")
        );
    }

    #[test]
    fn tmux_overrides_a_stale_working() {
        let rec = rec_with(last(2, Kind::Prompt));
        let working = from_record(&rec, &mut no_tail);
        let now = 10_000_000_000_000;
        // A live agent in the foreground: events stand.
        let d = with_tmux(&rec, working.clone(), Some(&pane("claude")), now, &|_| None);
        assert_eq!(d.state, State::Working);
        // A bare shell: the agent is gone.
        let d = with_tmux(&rec, working.clone(), Some(&pane("bash")), now, &|_| {
            Some(false)
        });
        assert_eq!(d.state, State::Exited);
        assert_eq!(d.evidence.source, Source::Tmux);
        // A shell with children is a wrapper running the agent.
        let d = with_tmux(&rec, working.clone(), Some(&pane("sh")), now, &|_| {
            Some(true)
        });
        assert_eq!(d.state, State::Working);
        // A dead pane.
        let mut dead = pane("claude");
        dead.dead = true;
        dead.dead_time = Some(1234);
        let d = with_tmux(&rec, working.clone(), Some(&dead), now, &|_| None);
        assert_eq!((d.state, d.since), (State::Exited, 1_234_000_000_000));
        // No pane at all.
        let d = with_tmux(&rec, working, None, now, &|_| None);
        assert_eq!(d.state, State::Gone);
    }

    #[test]
    fn a_young_spawn_may_show_a_shell() {
        let mut rec = rec_with(last(1, Kind::Spawned));
        rec.last_event.as_mut().unwrap().ts = 1_000_000_000;
        let d = from_record(&rec, &mut no_tail);
        let young = with_tmux(&rec, d.clone(), Some(&pane("bash")), 2_000_000_000, &|_| {
            Some(false)
        });
        assert_eq!(young.state, State::Starting);
        let old = with_tmux(&rec, d, Some(&pane("bash")), 60_000_000_000, &|_| {
            Some(false)
        });
        assert_eq!(old.state, State::Exited);
    }
}

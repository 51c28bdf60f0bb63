//! The survey states (`idle`, `working`, `blocked:dialog`…) and the
//! `--state` filters over them. The names are part of the JSON contract;
//! how a state is derived is [`crate::agent_state`].

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The survey states. Names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Spawned (or known) but no `session_start` yet.
    Starting,
    /// Waiting for a prompt.
    Idle,
    /// Running a turn.
    Working,
    /// Parked on a permission dialog (needs a person or the operator).
    BlockedPermission,
    /// Parked on another dialog (start-up trust, API key, MCP elicitation).
    BlockedDialog,
    /// The last turn hit a rate / usage limit.
    BlockedRateLimit,
    /// The agent's session ended or its process is gone; the pane remains.
    Exited,
    /// The pane no longer exists.
    Gone,
}

pub const ALL_STATES: &[State] = &[
    State::Starting,
    State::Idle,
    State::Working,
    State::BlockedPermission,
    State::BlockedDialog,
    State::BlockedRateLimit,
    State::Exited,
    State::Gone,
];

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Idle => "idle",
            State::Working => "working",
            State::BlockedPermission => "blocked:permission",
            State::BlockedDialog => "blocked:dialog",
            State::BlockedRateLimit => "blocked:rate-limit",
            State::Exited => "exited",
            State::Gone => "gone",
        }
    }

    pub fn is_blocked(&self) -> bool {
        matches!(
            self,
            State::BlockedPermission | State::BlockedDialog | State::BlockedRateLimit
        )
    }
}

named_enum!(State, ALL_STATES, |s| format!("unknown state {s:?}"));

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A `--state` filter: one state, or a family (`blocked` for every
/// `blocked:*` state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Is(State),
    Blocked,
}

impl StateFilter {
    pub fn matches(&self, s: State) -> bool {
        match self {
            StateFilter::Is(f) => *f == s,
            StateFilter::Blocked => s.is_blocked(),
        }
    }
}

impl FromStr for StateFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "blocked" => Ok(StateFilter::Blocked),
            s => s.parse().map(StateFilter::Is),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in ALL_STATES {
            assert_eq!(s.as_str().parse::<State>().unwrap(), *s);
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<State>(&json).unwrap(), *s);
        }
        assert!(serde_json::from_str::<State>("\"asleep\"").is_err());
    }

    #[test]
    fn blocked_filter_takes_every_blocked_state_and_only_those() {
        let f: StateFilter = "blocked".parse().unwrap();
        for s in ALL_STATES {
            assert_eq!(f.matches(*s), s.as_str().starts_with("blocked:"), "{s}");
        }
        assert!("blocked:".parse::<StateFilter>().is_err());
    }
}

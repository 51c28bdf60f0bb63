//! tmux pane ids (`%12`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tmux pane id. Stored as its number; written as `%N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaneId(pub u32);

impl PaneId {
    /// The pane we run in, from `TMUX_PANE` (set by tmux in every pane).
    pub fn from_env() -> Option<PaneId> {
        std::env::var("TMUX_PANE").ok()?.parse().ok()
    }

    /// The file stem used for this pane's state files (`12`).
    pub fn stem(&self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for PaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPaneId(pub String);

impl fmt::Display for BadPaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid pane id {:?}: expected a tmux pane id like %12 (see `tmux list-panes -a -F '#{{pane_id}}'`)",
            self.0
        )
    }
}

impl std::error::Error for BadPaneId {}

impl FromStr for PaneId {
    type Err = BadPaneId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('%')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(PaneId)
            .ok_or_else(|| BadPaneId(s.to_string()))
    }
}

impl Serialize for PaneId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PaneId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!("%12".parse::<PaneId>().unwrap(), PaneId(12));
        assert_eq!(PaneId(0).to_string(), "%0");
        for bad in ["12", "%", "%-1", "%1a", "% 1", "", "%99999999999"] {
            assert!(bad.parse::<PaneId>().is_err(), "{bad}");
        }
    }
}

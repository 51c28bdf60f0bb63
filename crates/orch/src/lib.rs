//! orch: coordinate many AI agent sessions running in tmux panes.
//!
//! This crate owns the whole protocol; orch's binaries are thin wrappers
//! that parse arguments and call one function here. The marker protocol
//! (state layout, record schema, cursor rule, locks, retention) is specified
//! in `docs/protocol.md` and implemented in [`store`], [`event`],
//! [`registry`] and [`watch`].

/// `Display` and `FromStr` for an enum with a fixed list of names: `$all`
/// lists the values, `as_str` names each one, `$unknown` turns a bad name
/// into the error.
macro_rules! named_enum {
    ($t:ty, $all:expr, $unknown:expr) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $all.iter()
                    .copied()
                    .find(|k| k.as_str() == s)
                    .ok_or_else(|| $unknown(s))
            }
        }
    };
}

pub mod agent_state;
pub mod alert;
pub mod answer;
pub mod audit;
pub mod deliver;
pub mod echo;
pub mod env;
pub mod event;
pub mod exe;
pub mod exit;
pub mod gc;
pub mod harness;
pub mod hook;
pub mod install;
pub mod json;
pub mod layout;
pub mod listen;
pub mod lock;
pub mod notice;
pub mod outfit;
pub mod pane;
pub mod paths;
pub mod proctree;
pub mod registry;
pub mod remote;
pub mod restore;
pub mod roles;
pub mod screen;
pub mod server;
pub mod sha256;
pub mod shellwords;
pub mod spawn;
pub mod state;
pub mod store;
pub mod subs;
pub mod subscribe;
pub mod survey;
pub mod target;
pub mod tell;
pub mod time;
pub mod tmux;
pub mod usage;
pub mod watch;

//! orch: coordinate many AI agent sessions running in tmux panes.
//!
//! This crate owns the whole protocol; orch's binaries are thin wrappers
//! that parse arguments and call one function here. The marker protocol
//! (state layout, record schema, cursor rule, locks, retention) is specified
//! in `docs/protocol.md` and implemented in [`store`], [`event`],
//! [`registry`] and [`watch`].

pub mod agent_state;
pub mod answer;
pub mod audit;
pub mod deliver;
pub mod echo;
pub mod event;
pub mod exe;
pub mod exit;
pub mod gc;
pub mod harness;
pub mod hook;
pub mod install;
pub mod layout;
pub mod listen;
pub mod lock;
pub mod notice;
pub mod outfit;
pub mod pane;
pub mod paths;
pub mod registry;
pub mod roles;
pub mod screen;
pub mod server;
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

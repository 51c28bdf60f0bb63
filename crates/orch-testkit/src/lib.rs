//! orch's dev-only test kit, shared by the integration tests
//! (`crates/orch-cli/tests/it`) and the benchmarks (`crates/orch-bench`).
//!
//! - [`TestEnv`]: a private world per test — a temp dir holding `HOME`,
//!   orch's state and config dirs, `CLAUDE_CONFIG_DIR`, `TMPDIR` and the
//!   XDG dirs; a cleared environment for every command; optionally a private
//!   tmux server on a socket in that dir, killed on drop after every process
//!   its panes started has ended.
//! - [`agents`]: the pinned agent CLIs of `.ci/agent-versions`, installed on
//!   first use into the e2e cache.
//! - [`bins`]: where the binaries under test are (found next to the running
//!   test or bench executable, or `ORCH_TEST_BIN_DIR`).
//! - [`claude`]: the Claude Code CLIs under test (pinned and newest,
//!   installed once into the e2e cache), [`claude::ClaudeEnv`], a world with
//!   Claude and its mock, and [`claude_e2e!`], which runs a test on both.
//! - [`codex`]: [`codex::CodexEnv`], a world with the pinned Codex CLI,
//!   a private `CODEX_HOME` and the Responses mock.
//! - [`gemini`]: [`gemini::GeminiEnv`], a world with the pinned Gemini CLI
//!   and its mock.
//! - [`opencode`]: [`opencode::OpencodeEnv`], a world with the real opencode and its mock.
//! - [`pi`]: [`pi::PiEnv`], a world with the real pi coding agent and its mock.
//! - [`mock`]: scriptable mocks of the model APIs the agent CLIs speak
//!   (Anthropic Messages, OpenAI Responses and Chat Completions, Gemini).
//! - [`harness`]: [`Agent`], `orch-spawn`/`orch-tell` as the tests run them
//!   in those worlds, written once with what differs per CLI.
//! - [`world`]: [`AgentWorld`], what those five worlds share (a private
//!   tmux server, a project dir, the CLI first on `PATH`, its environment).
//! - [`ssh`]: other hosts for the remote tests — real sshds on 127.0.0.1,
//!   each host a private world of its own.
//! - [`output`]: reading what a command printed, and waiting on side effects.
//! - [`skip`]: a test that cannot run here says so in the run's summary
//!   (and fails in CI).
//!
//! Nothing here depends on the orch library: the kit drives the binaries
//! and reads the files `docs/protocol.md` documents, as any client would.

pub mod agents;
pub mod bins;
pub mod claude;
pub mod codex;
mod env;
pub mod gemini;
pub mod harness;
pub mod lines;
pub mod mock;
pub mod opencode;
pub mod output;
pub mod pi;
pub mod skip;
pub mod ssh;
mod tmux;
pub mod world;

pub use bins::{bin, bin_dir};
pub use env::{Options, TestEnv, Tmux};
pub use harness::Agent;
pub use lines::Lines;
pub use output::{
    assert_code, assert_one_line_error, big_prompt, entry, eventually, field, json_lines, json_of,
    json_or_null, mentions, output_with_stdin, put, show, spawn_with_stdin, stderr, stdout,
};
pub use serde_json::Value;
pub use tmux::{TmuxServer, have_tmux, processes_in_sessions};
pub use world::AgentWorld;

/// The value of an `Option` from a constructor that skips (`TestEnv::
/// with_tmux`, `ClaudeEnv::new`), or return from the test: the constructor
/// has already said why, loudly (and failed instead in CI).
///
/// `let env = or_skip!(TestEnv::with_tmux());`
#[macro_export]
macro_rules! or_skip {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Default::default(),
        }
    };
}

/// Claude Code end-to-end tests, each run on both tested CLI versions:
/// `fn name(v) { … }` becomes the function `name(v: ClaudeVersion)` and the
/// tests `name::pinned` and `name::newest` (so `cargo test … -- ::newest`
/// runs one version only).
///
/// ```ignore
/// claude_e2e! {
///     /// What it checks.
///     fn spawn_is_ready(v) {
///         let ce = or_skip!(ClaudeEnv::new(v));
///         …
///     }
/// }
/// ```
#[macro_export]
macro_rules! claude_e2e {
    ($( $(#[$m:meta])* fn $name:ident($v:ident) $body:block )*) => { $(
        $(#[$m])*
        fn $name($v: $crate::claude::ClaudeVersion) $body

        mod $name {
            #[test]
            fn pinned() {
                super::$name($crate::claude::ClaudeVersion::Pinned)
            }
            #[test]
            fn newest() {
                super::$name($crate::claude::ClaudeVersion::Newest)
            }
        }
    )* };
}

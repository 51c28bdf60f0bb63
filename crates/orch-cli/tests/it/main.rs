//! orch's integration tests: one binary (jj-style), each test in a private
//! world from the shared test kit (`crates/orch-testkit`). Tests run the
//! real binaries.

mod alert;
mod docs;
mod e2e_agents;
mod e2e_claude;
mod e2e_claude_orch;
mod e2e_claude_scenarios;
mod e2e_codex;
mod e2e_gemini;
mod e2e_opencode;
mod e2e_pi;
mod hook;
mod listen;
mod newuser;
mod plugin;
mod remote;
mod restore;
mod safety;
mod spawn;
mod subscribe;
mod suite;
mod survey;
mod tell;
mod umbrella;
mod up;

/// What every test module starts from: the kit, and orch's own state API
/// on a kit world (the kit itself does not depend on the library).
mod prelude {
    pub use orch_testkit::*;

    /// orch's library view of a world's state.
    pub trait OrchState {
        /// orch's store for the world's tmux server (to set up state the
        /// way orch-spawn would, or read it back).
        fn store(&self) -> orch::store::Store;
    }

    impl OrchState for TestEnv {
        fn store(&self) -> orch::store::Store {
            let s = self.server();
            let server = orch::server::Server::new(s.socket.clone(), s.pid);
            orch::store::Store::open_in(&self.state, &server).unwrap()
        }
    }

    /// A pane id from its text form (`%12`).
    pub fn pane_id(p: &str) -> orch::pane::PaneId {
        p.parse().unwrap()
    }
}

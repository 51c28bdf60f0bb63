//! orch's integration tests: one binary (jj-style), each test in a private
//! world (see `support`). Tests run the real binaries.

mod support;

mod docs;
mod e2e_claude;
mod e2e_orch;
mod hook;
mod listen;
mod spawn;
mod subscribe;
mod survey;
mod tell;
mod umbrella;
mod up;

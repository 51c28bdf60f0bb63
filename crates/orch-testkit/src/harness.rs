//! orch's commands as the real-agent tests (and benches) run them in an
//! [`AgentWorld`]: `orch-spawn <harness>` in a window of its own, in the
//! project dir, and `orch-tell` with the text on stdin. [`Agent`] says what
//! differs per CLI; everything else is written once here.

use std::ops::Deref;
use std::process::{Command, Output};

use serde_json::Value;

use crate::output::{assert_code, json_or_null, output_with_stdin};
use crate::world::AgentWorld;

/// A world with one real agent CLI.
pub trait Agent: Deref<Target = AgentWorld> {
    /// The harness as `orch-spawn` names it.
    const HARNESS: &'static str;
    /// How long (seconds) the tests let `orch-spawn` wait for it to be ready.
    const SPAWN_TIMEOUT: u32;
    /// How long (seconds) the tests let a tell wait for it.
    const TELL_TIMEOUT: u32 = 60;
    /// `orch-spawn` flags this CLI needs besides the harness, placement,
    /// timeout and cwd (the mock's model).
    const SPAWN_FLAGS: &'static [&'static str] = &[];

    /// `orch-spawn HARNESS --window --timeout SECS FLAGS… --cwd <project>`.
    fn spawn_cmd_within(&self, timeout_secs: u32) -> Command {
        let mut c = self.cmd("orch-spawn");
        c.args([Self::HARNESS, "--window", "--timeout"])
            .arg(timeout_secs.to_string())
            .args(Self::SPAWN_FLAGS)
            .arg("--cwd")
            .arg(&self.project);
        c
    }

    /// [`Agent::spawn_cmd_within`] the tests' timeout, `ARGS…`, run;
    /// (output, its JSON or `Null`).
    fn spawn(&self, args: &[&str]) -> (Output, Value) {
        let o = self
            .spawn_cmd_within(Self::SPAWN_TIMEOUT)
            .args(args)
            .output()
            .unwrap();
        let v = json_or_null(&o);
        (o, v)
    }

    /// `orch-tell PANE - --timeout SECS`: the text to come on stdin.
    fn tell_cmd_within(&self, pane: &str, timeout_secs: u32) -> Command {
        let mut c = self.cmd("orch-tell");
        c.args([pane, "-", "--timeout"])
            .arg(timeout_secs.to_string());
        c
    }

    /// [`Agent::tell_cmd_within`] the tests' timeout, `ARGS…`.
    fn tell_cmd(&self, pane: &str, args: &[&str]) -> Command {
        let mut c = self.tell_cmd_within(pane, Self::TELL_TIMEOUT);
        c.args(args);
        c
    }

    /// [`Agent::tell_cmd`] with `text` on stdin; (output, its JSON or
    /// `Null`).
    fn tell(&self, pane: &str, text: &str, args: &[&str]) -> (Output, Value) {
        let o = output_with_stdin(&mut self.tell_cmd(pane, args), text.as_bytes());
        let v = json_or_null(&o);
        (o, v)
    }

    /// `tell --wait` that must be delivered and end in a `stop`; its JSON.
    /// On failure the pane's screen and events are shown too.
    fn ask(&self, pane: &str, text: &str) -> Value {
        let (o, v) = self.tell(pane, text, &["--wait"]);
        if !o.status.success() {
            eprintln!(
                "screen of {pane}:\n{}\nevents: {:#?}",
                self.try_capture(pane).unwrap_or_default(),
                self.events(pane)
            );
        }
        assert_code(&o, 0);
        assert_eq!(v["status"], "delivered", "{v}");
        assert_eq!(v["stop_kind"], "stop", "{v}");
        v
    }
}

impl Agent for crate::claude::ClaudeEnv {
    const HARNESS: &'static str = "claude";
    const SPAWN_TIMEOUT: u32 = 60;
}

impl Agent for crate::codex::CodexEnv {
    const HARNESS: &'static str = "codex";
    const SPAWN_TIMEOUT: u32 = 60;
}

impl Agent for crate::gemini::GeminiEnv {
    const HARNESS: &'static str = "gemini";
    const SPAWN_TIMEOUT: u32 = 120;
}

impl Agent for crate::pi::PiEnv {
    const HARNESS: &'static str = "pi";
    const SPAWN_TIMEOUT: u32 = 60;
    const SPAWN_FLAGS: &'static [&'static str] = &["--model", crate::pi::MODEL];
}

impl Agent for crate::opencode::OpencodeEnv {
    const HARNESS: &'static str = "opencode";
    /// Slow to start on a loaded machine.
    const SPAWN_TIMEOUT: u32 = 180;
    const TELL_TIMEOUT: u32 = 120;
    const SPAWN_FLAGS: &'static [&'static str] = &["--model", crate::opencode::MODEL];
}

//! orch's commands as the real-agent tests (and benches) run them in an
//! [`AgentWorld`]: `orch-spawn <harness>` in a window of its own, in the
//! project dir, and `orch-tell` with the text on stdin. [`Agent`] says what
//! differs per CLI; everything else is written once here.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::mock::{Anthropic, Chat, Gemini, Mock, Protocol, Reply, Responses};
use crate::output::{assert_code, entry, json_or_null, output_with_stdin, stderr, stdout};
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
    /// The field of a model request's body that holds the conversation
    /// (`None`: look at the whole body).
    const CONVERSATION: Option<&'static str> = None;
    /// The model API the CLI speaks (its mock's protocol).
    type Api: Protocol;

    /// The world's mock of that API.
    fn mock(&self) -> &Mock<Self::Api>;

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

    /// `orch-survey ARGS…` (JSON), which must succeed.
    fn survey(&self, args: &[&str]) -> Value {
        let o = self.run("orch-survey", args);
        assert_code(&o, 0);
        json_or_null(&o)
    }

    /// `orch-spawn --stop TARGET`, which must end the agent with its own
    /// exit command (`state` `exited`, `how` `exit-command`); its JSON.
    fn stop_by_exit_command(&self, target: &str) -> Value {
        let o = self.run("orch-spawn", &["--stop", target]);
        assert_code(&o, 0);
        let v = json_or_null(&o);
        assert_eq!(v["state"], "exited", "{v}");
        assert_eq!(v["how"], "exit-command", "{v}");
        v
    }

    /// A start-up dialog holds `pane` (`shown` on its screen): survey says
    /// `blocked:dialog`, and a tell of `1` (which would pick the dialog's
    /// first option) is refused (exit 4) and leaves the dialog there.
    fn assert_dialog_holds(&self, pane: &str, shown: &str) {
        let sv = self.survey(&[]);
        assert_eq!(
            entry(&sv["agents"], "pane", pane)["state"],
            "blocked:dialog",
            "{sv}"
        );
        let (o, _) = self.tell(pane, "1", &[]);
        assert_code(&o, 4);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            self.capture(pane).contains(shown),
            "the dialog was answered"
        );
    }

    /// After a resume: `pane` (reached as `target`) answers a new question,
    /// and the model request it sent for it carries `earlier` (texts of
    /// the conversation before the resume).
    fn ask_resumed(&self, target: &str, pane: &str, earlier: &[&str]) {
        self.mock().push(Reply::text("resumed and answering"));
        let v = self.ask(target, "do you remember?");
        assert_eq!(v["pane"], pane, "{v}");
        assert_eq!(v["reply"], "resumed and answering");
        let last = self.mock().main_turns().pop().unwrap();
        let history = match Self::CONVERSATION {
            Some(field) => last.body.as_ref().map(|b| b[field].to_string()),
            None => Some(last.body_text()),
        }
        .unwrap_or_default();
        assert!(
            earlier.iter().all(|t| history.contains(t)),
            "the resumed session lost its history ({earlier:?}): {history}"
        );
    }

    /// A tool call that needs permission (the agent runs without bypass):
    /// the mock replies with a shell command touching `<project>/NAME`,
    /// and `tell --wait` must end blocked on the permission prompt (exit
    /// 6). (The file the command would make, the tell's JSON.)
    fn ask_into_permission(&self, pane: &str, name: &str) -> (PathBuf, Value) {
        let made = self.project.join(name);
        self.mock()
            .push(Reply::bash(format!("touch {}", made.display())));
        let (o, v) = self.tell(pane, "make a file, please", &["--wait"]);
        assert_code(&o, 6);
        assert_eq!(v["status"], "delivered", "{v}");
        assert_eq!(v["stop_kind"], "notify", "{v}");
        assert_eq!(v["notification_type"], "permission_prompt", "{v}");
        (made, v)
    }

    /// A tell to `pane` while it shows a dialog (`shown` on its screen) is
    /// refused: exit 4, one line on stderr, nothing printed, nothing sent
    /// or typed, no new turn at the mock, the dialog still there. Its
    /// stderr.
    fn tell_is_refused(&self, pane: &str, shown: &str) -> String {
        let turns = self.mock().main_turns().len();
        let sent = self.events_of(pane, "sent").len();
        let (o, _) = self.tell(pane, "TYPED-INTO-A-DIALOG", &[]);
        assert_code(&o, 4);
        assert_eq!(stdout(&o), "", "refused: nothing typed, nothing printed");
        let err = stderr(&o);
        assert!(err.starts_with("orch-tell: "), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        // Long enough for a keystroke that did get through to show.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(self.events_of(pane, "sent").len(), sent, "nothing sent");
        assert_eq!(self.mock().main_turns().len(), turns, "no new turn");
        let s = self.capture(pane);
        assert!(!s.contains("TYPED-INTO-A-DIALOG"), "{s}");
        assert!(s.contains(shown), "still asking:\n{s}");
        err
    }
}

impl Agent for crate::claude::ClaudeEnv {
    type Api = Anthropic;
    fn mock(&self) -> &Mock<Anthropic> {
        &self.mock
    }
    const HARNESS: &'static str = "claude";
    const CONVERSATION: Option<&'static str> = Some("messages");
    const SPAWN_TIMEOUT: u32 = 60;
}

impl Agent for crate::codex::CodexEnv {
    type Api = Responses;
    fn mock(&self) -> &Mock<Responses> {
        &self.mock
    }
    const HARNESS: &'static str = "codex";
    const CONVERSATION: Option<&'static str> = Some("input");
    const SPAWN_TIMEOUT: u32 = 60;
}

impl Agent for crate::gemini::GeminiEnv {
    type Api = Gemini;
    fn mock(&self) -> &Mock<Gemini> {
        &self.mock
    }
    const HARNESS: &'static str = "gemini";
    const CONVERSATION: Option<&'static str> = Some("contents");
    const SPAWN_TIMEOUT: u32 = 120;
}

impl Agent for crate::pi::PiEnv {
    type Api = Chat;
    fn mock(&self) -> &Mock<Chat> {
        &self.mock
    }
    const HARNESS: &'static str = "pi";
    const SPAWN_TIMEOUT: u32 = 60;
    const SPAWN_FLAGS: &'static [&'static str] = &["--model", crate::pi::MODEL];
}

impl Agent for crate::opencode::OpencodeEnv {
    type Api = Chat;
    fn mock(&self) -> &Mock<Chat> {
        &self.mock
    }
    const HARNESS: &'static str = "opencode";
    /// Slow to start on a loaded machine.
    const SPAWN_TIMEOUT: u32 = 180;
    const TELL_TIMEOUT: u32 = 120;
    const SPAWN_FLAGS: &'static [&'static str] = &["--model", crate::opencode::MODEL];
}

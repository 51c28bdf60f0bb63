//! The real Claude Code CLI, offline, in a private world: [`ClaudeEnv`].
//!
//! A `ClaudeEnv` is an [`AgentWorld`] (a private tmux server, a project dir) with a running
//! [`AnthropicMock`], a scratch `HOME`/`CLAUDE_CONFIG_DIR` whose start-up
//! questions are answered in advance (onboarding done, project folder
//! trusted, API key approved) and a project directory. Two CLI versions are
//! tested ([`ClaudeVersion`]): the pinned one (`claude` in
//! `.ci/agent-versions`) and the newest that runs here (`claude-newest`),
//! each installed once per cache directory by `.ci/install-agent.sh`
//! ([`crate::agents::agent_bin`]). [`crate::claude_e2e!`] runs a test on both.
//!
//! Claude's environment (mock URL, key, quiet flags, `claude` on `PATH`) is
//! put in the tmux server's global environment, so anything that opens a
//! pane on this server (`orch-spawn`, a hand-typed `claude`) gets it; orch
//! commands built with [`AgentWorld::cmd`] get it too.
//!
//! Facts and screen strings: `docs/claude-code-e2e.md`.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bins::bin;
use crate::mock::AnthropicMock;
use crate::world::AgentWorld;

/// Which Claude Code a test drives: the rows `claude` and `claude-newest`
/// of `.ci/agent-versions` (`ORCH_AGENT_VERSION_CLAUDE_NEWEST=latest` makes
/// the second the newest published release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaudeVersion {
    Pinned,
    Newest,
}

impl ClaudeVersion {
    /// Its row in `.ci/agent-versions`.
    pub fn agent(self) -> &'static str {
        match self {
            ClaudeVersion::Pinned => "claude",
            ClaudeVersion::Newest => "claude-newest",
        }
    }
}

/// The API key the CLI is given; its last 20 characters are pre-approved.
pub const API_KEY: &str = "sk-ant-api03-orch-e2e-test-key-0123456789abcdefghijklmnop";

/// Screen strings shared by the tested versions (see
/// docs/claude-code-e2e.md); where they differ, the tests say so per version.
pub mod screen {
    /// Idle, input box empty, default ("manual") permission mode.
    pub const READY: &str = "? for shortcuts";
    /// Idle with `--dangerously-skip-permissions` (replaces `READY`).
    pub const READY_BYPASS: &str = "bypass permissions on";
    /// A turn is running.
    pub const BUSY: &str = "esc to interrupt";
    /// Folder-trust dialog.
    pub const TRUST_DIALOG: &str = "Is this a project you created or one you trust?";
    /// API-key confirmation dialog.
    pub const API_KEY_DIALOG: &str = "Detected a custom API key in your environment";
    /// Bypass-permissions warning (`--dangerously-skip-permissions`).
    pub const BYPASS_WARNING: &str = "WARNING: Claude Code running in Bypass Permissions mode";
    /// Tool permission prompt.
    pub const PERMISSION_PROMPT: &str = "Do you want to proceed?";
}

/// The Claude Code hook events orch registers, `Event:orch-hook-argument`:
/// the contract `orch up` must meet, stated by the tests on their own
/// rather than read back from the library.
const HOOKS: &str = "SessionStart:session_start UserPromptSubmit:prompt Stop:stop \
                     StopFailure:stop_failure Notification:notify \
                     PermissionRequest:permission_request SessionEnd:session_end";

/// [`HOOKS`] as (Claude Code event, `orch-hook` argument).
pub fn hook_events() -> impl Iterator<Item = (&'static str, &'static str)> {
    HOOKS.split_whitespace().filter_map(|p| p.split_once(':'))
}

/// How the scratch Claude config is prepared.
#[derive(Debug, Clone)]
pub struct ClaudeOpts {
    /// `hasCompletedOnboarding` (without it the CLI tries the real API).
    pub onboarded: bool,
    /// The project folder is marked trusted (no folder-trust dialog).
    pub trust_project: bool,
    /// The API key is pre-approved (no API-key dialog).
    pub approve_key: bool,
    /// `skipDangerousModePermissionPrompt` in `$CLAUDE_CONFIG_DIR/settings.json`
    /// (no bypass warning with `--dangerously-skip-permissions`).
    pub skip_bypass_warning: bool,
    /// `messageIdleNotifThresholdMs` (default 60000): how long after a
    /// turn Claude fires `Notification` `idle_prompt`.
    pub idle_notify_ms: Option<u64>,
    /// Extra environment for the CLI (e.g. `CLAUDE_CODE_MAX_RETRIES`).
    pub env: Vec<(String, String)>,
}

impl ClaudeOpts {
    /// `CLAUDE_CODE_MAX_RETRIES=0`: an API error ends the turn at once
    /// (by default 500 and 429 are retried 10 times with backoff).
    pub fn no_retries() -> ClaudeOpts {
        ClaudeOpts {
            env: vec![("CLAUDE_CODE_MAX_RETRIES".into(), "0".into())],
            ..ClaudeOpts::default()
        }
    }
}

impl Default for ClaudeOpts {
    fn default() -> Self {
        ClaudeOpts {
            onboarded: true,
            trust_project: true,
            approve_key: true,
            skip_bypass_warning: true,
            idle_notify_ms: None,
            env: Vec::new(),
        }
    }
}

pub struct ClaudeEnv {
    pub world: AgentWorld,
    pub mock: AnthropicMock,
    /// Which of the tested versions this is.
    pub version: ClaudeVersion,
    /// Its `claude --version` (`2.1.197`).
    pub cli_version: String,
    /// The installed `claude` binary.
    pub claude: PathBuf,
}

impl Deref for ClaudeEnv {
    type Target = AgentWorld;
    fn deref(&self) -> &AgentWorld {
        &self.world
    }
}

/// The installed CLI of `v`, installing it on first use. `None` (after
/// printing `SKIPPED: …`) when it cannot be installed here; in CI (`CI`
/// set) that is a failure instead.
pub fn claude_bin(v: ClaudeVersion) -> Option<PathBuf> {
    crate::agents::agent_bin(v.agent())
}

/// The version of the CLI at `path`, from the prefix `.ci/install-agent.sh`
/// installed it into (`<cache>/<name>-<version>/node_modules/.bin/claude`),
/// so no CLI has to run outside a private world to say it.
pub fn version_of_install(path: &Path) -> Option<String> {
    let prefix = path.ancestors().nth(3)?.file_name()?.to_str()?;
    let (_, v) = prefix.rsplit_once('-')?;
    v.starts_with(|c: char| c.is_ascii_digit())
        .then(|| v.to_string())
}

/// The CLI of `v` already in the cache, without installing anything (for
/// the benchmarks): the binary `.ci/install-agent.sh` puts there.
pub fn find_installed(v: ClaudeVersion) -> Option<PathBuf> {
    let version = crate::agents::version_override(v.agent())
        .or_else(|| crate::agents::pinned_version(v.agent()))?;
    let p = crate::agents::cache_dir()
        .join(format!("{}-{version}", v.agent()))
        .join("node_modules/.bin/claude");
    p.is_file().then_some(p)
}

/// Quote for `sh` (hook commands are run by a shell).
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,%@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// orch's hook registrations as a settings object:
/// `{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "<abs>/orch-hook stop", "timeout": 10}]}], …}}`.
pub fn orch_hook_settings() -> Value {
    let hook = sh_quote(&bin("orch-hook").display().to_string());
    let mut hooks = serde_json::Map::new();
    for (event, arg) in hook_events() {
        hooks.insert(
            event.to_string(),
            json!([{"hooks": [{"type": "command", "command": format!("{hook} {arg}"), "timeout": 10}]}]),
        );
    }
    json!({ "hooks": hooks })
}

/// orch's hooks plus `skipDangerousModePermissionPrompt` and the classic
/// renderer: what the user settings of an enrolled test world hold.
pub fn settings_with_hooks() -> Value {
    let mut s = orch_hook_settings();
    s["skipDangerousModePermissionPrompt"] = json!(true);
    s["tui"] = json!("default");
    s
}

/// The settings every test world starts with: no bypass warning, and the
/// classic renderer (`"tui": "default"`; newer CLIs default to a fullscreen
/// one that keeps no scrollback; 2.1.197 ignores the key).
pub fn base_settings() -> Value {
    json!({"skipDangerousModePermissionPrompt": true, "tui": "default"})
}

/// The permission flags a test's `claude` gets unless it chose its own:
/// the asking mode, named so every version understands it (newer CLIs
/// default to "auto", which runs tools without asking; they call the mode
/// "manual" but still accept "default").
fn permission_flags(extra: &[&str]) -> Vec<String> {
    let chose = extra
        .iter()
        .any(|a| a.starts_with("--permission-mode") || *a == "--dangerously-skip-permissions");
    if chose {
        Vec::new()
    } else {
        vec!["--permission-mode".into(), "default".into()]
    }
}

/// The start-up and permission dialogs (of [`screen`]) `text` shows.
pub fn dialogs_on(text: &str) -> Vec<&'static str> {
    [
        screen::TRUST_DIALOG,
        screen::API_KEY_DIALOG,
        screen::BYPASS_WARNING,
        screen::PERMISSION_PROMPT,
    ]
    .into_iter()
    .filter(|d| text.contains(d))
    .collect()
}

impl ClaudeEnv {
    /// A ready world for version `v` with the default options, or `None`
    /// when skipped.
    pub fn new(v: ClaudeVersion) -> Option<ClaudeEnv> {
        ClaudeEnv::with(v, ClaudeOpts::default())
    }

    pub fn with(v: ClaudeVersion, opts: ClaudeOpts) -> Option<ClaudeEnv> {
        crate::world::open(claude_bin(v), |claude| {
            ClaudeEnv::start(v, claude, opts, "orch-it")
        })
    }

    /// A world for the CLI at `claude` (temp dir named `prefix…`).
    pub fn start(
        version: ClaudeVersion,
        claude: PathBuf,
        opts: ClaudeOpts,
        prefix: &'static str,
    ) -> Result<ClaudeEnv, String> {
        let mut world = AgentWorld::start(prefix, "claude", &claude)?;
        let mock = AnthropicMock::start();
        let io = |e: std::io::Error| format!("preparing Claude's world: {e}");
        let (env, project) = (&world.env, &world.project);
        std::fs::create_dir_all(&env.claude_config).map_err(io)?;
        let mut state = json!({});
        if opts.onboarded {
            state["hasCompletedOnboarding"] = json!(true);
        }
        if opts.trust_project {
            state["projects"] =
                json!({ project.display().to_string(): {"hasTrustDialogAccepted": true} });
        }
        if opts.approve_key {
            let tail = &API_KEY[API_KEY.len() - 20..];
            state["customApiKeyResponses"] = json!({"approved": [tail], "rejected": []});
        }
        if let Some(ms) = opts.idle_notify_ms {
            state["messageIdleNotifThresholdMs"] = json!(ms);
        }
        std::fs::write(env.claude_config.join(".claude.json"), state.to_string()).map_err(io)?;
        let mut settings = base_settings();
        if !opts.skip_bypass_warning {
            settings
                .as_object_mut()
                .unwrap()
                .remove("skipDangerousModePermissionPrompt");
        }
        std::fs::write(
            env.claude_config.join("settings.json"),
            settings.to_string(),
        )
        .map_err(io)?;

        let cli_version = match version_of_install(&claude) {
            Some(v) => v,
            None => {
                // Not from the installer: ask it, inside the private world.
                let out = env.command(&claude).arg("--version").output().map_err(io)?;
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string()
            }
        };
        world.give(&[
            ("ANTHROPIC_BASE_URL", &mock.url()),
            ("ANTHROPIC_API_KEY", API_KEY),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
        ])?;
        let extra: Vec<(&str, &str)> = opts
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        world.give(&extra)?;
        Ok(ClaudeEnv {
            world,
            mock,
            version,
            cli_version,
            claude,
        })
    }

    /// Is this the newest tested CLI (the one that wraps pastes, names its
    /// dialogs' options without numbers, …)?
    pub fn newest(&self) -> bool {
        self.version == ClaudeVersion::Newest
    }

    /// The API's text for the main turn whose echo reply is `reply`
    /// ([`crate::mock::Reply::Echo`]), asserting it is `sent` as the user
    /// pasted it: byte for byte on 2.1.197; inside the `<pasted_content>`
    /// wrapper, trailing line breaks trimmed, on the newest when wrapped.
    pub fn assert_api_got(&self, reply: &str, sent: &str) {
        let echoed = crate::mock::EchoSummary::parse(reply)
            .unwrap_or_else(|| panic!("not an echo reply: {reply:?}"));
        let wire = self
            .mock
            .main_turns()
            .into_iter()
            .filter_map(|t| t.last_user_text())
            .find(|t| crate::mock::EchoSummary::of(t) == echoed)
            .unwrap_or_else(|| {
                panic!(
                    "no main turn answered by {echoed:?}; mock requests:\n{}",
                    self.mock.describe()
                )
            });
        match pasted_content(&wire) {
            Some((_, inner)) => {
                assert!(
                    self.newest(),
                    "{} wrapped a paste: {wire:?}",
                    self.cli_version
                );
                assert_eq!(
                    inner,
                    sent.trim_end_matches('\n'),
                    "the API saw different text"
                );
            }
            None => assert_eq!(wire, sent, "the API saw different text"),
        }
    }

    /// `$CLAUDE_CONFIG_DIR/settings.json`.
    pub fn user_settings(&self) -> PathBuf {
        self.claude_config.join("settings.json")
    }

    /// `claude --settings '<orch hooks>' [--permission-mode default] EXTRA…`
    /// as argv.
    pub fn claude_argv(&self, extra: &[&str]) -> Vec<String> {
        let mut settings = orch_hook_settings();
        settings["tui"] = json!("default");
        let mut argv = vec![
            self.claude.display().to_string(),
            "--settings".into(),
            settings.to_string(),
        ];
        argv.extend(permission_flags(extra));
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv
    }

    /// Open a window in the project dir running `argv` (no shell: tmux
    /// executes a multi-argument command directly); its pane id.
    pub fn start_argv(&self, argv: &[String], env: &[(&str, &str)]) -> String {
        let project = self.project.display().to_string();
        let mut args: Vec<String> = ["new-window", "-d", "-P", "-F", "#{pane_id}", "-c", &project]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(argv.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.tmux(&refs).trim().to_string()
    }

    /// Start Claude with orch's hooks given by `--settings`; its pane id.
    pub fn start_claude(&self, extra: &[&str]) -> String {
        self.start_argv(&self.claude_argv(extra), &[])
    }

    /// Start `claude EXTRA…` with no `--settings`: only the hooks in the
    /// config files apply (e.g. after `orch up`).
    pub fn start_plain_claude(&self, extra: &[&str]) -> String {
        let mut argv = vec![self.claude.display().to_string()];
        argv.extend(permission_flags(extra));
        argv.extend(extra.iter().map(|s| s.to_string()));
        self.start_argv(&argv, &[])
    }

    /// Start Claude with `--dangerously-skip-permissions` (and
    /// `IS_SANDBOX=1`, which the CLI demands when run as root).
    pub fn start_claude_bypass(&self, extra: &[&str]) -> String {
        let mut args = vec!["--dangerously-skip-permissions"];
        args.extend_from_slice(extra);
        self.start_argv(&self.claude_argv(&args), &[("IS_SANDBOX", "1")])
    }

    /// Wait for the pane's first event of `kind` with `seq > after` (the
    /// mock's request log in the message when it times out).
    pub fn wait_event(&self, pane: &str, kind: &str, after: u64, timeout: Duration) -> Value {
        self.env.wait_event_or(pane, kind, after, timeout, &|| {
            format!("mock requests:\n{}", self.mock.describe())
        })
    }

    /// Wait for SessionStart and for the idle screen; the session_start event.
    pub fn wait_ready(&self, pane: &str) -> Value {
        let ev = self.wait_event(pane, "session_start", 0, Duration::from_secs(60));
        self.wait_for_screen_any(
            pane,
            &[screen::READY, screen::READY_BYPASS],
            Duration::from_secs(30),
        );
        ev
    }

    /// Paste `text`, press Enter once the input box shows it, and wait for
    /// the `prompt` event this submits (returned).
    pub fn submit(&self, pane: &str, text: &str) -> Value {
        let after = self.last_seq(pane);
        self.submit_until(pane, text, Duration::from_secs(30), || {
            self.find_event(pane, "prompt", after)
        })
    }

    /// Paste `text`, wait until the input box shows it (Claude Code drops
    /// an Enter that comes before it has drawn the paste), press Enter, and
    /// wait until `done` gives a value. If `done` has nothing after
    /// [`ENTER_RETRY`] and the text still sits in the input box, the Enter
    /// was lost after all (seen once under heavy load): press Enter again —
    /// never paste again, so nothing can be submitted twice — and say so on
    /// stderr. What orch-tell does, in small.
    pub fn submit_until<T>(
        &self,
        pane: &str,
        text: &str,
        timeout: Duration,
        done: impl FnMut() -> Option<T>,
    ) -> T {
        self.paste(pane, text);
        self.wait_input_shows(pane, text);
        self.enter_until(pane, text, timeout, done)
    }

    /// The second half of [`ClaudeEnv::submit_until`], for a paste already
    /// shown in the input box: Enter, then Enter again while `done` has
    /// nothing and the text still sits there.
    pub fn enter_until<T>(
        &self,
        pane: &str,
        text: &str,
        timeout: Duration,
        mut done: impl FnMut() -> Option<T>,
    ) -> T {
        let start = Instant::now();
        self.enter(pane);
        let mut entered = Instant::now();
        loop {
            if let Some(v) = done() {
                return v;
            }
            if entered.elapsed() >= ENTER_RETRY {
                if let Some(s) = self.try_capture(pane)
                    && input_shows(&s, text)
                {
                    eprintln!(
                        "e2e: Enter lost in {pane} ({:?} after it); pressing Enter again",
                        entered.elapsed()
                    );
                    self.enter(pane);
                }
                entered = Instant::now();
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {text:?} to be submitted in {pane}\n\
                 events: {:#?}\nscreen:\n{}\nmock requests:\n{}",
                self.events(pane),
                self.try_capture(pane).unwrap_or_default(),
                self.mock.describe()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Move a dialog's cursor with `key` (`Up`, `Down`) until the screen
    /// shows `want` (the option under the cursor, `❯ Yes`) and keeps showing
    /// it for a second; the screen is returned. The newest CLI draws a
    /// start-up dialog, then draws it afresh with the cursor back on its
    /// default (observed: a Down sent right away moved the cursor, and the
    /// Enter after it met "❯ No, exit" again), and its menus wrap, so
    /// the key is pressed only while the cursor is visibly elsewhere.
    pub fn choose(&self, pane: &str, key: &str, want: &str) -> String {
        let start = Instant::now();
        let mut since: Option<Instant> = None;
        loop {
            let s = self.capture(pane);
            if s.contains(want) {
                let t = *since.get_or_insert_with(Instant::now);
                if t.elapsed() >= Duration::from_secs(1) {
                    return s;
                }
            } else {
                since = None;
                self.tmux(&["send-keys", "-t", pane, key]);
                std::thread::sleep(Duration::from_millis(300));
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{key} never kept the cursor on {want:?} in {pane}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the input box shows `text` (see [`input_shows`]).
    pub fn wait_input_shows(&self, pane: &str, text: &str) {
        let start = Instant::now();
        loop {
            let s = self.capture(pane);
            if input_shows(&s, text) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the paste of {text:?} never showed in the input box of {pane}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Claude Code 2.1.3xx's wrapper around a pasted prompt, as it reaches the
/// hooks, the transcript and the API:
/// `"\n\n<pasted_content id=\"XXXX\">\n" + text + "\n</pasted_content id=\"XXXX\">\n"`.
/// The id and the text inside, or `None` when `wire` is not exactly that.
/// (Stated here on its own, not borrowed from orch, so the tests check orch
/// against the CLI's format.)
pub fn pasted_content(wire: &str) -> Option<(&str, &str)> {
    let rest = wire.strip_prefix("\n\n<pasted_content id=\"")?;
    let (id, rest) = rest.split_once("\">\n")?;
    let inner = rest.strip_suffix(&format!("\n</pasted_content id=\"{id}\">\n"))?;
    Some((id, inner))
}

/// What the user pasted, from what the CLI sent on (`wire` unwrapped when
/// it is wrapped).
pub fn as_pasted(wire: &str) -> &str {
    pasted_content(wire).map_or(wire, |(_, inner)| inner)
}

/// How long [`ClaudeEnv::submit_until`] waits before deciding an Enter was
/// lost (Enter → UserPromptSubmit is 7-230 ms here).
pub const ENTER_RETRY: Duration = Duration::from_secs(2);

/// Does the input box of `screen` hold `text`? Claude Code shows a paste
/// inline (first line after `❯`, tabs as spaces, long lines wrapped) or
/// collapsed as `[Pasted text #N …]`; compared without whitespace.
pub fn input_shows(screen: &str, text: &str) -> bool {
    let Some(line) = input_line(screen) else {
        return false;
    };
    if line.contains("[Pasted text #") {
        return true;
    }
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let want: String = squash(text.lines().find(|l| !l.trim().is_empty()).unwrap_or(""))
        .chars()
        .take(12)
        .collect();
    let got = squash(&line);
    !got.is_empty() && got.starts_with(&want)
}

/// The text after the input prompt `❯ ` on the last such line of a screen
/// (the input box is the last one drawn), trimmed.
pub fn input_line(screen: &str) -> Option<String> {
    screen
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("❯"))
        .map(|rest| rest.trim().to_string())
}

//! The real Claude Code CLI, offline, in a private world: [`ClaudeEnv`].
//!
//! A `ClaudeEnv` is a [`TestEnv`] with a private tmux server, a running
//! [`AnthropicMock`], a scratch `HOME`/`CLAUDE_CONFIG_DIR` whose start-up
//! questions are answered in advance (onboarding done, project folder
//! trusted, API key approved) and a project directory. The pinned CLI
//! (`.ci/claude-code-version`) is installed once per cache directory by
//! `.ci/install-claude-code.sh` and shared by every test.
//!
//! Claude's environment (mock URL, key, quiet flags, `claude` on `PATH`) is
//! put in the tmux server's global environment, so anything that opens a
//! pane on this server (`orch-spawn`, a hand-typed `claude`) gets it; orch
//! commands built with [`ClaudeEnv::cmd`] get it too.
//!
//! Facts and screen strings: `docs/claude-code-e2e.md`.

use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::agents::repo_root;
use crate::bins::{bin, bin_dir};
use crate::env::{Options, TestEnv, Tmux};
use crate::mock::AnthropicMock;

/// The pinned CLI version (one place: `.ci/claude-code-version`).
pub const CLAUDE_CODE_VERSION: &str = include_str!("../../../.ci/claude-code-version");

/// The API key the CLI is given; its last 20 characters are pre-approved.
pub const API_KEY: &str = "sk-ant-api03-orch-e2e-test-key-0123456789abcdefghijklmnop";

/// Screen strings of Claude Code 2.1.197 (see docs/claude-code-e2e.md).
pub mod screen {
    /// Idle, input box empty, default permission mode.
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
                     StopFailure:stop_failure Notification:notify SessionEnd:session_end";

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
    pub env: TestEnv,
    pub mock: AnthropicMock,
    /// The installed `claude` binary.
    pub claude: PathBuf,
    /// A directory holding only a `claude` symlink, first on `PATH`.
    pub claude_dir: PathBuf,
    /// The agent's working directory (canonical path).
    pub project: PathBuf,
}

impl Deref for ClaudeEnv {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

/// The installed CLI, installing it on first use. `None` (after printing
/// `SKIPPED: …`) when it is not installed and npm is missing; in CI
/// (`CI` set) that is a failure instead.
pub fn claude_bin() -> Option<PathBuf> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match INSTALLED.get_or_init(install) {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            crate::skip::skipped(
                &format!("needs the real Claude Code CLI: {why}"),
                "the Claude Code e2e tests need the CLI in CI",
            );
            None
        }
    }
}

/// Where the CLI is cached: `$ORCH_E2E_CACHE`, else `<target>/e2e-cache`
/// (next to the binaries under test, so `CARGO_TARGET_DIR` is honoured).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("ORCH_E2E_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().parent().unwrap().join("e2e-cache"))
}

/// The CLI already in the cache, without installing anything: the wrapper
/// package's binary, or the platform package's when install scripts did
/// not run.
pub fn find_installed() -> Option<PathBuf> {
    let pkg = cache_dir().join("node_modules/@anthropic-ai");
    let mut candidates = vec![pkg.join("claude-code/bin/claude.exe")];
    if let Ok(rd) = std::fs::read_dir(&pkg) {
        for e in rd.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with("claude-code-linux-")
            {
                candidates.push(e.path().join("claude"));
            }
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn install() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let script = repo_root().join(".ci/install-claude-code.sh");
    let have_npm = Command::new("npm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let already = cache
        .join("node_modules/@anthropic-ai/claude-code")
        .is_dir();
    if !have_npm && !already {
        return Err(format!(
            "npm is not installed and Claude Code {} is not in {} \
             (install Node.js + npm, or run .ci/install-claude-code.sh)",
            CLAUDE_CODE_VERSION.trim(),
            cache.display()
        ));
    }
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(&cache);
    crate::agents::run_installer(&script.display().to_string(), cmd)
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

/// orch's hooks plus `skipDangerousModePermissionPrompt`: what the user
/// settings of an enrolled test world hold.
pub fn settings_with_hooks() -> Value {
    let mut s = orch_hook_settings();
    s["skipDangerousModePermissionPrompt"] = json!(true);
    s
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
    /// A ready world with the default options, or `None` when skipped.
    pub fn new() -> Option<ClaudeEnv> {
        ClaudeEnv::with(ClaudeOpts::default())
    }

    pub fn with(opts: ClaudeOpts) -> Option<ClaudeEnv> {
        let claude = claude_bin()?;
        if !crate::have_tmux() {
            return None;
        }
        Some(ClaudeEnv::start(claude, opts, "orch-it").unwrap_or_else(|e| panic!("{e}")))
    }

    /// A world for the CLI at `claude` (temp dir named `prefix…`).
    pub fn start(
        claude: PathBuf,
        opts: ClaudeOpts,
        prefix: &'static str,
    ) -> Result<ClaudeEnv, String> {
        let env = TestEnv::start(&Options {
            prefix,
            tmux: Tmux::Private,
            ..Options::default()
        })?;
        let mock = AnthropicMock::start();
        let io = |e: std::io::Error| format!("preparing Claude's world: {e}");
        let project = env.dir.path().join("project");
        std::fs::create_dir_all(&project).map_err(io)?;
        let project = project.canonicalize().map_err(io)?;
        let claude_dir = env.dir.path().join("claude-bin");
        std::fs::create_dir_all(&claude_dir).map_err(io)?;
        std::os::unix::fs::symlink(&claude, claude_dir.join("claude")).map_err(io)?;

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
        if opts.skip_bypass_warning {
            std::fs::write(
                env.claude_config.join("settings.json"),
                json!({"skipDangerousModePermissionPrompt": true}).to_string(),
            )
            .map_err(io)?;
        }

        let ce = ClaudeEnv {
            env,
            mock,
            claude,
            claude_dir,
            project,
        };
        let mut vars = ce.claude_env();
        vars.extend(opts.env);
        for (k, v) in &vars {
            ce.try_tmux(&["set-environment", "-g", k, v])?;
        }
        Ok(ce)
    }

    /// Kill the tmux server and start a new one on the same socket (a
    /// reboot, as far as orch can tell), with Claude's environment set on
    /// it again.
    pub fn restart_tmux(&mut self) {
        self.env.restart_tmux();
        for (k, v) in self.claude_env() {
            self.try_tmux(&["set-environment", "-g", &k, &v])
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// The environment Claude runs with (besides what [`TestEnv`] sets).
    pub fn claude_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}:{}",
            self.claude_dir.display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        [
            ("PATH", path.as_str()),
            ("ANTHROPIC_BASE_URL", &self.mock.url()),
            ("ANTHROPIC_API_KEY", API_KEY),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// `$CLAUDE_CONFIG_DIR/settings.json`.
    pub fn user_settings(&self) -> PathBuf {
        self.claude_config.join("settings.json")
    }

    /// An orch binary run in this world, with Claude's environment too.
    pub fn cmd(&self, name: &str) -> Command {
        let mut c = self.env.cmd(name);
        c.envs(self.claude_env());
        c
    }

    /// Run an orch binary with `args` to the end, with Claude's environment.
    pub fn run(&self, name: &str, args: &[&str]) -> std::process::Output {
        self.cmd(name).args(args).output().unwrap()
    }

    /// `claude --settings '<orch hooks>' EXTRA…` as argv.
    pub fn claude_argv(&self, extra: &[&str]) -> Vec<String> {
        let mut argv = vec![
            self.claude.display().to_string(),
            "--settings".into(),
            orch_hook_settings().to_string(),
        ];
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

//! [`TestEnv`]: a private world for one test (or one benchmark run).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bins::{bin, bin_dir};
use crate::tmux::{TmuxServer, have_tmux, shut_down};

/// Which tmux server a world's commands talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tmux {
    /// None: no `TMUX` in the environment.
    None,
    /// A `TMUX` naming a server that does not exist (a socket file nobody
    /// listens on): enough for hooks and listeners, which never call tmux
    /// when `TMUX` is set.
    Fake,
    /// A private server on a socket in the world's dir.
    Private,
}

/// How a world is made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The temp dir's name prefix (`orch-it…`, `orch-bench…`).
    pub prefix: &'static str,
    pub tmux: Tmux,
    /// The name of the server's first session.
    pub session: &'static str,
    /// What the first pane runs (a shell when `None`).
    pub first_pane: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: "orch-it",
            tmux: Tmux::None,
            session: "main",
            first_pane: None,
        }
    }
}

/// A private world: a temp dir holding `HOME`, orch's state and config
/// dirs, `CLAUDE_CONFIG_DIR`, `TMPDIR` and the XDG dirs, and (with
/// [`TestEnv::with_tmux`]) a private tmux server on a socket inside it.
///
/// Commands built by [`TestEnv::command`] and [`TestEnv::cmd`] start from
/// a cleared environment, so nothing from the developer's shell (a real
/// `TMUX`, a real home, a shared `/tmp`) leaks in. Dropping the world kills
/// its tmux server and waits for every process the panes started (killing
/// stragglers) before the dir is removed.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    pub claude_config: PathBuf,
    /// `TMPDIR` (and `TMUX_TMPDIR`) of everything run in the world.
    pub tmp: PathBuf,
    pub tmux: Option<TmuxServer>,
}

impl TestEnv {
    /// A private HOME/state/config, no tmux.
    pub fn new() -> TestEnv {
        TestEnv::start(&Options::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A world with its own tmux server, or `None` (after saying so
    /// loudly) when tmux is not installed.
    pub fn with_tmux() -> Option<TestEnv> {
        if !have_tmux() {
            return None;
        }
        let opts = Options {
            tmux: Tmux::Private,
            ..Options::default()
        };
        Some(TestEnv::start(&opts).unwrap_or_else(|e| panic!("{e}")))
    }

    /// A world without a tmux server, for commands that only need tmux to
    /// be installed (`orch up` checks its version); `None` when it is not.
    pub fn if_tmux_installed() -> Option<TestEnv> {
        have_tmux().then(TestEnv::new)
    }

    /// A world with a fake server identity ([`Tmux::Fake`]).
    pub fn with_fake_server() -> TestEnv {
        let opts = Options {
            tmux: Tmux::Fake,
            ..Options::default()
        };
        TestEnv::start(&opts).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Make a world as `opts` say.
    pub fn start(opts: &Options) -> Result<TestEnv, String> {
        let dir = tempfile::Builder::new()
            .prefix(opts.prefix)
            .tempdir()
            .map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let home = dir.path().join("home");
        let tmp = dir.path().join("tmp");
        let runtime = dir.path().join("run");
        for d in [&home, &tmp, &runtime] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700));
        let mut env = TestEnv {
            state: dir.path().join("state"),
            config: dir.path().join("config"),
            claude_config: home.join(".claude"),
            home,
            tmp,
            dir,
            tmux: None,
        };
        match opts.tmux {
            Tmux::None => {}
            Tmux::Fake => {
                // A real socket file (nobody listens on it): orch only
                // believes a `TMUX` whose socket exists and is a socket.
                let socket = env.dir.path().join("fake.sock");
                std::os::unix::net::UnixListener::bind(&socket)
                    .map_err(|e| format!("{}: {e}", socket.display()))?;
                env.tmux = Some(TmuxServer {
                    socket,
                    pid: std::process::id(),
                    owned: false,
                })
            }
            Tmux::Private => env.start_tmux(opts)?,
        }
        Ok(env)
    }

    /// Kill the world's tmux server (as a crash or `tmux kill-server`
    /// would: its panes' processes end) and start a new one on the same
    /// socket, as a person does after a reboot. The new server has a new
    /// pid, so orch sees a new server; the old one's state stays on disk.
    pub fn restart_tmux(&mut self) {
        let socket = self.server().socket.clone();
        crate::tmux::shut_down(&socket);
        self.tmux = None;
        let opts = Options {
            tmux: Tmux::Private,
            ..Options::default()
        };
        self.start_tmux(&opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(self.server().socket, socket);
    }

    fn start_tmux(&mut self, opts: &Options) -> Result<(), String> {
        let socket = self.dir.path().join("tmux.sock");
        let mut args = vec!["-f", "/dev/null", "new-session", "-d", "-s", opts.session];
        args.extend(["-x", "200", "-y", "50"]);
        args.extend(opts.first_pane.as_deref());
        // Started before `self.tmux` is set: the server's environment (what
        // its panes get) has no TMUX of its own.
        self.tmux_at(&socket, &args)?;
        // Owned before asking anything, so a failure below still ends it.
        self.tmux = Some(TmuxServer {
            socket,
            pid: 0,
            owned: true,
        });
        let pid = self.try_tmux(&["display-message", "-p", "#{pid}"])?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|e| format!("tmux pid {pid:?}: {e}"))?;
        self.tmux.as_mut().unwrap().pid = pid;
        Ok(())
    }

    pub fn server(&self) -> &TmuxServer {
        self.tmux.as_ref().expect("this TestEnv has no tmux server")
    }

    /// The orch state dir of this world's tmux server.
    pub fn server_state(&self) -> PathBuf {
        self.state.join("servers").join(self.server().key())
    }

    /// The environment everything in this world runs with.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let p = |p: PathBuf| p.display().to_string();
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        let mut v = vec![
            ("PATH", path),
            ("HOME", p(self.home.clone())),
            ("ORCH_STATE_DIR", p(self.state.clone())),
            ("ORCH_CONFIG_DIR", p(self.config.clone())),
            ("CLAUDE_CONFIG_DIR", p(self.claude_config.clone())),
            ("XDG_CONFIG_HOME", p(self.home.join(".config"))),
            ("XDG_STATE_HOME", p(self.home.join(".local/state"))),
            ("XDG_DATA_HOME", p(self.home.join(".local/share"))),
            ("XDG_CACHE_HOME", p(self.home.join(".cache"))),
            ("XDG_RUNTIME_DIR", p(self.dir.path().join("run"))),
            ("TMPDIR", p(self.tmp.clone())),
            // A tmux client that finds no TMUX uses $TMUX_TMPDIR: a stray
            // one reaches no real server.
            ("TMUX_TMPDIR", p(self.tmp.clone())),
            ("TERM", "xterm-256color".into()),
            ("LANG", "C.UTF-8".into()),
        ];
        if let Ok(ci) = std::env::var("CI") {
            v.push(("CI", ci));
        }
        if let Some(t) = &self.tmux {
            v.push(("TMUX", t.tmux_env()));
            v.push(("ORCH_TMUX_SOCKET", p(t.socket.clone())));
        }
        v
    }

    /// Any program with this world's environment (and nothing else).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear().envs(self.vars()).stdin(Stdio::null());
        c
    }

    /// An orch binary with this world's environment (`TMUX` pointing at the
    /// private server, but no `TMUX_PANE`).
    pub fn cmd(&self, name: &str) -> Command {
        self.command(bin(name))
    }

    /// Like [`TestEnv::cmd`] but as if run from inside `pane`.
    pub fn cmd_in(&self, name: &str, pane: &str) -> Command {
        let mut c = self.cmd(name);
        c.env("TMUX_PANE", pane);
        c
    }

    /// Run an orch binary with `args` to the end.
    pub fn run(&self, name: &str, args: &[&str]) -> Output {
        self.cmd(name).args(args).output().unwrap()
    }

    /// Run an orch binary that must succeed; the JSON it printed.
    pub fn run_json(&self, name: &str, args: &[&str]) -> Value {
        let o = self.run(name, args);
        crate::assert_code(&o, 0);
        crate::json_of(&o)
    }

    /// Run an orch binary with `args` as if from inside `pane`.
    pub fn run_in(&self, name: &str, pane: &str, args: &[&str]) -> Output {
        self.cmd_in(name, pane).args(args).output().unwrap()
    }

    /// Run tmux against the private server.
    pub fn try_tmux(&self, args: &[&str]) -> Result<String, String> {
        self.tmux_at(&self.server().socket, args)
    }

    fn tmux_at(&self, socket: &std::path::Path, args: &[&str]) -> Result<String, String> {
        // The client's environment leaks into new panes: keep it private.
        let mut cmd = self.command("tmux");
        cmd.arg("-S").arg(socket).args(args);
        crate::output::stdout_of_ok(&format!("tmux {args:?}"), &mut cmd)
    }

    /// Run tmux against the private server; panics on failure.
    pub fn tmux(&self, args: &[&str]) -> String {
        self.try_tmux(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Open a new window running `shell_cmd` (through `sh -c`); its pane id.
    pub fn new_pane(&self, shell_cmd: &str) -> String {
        self.tmux(&["new-window", "-d", "-P", "-F", "#{pane_id}", shell_cmd])
            .trim()
            .to_string()
    }

    /// Every pane of the server.
    pub fn panes(&self) -> Vec<String> {
        self.tmux(&["list-panes", "-a", "-F", "#{pane_id}"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A tmux format (`#{window_id}`, …) of `pane`.
    pub fn pane_format(&self, pane: &str, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", pane, format])
            .trim()
            .to_string()
    }

    /// Type `text` into `pane` and press Enter, as a person would.
    pub fn type_line(&self, pane: &str, text: &str) {
        self.tmux(&["send-keys", "-t", pane, "-l", text]);
        self.enter(pane);
    }

    pub fn enter(&self, pane: &str) {
        self.tmux(&["send-keys", "-t", pane, "Enter"]);
    }

    /// Paste `text` as a bracketed paste (a named buffer, deleted after),
    /// the way orch delivers prompts. Does not press Enter.
    pub fn paste(&self, pane: &str, text: &str) {
        let buf = format!("kit-{}", std::process::id());
        let file = self.tmp.join(format!("{buf}.txt"));
        std::fs::write(&file, text).unwrap();
        self.tmux(&["load-buffer", "-b", &buf, &file.display().to_string()]);
        self.tmux(&["paste-buffer", "-p", "-d", "-b", &buf, "-t", pane]);
    }

    /// The pane's screen as text.
    pub fn capture(&self, pane: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", pane])
    }

    /// The screen, or `None` when the pane is gone.
    pub fn try_capture(&self, pane: &str) -> Option<String> {
        self.try_tmux(&["capture-pane", "-p", "-J", "-t", pane])
            .ok()
    }

    /// Wait until `pane`'s screen contains `needle`; the screen.
    pub fn wait_for_screen(&self, pane: &str, needle: &str, timeout: Duration) -> String {
        self.wait_for_screen_any(pane, &[needle], timeout)
    }

    /// Wait until the screen shows one of `needles`; the screen.
    pub fn wait_for_screen_any(&self, pane: &str, needles: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.capture(pane);
            if needles.iter().any(|n| s.contains(n)) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for one of {needles:?} in pane {pane}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// All events of `pane` in its log (as JSON values).
    pub fn events(&self, pane: &str) -> Vec<Value> {
        let n = pane.trim_start_matches('%');
        let p = self
            .server_state()
            .join("events")
            .join(format!("{n}.jsonl"));
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events of `pane` of one kind.
    pub fn events_of(&self, pane: &str, kind: &str) -> Vec<Value> {
        self.events(pane)
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// The string `key` of each of `pane`'s `kind` events (the `prompt`
    /// of its prompts, the `reply` of its stops), in order.
    pub fn texts(&self, pane: &str, kind: &str, key: &str) -> Vec<String> {
        self.events_of(pane, kind)
            .iter()
            .map(|e| e[key].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The kinds of `pane`'s events, in order.
    pub fn kinds(&self, pane: &str) -> Vec<String> {
        self.events(pane)
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The pane's first event of `kind` with `seq > after`, if any yet.
    pub fn find_event(&self, pane: &str, kind: &str, after: u64) -> Option<Value> {
        self.events(pane)
            .into_iter()
            .find(|e| e["kind"] == kind && e["seq"].as_u64().unwrap_or(0) > after)
    }

    /// Wait for the pane's first event of `kind` with `seq > after`.
    pub fn wait_event(&self, pane: &str, kind: &str, after: u64, timeout: Duration) -> Value {
        self.wait_event_or(pane, kind, after, timeout, &String::new)
    }

    /// [`TestEnv::wait_event`], adding `context()` (a mock's request log,
    /// say) to the message when it times out.
    pub fn wait_event_or(
        &self,
        pane: &str,
        kind: &str,
        after: u64,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Value {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_event(pane, kind, after) {
                return e;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for a {kind} event (seq > {after}) in {pane}\n\
                 events: {:#?}\nscreen:\n{}\n{}",
                self.events(pane),
                self.try_capture(pane).unwrap_or_default(),
                context()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The highest sequence number in the pane's log (0 when empty).
    pub fn last_seq(&self, pane: &str) -> u64 {
        self.events(pane)
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .max()
            .unwrap_or(0)
    }

    /// The registry record of `pane`.
    pub fn registry(&self, pane: &str) -> Option<Value> {
        let n = pane.trim_start_matches('%');
        let p = self.server_state().join("panes").join(format!("{n}.json"));
        serde_json::from_slice(&std::fs::read(p).ok()?).ok()
    }

    /// Start the echo agent (`orch-echo ARGS`) in a new window and wait for
    /// its `session_start`; its pane. By its full path: a tmux client
    /// outside tmux hands its own PATH to new windows.
    pub fn start_echo(&self, args: &str) -> String {
        let pane = self.new_pane(&format!("'{}' {args}", bin("orch-echo").display()));
        self.wait_event(pane.as_str(), "session_start", 0, Duration::from_secs(15));
        pane
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(t) = self.tmux.as_ref().filter(|t| t.owned) {
            shut_down(&t.socket);
        }
    }
}

//! Harness adapters: one place per agent CLI orch can run in a pane.
//!
//! An adapter knows how to build the harness's command line (permission
//! bypass, model, appended system prompt, session id, extra dirs, tool
//! lists), how the harness's events reach orch, how to ask it to exit, and
//! (in [`dialogs`]) which start-up screens can block it.
//!
//! | harness    | events reach orch through                                      | readiness |
//! |------------|----------------------------------------------------------------|-----------|
//! | `claude`   | hooks passed with `--settings` at spawn (and/or `orch up`)     | `session_start` |
//! | `echo`     | the agent runs `orch-hook` itself                              | `session_start` (screen with `--no-hooks`) |
//! | `codex`    | hooks passed with `-c hooks.<Event>=…` at spawn, pre-trusted   | screen (`? for shortcuts`, quiet), inferred |
//! | `gemini`   | hooks in a system-defaults file given at spawn (`GEMINI_CLI_SYSTEM_DEFAULTS_PATH`), else `orch up`'s in `~/.gemini/settings.json` | `session_start` if it comes, else screen |
//! | `pi`       | orch's extension passed with `-e` at spawn (`hooks/pi/orch.ts`) | `session_start` |
//! | `opencode` | orch's plugin in `OPENCODE_CONFIG_CONTENT` at spawn (`hooks/opencode/orch.js`) | `session_start`, then the TUI's footer |
//!
//! Permission prompts ([`Permissions`]): claude, gemini, opencode report
//! theirs through their glue (`blocked:permission`), and codex through its
//! PermissionRequest hook; pi has none at all (it never asks), so `--no-bypass` on pi is a
//! note, not a mode.
//!
//! **Hooks recorded once.** A spawned claude gets orch's hooks on its
//! command line (`--settings`), so it emits events even where `orch up` was
//! never run. Where `orch up` *did* register the same hooks globally, both
//! registrations fire. The rule that makes each event count once: spawn sets
//! [`crate::hook::SPAWNED_HOOKS_ENV`]`=1` in the pane of every harness whose
//! adapter injects hooks ([`Harness::injects_hooks`]); the injected hooks run
//! `orch-hook --spawned <event>`; an `orch-hook` run *without* `--spawned`
//! inside such a pane (the global registration) records nothing.

pub mod claude;
pub mod claude_injected;
pub mod codex;
pub mod codex_watch;
pub mod dialogs;
pub mod echo;
pub mod gemini;
pub mod opencode;
pub mod pi;

use std::io::Read;

/// How spawn decides the agent is ready for a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The agent's own `session_start` event. Nothing else counts.
    SessionStart,
    /// `session_start` if the harness's glue is installed; otherwise the
    /// screen has been quiet for a while (volatile lines stripped). A state
    /// read off the screen is reported as inferred.
    SessionStartOrQuiet,
    /// The harness has hooks but fires nothing before the first prompt
    /// (codex): ready when the screen shows all of these texts and has
    /// stopped changing. Reported as inferred.
    Screen(&'static [&'static str]),
}

/// Everything an adapter needs to build a command line.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    /// The program to run: an absolute path when it was found, else its name.
    pub program: String,
    /// A fresh session id to give the agent (only when [`Harness::assigns_session_id`]).
    pub session_id: Option<String>,
    /// Resume this session instead of starting a new one.
    pub resume: Option<String>,
    pub model: Option<String>,
    /// Appended to the harness's system prompt: the fleet prompt + the outfit's.
    pub system_prompt: String,
    /// Skip the harness's permission prompts (orch's default for spawned agents).
    pub bypass: bool,
    /// Extra directories the agent may use (`--add-dir`; skills dirs too).
    pub add_dirs: Vec<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    /// Arguments given after `--` on spawn's command line, passed verbatim.
    pub extra_args: Vec<String>,
    /// Absolute path of `orch-hook`, for adapters that pass hooks themselves.
    pub hook_program: Option<String>,
    /// The glue file spawn wrote for this launch (see [`Harness::glue`]):
    /// claude's `--settings` file, pi's extension, opencode's plugin.
    pub glue_file: Option<String>,
    /// Running as root (claude's bypass flag then needs `IS_SANDBOX=1`).
    pub is_root: bool,
}

/// A built command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    /// Variables the harness needs beyond orch's own.
    pub env: Vec<(String, String)>,
    /// Things asked for that this harness cannot do (said, not hidden).
    pub warnings: Vec<String>,
}

/// One agent CLI.
#[derive(Debug)]
pub struct Harness {
    pub name: &'static str,
    /// The executable, looked up on PATH (echo: `orch-echo` next to orch).
    pub program: &'static str,
    /// What to tell someone who does not have it.
    pub install_hint: &'static str,
    pub readiness: Readiness,
    /// One line on how its events reach orch (shown by `--dry-run`).
    pub events: &'static str,
    /// Typed into the pane to end the session gracefully.
    pub exit_command: Option<&'static str>,
    /// orch can choose the session id at launch (`--session-id`).
    pub assigns_session_id: bool,
    /// spawn passes orch's hooks on the command line (see the module doc).
    pub injects_hooks: bool,
    /// The file spawn writes (under the state dir's `glue/`, named by its
    /// content's hash) and names in [`LaunchSpec::glue_file`], for
    /// `orch-hook` at the given path and the bypass choice.
    pub glue: Option<fn(hook_program: &str, bypass: bool) -> GlueFile>,
    /// The harness's permission prompts, as orch sees them.
    pub permissions: Permissions,
    /// How long a tell waits for the prompt event at least, where the
    /// harness is slower than orch's default to report one.
    pub receipt_wait: Option<std::time::Duration>,
    /// Which spawn/outfit options its command line can carry; the others
    /// are ignored with a warning (said, not hidden).
    pub supports: Supports,
    /// How long Enter must wait after the paste (see [`EnterDelay`]).
    pub enter_delay: EnterDelay,
    /// What the screen must show, steadily, after `session_start` before
    /// the agent takes input (see [`ReadyScreen`]): where the start event
    /// comes first (opencode loads its plugin before its TUI draws; Gemini
    /// redraws after it). `None`: the event is enough.
    pub ready_screen: Option<ReadyScreen>,
    pub build: fn(&LaunchSpec) -> Launch,
}

/// A glue file for one launch: `glue/<stem>-<hash>.<ext>` holding `text`.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueFile {
    pub stem: &'static str,
    pub ext: &'static str,
    pub text: String,
}

/// Whether a harness asks before running tools, and what orch sees of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permissions {
    /// It asks, and its glue reports the prompt (survey: `blocked:permission`).
    Reported,
    /// It asks, but only the screen shows it.
    ScreenOnly,
    /// It never asks (pi): there is nothing to bypass, and `--no-bypass`
    /// changes nothing (spawn says so).
    None,
}

/// A harness whose `session_start` comes before its input box is usable:
/// Gemini CLI 0.61 fires `SessionStart` and then redraws its whole UI (on
/// `--resume`, after loading the history), and a paste that lands before
/// that redraw is lost. Spawn waits until `marker` is on screen and the
/// screen (volatile parts stripped) has not changed for `quiet_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyScreen {
    pub marker: &'static str,
    pub quiet_ms: u64,
}

/// The least time between a paste showing on screen and its Enter. Some
/// TUIs read an Enter that comes right after pasted text as a newline in the
/// input box, not a submit (Gemini CLI 0.61: within 40 ms of a paste as *it*
/// reads its input, `recentUnsafePasteTime`; its collapsed big pastes need
/// longer). Counted from the paste showing (the agent has read it then),
/// not from sending it, which a loaded machine delivers late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterDelay {
    /// For a paste of at most [`EnterDelay::big_from`] bytes and lines.
    pub small_ms: u64,
    /// For a bigger one.
    pub big_ms: u64,
    /// A paste counts as big from this many bytes, or from
    /// [`EnterDelay::big_lines`] lines.
    pub big_from: usize,
    pub big_lines: usize,
    /// Enter may follow the paste at once, without waiting to see it on
    /// screen, into an idle agent: its TUI reads the paste and the Enter in
    /// order (opencode 1.18.33; under load it drew a paste only ~350 ms
    /// later). Not Claude Code, which drops an Enter before it has drawn
    /// the paste; and never for a busy agent, where a dialog may come up
    /// meanwhile that the Enter would answer.
    pub enter_unseen: bool,
}

impl EnterDelay {
    /// Enter as soon as the paste shows.
    pub const NONE: EnterDelay = EnterDelay {
        small_ms: 0,
        big_ms: 0,
        big_from: usize::MAX,
        big_lines: usize::MAX,
        enter_unseen: false,
    };

    /// The floor for pasting `text`.
    pub fn for_text(&self, text: &str) -> std::time::Duration {
        let big = text.len() > self.big_from || text.lines().count() > self.big_lines;
        std::time::Duration::from_millis(if big { self.big_ms } else { self.small_ms })
    }
}

/// The options a harness's command line can carry.
#[derive(Debug, Clone, Copy)]
pub struct Supports {
    pub system_prompt: bool,
    pub add_dirs: bool,
    pub allowed_tools: bool,
    pub disallowed_tools: bool,
}

impl Supports {
    pub const ALL: Supports = Supports {
        system_prompt: true,
        add_dirs: true,
        allowed_tools: true,
        disallowed_tools: true,
    };
    pub const NONE: Supports = Supports {
        system_prompt: false,
        add_dirs: false,
        allowed_tools: false,
        disallowed_tools: false,
    };
}

pub const HARNESSES: &[&Harness] = &[
    &claude::HARNESS,
    &codex::HARNESS,
    &gemini::HARNESS,
    &pi::HARNESS,
    &opencode::HARNESS,
    &echo::HARNESS,
];

/// The adapter called `name`.
pub fn find(name: &str) -> Option<&'static Harness> {
    HARNESSES.iter().copied().find(|h| h.name == name)
}

/// `claude, codex, …` for error messages.
pub fn names() -> String {
    HARNESSES
        .iter()
        .map(|h| h.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Harness {
    /// What an adapter's `HARNESS` takes with `..Harness::BASE` for the
    /// fields it leaves out: the quirks most harnesses do not have (no glue
    /// file, orch's default receipt wait, Enter as soon as the paste shows,
    /// the start event is enough), so an adapter lists only what is its own.
    /// The identity and behaviour fields here are placeholders every adapter
    /// sets itself (`every_adapter_sets_its_own_identity` checks): a new
    /// harness must say how it starts, reports and asks, not inherit it.
    pub const BASE: Harness = Harness {
        name: "",
        program: "",
        install_hint: "",
        readiness: Readiness::SessionStart,
        events: "",
        exit_command: None,
        assigns_session_id: false,
        injects_hooks: false,
        glue: None,
        permissions: Permissions::ScreenOnly,
        receipt_wait: None,
        supports: Supports::NONE,
        enter_delay: EnterDelay::NONE,
        ready_screen: None,
        build: program_only,
    };

    pub fn launch(&self, spec: &LaunchSpec) -> Launch {
        let mut launch = (self.build)(spec);
        if !spec.bypass && self.permissions == Permissions::None {
            launch.warnings.push(format!(
                "{} has no permission prompts (it runs every tool without asking); --no-bypass changes nothing",
                self.name
            ));
        }
        let s = self.supports;
        for (supported, given, what) in [
            (
                s.system_prompt,
                !spec.system_prompt.is_empty(),
                "an appended system prompt (fleet prompt and outfit system_prompt)",
            ),
            (s.add_dirs, !spec.add_dirs.is_empty(), "extra directories"),
            (
                s.allowed_tools,
                !spec.allowed_tools.is_empty(),
                "allowed_tools",
            ),
            (
                s.disallowed_tools,
                !spec.disallowed_tools.is_empty(),
                "disallowed_tools",
            ),
        ] {
            if given && !supported {
                launch.warnings.push(format!(
                    "{} has no command-line option for {what}; ignored",
                    self.name
                ));
            }
        }
        launch
    }

    /// Screen text that says the agent has drawn its idle input box, for
    /// harnesses whose start event comes before that (empty: the event is
    /// enough).
    pub fn idle_footers(&self) -> &'static [&'static str] {
        match self.name {
            "claude" => claude::READY_FOOTERS,
            _ => &[],
        }
    }

    /// The readiness rule for this launch: echo started with `--no-hooks`
    /// fires nothing, so it is watched on screen like a hookless harness.
    pub fn readiness_for(&self, extra_args: &[String]) -> Readiness {
        if self.name == echo::HARNESS.name && extra_args.iter().any(|a| a == "--no-hooks") {
            return Readiness::SessionStartOrQuiet;
        }
        self.readiness
    }
}

/// The session id the running agent holds, read from its processes
/// (`pids`: the pane's process and its descendants), for harnesses that
/// cannot be given one and report it only with their first hook.
pub fn session_of_process(h: &Harness, pids: &[u32]) -> Option<String> {
    match h.name {
        "codex" => codex::session_of_process(pids),
        _ => None,
    }
}

/// A random RFC 4122 version-4 UUID (claude's `--session-id` wants one).
pub fn new_session_id() -> String {
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        let n = (crate::time::now_ns() as u128) ^ ((std::process::id() as u128) << 64);
        b = n.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// [`Harness::BASE`]'s command line: the program and what came after `--`.
fn program_only(s: &LaunchSpec) -> Launch {
    let mut l = Launch::default();
    l.argv.push(s.program.clone());
    l.argv.extend(s.extra_args.iter().cloned());
    l
}

/// `--resume=ID`, else `--session-id=ID`, then `--model=M`: the `--flag=value`
/// form, so a value that starts with `-` is never read as a flag (claude and
/// gemini parse alike here).
fn push_session_and_model_eq(argv: &mut Vec<String>, s: &LaunchSpec) {
    match (&s.resume, &s.session_id) {
        (Some(id), _) => argv.push(format!("--resume={id}")),
        (None, Some(id)) => argv.push(format!("--session-id={id}")),
        (None, None) => {}
    }
    if let Some(m) = &s.model {
        argv.push(format!("--model={m}"));
    }
}

/// The glue file of a harness whose glue is one of orch's `hooks/` assets
/// (pi's extension, opencode's plugin) rendered for a spawned agent: the
/// path of `orch-hook` filled in and the spawned flag set.
fn spawned_asset(
    asset: &str,
    stem: &'static str,
    ext: &'static str,
    hook_program: &str,
) -> GlueFile {
    let template = crate::install::assets::hook_asset(asset).unwrap_or_default();
    let text = crate::install::assets::render_spawned(template, std::path::Path::new(hook_program));
    GlueFile {
        stem,
        ext,
        text: String::from_utf8_lossy(&text).into_owned(),
    }
}

/// Push `flag value` when there is a value.
fn push_opt(argv: &mut Vec<String>, flag: &str, value: &Option<String>) {
    if let Some(v) = value {
        argv.push(flag.to_string());
        argv.push(v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_uuid_v4() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!("89ab".contains(&parts[3][..1]));
    }

    #[test]
    fn every_harness_is_findable_and_unique() {
        for h in HARNESSES {
            assert_eq!(find(h.name).unwrap().name, h.name);
        }
        assert!(find("vim").is_none());
        assert!(names().contains("opencode"));
    }

    /// `..Harness::BASE` fills only the quirk fields; a harness that forgot
    /// its own name, program, install hint or events line would show up
    /// blank in `--dry-run` and error messages.
    #[test]
    fn every_adapter_sets_its_own_identity() {
        for h in HARNESSES {
            assert!(!h.name.is_empty() && !h.program.is_empty(), "{h:?}");
            assert!(!h.install_hint.is_empty(), "{}", h.name);
            assert!(!h.events.is_empty(), "{}", h.name);
            assert!(h.exit_command.is_some(), "{}", h.name);
        }
    }
}

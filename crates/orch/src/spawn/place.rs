//! Where an agent's pane goes, and looking at it while it starts.
//!
//! A pane is created running a placeholder (`sleep`), so orch knows its id
//! before the agent starts: the id goes into the agent's fleet prompt, the
//! registry record exists before the agent's first hook fires, and
//! `remain-on-exit` is set on the pane before the agent can die, so a crash
//! at start-up leaves its last screen to report. Then `respawn-pane -k`
//! replaces the placeholder with the agent (same pane id), in the same tmux
//! call as the option.

use std::path::Path;

use anyhow::{Result, bail};

use crate::pane::PaneId;
use crate::tmux::Tmux;

/// The detached session that holds `--headless` agents.
pub const HEADLESS_SESSION: &str = "orch-headless";

/// What a new pane runs until the agent replaces it.
pub(super) const PLACEHOLDER: &[&str] = &["sleep", "86400"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Right,
    Left,
    Above,
    Below,
}

impl Position {
    /// Every side, in the order `--help` lists them.
    pub const ALL: [Position; 4] = [
        Position::Right,
        Position::Left,
        Position::Above,
        Position::Below,
    ];

    /// The side called `name` (`right`, `left`, `above`, `below`).
    pub fn named(name: &str) -> Option<Position> {
        Position::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// `split-window`/`join-pane` flags for this side.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Position::Right => &["-h"],
            Position::Left => &["-h", "-b"],
            Position::Below => &["-v"],
            Position::Above => &["-v", "-b"],
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Position::Right => "right",
            Position::Left => "left",
            Position::Above => "above",
            Position::Below => "below",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Split off a pane (the caller's).
    Split(Position, PaneId),
    /// The default: beside the caller, which keeps half its window
    /// ([`super::tile`]).
    Tile(PaneId),
    /// A new window, after the caller's window when there is one.
    Window(Option<PaneId>),
    /// A window of the detached [`HEADLESS_SESSION`].
    Headless,
}

impl Placement {
    pub fn describe(&self) -> String {
        match self {
            Placement::Split(p, of) => format!("{} of {of}", p.as_str()),
            Placement::Tile(of) => format!("right of {of}"),
            Placement::Window(_) => "window".into(),
            Placement::Headless => format!("headless (session {HEADLESS_SESSION})"),
        }
    }
}

/// Run a tmux command that makes a pane (`split-window`, `new-window`,
/// `new-session`) around the placeholder, asking it to print the new pane's
/// id; tmux's own error is passed back for the caller to interpret.
fn new_pane<S: AsRef<str>>(tmux: &Tmux, args: &[S]) -> Result<String> {
    let mut argv: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    argv.extend(["-P", "-F", "#{pane_id}"]);
    argv.extend(PLACEHOLDER);
    tmux.run(&argv)
}

fn pane_from(out: &str) -> Result<PaneId> {
    let id = out.trim();
    id.parse()
        .map_err(|_| anyhow::anyhow!("tmux printed {id:?} instead of a pane id"))
}

/// Create the pane (running the placeholder); its id and where it went.
pub fn create(
    tmux: &Tmux,
    placement: Placement,
    cwd: &Path,
    title: &str,
) -> Result<(PaneId, String)> {
    let cwd = cwd.to_string_lossy().into_owned();
    if let Placement::Tile(of) = placement {
        return super::tile::create(tmux, of, &cwd, title);
    }
    let mut args: Vec<String> = Vec::new();
    let push = |args: &mut Vec<String>, a: &[&str]| args.extend(a.iter().map(|s| s.to_string()));
    match placement {
        Placement::Split(pos, of) => {
            push(&mut args, &["split-window", "-d"]);
            push(&mut args, pos.flags());
            push(&mut args, &["-t", &of.to_string(), "-c", &cwd]);
        }
        Placement::Window(after) => {
            push(&mut args, &["new-window", "-d"]);
            if let Some(p) = after {
                // new-window wants a window, not a pane: the caller's.
                let w = tmux.run([
                    "display-message",
                    "-p",
                    "-t",
                    &p.to_string(),
                    "#{window_id}",
                ])?;
                push(&mut args, &["-a", "-t", w.trim()]);
            }
            push(&mut args, &["-n", title, "-c", &cwd]);
        }
        Placement::Headless => {
            return create_headless(tmux, &cwd, title).map(|p| (p, placement.describe()));
        }
        Placement::Tile(_) => unreachable!("handled above"),
    }
    match new_pane(tmux, &args) {
        Ok(out) => pane_from(&out).map(|p| (p, placement.describe())),
        Err(e) if e.to_string().contains("no space for new pane") => bail!(
            "no room to split {}: the window is too small; use --window or --headless, or close a pane",
            match placement {
                Placement::Split(_, of) => of.to_string(),
                _ => String::new(),
            }
        ),
        Err(e) => Err(e),
    }
}

fn create_headless(tmux: &Tmux, cwd: &str, title: &str) -> Result<PaneId> {
    // Two spawns may race to create the session: whoever loses adds a window.
    for _ in 0..2 {
        let at = ["-n", title, "-c", cwd];
        match new_pane(
            tmux,
            &[&["new-window", "-d", "-t", "orch-headless:"][..], &at].concat(),
        ) {
            Ok(out) => return pane_from(&out),
            Err(e) if !e.to_string().contains("can't find session") => return Err(e),
            Err(_) => {}
        }
        let session = [
            "new-session",
            "-d",
            "-s",
            HEADLESS_SESSION,
            "-x",
            "200",
            "-y",
            "50",
        ];
        match new_pane(tmux, &[&session[..], &at].concat()) {
            Ok(out) => return pane_from(&out),
            Err(e) if e.to_string().contains("duplicate session") => continue,
            Err(e) => return Err(e),
        }
    }
    bail!("cannot create a window in tmux session {HEADLESS_SESSION}")
}

/// After start-up: let the pane close when the agent exits (tmux's default).
///
/// Not `failed` (keep the pane only when the agent failed): tmux then waits
/// for the agent's exit status before it decides, and tmux builds linked
/// with libutempter (Debian's, Ubuntu's) lose a SIGCHLD that arrives while
/// they update utmp for the closing pane — which is when an agent that
/// closes its terminal before its process is done exiting (Claude Code)
/// sends it. The agent stays an unreaped zombie and its pane a dead pane,
/// until some other child of the server exits. The e2e suite saw this after
/// 3 of 5 `/exit`s (issue 5). With `off` the pane closes on the terminal's
/// end alone.
pub fn release_on_exit(tmux: &Tmux, pane: PaneId) -> Result<()> {
    tmux.run([
        "set-option",
        "-p",
        "-t",
        &pane.to_string(),
        "remain-on-exit",
        "off",
    ])?;
    Ok(())
}

/// Replace the placeholder with `argv`, started in `cwd`, having first told
/// tmux to keep the pane if the agent dies (one tmux call: the agent cannot
/// die before the option is set).
pub fn start(tmux: &Tmux, pane: PaneId, cwd: &Path, argv: &[String]) -> Result<()> {
    let p = pane.to_string();
    let mut args: Vec<String> = [
        "set-option",
        "-p",
        "-t",
        &p,
        "remain-on-exit",
        "on",
        ";",
        "respawn-pane",
        "-k",
        "-t",
        &p,
        "-c",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(cwd.to_string_lossy().into_owned());
    args.extend(argv.iter().cloned());
    tmux.run(&args)?;
    Ok(())
}

/// The pid of the pane's first process (the agent, once started).
pub fn pid(tmux: &Tmux, pane: PaneId) -> Option<u32> {
    let out = tmux
        .run([
            "display-message",
            "-p",
            "-t",
            &pane.to_string(),
            "#{pane_id} #{pane_pid}",
        ])
        .ok()?;
    let (id, pid) = out.trim().split_once(' ')?;
    // display-message answers even for a missing pane, with empty fields.
    (id == pane.to_string()).then(|| pid.parse().ok()).flatten()
}

pub fn kill(tmux: &Tmux, pane: PaneId) {
    let _ = tmux.run(["kill-pane", "-t", &pane.to_string()]);
}

/// Is the pane there, and is its process alive?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Alive,
    /// Exited (kept by `remain-on-exit`), with its exit status if known.
    Dead(Option<i32>),
    Gone,
}

/// One look at a pane: its status and visible screen, in one tmux call.
pub fn look(tmux: &Tmux, pane: PaneId) -> (Status, String) {
    let p = pane.to_string();
    let out = tmux
        .command()
        .args([
            "display-message",
            "-p",
            "-t",
            &p,
            "#{pane_id} #{pane_dead} #{pane_dead_status}",
            ";",
            "capture-pane",
            "-p",
            "-J",
            "-t",
            &p,
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out else {
        return (Status::Gone, String::new());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let (first, screen) = text.split_once('\n').unwrap_or((&text, ""));
    let mut f = first.split(' ');
    // display-message answers even for a missing pane, with empty fields.
    if f.next() != Some(p.as_str()) {
        return (Status::Gone, String::new());
    }
    let status = match f.next() {
        Some("1") => Status::Dead(f.next().and_then(|s| s.trim().parse().ok())),
        _ => Status::Alive,
    };
    (status, screen.to_string())
}

/// The screen including recent history (a dying agent's last words may have
/// scrolled off), without tmux's own "Pane is dead" line.
pub fn last_words(tmux: &Tmux, pane: PaneId) -> String {
    let text = tmux
        .run([
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-200",
            "-t",
            &pane.to_string(),
        ])
        .unwrap_or_default();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("Pane is dead"))
        .collect();
    crate::screen::tail(&kept.join("\n"), 15)
}

/// Type a fixed command (e.g. `/exit`) and Enter, `enter_after` later (a
/// harness may read an Enter right behind typed text as a newline: Gemini
/// CLI within 30 ms). Only for constant text: user text goes through
/// `orch-tell`.
pub fn type_command(
    tmux: &Tmux,
    pane: PaneId,
    text: &str,
    enter_after: std::time::Duration,
) -> Result<()> {
    let p = pane.to_string();
    tmux.run(["send-keys", "-t", &p, "-l", text])?;
    std::thread::sleep(enter_after);
    tmux.run(["send-keys", "-t", &p, "Enter"])?;
    Ok(())
}

/// Bring a pane (e.g. a headless agent) next to `beside`.
pub fn show(tmux: &Tmux, pane: PaneId, beside: PaneId, pos: Position) -> Result<()> {
    let mut args = vec!["join-pane", "-d"];
    args.extend(pos.flags());
    let (s, t) = (pane.to_string(), beside.to_string());
    args.extend(["-s", &s, "-t", &t]);
    tmux.run(&args)?;
    Ok(())
}

/// Move a pane out of sight, into a window of the headless session.
pub fn hide(tmux: &Tmux, pane: PaneId) -> Result<()> {
    let p = pane.to_string();
    let info = tmux.run([
        "display-message",
        "-p",
        "-t",
        &p,
        "#{session_name}\t#{window_panes}",
    ])?;
    let (session, panes) = info.trim().split_once('\t').unwrap_or(("", "1"));
    if session == HEADLESS_SESSION {
        return Ok(());
    }
    let has = tmux.run(["has-session", "-t", HEADLESS_SESSION]).is_ok();
    // The session must exist to move anything into it: create it around a
    // placeholder window, dropped once the pane is in.
    let placeholder = if has {
        None
    } else {
        let session = ["new-session", "-d", "-s", HEADLESS_SESSION];
        Some(pane_from(&new_pane(tmux, &session)?)?)
    };
    // A pane alone in its window moves with its window; others break out.
    let moved = if panes.trim() == "1" {
        tmux.run(["move-window", "-d", "-s", &p, "-t", "orch-headless:"])
    } else {
        tmux.run(["break-pane", "-d", "-s", &p, "-t", "orch-headless:"])
    };
    if let Some(ph) = placeholder {
        kill(tmux, ph);
    }
    moved?;
    Ok(())
}

//! `orch-spawn`: start an agent in a new pane and wait until it is ready;
//! stop, restart, show and hide agents (`orch::spawn`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use orch::exit::{Code, Fail};
use orch::roles::Role;
use orch::spawn::{Placing, Position, SpawnCommand, SpawnRequest, Spawned};
use orch::time::parse_duration;

use crate::out;

/// Start an agent in a new tmux pane and wait until it is ready.
#[derive(Debug, Parser)]
#[command(
    name = "orch-spawn",
    version,
    about = "Start an agent in a new tmux pane and wait until it is ready",
    after_help = "Prints one JSON object: {\"pane\":\"%12\",\"name\":…,\"harness\":…,\"role\":…,\"session_id\":…,\"ready_ms\":…,\"state\":\"idle\"}.\n\
If the agent shows a start-up dialog, dies, or is not ready in time, the object says so\n\
(state blocked:dialog with the screen excerpt and the fix, exited, or starting) and the exit code is non-zero.\n\n\
Exit codes: 0 ready, 1 failure, 2 bad arguments (nothing created), 3 not ready before --timeout,\n\
4 refused (e.g. --restart of an agent still running), 6 blocked by a start-up dialog, 7 the agent exited.\n\n\
Examples:\n  \
  orch-spawn echo --name demo                       # the built-in agent, no API key needed\n  \
  orch-spawn claude --name auth --outfit engineer --worktree --prompt 'Fix the login redirect'\n  \
  orch-spawn claude --position below --model sonnet --cwd ~/src/app\n  \
  orch-spawn --outfit reviewer --headless --name rev  # harness from the outfit, out of sight\n  \
  orch-spawn --show rev --position right            # bring a headless agent next to you\n  \
  orch-spawn --stop rev                             # /exit, then kill after --grace\n  \
  orch-spawn --restart rev                          # new pane, same session (claude --resume)\n  \
  orch-spawn echo --dry-run -- --turn-ms 500        # print the command line, start nothing"
)]
pub struct SpawnArgs {
    /// The agent CLI: claude, codex, gemini, pi, opencode, or echo (built in).
    /// May be omitted when the outfit names one.
    #[arg(value_name = "HARNESS")]
    pub harness: Option<String>,
    /// Start the agent on another host over ssh (same as `orch --host DEST
    /// spawn …`); with --headless, a tmux server is started there if it has
    /// none. --cwd is a path on that host.
    #[arg(long, value_name = "DEST")]
    pub host: Option<String>,
    /// Directory the agent works in [default: the current directory].
    #[arg(long, value_name = "DIR", conflicts_with = "project")]
    pub cwd: Option<PathBuf>,
    /// Work in $ORCH_PROJECTS_DIR/NAME (default root: ~/projects).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// A name for the agent, unique among live agents on this tmux server;
    /// usable wherever a pane id is (orch tell NAME, orch listen NAME).
    #[arg(long)]
    pub name: Option<String>,
    /// worker (default) or observer.
    #[arg(long, value_parser = role_parser())]
    pub role: Option<Role>,
    /// Split off your pane on this side [default: right].
    #[arg(long, value_parser = position_parser(), conflicts_with_all = ["window", "headless"])]
    pub position: Option<Position>,
    /// Open the agent in a new window instead of a split.
    #[arg(long, conflicts_with = "headless")]
    pub window: bool,
    /// Start the agent out of sight, in the detached tmux session
    /// `orch-headless` (bring it back with --show).
    #[arg(long)]
    pub headless: bool,
    /// The model, passed to the harness (overrides the outfit's).
    #[arg(long)]
    pub model: Option<String>,
    /// A first task, delivered with orch-tell once the agent is ready.
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Apply an outfit: $ORCH_CONFIG_DIR/outfits/NAME.json, a built-in one
    /// (engineer, reviewer, researcher, spy), or a path to a .json file.
    #[arg(long, value_name = "NAME")]
    pub outfit: Option<String>,
    /// Give the agent its own git worktree on BRANCH [default: orch/<name>];
    /// put the harness first (`orch-spawn claude --worktree`).
    #[arg(long, value_name = "BRANCH", num_args = 0..=1, default_missing_value = "")]
    pub worktree: Option<String>,
    /// Seconds to wait for the agent to be ready [default: 90].
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Resume this harness session instead of starting a new one.
    #[arg(long, value_name = "SESSION_ID")]
    pub resume: Option<String>,
    /// Keep the harness's permission prompts (by default spawned agents run
    /// with them bypassed, e.g. claude --dangerously-skip-permissions).
    #[arg(long)]
    pub no_bypass: bool,
    /// An extra directory the agent may use (repeatable).
    #[arg(long, value_name = "DIR")]
    pub add_dir: Vec<PathBuf>,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Print the command line, environment and placement; start nothing
    /// (also with --restart: nothing is killed or restarted).
    #[arg(long, conflicts_with_all = ["stop", "show", "hide"])]
    pub dry_run: bool,
    /// Stop an agent: its exit command (/exit), then kill the pane after --grace.
    #[arg(long, value_name = "PANE|NAME", conflicts_with_all = ["restart", "show", "hide"])]
    pub stop: Option<String>,
    /// Seconds --stop waits for a graceful exit before killing the pane [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Start an exited agent again in a new pane, resuming its session, with
    /// the same name, role, parent, directory and outfit.
    #[arg(long, value_name = "PANE|NAME", conflicts_with_all = ["show", "hide"])]
    pub restart: Option<String>,
    /// Move an agent's pane next to yours (--position picks the side).
    #[arg(long, value_name = "PANE|NAME", conflicts_with = "hide")]
    pub show: Option<String>,
    /// Move an agent's pane out of sight, into the orch-headless session.
    #[arg(long, value_name = "PANE|NAME")]
    pub hide: Option<String>,
    /// Re-tile your window: you keep a full-height column of half of it,
    /// agents stack beside you, those that do not fit (20x5 at least) move
    /// to overflow windows.
    #[arg(long, conflicts_with_all = ["stop", "restart", "show", "hide"])]
    pub relayout: bool,
    /// Start a spy on this agent (or on yourself): with --outfit spy, an
    /// observer briefed on it, subscribed to its turn ends, reporting only
    /// to the operator, never able to type into it.
    #[arg(long, value_name = "PANE|NAME")]
    pub watch: Option<String>,
    /// Internal: run the agent described by a launch file (used in the pane).
    #[arg(long, hide = true, value_name = "FILE")]
    pub exec_launch: Option<PathBuf>,
    /// Arguments passed to the harness as they are.
    #[arg(last = true, value_name = "HARNESS_ARGS")]
    pub harness_args: Vec<String>,
}

fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(["worker", "observer"]).map(|s| Role::named(&s))
}

fn position_parser() -> impl TypedValueParser<Value = Position> {
    PossibleValuesParser::new(Position::ALL.map(Position::as_str))
        .map(|s| Position::named(&s).expect("a possible value"))
}

pub fn run(a: SpawnArgs) -> Result<Code> {
    if let Some(file) = &a.exec_launch {
        return orch::spawn::exec_launch(file);
    }
    if let Some(host) = &a.host {
        let args = crate::remote::without_option(crate::remote::raw_args(), "host");
        return crate::remote::forward(host, "spawn", args);
    }
    let pretty = a.pretty;
    let placing = Placing {
        position: a.position,
        window: a.window,
        headless: a.headless,
    };
    let cmd = if let Some(target) = a.stop {
        SpawnCommand::Stop {
            target,
            grace: a.grace,
        }
    } else if let Some(target) = a.restart {
        SpawnCommand::Restart {
            target,
            placing,
            prompt: a.prompt,
            timeout: a.timeout,
            dry_run: a.dry_run,
        }
    } else if let Some(target) = a.show {
        SpawnCommand::Show {
            target,
            position: a.position,
        }
    } else if let Some(target) = a.hide {
        SpawnCommand::Hide { target }
    } else if a.relayout {
        SpawnCommand::Relayout
    } else {
        SpawnCommand::Start(Box::new(SpawnRequest {
            harness: a.harness,
            cwd: a.cwd,
            project: a.project,
            name: a.name,
            role: a.role,
            placing,
            model: a.model,
            prompt: a.prompt,
            outfit: a.outfit,
            worktree: a.worktree,
            timeout: a.timeout,
            resume: a.resume,
            no_bypass: a.no_bypass,
            watch: a.watch,
            add_dir: a.add_dir,
            dry_run: a.dry_run,
            harness_args: a.harness_args,
        }))
    };
    match orch::spawn::spawn(cmd)? {
        Spawned::Started(r) => {
            if pretty {
                out::text(&r.pretty())?;
            } else {
                out::json_line(&r)?;
            }
            match r.error {
                Some(msg) => Err(Fail::new(r.code, msg).into()),
                None => Ok(r.code),
            }
        }
        Spawned::DryRun(r) => out::json(&r, pretty).map(|_| Code::Ok).map_err(Into::into),
        Spawned::Stopped(r) if pretty => {
            out::text(&r.pretty()).map(|_| Code::Ok).map_err(Into::into)
        }
        Spawned::Stopped(r) => out::json_line(&r).map(|_| Code::Ok).map_err(Into::into),
        Spawned::Shown(r) => out::json(&r, pretty).map(|_| Code::Ok).map_err(Into::into),
        Spawned::Hidden(r) => out::json(&r, pretty).map(|_| Code::Ok).map_err(Into::into),
        Spawned::Relaid(r) => out::json(&r, pretty).map(|_| Code::Ok).map_err(Into::into),
    }
}

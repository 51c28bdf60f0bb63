//! After spawn: stop, restart, show, hide.
//!
//! - **stop**: type the harness's exit command (`/exit`) unless the pane
//!   shows a dialog (typed keys would answer it), wait up to `--grace` for
//!   the process to end, then kill the pane. Then end what is left of the
//!   agent's processes (its pane's session, [`crate::proctree`]): SIGTERM,
//!   and SIGKILL after a grace period — for every harness, since some
//!   (Gemini CLI) leave a child running when their pane closes. Recorded as an `exited` event
//!   (`reason` `stopped`, `data.how`), and the record is marked gone so its
//!   name is free again.
//! - **restart**: an agent whose process has ended is started again in a new
//!   pane with `--resume <session_id>`, the same name, role, parent,
//!   directory, outfit and harness arguments. The old record (found by pane
//!   id or name, even once marked gone, until GC deletes it) points to the
//!   new pane (`restarted_as`), and agents the old pane had spawned get the
//!   new pane as their parent. Any harness session can also be resumed
//!   directly: `orch-spawn claude --resume <session_id>`.
//! - **show / hide**: `join-pane` next to the caller, `break-pane` (or
//!   `move-window`) into the `orch-headless` session.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use super::execute::execute;
use super::place::{self, Position, Status};
use super::plan::{Inherit, Plan, plan};
use super::report::{HideReport, ShowReport, StopReport};
use super::{Placing, SpawnRequest, Spawned, caller};
use crate::event::{Event, Kind};
use crate::exit::{Code, Fail};
use crate::harness::{self, dialogs};
use crate::pane::PaneId;
use crate::proctree;
use crate::registry::PaneRecord;
use crate::roles::Role;
use crate::state::State;
use crate::store::Store;
use crate::time::now_ns;
use crate::tmux::Tmux;

const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// At most this long, processes left after the pane closed get between
/// SIGTERM and SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(3);

/// At most this long, `--stop` waits for a just-finished turn to reach the
/// agent's transcript before typing the exit command.
const TRANSCRIPT_WAIT: Duration = Duration::from_secs(2);

/// Claude Code writes a turn to its transcript some 40-60 ms after the
/// turn's `Stop` hook. `/exit` typed before that loses the turn, so a later
/// `--restart` resumes a conversation without it (the e2e suite saw the
/// whole first turn lost in 2 of 4 runs, issue 5). If the last event ended a
/// turn, wait (bounded) until the transcript was written after it.
fn wait_transcript_written(rec: &PaneRecord, bound: Duration) {
    let (Some(path), Some(last)) = (&rec.transcript_path, &rec.last_event) else {
        return;
    };
    if !matches!(last.kind, Some(Kind::Stop) | Some(Kind::StopFailure)) {
        return;
    }
    let deadline = Instant::now() + bound;
    let written_after = |ts: u64| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_some_and(|d| d.as_nanos() as u64 >= ts)
    };
    // The transcript is written by the agent, with no event for it: poll.
    while !written_after(last.ts) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How often the exit command is tried in all, and how long each try waits.
const EXIT_TRIES: u32 = 3;
const EXIT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// After the exit command was typed: wait up to `grace` for the process to
/// end, trying again while it visibly did not take. Gemini CLI refuses a
/// slash command while a turn is still finishing ("Slash commands cannot be
/// queued": its `AfterAgent` hook runs inside the turn, so orch sees the
/// turn end before Gemini does), and an Enter can be read as a newline. If
/// the command still sits in the input box only Enter is pressed again; it
/// is typed again only where the harness's idle input box (`marker`) shows
/// empty of it; never into a dialog.
fn exit_with_retries(
    tmux: &Tmux,
    pane: PaneId,
    cmd: &str,
    marker: Option<&str>,
    enter_after: Duration,
    grace: Duration,
) -> Status {
    let deadline = Instant::now() + grace;
    let mut tries = 1;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = if tries < EXIT_TRIES {
            EXIT_RETRY_AFTER.min(left)
        } else {
            left
        };
        let status = wait_exit(tmux, pane, wait);
        if status != Status::Alive || tries >= EXIT_TRIES || Instant::now() >= deadline {
            return status;
        }
        tries += 1;
        let (_, screen) = place::look(tmux, pane);
        if crate::screen::dialog(&screen).is_some() {
            continue;
        }
        let p = pane.to_string();
        if crate::screen::text_in_input(&screen, cmd) {
            let _ = tmux.run(["send-keys", "-t", &p, "Enter"]);
        } else if marker.is_some_and(|m| screen.contains(m)) && !crate::screen::working(&screen) {
            let _ = place::type_command(tmux, pane, cmd, enter_after);
        }
    }
}

/// Gemini CLI finishes a turn on screen a little after its `AfterAgent`
/// hook, and drops an exit command typed before (`--stop` then waited out
/// the whole grace). Wait, at most `bound`, until the input box shows and
/// the status line says nothing is running.
fn wait_input_box(tmux: &Tmux, pane: PaneId, marker: &str, bound: Duration) {
    let deadline = Instant::now() + bound;
    // A redraw raises no event: look again soon.
    loop {
        let (status, screen) = place::look(tmux, pane);
        let ready = screen.contains(marker) && !crate::screen::working(&screen);
        if ready || status != Status::Alive || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(40));
    }
}

fn open() -> Result<(Store, Tmux)> {
    let store = Store::current()?;
    let tmux = Tmux::for_server(store.server());
    Ok((store, tmux))
}

/// Wait up to `grace` for the pane's process to end.
fn wait_exit(tmux: &Tmux, pane: PaneId, grace: Duration) -> Status {
    let deadline = Instant::now() + grace;
    loop {
        let (status, _) = place::look(tmux, pane);
        if status != Status::Alive || Instant::now() >= deadline {
            return status;
        }
        // A process ending raises no event orch can wait on; look again soon.
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(super) fn stop(target: &str, grace: Option<Duration>) -> Result<StopReport> {
    let grace = grace
        .unwrap_or(DEFAULT_GRACE)
        .min(Duration::from_secs(10_000_000));
    let (store, tmux) = open()?;
    let pane = crate::target::resolve(&store, target)?;
    let started = Instant::now();
    let rec = store.read_registry(pane);
    let h = rec
        .as_ref()
        .and_then(|r| r.harness.as_deref())
        .and_then(harness::find);
    let (status, screen) = place::look(&tmux, pane);
    // The agent's processes, noted before the pane goes: some outlive it
    // (Gemini CLI's relaunched child), and are ended below.
    let (leader, matching) = match place::pid(&tmux, pane) {
        Some(p) => (Some(p), proctree::Match::Session),
        None => (rec.as_ref().and_then(|r| r.pid), proctree::Match::Strict),
    };
    let before = leader
        .map(|l| proctree::of_agent(l, Some(pane), matching))
        .unwrap_or_default();
    let how = match status {
        Status::Gone if rec.is_none() => {
            return Err(Fail::usage(format!(
                "no pane {pane} on this tmux server and nothing recorded for it"
            )));
        }
        Status::Gone => "already-gone",
        Status::Dead(_) => {
            place::kill(&tmux, pane);
            "was-dead"
        }
        Status::Alive => {
            // A start-up dialog or any selection dialog (a permission
            // prompt): the exit command's Enter would answer it — Claude
            // Code's permission prompt has "Yes" under the cursor, so typing
            // /exit there would approve the pending tool call.
            let dialog = h.and_then(|h| dialogs::detect(h.name, &screen)).is_some()
                || crate::screen::dialog(&screen).is_some();
            match (h.and_then(|h| h.exit_command), dialog) {
                (Some(cmd), false) => {
                    // Mid-turn: interrupt first so the exit command is
                    // not queued behind the turn, and give the interrupt a
                    // moment so the Escape is not read as Alt+'/'.
                    let last = rec
                        .as_ref()
                        .and_then(|r| r.last_event.as_ref())
                        .and_then(|e| e.kind);
                    let mid_turn = match last {
                        // Hook evidence: a prompt with no turn end after it.
                        Some(k) if k != Kind::Spawned => k == Kind::Prompt,
                        // None (a hookless harness): its status line.
                        _ => crate::screen::working(&screen),
                    };
                    if mid_turn {
                        let _ = tmux.run(["send-keys", "-t", &pane.to_string(), "Escape"]);
                        std::thread::sleep(Duration::from_millis(150));
                    } else if let Some(r) = &rec
                        && h.is_some_and(|h| h.name == harness::claude::HARNESS.name)
                    {
                        // Only Claude Code writes the turn after its Stop
                        // hook (Gemini CLI before AfterAgent: waiting would
                        // only cost the whole bound).
                        wait_transcript_written(r, TRANSCRIPT_WAIT);
                    }
                    if let Some(rs) = h.and_then(|h| h.ready_screen) {
                        wait_input_box(&tmux, pane, rs.marker, TRANSCRIPT_WAIT);
                    }
                    let enter_after = h.map(|h| h.enter_delay.for_text(cmd)).unwrap_or_default();
                    place::type_command(&tmux, pane, cmd, enter_after)?;
                    let marker = h.and_then(|h| h.ready_screen).map(|rs| rs.marker);
                    match exit_with_retries(&tmux, pane, cmd, marker, enter_after, grace) {
                        Status::Alive => {
                            place::kill(&tmux, pane);
                            "killed-after-grace"
                        }
                        Status::Dead(_) => {
                            place::kill(&tmux, pane);
                            "exit-command"
                        }
                        Status::Gone => "exit-command",
                    }
                }
                _ => {
                    place::kill(&tmux, pane);
                    "killed"
                }
            }
        }
    };
    // The pane is closed; end whatever of the agent still runs.
    let mut left = proctree::still_running(&before);
    for p in leader
        .map(|l| proctree::of_agent(l, Some(pane), matching))
        .unwrap_or_default()
    {
        if !left.contains(&p) {
            left.push(p);
        }
    }
    let processes = proctree::end(&left, LEFTOVER_GRACE.min(grace));
    let mut ev = Event::new(Kind::Exited);
    ev.reason = Some("stopped".into());
    ev.data = Some(json!({"how": how, "by": caller(), "processes": processes}));
    store.append_with(pane, ev, |r| {
        r.screen = None;
        r.gone_ts = Some(now_ns());
    })?;
    Ok(StopReport {
        pane,
        name: rec.as_ref().and_then(|r| r.name.clone()),
        state: State::Exited,
        how,
        processes,
        stop_ms: started.elapsed().as_millis() as u64,
    })
}

/// The record of the agent to restart: by pane id, or the newest spawned
/// agent with that name (gone ones included).
fn find_record(store: &Store, target: &str) -> Result<(PaneId, PaneRecord)> {
    if target.starts_with('%') {
        let pane: PaneId = target
            .parse()
            .map_err(|e: crate::pane::BadPaneId| Fail::usage(e.to_string()))?;
        let rec = store.read_registry(pane).ok_or_else(|| {
            Fail::usage(format!(
                "nothing is recorded for {pane} on this tmux server (records of gone panes are deleted by GC after a while); resume its session directly: orch-spawn <harness> --resume <session_id>"
            ))
        })?;
        return Ok((pane, rec));
    }
    store
        .list_registry()
        .into_iter()
        .filter(|r| r.name.as_deref() == Some(target) && r.spawned_ts.is_some())
        .max_by_key(|r| r.spawned_ts)
        .and_then(|r| Some((r.pane?, r)))
        .ok_or_else(|| {
            Fail::usage(format!(
                "no agent named {target:?} was spawned on this tmux server (or GC has deleted its record); resume its session directly: orch-spawn <harness> --resume <session_id>"
            ))
        })
}

pub(super) fn restart(
    target: &str,
    placing: Placing,
    prompt: Option<String>,
    timeout: Option<Duration>,
    dry_run: bool,
    started: Instant,
) -> Result<Spawned> {
    let (store, tmux) = open()?;
    let (old, rec) = find_record(&store, target)?;
    let (Some(_), Some(_)) = (rec.harness.clone(), rec.spawned_ts) else {
        return Err(Fail::usage(format!(
            "{old} was not started by orch-spawn, so orch does not know how to restart it"
        )));
    };
    let Some(session) = rec.session_id.clone() else {
        return Err(Fail::usage(format!(
            "no session id is recorded for {old}, so its session cannot be resumed; spawn a new agent instead"
        )));
    };
    let (status, _) = place::look(&tmux, old);
    if status == Status::Alive {
        return Err(Fail::refused(format!(
            "the agent in {old} is still running; stop it first (orch-spawn --stop {old}) or talk to it"
        )));
    }
    let plan = resume_plan(
        &rec,
        old,
        Some(&session),
        rec.parent,
        placing,
        prompt,
        timeout,
        Some(old),
    )?;
    // Regression (spawn --restart --dry-run really restarted): a dry run
    // stops at the plan, before the old pane is killed or marked gone.
    if dry_run {
        return plan.dry_run().map(|r| Spawned::DryRun(Box::new(r)));
    }
    if matches!(status, Status::Dead(_)) {
        place::kill(&tmux, old);
    }
    // The old pane's name must stop resolving before the new pane takes it.
    store.update_registry(old, |r| {
        r.gone_ts.get_or_insert(now_ns());
    })?;
    execute(&store, plan, started).map(|r| Spawned::Started(Box::new(r)))
}

/// The plan that brings back the agent `rec` (pane `old`) in a new pane:
/// same harness, name, role, cwd, worktree, outfit, model and flags,
/// resuming `session` when it had a conversation; `parent` as given.
#[allow(clippy::too_many_arguments)]
pub(super) fn resume_plan(
    rec: &PaneRecord,
    old: PaneId,
    session: Option<&str>,
    parent: Option<PaneId>,
    placing: Placing,
    prompt: Option<String>,
    timeout: Option<Duration>,
    restart_of: Option<PaneId>,
) -> Result<Plan> {
    let hname = rec.harness.clone().unwrap_or_default();
    // A session nobody talked to is not saved by claude, so it cannot be
    // resumed: start a fresh one (said in the warnings).
    let talked = session.is_some() && (rec.last_prompt.is_some() || rec.turns > 0);
    let saved = rec.extra.get("spawn").cloned().unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        saved[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let again = SpawnRequest {
        harness: Some(hname),
        cwd: rec.cwd.as_ref().map(PathBuf::from),
        name: rec.name.clone(),
        role: match rec.role {
            Some(Role::Observer) => Some(Role::Observer),
            _ => Some(Role::Worker),
        },
        placing,
        model: saved["model"].as_str().map(str::to_string),
        prompt,
        outfit: rec.outfit.clone(),
        timeout,
        resume: session.filter(|_| talked).map(str::to_string),
        add_dir: strings("explicit_add_dirs")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        harness_args: strings("extra_args"),
        ..Default::default()
    };
    let inherit = Inherit {
        parent,
        keep_parent: true,
        restart_of,
        worktree: rec.worktree.clone(),
        bypass: saved["bypass"].as_bool(),
    };
    let mut plan = plan(&again, inherit)?;
    if !talked {
        plan.warnings.push(format!(
            "{old} never received a prompt, so there was no conversation to resume (session {}); started a new session",
            session.unwrap_or("unknown")
        ));
    }
    Ok(plan)
}

/// After a restart: the old record points to the new pane, and children of
/// the old pane now have the new one as parent.
pub(super) fn relink_children(store: &Store, old: PaneId, new: PaneId) {
    let _ = store.update_registry(old, |r| {
        r.extra.insert("restarted_as".into(), json!(new));
    });
    for r in store.list_registry() {
        if r.parent == Some(old)
            && let Some(p) = r.pane
            && p != new
        {
            let _ = store.update_registry(p, |x| x.parent = Some(new));
        }
    }
}

pub(super) fn show(target: &str, position: Option<Position>) -> Result<ShowReport> {
    let Some(me) = caller() else {
        return Err(Fail::usage(
            "--show puts the agent's pane next to yours, so it must run inside a tmux pane; from outside tmux, attach to the session orch-headless instead",
        ));
    };
    let (store, tmux) = open()?;
    let pane = crate::target::resolve(&store, target)?;
    if pane == me {
        return Err(Fail::usage(format!("{pane} is your own pane")));
    }
    if place::look(&tmux, pane).0 == Status::Gone {
        return Err(Fail::new(Code::Exited, format!("pane {pane} no longer exists")).into());
    }
    let pos = position.unwrap_or(Position::Right);
    place::show(&tmux, pane, me, pos).with_context(|| format!("cannot show {pane}"))?;
    Ok(ShowReport {
        pane,
        shown: true,
        beside: me,
        position: pos.as_str(),
    })
}

pub(super) fn hide(target: &str) -> Result<HideReport> {
    let (store, tmux) = open()?;
    let pane = crate::target::resolve(&store, target)?;
    if place::look(&tmux, pane).0 == Status::Gone {
        return Err(Fail::new(Code::Exited, format!("pane {pane} no longer exists")).into());
    }
    place::hide(&tmux, pane).with_context(|| format!("cannot hide {pane}"))?;
    Ok(HideReport::new(pane))
}

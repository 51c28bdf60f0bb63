//! Carrying out a plan: take the name, create the worktree and the pane,
//! record the agent, start it, wait for readiness, give the first task.
//! What is made on the way is undone by a [`Rollback`] if a later step
//! fails, so a failed spawn leaves nothing behind.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::launch;
use super::lifecycle::relink_children;
use super::place;
use super::plan::Plan;
use super::ready::{self, Outcome};
use super::report::SpawnReport;
use super::worktree::Worktree;
use crate::event::{Event, Kind};
use crate::exit::{Code, Fail};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::store::Store;
use crate::time::now_ns;
use crate::tmux::Tmux;

/// The spawn lock of a tmux server: held while a name is checked and taken.
fn lock_spawns(store: &Store) -> Result<FileLock> {
    let p = store.layout().spawn_lock();
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

/// Refuse a name a live agent has; free it from records of dead panes.
fn claim_name(store: &Store, tmux: &Tmux, name: &str) -> Result<()> {
    let live: Vec<PaneId> = tmux
        .list_panes()?
        .into_iter()
        .filter(|p| !p.dead)
        .map(|p| p.pane)
        .collect();
    for rec in store.list_registry() {
        let (Some(pane), Some(n)) = (rec.pane, rec.name.as_deref()) else {
            continue;
        };
        if n != name || rec.gone_ts.is_some() {
            continue;
        }
        if live.contains(&pane) {
            return Err(Fail::usage(format!(
                "the name {name:?} is taken by the agent in {pane}; choose another --name, or stop it first (orch-spawn --stop {name})"
            )));
        }
        // The pane is gone or dead: its name must not resolve any more.
        store.update_registry(pane, |r| r.gone_ts = Some(now_ns()))?;
    }
    Ok(())
}

/// Undoes a half-made spawn when dropped: kills the pane, removes the
/// worktree this spawn created and the launch file, and marks the pane's
/// record gone once it was written. [`Rollback::commit`] keeps everything.
struct Rollback<'a> {
    store: &'a Store,
    tmux: &'a Tmux,
    worktree: Option<&'a Worktree>,
    pane: Option<PaneId>,
    launch_file: Option<PathBuf>,
    env_fifo: Option<PathBuf>,
    recorded: bool,
}

impl Rollback<'_> {
    fn commit(mut self) {
        self.worktree = None;
        self.pane = None;
        self.launch_file = None;
        self.env_fifo = None;
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if let Some(pane) = self.pane {
            place::kill(self.tmux, pane);
            if self.recorded {
                let _ = self
                    .store
                    .update_registry(pane, |r| r.gone_ts = Some(now_ns()));
            }
        }
        if let Some(w) = self.worktree {
            w.remove();
        }
        for f in self.launch_file.iter().chain(&self.env_fifo) {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// How long spawn waits for the trampoline to take its environment (it
/// starts in milliseconds; a pane that never runs it is rolled back).
const ENV_HANDOFF_TIMEOUT: Duration = Duration::from_secs(15);

pub(super) fn execute(store: &Store, plan: Plan, started: Instant) -> Result<SpawnReport> {
    let tmux = Tmux::for_server(store.server());
    let h = plan.harness;
    let title = plan.name.clone().unwrap_or_else(|| h.name.to_string());
    // The trampoline is orch-spawn's, also when another binary spawns
    // (orch-restore).
    let exe = crate::exe::sibling("spawn")
        .context("cannot find orch-spawn next to this binary or on PATH")?;

    let lock = lock_spawns(store)?;
    if let Some(n) = &plan.name {
        claim_name(store, &tmux, n)?;
    }
    if let Some(w) = &plan.worktree {
        w.create()?;
    }
    let mut undo = Rollback {
        store,
        tmux: &tmux,
        worktree: plan.worktree.as_ref(),
        pane: None,
        launch_file: None,
        env_fifo: None,
        recorded: false,
    };
    let (pane, placed) = place::create(&tmux, plan.placement, &plan.cwd, &title)?;
    undo.pane = Some(pane);
    let (mut lf, warnings, _) = plan.launch(&pane.to_string(), true)?;
    let launch_file = store.layout().launch_file(pane);
    let env_fifo = store.layout().launch_env_fifo(pane);
    undo.launch_file = Some(launch_file.clone());
    undo.env_fifo = Some(env_fifo.clone());
    launch::make_env_fifo(&env_fifo)?;
    lf.env_fifo = Some(env_fifo.clone());
    launch::write(&launch_file, &lf)?;
    let worktree = plan
        .worktree
        .as_ref()
        .map(|w| w.path.to_string_lossy().into_owned())
        .or_else(|| plan.worktree_path.clone());
    // What a restart needs that the record's own fields do not hold.
    let spawn_args = json!({
        "extra_args": plan.extra_args,
        "bypass": plan.bypass,
        "explicit_add_dirs": plan.explicit_add_dirs,
        "model": plan.model,
    });
    let mut ev = Event::new(Kind::Spawned);
    ev.harness = Some(h.name.into());
    ev.cwd = Some(plan.cwd.to_string_lossy().into_owned());
    ev.session_id = plan.session_id.clone().or_else(|| plan.resume.clone());
    ev.model = plan.model.clone();
    ev.name = plan.name.clone();
    let mut data = json!({
        "role": plan.role.as_str(),
        "placement": placed,
        "argv": lf.argv,
    });
    for (k, v) in [
        ("parent", plan.parent.map(|p| json!(p))),
        ("outfit", plan.outfit.as_ref().map(|o| json!(o.name))),
        ("worktree", worktree.as_ref().map(|w| json!(w))),
        ("restart_of", plan.restart_of.map(|p| json!(p))),
    ] {
        if let Some(v) = v {
            data[k] = v;
        }
    }
    ev.data = Some(data);
    store.append_with(pane, ev, |r| {
        r.name.clone_from(&plan.name);
        r.role = Some(plan.role.clone());
        r.harness = Some(h.name.into());
        r.parent = plan.parent;
        r.cwd = Some(plan.cwd.to_string_lossy().into_owned());
        r.outfit = plan.outfit.as_ref().map(|o| o.name.clone());
        r.worktree.clone_from(&worktree);
        r.command = Some(lf.argv.clone());
        r.spawned_ts = Some(now_ns());
        if r.session_id.is_none() {
            r.session_id = plan.session_id.clone().or_else(|| plan.resume.clone());
        }
        if plan.model.is_some() {
            r.model.clone_from(&plan.model);
        }
        r.extra.insert("spawn".into(), spawn_args.clone());
        if let Some(old) = plan.restart_of {
            r.extra.insert("restart_of".into(), json!(old));
        }
        if let Some(t) = plan.watch {
            r.extra.insert(super::spy::WATCHING.into(), json!(t));
        }
    })?;
    undo.recorded = true;
    drop(lock);

    let trampoline = vec![
        exe.to_string_lossy().into_owned(),
        "--exec-launch".into(),
        launch_file.to_string_lossy().into_owned(),
    ];
    place::start(&tmux, pane, &plan.cwd, &trampoline)
        .with_context(|| format!("cannot start {} in {pane}", h.name))?;
    launch::send_env(
        &env_fifo,
        &lf.inherited,
        Instant::now() + ENV_HANDOFF_TIMEOUT,
    )
    .with_context(|| format!("cannot start {} in {pane}", h.name))?;
    // The agent runs: from here on, what happens is reported, not undone.
    undo.commit();
    // Its processes may outlive the pane (proctree): remember whose they are.
    if let Some(pid) = place::pid(&tmux, pane) {
        store.update_registry(pane, |r| r.pid = Some(pid))?;
    }

    let cwd = plan.cwd.to_string_lossy().into_owned();
    // Hooks known to fire (given at spawn, or gemini's from `orch up`): wait
    // for the agent's own start event. A quiet screen proves nothing then;
    // Gemini CLI's stays still for seconds while it relaunches itself.
    let hooked = lf
        .env
        .get(crate::hook::SPAWNED_HOOKS_ENV)
        .map(String::as_str)
        == Some("1")
        || (h.name == crate::harness::gemini::HARNESS.name
            && crate::harness::gemini::global_hooks_installed());
    // Only the quiet-screen fallback gives way: a harness whose start event
    // comes with the first prompt (codex) stays ready by its screen.
    let readiness = match h.readiness_for(&plan.extra_args) {
        crate::harness::Readiness::SessionStartOrQuiet if hooked => {
            crate::harness::Readiness::SessionStart
        }
        other => other,
    };
    let watch = ready::Watch {
        store,
        tmux: &tmux,
        pane,
        harness: h,
        readiness,
        cwd: &cwd,
    };
    let outcome = watch.wait(Instant::now() + plan.timeout)?;
    let _ = std::fs::remove_file(&launch_file);
    let elapsed = started.elapsed();
    settle(store, &tmux, pane, &outcome)?;
    let mut report = SpawnReport::new(&plan, pane, outcome, elapsed, warnings);
    report.placement = placed;
    if report.code == Code::Ok
        && let Some(t) = plan.watch
    {
        // Before the brief, so no turn end of the target is missed.
        let sub = crate::subscribe::run(crate::subscribe::SubscribeRequest {
            peers: vec![t.to_string()],
            for_pane: Some(pane.to_string()),
            ..Default::default()
        });
        report.watching = Some(match sub {
            Ok(_) => json!({"pane": t, "subscribed": true}),
            Err(e) => json!({"pane": t, "subscribed": false, "error": format!("{e:#}")}),
        });
    }
    if report.code == Code::Ok
        && let Some(text) = &plan.prompt
    {
        let (v, code) = deliver_prompt(pane, text);
        report.prompt = Some(v);
        if code != Code::Ok {
            report.code = code;
            report.error = Some(format!(
                "{} in {pane} is ready, but the first prompt was not confirmed (see \"prompt\")",
                h.name
            ));
        }
    }
    if let Some(old) = plan.restart_of
        && report.code == Code::Ok
    {
        relink_children(store, old, pane);
    }
    Ok(report)
}

/// Leave the pane and its record as the outcome says: a ready or blocked
/// agent keeps its pane (its exit closes it again), a state read off the
/// screen is recorded, an agent that died during start-up is cleared away.
fn settle(store: &Store, tmux: &Tmux, pane: PaneId, outcome: &Outcome) -> Result<()> {
    use crate::registry::ScreenState;
    use crate::state::State;
    let screen = |state: State, excerpt: &str| ScreenState {
        state,
        ts: now_ns(),
        excerpt: excerpt.to_string(),
    };
    match outcome {
        Outcome::Ready {
            inferred,
            session_id,
        } => {
            place::release_on_exit(tmux, pane)?;
            if *inferred {
                store.update_registry(pane, |r| {
                    r.screen = Some(screen(State::Idle, ""));
                    // Read off the agent's process (codex): what --restart
                    // resumes before any hook has named the session.
                    if session_id.is_some() {
                        r.session_id.clone_from(session_id);
                    }
                })?;
            }
        }
        Outcome::Blocked { excerpt, .. } => {
            place::release_on_exit(tmux, pane)?;
            store.update_registry(pane, |r| {
                r.screen = Some(screen(State::BlockedDialog, excerpt))
            })?;
            let alert = crate::alert::Alert::new(
                store,
                "blocked",
                pane,
                Some(State::BlockedDialog.as_str()),
                "is blocked by a start-up dialog",
            )
            .with_detail(Some(excerpt.clone()));
            crate::alert::raise(store, alert);
        }
        Outcome::Exited { status, excerpt } => {
            // Nothing to keep: the evidence goes into the report and the log.
            place::kill(tmux, pane);
            let mut ev = Event::new(Kind::Exited);
            ev.reason = Some("exited during start-up".into());
            ev.data = Some(json!({"status": status, "excerpt": excerpt}));
            store.append_with(pane, ev, |r| {
                r.screen = Some(screen(State::Exited, excerpt));
                r.gone_ts = Some(now_ns());
            })?;
            let alert = crate::alert::Alert::new(
                store,
                "exited",
                pane,
                Some(State::Exited.as_str()),
                &match status {
                    Some(c) => format!("exited during start-up (exit status {c})"),
                    None => "exited during start-up".to_string(),
                },
            )
            .with_detail(Some(excerpt.clone()));
            crate::alert::raise(store, alert);
        }
        Outcome::Timeout { .. } => {}
    }
    Ok(())
}

/// Give the first task with `orch-tell <pane> -` (text on stdin). Returns
/// tell's JSON answer (or the error) and its exit code.
fn deliver_prompt(pane: PaneId, text: &str) -> (Value, Code) {
    let Some(tell) = crate::exe::sibling("tell") else {
        return (
            json!({"delivered": false, "error": "orch-tell is not installed next to orch-spawn or on PATH"}),
            Code::Failure,
        );
    };
    let child = std::process::Command::new(&tell)
        .arg(pane.to_string())
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return (
                json!({"delivered": false, "error": format!("cannot run {}: {e}", tell.display())}),
                Code::Failure,
            );
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => {
            return (
                json!({"delivered": false, "error": format!("orch-tell failed: {e}")}),
                Code::Failure,
            );
        }
    };
    let code = out
        .status
        .code()
        .map_or(Code::Failure, Code::from_exit_status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    let v = match parsed {
        Some(v) => v,
        None => {
            let err = String::from_utf8_lossy(&out.stderr);
            json!({"delivered": code == Code::Ok, "error": err.trim()})
        }
    };
    (v, code)
}

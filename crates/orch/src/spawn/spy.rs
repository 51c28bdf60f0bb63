//! `orch spawn --outfit spy --watch TARGET`: an observer on one agent (or
//! on the operator itself). Its first prompt is a brief naming the target
//! and how to follow it; spawn subscribes it to the target's turn ends;
//! its role (observer) lets it report only to the operator; and tell
//! refuses, even with `--force`, anything it would type into the target
//! (the registry's `watching`, see [`watched_by`]).

use anyhow::Result;

use crate::exit::Fail;
use crate::pane::PaneId;
use crate::store::Store;

/// The registry field (in `extra`) naming the pane a spy watches.
pub const WATCHING: &str = "watching";

/// The pane `spy` watches, if it is a spy.
pub fn watched_by(store: &Store, spy: PaneId) -> Option<PaneId> {
    store
        .read_registry(spy)?
        .extra
        .get(WATCHING)?
        .as_str()?
        .parse()
        .ok()
}

/// Resolve `--watch TARGET` from `caller`; it must exist in tmux.
pub(super) fn target(store: &Store, arg: &str, caller: Option<PaneId>) -> Result<PaneId> {
    let pane = crate::target::resolve_from(store, arg, caller)?;
    let tmux = crate::tmux::Tmux::for_server(store.server());
    if tmux.pane_status(pane)?.is_none_or(|s| s.dead) {
        return Err(Fail::usage(format!(
            "--watch {arg}: pane {pane} does not exist or has exited; nothing was started"
        )));
    }
    Ok(pane)
}

/// The spy's first prompt: who it watches and how to follow it.
pub(super) fn brief(store: &Store, target: PaneId, task: Option<&str>) -> String {
    let rec = store.read_registry(target);
    let field = |f: Option<String>, none: &str| f.unwrap_or_else(|| none.to_string());
    let name = rec.as_ref().and_then(|r| r.name.clone());
    let who = match &name {
        Some(n) => format!("{target} ({n})"),
        None => target.to_string(),
    };
    let harness = field(rec.as_ref().and_then(|r| r.harness.clone()), "unknown");
    let cwd = field(rec.as_ref().and_then(|r| r.cwd.clone()), "unknown");
    let transcript = match rec.as_ref().and_then(|r| r.transcript_path.clone()) {
        Some(t) => format!("{t} (follow it with `tail -n 50 -f {t}`; one JSON object per line)"),
        None => format!(
            "not recorded yet; `orch survey {target}` shows it once the agent's hooks report one"
        ),
    };
    let mut s = format!(
        "You are a spy watching {who}: harness {harness}, working in {cwd}.\n\
         - Its transcript: {transcript}.\n\
         - orch subscribed you to its turn ends: a `[orch] {target} … finished` notice arrives when it ends a turn.\n\
         - Live events: `orch listen {target} --stream --kinds prompt,stop,notify --timeout 590`; its state and last reply: `orch survey {target}`; its screen: `tmux capture-pane -p -J -t {target}`.\n\
         - Report to the operator only: end your turn with what you saw and what you recommend (or `orch tell operator --queue '…'`).\n\
         - You can never type into {target}: orch refuses it, even with --force. Do not change files."
    );
    if let Some(t) = task.filter(|t| !t.trim().is_empty()) {
        s.push_str("\n\nYour task: ");
        s.push_str(t);
    }
    s
}

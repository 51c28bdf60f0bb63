//! `orch restore`: bring back, on a new tmux server, the agents that were
//! alive when an earlier server died (crash, `kill-server`, reboot).
//!
//! Which server: the newest dead one (by `server.json` `created_ts`) unless
//! `--from KEY`. Which agents: every pane orch spawned there whose record
//! is not gone and whose last event is not an end (`session_end`, or the
//! `exited` that `spawn --stop` writes) — agents stopped on purpose stay
//! stopped; the operator is not respawned but re-mapped to this server's
//! operator (the claimed one, else the pane restore runs in). Each agent
//! comes back with its name, role, parent, cwd/worktree, harness, outfit,
//! model and flags, resuming its own session id (`spawn::respawn`).
//! Subscriptions among restored panes come back too.
//!
//! What was restored is written to the dead server's `restored.json`
//! (old pane → new pane, and into which server), so a second run changes
//! nothing, and so the dead server's state can then be collected
//! ([`collect_dead_servers`]).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::event::Kind;
use crate::exit::{Code, Fail};
use crate::layout::Layout;
use crate::pane::PaneId;
use crate::registry::PaneRecord;
use crate::roles::Role;
use crate::server::Server;
use crate::spawn::Placing;
use crate::store::Store;
use crate::time::now_ns;

/// How long a dead server's state is kept for `orch restore` when it is
/// not restored (seconds; default 7 days).
pub const KEEP_ENV: &str = "ORCH_RESTORE_KEEP_SECS";
pub const DEFAULT_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many dead servers are kept (the newest), whatever their age.
pub const MAX_KEPT: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    /// The dead server's key (`default-1234`); default: the newest.
    pub from: Option<String>,
    /// Only agents with these names.
    pub only: Vec<String>,
    pub dry_run: bool,
    /// Readiness timeout per agent.
    pub timeout: Option<Duration>,
}

/// One agent's outcome: one JSON line of `orch restore`.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// `restored`, `would-restore` (dry run), `already-restored`, `failed`.
    pub status: &'static str,
    pub name: Option<String>,
    pub harness: Option<String>,
    pub role: Option<Role>,
    /// The pane on the dead server.
    pub old_pane: PaneId,
    /// The new pane (null on a dry run or failure).
    pub pane: Option<PaneId>,
    pub parent: Option<PaneId>,
    pub cwd: Option<String>,
    /// The session resumed (null: started fresh, e.g. it never had a turn).
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u64>,
    /// The dead server it came from.
    pub from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The agent's last screen, when it did not get ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `restored.json` in a dead server's dir.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Marker {
    /// The server key restored into.
    into: String,
    /// Old pane → new pane.
    panes: BTreeMap<PaneId, PaneId>,
    ts: u64,
}

const MARKER: &str = "restored.json";

/// A dead server with state on disk.
#[derive(Debug, Clone)]
pub struct DeadServer {
    pub key: String,
    pub dir: PathBuf,
    pub server: Server,
    pub created_ts: u64,
}

/// Every server dir whose tmux server is no longer running, newest first.
pub fn dead_servers(root: &Path) -> Vec<DeadServer> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(crate::layout::servers_dir(root)) else {
        return out;
    };
    for e in rd.flatten() {
        let dir = e.path();
        let Some(info) = fs::read(Layout::at(dir.clone()).server_json())
            .ok()
            .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
        else {
            continue;
        };
        let (Some(socket), Some(pid)) = (
            info.get("socket").and_then(|s| s.as_str()),
            info.get("pid").and_then(|p| p.as_u64()),
        ) else {
            continue;
        };
        let server = Server {
            socket: socket.into(),
            pid: pid as u32,
            instance: info
                .get("instance")
                .and_then(|i| i.as_str())
                .map(str::to_string),
        };
        // Alive only if its pid runs and its socket is still the one it
        // made (a restarted server may reuse the socket and even the pid).
        if server.is_alive() && server.same_instance() && Path::new(socket).exists() {
            continue;
        }
        let created_ts = info
            .get("created_ts")
            .and_then(|t| t.as_u64())
            .unwrap_or_else(|| mtime_ns(&dir));
        out.push(DeadServer {
            key: e.file_name().to_string_lossy().into_owned(),
            dir,
            server,
            created_ts,
        });
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.created_ts));
    out
}

fn mtime_ns(p: &Path) -> u64 {
    fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn read_marker(dir: &Path) -> Marker {
    fs::read(dir.join(MARKER))
        .ok()
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or_default()
}

fn write_marker(dir: &Path, m: &Marker) -> Result<()> {
    crate::paths::write_atomic(&dir.join(MARKER), &serde_json::to_vec(m)?, 0o600)
        .with_context(|| format!("cannot write {}", dir.join(MARKER).display()))
}

/// Was the agent alive when its server died? Not gone, not the operator,
/// and not ended on purpose: `spawn --stop` writes `exited`, and an agent
/// that quit by itself (`/exit`, logout) ends with a `session_end` whose
/// reason says so. A `session_end` with reason `other` is what Claude Code
/// and the echo agent fire when their terminal goes away (the server
/// dying, a reboot): that agent comes back.
fn was_alive(store: &Store, r: &PaneRecord) -> bool {
    if r.gone_ts.is_some() || r.spawned_ts.is_none() || r.role == Some(Role::Operator) {
        return false;
    }
    match r.last_event.as_ref().and_then(|e| e.kind) {
        Some(Kind::Exited) => false,
        Some(Kind::SessionEnd) => {
            let Some(pane) = r.pane else { return false };
            let seq = r.last_event.as_ref().map(|e| e.seq).unwrap_or(0);
            store
                .read_events(pane, seq.saturating_sub(1))
                .ok()
                .and_then(|evs| evs.into_iter().rfind(|e| e.kind == Some(Kind::SessionEnd)))
                .is_some_and(|e| e.reason.as_deref().is_none_or(|r| r == "other"))
        }
        _ => true,
    }
}

/// Does `d` hold an agent that was alive and is not restored yet?
fn has_candidates(root: &Path, d: &DeadServer) -> bool {
    let done = read_marker(&d.dir);
    Store::open_in(root, &d.server).is_ok_and(|s| {
        s.list_registry()
            .iter()
            .filter(|r| was_alive(&s, r))
            .any(|r| r.pane.is_some_and(|p| !done.panes.contains_key(&p)))
    })
}

/// Parents before children, so a child's new parent exists when it starts.
fn in_spawn_order(mut recs: Vec<(PaneId, PaneRecord)>) -> Vec<(PaneId, PaneRecord)> {
    let mut out: Vec<(PaneId, PaneRecord)> = Vec::new();
    while !recs.is_empty() {
        let panes: Vec<PaneId> = recs.iter().map(|(p, _)| *p).collect();
        let (ready, rest): (Vec<_>, Vec<_>) = recs
            .into_iter()
            .partition(|(_, r)| r.parent.is_none_or(|p| !panes.contains(&p)));
        if ready.is_empty() {
            // A cycle cannot come from spawn; take the rest as they are.
            out.extend(rest);
            break;
        }
        out.extend(ready);
        recs = rest;
    }
    out
}

/// Restore from the chosen dead server, reporting each agent to `out`.
pub fn restore(req: &RestoreRequest, out: &mut dyn FnMut(&Restored) -> Result<()>) -> Result<Code> {
    let here = Server::current()?;
    let store = Store::open(&here)?;
    let root = store.root().to_path_buf();
    let dead = dead_servers(&root);
    let src = match &req.from {
        Some(k) => dead.iter().find(|d| &d.key == k).cloned().ok_or_else(|| {
            Fail::usage(format!(
                "no dead tmux server {k:?} has state to restore; dead servers: {}",
                list(&dead)
            ))
        })?,
        // The newest with someone to bring back (a server that died empty,
        // or whose agents all came back, is skipped).
        // The newest with someone to bring back (a server that died empty,
        // or whose agents all came back, is skipped).
        None => match dead
            .iter()
            .find(|d| has_candidates(&root, d))
            .or(dead.first())
        {
            Some(d) => d.clone(),
            None => {
                eprintln!(
                    "orch-restore: nothing to restore: no earlier tmux server's state is kept (it is collected once restored, or after 7 days)"
                );
                return Ok(Code::Ok);
            }
        },
    };
    let old = Store::open_in(&root, &src.server)?;
    let tmux = crate::tmux::Tmux::for_server(&here);
    let pane_path = std::cell::OnceCell::new();
    let mut marker = read_marker(&src.dir);
    let into = here.key();

    let mut candidates: Vec<(PaneId, PaneRecord)> = old
        .list_registry()
        .into_iter()
        .filter(|r| was_alive(&old, r))
        .filter_map(|r| Some((r.pane?, r)))
        .filter(|(_, r)| {
            req.only.is_empty() || r.name.as_ref().is_some_and(|n| req.only.contains(n))
        })
        .collect();
    if !req.only.is_empty() {
        for n in &req.only {
            if !candidates.iter().any(|(_, r)| r.name.as_ref() == Some(n)) {
                return Err(Fail::usage(format!(
                    "no agent named {n:?} was alive on {} when it died",
                    src.key
                )));
            }
        }
    }
    candidates = in_spawn_order(candidates);

    // Who the old operator is now: the claimed operator here, else us.
    let operator_here = crate::roles::claimed_operator(&store).or_else(PaneId::from_env);
    let placing = Placing {
        position: None,
        // Each agent in its own window keeps the operator's pane usable;
        // outside tmux, out of sight (`orch spawn --show NAME`).
        window: PaneId::from_env().is_some(),
        headless: PaneId::from_env().is_none(),
    };
    let mut map: HashMap<PaneId, PaneId> = marker.panes.iter().map(|(a, b)| (*a, *b)).collect();
    let mut worst = Code::Ok;
    for (old_pane, rec) in candidates {
        let parent = rec
            .parent
            .and_then(|p| map.get(&p).copied().or(operator_here));
        let mut line = Restored {
            status: "would-restore",
            name: rec.name.clone(),
            harness: rec.harness.clone(),
            role: rec.role.clone(),
            old_pane,
            pane: None,
            parent,
            cwd: rec.cwd.clone(),
            session_id: rec.session_id.clone(),
            ready_ms: None,
            from: src.key.clone(),
            error: None,
            excerpt: None,
            warnings: Vec::new(),
        };
        if let Some(new) = marker.panes.get(&old_pane) {
            line.status = "already-restored";
            line.pane = Some(*new);
            out(&line)?;
            continue;
        }
        if let Some(h) = &rec.harness
            && let Some(missing) = missing_cli(&tmux, &pane_path, h)
        {
            line.status = "failed";
            line.error = Some(missing);
            worst = Code::Failure;
            out(&line)?;
            continue;
        }
        if req.dry_run {
            out(&line)?;
            continue;
        }
        match crate::spawn::respawn(&rec, old_pane, parent, placing, req.timeout) {
            Ok(rep) => {
                line.pane = Some(rep.pane);
                line.ready_ms = rep.ready_ms;
                line.session_id = rep.session_id.clone();
                line.warnings = rep.warnings.clone();
                if rep.ready_ms.is_some() {
                    line.status = "restored";
                } else {
                    line.status = "failed";
                    line.error = rep
                        .error
                        .clone()
                        .or(Some(format!("not ready: {}", rep.state.as_str())));
                    worst = Code::Failure;
                }
                map.insert(old_pane, rep.pane);
                marker.panes.insert(old_pane, rep.pane);
                marker.into = into.clone();
                marker.ts = now_ns();
                write_marker(&src.dir, &marker)?;
            }
            Err(e) => {
                line.status = "failed";
                line.error = Some(format!("{e:#}"));
                worst = Code::Failure;
            }
        }
        out(&line)?;
    }
    if !req.dry_run {
        restore_subscriptions(&old, &store, &map, operator_here)?;
    }
    Ok(worst)
}

/// The harness's CLI, when it is not installed here: not on the PATH a
/// new pane gets (the tmux server's global environment, which is what the
/// agent starts with), nor on ours.
/// `pane_path` asks tmux once for the whole restore.
fn missing_cli(
    tmux: &crate::tmux::Tmux,
    pane_path: &std::cell::OnceCell<Option<String>>,
    harness: &str,
) -> Option<String> {
    let h = crate::harness::find(harness)?;
    if h.name == "echo" || which::which(h.program).is_ok() {
        return None;
    }
    let pane_path = pane_path.get_or_init(|| {
        tmux.run(["show-environment", "-g", "PATH"])
            .ok()
            .and_then(|l| l.trim().strip_prefix("PATH=").map(str::to_string))
    });
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    if pane_path
        .as_ref()
        .is_some_and(|p| which::which_in(h.program, Some(p), &cwd).is_ok())
    {
        return None;
    }
    Some(format!(
        "{} is not installed here: {}",
        h.program, h.install_hint
    ))
}

fn list(dead: &[DeadServer]) -> String {
    if dead.is_empty() {
        "none".into()
    } else {
        dead.iter()
            .map(|d| d.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Re-create the dead server's subscriptions between panes that came back
/// (the operator's included), merged into this server's.
fn restore_subscriptions(
    old: &Store,
    new: &Store,
    map: &HashMap<PaneId, PaneId>,
    operator_here: Option<PaneId>,
) -> Result<()> {
    let old_operator = crate::roles::claimed_operator(old);
    let to_new = |p: PaneId| {
        map.get(&p)
            .copied()
            .or_else(|| (Some(p) == old_operator).then_some(operator_here).flatten())
    };
    let before_old = crate::subs::load_all(old);
    if before_old.is_empty() {
        return Ok(());
    }
    let _lock = crate::subs::lock_subs(new)?;
    let before = crate::subs::load_all(new);
    let mut after = before.clone();
    for (peer, f) in before_old {
        let Some(new_peer) = to_new(peer) else {
            continue;
        };
        let entry = after
            .entry(new_peer)
            .or_insert_with(|| crate::subs::SubsFile {
                v: 1,
                peer: new_peer,
                subscribers: Vec::new(),
                extra: Default::default(),
            });
        for mut s in f.subscribers {
            let Some(p) = to_new(s.pane) else { continue };
            if entry.subscribers.iter().any(|x| x.pane == p) {
                continue;
            }
            s.pane = p;
            s.since_ts = now_ns();
            entry.subscribers.push(s);
        }
    }
    crate::subs::save_changes(new, &before, &after)
}

/// Dead servers' state: kept for restore while unrestored and younger than
/// the keep time (`ORCH_RESTORE_KEEP_SECS`, default 7 days), at most
/// [`MAX_KEPT`] of them; deleted once restored or past that. Run by
/// survey's GC pass. Returns the keys deleted.
pub fn collect_dead_servers(root: &Path) -> Vec<String> {
    let keep = std::env::var(KEEP_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_KEEP);
    let now = now_ns();
    let mut removed = Vec::new();
    for (i, d) in dead_servers(root).into_iter().enumerate() {
        let restored = !read_marker(&d.dir).into.is_empty();
        let age = Duration::from_nanos(now.saturating_sub(mtime_ns(&d.dir).max(d.created_ts)));
        if (restored || age > keep || i >= MAX_KEPT) && fs::remove_dir_all(&d.dir).is_ok() {
            removed.push(d.key);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pane: u32, parent: Option<u32>) -> (PaneId, PaneRecord) {
        let p: PaneId = format!("%{pane}").parse().unwrap();
        let r = PaneRecord {
            pane: Some(p),
            parent: parent.map(|x| format!("%{x}").parse().unwrap()),
            ..Default::default()
        };
        (p, r)
    }

    #[test]
    fn parents_come_back_before_their_children() {
        let order = in_spawn_order(vec![rec(3, Some(2)), rec(2, Some(1)), rec(1, Some(0))]);
        let panes: Vec<String> = order.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(panes, ["%1", "%2", "%3"]);
    }
}

//! A Codex turn that ends in an API error fires no `Stop` hook (Codex has
//! no StopFailure): without more, orch would show the agent `working`
//! forever and `tell --wait` would run into its timeout. Codex 0.171 does
//! fire `PostModelRequest` for every model request attempt, with
//! `status: "failed"` and the `error` text on a failed one, but retries
//! after it, so one failed attempt does not end the turn. The turn's end is
//! in Codex's rollout (`transcript_path`): an `event_msg` `task_complete`
//! for the turn, with an `error` when it failed.
//!
//! So, as for any work a hook must not wait on: on the first failed attempt
//! of a turn, `orch-hook` starts a short-lived detached watcher
//! (`orch-hook --watch-codex-turn TRANSCRIPT OFFSET TURN`) that reads the
//! rollout from where it was then, until that turn's `task_complete` (or
//! [`WATCH_FOR`], or its pane being gone). An error there becomes a `stop_failure` event (error =
//! Codex's `codex_error_info`, message and reply = its text); a turn that
//! recovered ends in Codex's own `Stop` and the watcher just exits.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::event::{Event, Kind, MESSAGE_KEEP_BYTES, truncate_utf8};
use crate::pane::PaneId;
use crate::server::Server;
use crate::store::Store;

/// How long a watcher waits for the turn to end (Codex's retries back off).
pub const WATCH_FOR: Duration = Duration::from_secs(15 * 60);
/// The rollout has no event orch can wait on (another process writes it).
const POLL: Duration = Duration::from_millis(200);

/// The end of one turn, as the rollout records it.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEnd {
    Completed,
    Failed {
        info: Option<String>,
        message: String,
    },
}

/// `orch-hook … model_request` for codex: on a turn's first failed attempt,
/// start the watcher. Never fails the hook (errors are returned for the
/// errors log).
pub fn on_model_request(payload: &[u8]) -> anyhow::Result<()> {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return Ok(());
    };
    let failed = v["status"].as_str().is_some_and(|s| s != "completed");
    let first = v["attempt_number"].as_u64().is_none_or(|n| n <= 1);
    let (Some(tp), Some(turn)) = (v["transcript_path"].as_str(), v["turn_id"].as_str()) else {
        return Ok(());
    };
    if !failed || !first {
        return Ok(());
    }
    // Read from here on: the turn's end comes after this attempt.
    let offset = std::fs::metadata(tp).map(|m| m.len()).unwrap_or(0);
    let exe = crate::exe::sibling("hook")
        .ok_or_else(|| anyhow::anyhow!("orch-hook not found to watch codex turn {turn}"))?;
    let args = [
        "--harness".to_string(),
        "codex".into(),
        "--watch-codex-turn".into(),
        tp.to_string(),
        offset.to_string(),
        turn.to_string(),
    ];
    crate::exe::spawn_detached(&exe, &args)?;
    Ok(())
}

/// The watcher: wait for `turn`'s end in `transcript` (read from
/// `offset`); a failure becomes a `stop_failure` event for this pane.
pub fn watch(transcript: &Path, offset: u64, turn: &str) -> anyhow::Result<()> {
    let (Some(server), Some(pane)) = (Server::from_env(), PaneId::from_env()) else {
        return Ok(());
    };
    let deadline = Instant::now() + WATCH_FOR;
    let tmux = crate::tmux::Tmux::for_server(&server);
    let mut pos = offset;
    let mut carry = Vec::new();
    for round in 0u64.. {
        if Instant::now() >= deadline {
            break;
        }
        // The agent gone (pane killed mid-retry): nobody to report on.
        if round % 25 == 24 && !tmux.pane_exists(pane) {
            break;
        }
        if let Ok(mut f) = File::open(transcript)
            && f.seek(SeekFrom::Start(pos)).is_ok()
        {
            let mut buf = Vec::new();
            if f.read_to_end(&mut buf).is_ok() {
                pos += buf.len() as u64;
                carry.extend_from_slice(&buf);
                let complete = carry.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let lines: Vec<u8> = carry.drain(..complete).collect();
                match scan(&lines, turn) {
                    Some(TurnEnd::Completed) => return Ok(()),
                    Some(TurnEnd::Failed { info, message }) => {
                        return record_failure(&server, pane, turn, info, message, transcript);
                    }
                    None => {}
                }
            }
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

fn record_failure(
    server: &Server,
    pane: PaneId,
    turn: &str,
    info: Option<String>,
    mut message: String,
    transcript: &Path,
) -> anyhow::Result<()> {
    let store = Store::open(server)?;
    // Two failed model requests in one turn start two watchers: one event.
    let already = store
        .read_events(pane, 0)?
        .into_iter()
        .any(|e| e.kind == Some(Kind::StopFailure) && e.prompt_id.as_deref() == Some(turn));
    if already {
        return Ok(());
    }
    truncate_utf8(&mut message, MESSAGE_KEEP_BYTES);
    let mut ev = Event::new(Kind::StopFailure);
    ev.harness = Some("codex".into());
    ev.prompt_id = Some(turn.to_string());
    ev.transcript_path = Some(transcript.to_string_lossy().into_owned());
    ev.error = Some(info.unwrap_or_else(|| "error".into()));
    ev.reply = Some(message.clone());
    ev.message = Some(message);
    let appended = store.record(pane, ev)?;
    crate::notice::fan_out(&store, pane, &appended);
    Ok(())
}

/// The end of `turn` among complete rollout `lines`, if there.
pub fn scan(lines: &[u8], turn: &str) -> Option<TurnEnd> {
    for line in lines.split(|&b| b == b'\n') {
        if !contains(line, b"\"task_complete\"") && !contains(line, b"\"turn_aborted\"") {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let p = &v["payload"];
        if p["turn_id"].as_str() != Some(turn) {
            continue;
        }
        return Some(match p.get("error").filter(|e| !e.is_null()) {
            Some(e) => TurnEnd::Failed {
                info: e["codex_error_info"].as_str().map(str::to_string),
                message: e["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string()),
            },
            None => TurnEnd::Completed,
        });
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of a Codex 0.171.0 rollout: a turn that recovered after a
    /// failed attempt, then one that failed for good.
    #[test]
    fn finds_the_turns_end_and_its_error() {
        let rollout = concat!(
            r#"{"type":"event_msg","payload":{"type":"token_count","info":null}}"#,
            "\n",
            r#"{"timestamp":"2026-12-02T15:17:23.281Z","ordinal":13,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"t-1","turn_id":"t-1","last_agent_message":"ok after one retry","duration_ms":584}}"#,
            "\n",
            r#"{"timestamp":"2026-12-02T15:17:24.352Z","ordinal":19,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"t-2","turn_id":"t-2","last_agent_message":null,"error":{"message":"We’re currently experiencing high demand, which may cause temporary errors.","codex_error_info":"internal_server_error"},"duration_ms":946}}"#,
            "\n"
        );
        assert_eq!(scan(rollout.as_bytes(), "t-1"), Some(TurnEnd::Completed));
        assert_eq!(
            scan(rollout.as_bytes(), "t-2"),
            Some(TurnEnd::Failed {
                info: Some("internal_server_error".into()),
                message:
                    "We’re currently experiencing high demand, which may cause temporary errors."
                        .into()
            })
        );
        assert_eq!(scan(rollout.as_bytes(), "t-3"), None);
    }
}

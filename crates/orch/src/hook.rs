//! `orch-hook <event>`: the entry point agents' hooks run on every turn.
//!
//! The contract (docs/protocol.md, "Hooks"): never write to stdout (Claude
//! Code reads a Stop hook's stdout as a decision), always exit 0, do nothing
//! outside tmux, read at most [`MAX_PAYLOAD`] bytes of stdin, turn any
//! garbage into an `error` field or record rather than a crash, and be fast.
//! Everything that goes wrong is written to `$ORCH_STATE_DIR/errors.log`.
//!
//! **Each event once.** `orch-spawn` passes orch's hooks to some harnesses on
//! their command line (claude `--settings`, codex `-c notify=…`), as
//! `orch-hook --spawned <event>`, and sets [`SPAWNED_HOOKS_ENV`]`=1` in their
//! pane. Hooks registered globally by `orch up` run too, without
//! `--spawned`; in such a pane they record nothing, so every event is
//! recorded exactly once whether or not `orch up` was run.
//!
//! The payload comes on stdin, or as the argument after the event (codex's
//! `notify` program gets its JSON that way).

use std::io::{self, IsTerminal, Read};

use serde_json::Value;

use crate::event::{
    Event, Kind, MESSAGE_KEEP_BYTES, REPLY_KEEP_BYTES, set_prompt, truncate_utf8, unwrap_pasted,
};
use crate::pane::PaneId;
use crate::server::Server;
use crate::store::{Store, log_error};

/// Payload bytes kept; the rest is drained and the record marked truncated.
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Beyond this much input we stop draining and just exit.
const MAX_DRAIN: usize = 256 * 1024 * 1024;

/// Set to `1` by `orch-spawn` in panes whose agent got orch's hooks on its
/// command line: there, only `orch-hook --spawned` records.
pub const SPAWNED_HOOKS_ENV: &str = "ORCH_SPAWNED_HOOKS";

/// One hook firing, as `orch-hook`'s command line gives it.
#[derive(Debug, Clone, Default)]
pub struct HookRequest {
    /// orch's event name (`stop`) or the harness's (`Stop`); `None`: the
    /// payload's `hook_event_name`.
    pub event: Option<String>,
    /// The payload, when given as an argument (codex's notify) instead of
    /// on stdin.
    pub payload: Option<String>,
    pub harness: Option<String>,
    /// Registered by orch-spawn on the agent's command line (see the
    /// module doc).
    pub spawned: bool,
}

/// Run the hook. Never fails and never prints to stdout.
pub fn run(args: HookRequest) {
    let (Some(server), Some(pane)) = (Server::from_env(), PaneId::from_env()) else {
        return; // not in tmux: nothing to do
    };
    let (payload, truncated) = match args.payload {
        Some(p) => {
            let truncated = p.len() > MAX_PAYLOAD;
            let mut b = p.into_bytes();
            b.truncate(MAX_PAYLOAD);
            (b, truncated)
        }
        None => read_payload(),
    };
    if !args.spawned && std::env::var_os(SPAWNED_HOOKS_ENV).is_some_and(|v| v == "1") {
        return; // the --spawned registration records this one
    }
    let ev = build_event(
        args.event.as_deref(),
        args.harness.as_deref(),
        &payload,
        truncated,
    );
    // The store appends the event, then notice fans it out to the pane's
    // subscribers (docs/subscribe.md).
    let result = Store::open(&server).and_then(|store| {
        let appended = store.record(pane, ev)?;
        crate::notice::fan_out(&store, pane, &appended);
        Ok(())
    });
    if let Err(e) = result
        && let Ok(root) = crate::layout::state_dir()
    {
        log_error(&root, &format!("orch-hook {pane}: {e:#}"));
    }
}

/// Read stdin up to the bound. A terminal on stdin means nobody is piping a
/// payload (someone ran the hook by hand): don't wait for one.
fn read_payload() -> (Vec<u8>, bool) {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return (Vec::new(), false);
    }
    let mut buf = Vec::with_capacity(8192);
    let mut lock = stdin.lock();
    let _ = (&mut lock)
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut buf);
    let truncated = buf.len() > MAX_PAYLOAD;
    if truncated {
        buf.truncate(MAX_PAYLOAD);
        // Drain so the agent writing the payload never sees EPIPE.
        let _ = io::copy(&mut (&mut lock).take(MAX_DRAIN as u64), &mut io::sink());
    }
    (buf, truncated)
}

fn str_field(v: &Value, key: &str, max: usize) -> Option<String> {
    let mut s = v.get(key)?.as_str()?.to_string();
    truncate_utf8(&mut s, max);
    Some(s)
}

/// Turn a hook invocation into an event record. Pure: tested against every
/// captured payload.
pub fn build_event(
    event_arg: Option<&str>,
    harness: Option<&str>,
    payload: &[u8],
    truncated: bool,
) -> Event {
    let parsed: Result<Value, String> = if payload.iter().all(u8::is_ascii_whitespace) {
        Err("empty payload".into())
    } else if truncated {
        Err(format!("payload larger than {MAX_PAYLOAD} bytes"))
    } else {
        match serde_json::from_slice::<Value>(payload) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err("payload is JSON but not an object".into()),
            Err(e) => Err(format!("payload is not valid JSON: {e}")),
        }
    };
    let v = parsed.as_ref().ok().cloned().unwrap_or(Value::Null);
    let name = event_arg
        .map(str::to_string)
        .or_else(|| str_field(&v, "hook_event_name", 64))
        .or_else(|| str_field(&v, "type", 64));
    let kind = name.as_deref().and_then(Kind::from_hook_name);
    let mut ev = Event::new(kind.unwrap_or(Kind::Error));
    ev.truncated = truncated;
    ev.harness = harness
        .map(str::to_string)
        .or_else(|| v.get("hook_event_name").map(|_| "claude".to_string()));
    let mut errors = Vec::new();
    if kind.is_none() {
        errors.push(match &name {
            Some(n) => format!("unknown hook event {n:?}"),
            None => "no event name given and none in the payload".into(),
        });
    }
    if let Err(e) = &parsed {
        errors.push(e.clone());
    }
    // codex's notify payload spells its keys in kebab case.
    ev.session_id = str_field(&v, "session_id", 200).or_else(|| str_field(&v, "thread-id", 200));
    ev.cwd = str_field(&v, "cwd", 4096);
    ev.transcript_path = str_field(&v, "transcript_path", 4096);
    ev.prompt_id = str_field(&v, "prompt_id", 200).or_else(|| str_field(&v, "turn-id", 200));
    match kind {
        Some(Kind::SessionStart) => {
            ev.source = str_field(&v, "source", 64);
            ev.model = str_field(&v, "model", 200);
        }
        Some(Kind::Prompt) => {
            if let Some(p) = v.get("prompt").and_then(Value::as_str) {
                // Recorded as the user sent it, so its hash is the sender's.
                set_prompt(&mut ev, unwrap_pasted(p));
            }
        }
        Some(Kind::Stop) | Some(Kind::StopFailure) => {
            if let Some(mut r) = str_field(&v, "last_assistant_message", usize::MAX)
                .or_else(|| str_field(&v, "last-assistant-message", usize::MAX))
            {
                if truncate_utf8(&mut r, REPLY_KEEP_BYTES) {
                    ev.truncated = true;
                }
                ev.reply = Some(r);
            }
            if kind == Some(Kind::StopFailure) {
                ev.error = match v.get("error") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) if !other.is_null() => Some(other.to_string()),
                    _ => None,
                };
                if let Some(d) = v.get("error_details").filter(|d| !d.is_null()) {
                    let mut m = match d {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    truncate_utf8(&mut m, MESSAGE_KEEP_BYTES);
                    ev.message = Some(m);
                }
            }
        }
        Some(Kind::Notify) => {
            ev.notification_type = str_field(&v, "notification_type", 64);
            ev.message = str_field(&v, "message", MESSAGE_KEEP_BYTES);
        }
        Some(Kind::SessionEnd) => {
            ev.reason = str_field(&v, "reason", 200);
        }
        _ => {}
    }
    if !errors.is_empty() {
        let mut joined = errors.join("; ");
        if let Some(e) = &ev.error {
            joined = format!("{e}; {joined}");
        }
        truncate_utf8(&mut joined, MESSAGE_KEEP_BYTES);
        ev.error = Some(joined);
    }
    ev
}

#[cfg(test)]
mod payload_tests {
    use super::*;

    #[test]
    fn codex_notify_payload() {
        let p = br#"{"type":"agent-turn-complete","thread-id":"t-9","turn-id":"u-1","cwd":"/w","input-messages":["hi"],"last-assistant-message":"done"}"#;
        let ev = build_event(Some("stop"), Some("codex"), p, false);
        assert_eq!(ev.kind, Some(Kind::Stop));
        assert_eq!(ev.session_id.as_deref(), Some("t-9"));
        assert_eq!(ev.prompt_id.as_deref(), Some("u-1"));
        assert_eq!(ev.reply.as_deref(), Some("done"));
        assert_eq!(ev.harness.as_deref(), Some("codex"));
        assert!(ev.error.is_none());
        // Without an event argument the payload's `type` names it.
        let ev = build_event(None, Some("codex"), p, false);
        assert_eq!(ev.kind, Some(Kind::Stop));
    }
}

//! `orch-hook <event>`: the entry point agents' hooks run on every turn.
//!
//! The contract (docs/protocol.md, "Hooks"): never write to stdout (Claude
//! Code reads a Stop hook's stdout as a decision), always exit 0, do nothing
//! outside tmux, read at most [`MAX_PAYLOAD`] bytes of stdin, turn any
//! garbage into an `error` field or record rather than a crash, and be fast.
//! Everything that goes wrong is written to `$ORCH_STATE_DIR/errors.log`.
//!
//! **Each event once.** `orch-spawn` passes orch's hooks to some harnesses on
//! their command line (claude `--settings`, codex `-c hooks.<Event>=…`), as
//! `orch-hook --spawned <event>`, and sets [`SPAWNED_HOOKS_ENV`]`=1` in their
//! pane. Hooks registered globally by `orch up` run too, without
//! `--spawned`; in such a pane they record nothing, so every event is
//! recorded exactly once whether or not `orch up` was run.
//!
//! The payload comes on stdin, or as the argument after the event (the
//! legacy codex `notify` program, from an older `orch up`, gets its JSON
//! that way).
//!
//! **Permission prompts.** Claude Code's and Codex's `PermissionRequest`
//! hook (fired as the permission dialog is drawn) becomes a `notify`
//! `permission_prompt` event with `source: "PermissionRequest"` and the
//! tool and its command in `message` ([`permission_request`]). Claude Code
//! also fires a `permission_prompt` `Notification` for the same dialog
//! once nobody has answered for 6 s; that one is not recorded
//! ([`is_duplicate_permission_notification`]), so the dialog is one state
//! change, one notice and one alert. A `PermissionRequest` hook that
//! printed JSON could answer the dialog: orch-hook never prints.

use std::io::{self, IsTerminal, Read};
use std::time::{Duration, Instant};

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
    if args.harness.as_deref() == Some("codex") && args.event.as_deref() == Some("model_request") {
        // Records nothing itself; see harness::codex_watch.
        if let Err(e) = crate::harness::codex_watch::on_model_request(&payload)
            && let Ok(root) = crate::layout::state_dir()
        {
            log_error(&root, &format!("orch-hook {pane}: {e:#}"));
        }
        return;
    }
    let mut ev = build_event(
        args.event.as_deref(),
        args.harness.as_deref(),
        &payload,
        truncated,
    );
    reply_from_transcript(&mut ev);
    // The store appends the event, then notice fans it out to the pane's
    // subscribers (docs/subscribe.md).
    let result = Store::open(&server).and_then(|store| {
        if is_duplicate_permission_notification(&store, pane, &ev) {
            return Ok(());
        }
        let lagging = crate::deliver::confirm::annotate_injected(&store, pane, &mut ev);
        let appended = store.record(pane, ev)?;
        crate::deliver::confirm::audit_confirmed(&store, pane, &appended);
        if lagging {
            crate::deliver::confirm::watch_lagging(&store, pane, &appended.event);
        }
        crate::notice::fan_out(&store, pane, &appended);
        // Only a permission prompt or a rate limit raises one: other events
        // cost a match.
        if let Some(alert) = crate::alert::from_event(&store, pane, &appended.event) {
            crate::alert::raise(&store, alert);
        }
        Ok(())
    });
    if let Err(e) = result
        && let Ok(root) = crate::layout::state_dir()
    {
        log_error(&root, &format!("orch-hook {pane}: {e:#}"));
    }
}

/// Is `ev` Claude Code's `permission_prompt` Notification for a dialog
/// whose `PermissionRequest` is already recorded? It is when the pane's last
/// hook event (orch's `sent` aside) is that request's `notify`, of the same
/// session and turn: nothing happened in between, so it is the same dialog,
/// 6 s on. Only such a Notification reads the log.
fn is_duplicate_permission_notification(store: &Store, pane: PaneId, ev: &Event) -> bool {
    if ev.kind != Some(Kind::Notify)
        || ev.notification_type.as_deref() != Some("permission_prompt")
        || ev.source.is_some()
    {
        return false;
    }
    let last = store.last_event_where(pane, |e| {
        !matches!(e.kind, Some(Kind::Sent) | Some(Kind::Error))
    });
    let Ok(Some(last)) = last else {
        return false;
    };
    let same = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
    last.kind == Some(Kind::Notify)
        && last.notification_type.as_deref() == Some("permission_prompt")
        && last.source.as_deref() == Some(PERMISSION_REQUEST)
        && same(&last.session_id, &ev.session_id)
        && same(&last.prompt_id, &ev.prompt_id)
}

/// How long the hook waits for more of a payload that is not yet a whole
/// JSON value: in all (from the first read) and between two chunks. An
/// agent writes its payload at once and closes the pipe; one that keeps
/// the pipe open (or a stuck writer) must not hold up its own turn.
const STDIN_TOTAL: Duration = Duration::from_secs(3);
const STDIN_IDLE: Duration = Duration::from_millis(1000);

/// Gemini CLI's `AfterAgent` `prompt_response` is garbled when the reply
/// streamed in several chunks; its transcript, written just before the
/// hook runs, has the text as sent (`harness::gemini`).
fn reply_from_transcript(ev: &mut Event) {
    if ev.kind != Some(Kind::Stop) || ev.harness.as_deref() != Some("gemini") {
        return;
    }
    let Some(path) = &ev.transcript_path else {
        return;
    };
    if let Some(mut r) = crate::harness::gemini::reply_from_transcript(std::path::Path::new(path)) {
        ev.truncated |= truncate_utf8(&mut r, REPLY_KEEP_BYTES);
        ev.reply = Some(r);
    }
}

/// The `source` of a `notify` raised by a `PermissionRequest` hook.
pub const PERMISSION_REQUEST: &str = "PermissionRequest";

/// Harness notification types that mean what orch calls
/// `permission_prompt` (Gemini CLI: `ToolPermission`).
const PERMISSION_NOTIFICATIONS: &[&str] = &["ToolPermission"];

/// Read stdin up to the bound. A terminal on stdin means nobody is piping a
/// payload (someone ran the hook by hand): don't wait for one. Reading
/// stops at EOF, as soon as what was read is one complete JSON value (the
/// pipe may stay open: `(echo '{}'; sleep 6) | orch-hook stop` returns at
/// once), or when the writer goes quiet ([`STDIN_IDLE`], [`STDIN_TOTAL`]).
fn read_payload() -> (Vec<u8>, bool) {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return (Vec::new(), false);
    }
    let mut buf = Vec::with_capacity(8192);
    let mut lock = stdin.lock();
    let start = Instant::now();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = STDIN_TOTAL.saturating_sub(start.elapsed()).min(STDIN_IDLE);
        if left.is_zero() || !readable_within(&lock, left) {
            break;
        }
        match lock.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_PAYLOAD || is_complete_json(&buf) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let truncated = buf.len() > MAX_PAYLOAD;
    if truncated {
        buf.truncate(MAX_PAYLOAD);
        // Drain so the agent writing the payload never sees EPIPE (bounded
        // in size and, by the same quiet rule, in time).
        let mut drained = 0;
        while drained < MAX_DRAIN && readable_within(&lock, STDIN_IDLE) {
            match lock.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
    (buf, truncated)
}

/// Parse a payload as JSON, forgiving what agents really emit: a lone UTF-16
/// surrogate escape (`"\ud83d"`, which JavaScript's `JSON.stringify` writes
/// for half an emoji cut at a length limit) or a byte that is not UTF-8.
/// Strict parsers reject the whole payload for either, and the turn's reply
/// was lost over one character; the retry replaces each with U+FFFD.
pub fn parse_payload(payload: &[u8]) -> serde_json::Result<Value> {
    let err = match serde_json::from_slice::<Value>(payload) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let repaired = replace_lone_surrogates(&String::from_utf8_lossy(payload));
    serde_json::from_str::<Value>(&repaired).map_err(|_| err)
}

/// `\uD800`–`\uDFFF` escapes that are not a high-low pair become `\uFFFD`.
/// Escaped backslashes are skipped as pairs, so `\\ud83d` (a literal
/// backslash and `ud83d`) is left alone.
fn replace_lone_surrogates(s: &str) -> String {
    fn hex4(b: &[u8]) -> Option<u16> {
        let h = std::str::from_utf8(b.get(..4)?).ok()?;
        u16::from_str_radix(h, 16).ok()
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2; // an escape of one character, `\\` included
            continue;
        }
        let Some(u) = hex4(&b[i + 2..]) else {
            i += 2;
            continue;
        };
        let paired_low = |j: usize| {
            b.get(j) == Some(&b'\\')
                && b.get(j + 1) == Some(&b'u')
                && hex4(&b[(j + 2).min(b.len())..]).is_some_and(|l| (0xDC00..=0xDFFF).contains(&l))
        };
        match u {
            0xD800..=0xDBFF if paired_low(i + 6) => i += 12,
            0xD800..=0xDFFF => {
                out.push_str(&s[copied..i]);
                out.push_str("\\uFFFD");
                i += 6;
                copied = i;
            }
            _ => i += 6,
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// Does `fd` have input (or EOF) within `wait`? A regular file or
/// `/dev/null` always does.
fn readable_within(fd: &impl std::os::fd::AsFd, wait: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let ms = PollTimeout::try_from(wait.as_millis().max(1) as u64).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, ms) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            // Not pollable: let the read decide.
            Err(_) => return true,
        }
    }
}

/// Is `buf` one whole JSON value (and only whitespace after it)? Only
/// tried when it ends like an object or array does, so a large payload
/// arriving in chunks is not parsed over and over.
fn is_complete_json(buf: &[u8]) -> bool {
    let end = buf.iter().rposition(|b| !b.is_ascii_whitespace());
    if !end.is_some_and(|i| matches!(buf[i], b'}' | b']')) {
        return false;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(buf).is_ok()
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
        match parse_payload(payload) {
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
    let is_permission_request = matches!(
        name.as_deref(),
        Some("permission_request" | "PermissionRequest")
    );
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
    if harness == Some("codex") && ev.prompt_id.is_none() {
        // Codex's hooks name the turn, which is what a prompt id pairs.
        ev.prompt_id = str_field(&v, "turn_id", 200);
    }
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
            // gemini: `prompt_response`, replaced by the transcript's text
            // when there is one (see `reply_from_transcript`).
            if let Some(mut r) = str_field(&v, "last_assistant_message", usize::MAX)
                .or_else(|| str_field(&v, "last-assistant-message", usize::MAX))
                .or_else(|| str_field(&v, "prompt_response", usize::MAX))
            {
                if truncate_utf8(&mut r, REPLY_KEEP_BYTES) {
                    ev.truncated = true;
                }
                ev.reply = Some(r);
            }
            ev.tokens = v.get("usage").and_then(crate::usage::from_opencode);
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
        Some(Kind::Notify) if is_permission_request => permission_request(&mut ev, &v),
        Some(Kind::Notify) => {
            ev.notification_type = str_field(&v, "notification_type", 64).map(|t| {
                if PERMISSION_NOTIFICATIONS.contains(&t.as_str()) {
                    "permission_prompt".to_string()
                } else {
                    t
                }
            });
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

/// A `PermissionRequest` hook: the harness is showing its permission
/// dialog, which is a `permission_prompt` notification in all but name.
/// The message says what it asks about. Codex (it has no Notification
/// event): `tool_input.description`, else the command. Claude Code: the
/// tool and its command (or file, URL, description) — "permission for",
/// not "permission to use", so `orch answer` does not require the tool's
/// name on a dialog that words it otherwise ("Create file" for Write).
fn permission_request(ev: &mut Event, v: &Value) {
    ev.notification_type = Some("permission_prompt".into());
    ev.source = Some(PERMISSION_REQUEST.into());
    let input = v.get("tool_input").unwrap_or(&Value::Null);
    let tool = str_field(v, "tool_name", 200);
    let mut m = if ev.harness.as_deref() == Some("codex") {
        let what = str_field(input, "description", MESSAGE_KEEP_BYTES)
            .or_else(|| str_field(input, "command", MESSAGE_KEEP_BYTES))
            .or(tool);
        match what {
            Some(w) => format!("Codex needs your permission: {w}"),
            None => "Codex needs your permission".into(),
        }
    } else {
        let what = ["command", "file_path", "url", "description"]
            .iter()
            .find_map(|k| str_field(input, k, MESSAGE_KEEP_BYTES));
        match (tool, what) {
            (Some(t), Some(w)) => format!("Claude needs your permission for {t}: {w}"),
            (Some(t), None) => format!("Claude needs your permission for {t}"),
            (None, Some(w)) => format!("Claude needs your permission: {w}"),
            (None, None) => "Claude needs your permission".into(),
        }
    };
    truncate_utf8(&mut m, MESSAGE_KEEP_BYTES);
    ev.message = Some(m);
}

#[cfg(test)]
mod payload_tests {
    use super::*;

    /// Regression (issue 14, item 11): one lone surrogate escape or one
    /// byte that is not UTF-8 made the whole payload "not valid JSON", and
    /// the turn's reply was dropped.
    #[test]
    fn lone_surrogate_or_invalid_utf8_keeps_the_reply() {
        let cases: [(&[u8], &str); 5] = [
            (
                br#"{"last_assistant_message":"cut \ud83d"}"#,
                "cut \u{fffd}",
            ),
            (
                br#"{"last_assistant_message":"\udc00 low first"}"#,
                "\u{fffd} low first",
            ),
            (
                b"{\"last_assistant_message\":\"bad \xff byte\"}",
                "bad \u{fffd} byte",
            ),
            // A real pair, and an escaped backslash before `ud83d`, stay.
            (
                br#"{"last_assistant_message":"\ud83c\udf89 \\ud83d \ud800"}"#,
                "\u{1f389} \\ud83d \u{fffd}",
            ),
            (br#"{"last_assistant_message":"\ud83d\u0041"}"#, "\u{fffd}A"),
        ];
        for (payload, reply) in cases {
            let ev = build_event(Some("stop"), None, payload, false);
            assert_eq!(ev.kind, Some(Kind::Stop));
            assert_eq!(ev.error, None, "{}", String::from_utf8_lossy(payload));
            assert_eq!(ev.reply.as_deref(), Some(reply));
        }
        // Still not JSON after the repair: the first error is reported.
        let ev = build_event(Some("stop"), None, b"{\"a\": \xff", false);
        assert!(ev.error.unwrap().contains("not valid JSON"));
    }

    /// Payloads captured from Gemini CLI 0.61.0 (shared/recipes/gemini).
    #[test]
    fn gemini_payloads() {
        let n = br#"{"session_id":"s1","transcript_path":"/t.jsonl","cwd":"/p","hook_event_name":"Notification","notification_type":"ToolPermission","message":"Tool Confirm Shell Command requires execution","details":{"type":"exec","command":"touch x"}}"#;
        let ev = build_event(Some("notify"), Some("gemini"), n, false);
        assert_eq!(ev.kind, Some(Kind::Notify));
        assert_eq!(ev.notification_type.as_deref(), Some("permission_prompt"));
        assert_eq!(ev.harness.as_deref(), Some("gemini"));
        let a = br#"{"session_id":"s1","transcript_path":"/nonexistent/t.jsonl","cwd":"/p","hook_event_name":"AfterAgent","prompt":"say hi","prompt_response":"Hi MOCK-OK","stop_hook_active":false}"#;
        let mut ev = build_event(Some("stop"), Some("gemini"), a, false);
        assert_eq!(ev.kind, Some(Kind::Stop));
        reply_from_transcript(&mut ev);
        assert_eq!(
            ev.reply.as_deref(),
            Some("Hi MOCK-OK"),
            "no transcript: the payload's"
        );
        let b = br#"{"session_id":"s1","hook_event_name":"BeforeAgent","prompt":"say hi"}"#;
        let ev = build_event(Some("prompt"), Some("gemini"), b, false);
        assert_eq!(ev.prompt.as_deref(), Some("say hi"));
    }

    /// Claude Code's `PermissionRequest` (payload shape of 2.1.197 and
    /// 2.1.332): a `permission_prompt` notify naming the tool and what it
    /// touches, never "permission to use" (which `orch answer` would then
    /// look for on a screen that may word the tool otherwise).
    #[test]
    fn claude_permission_request_names_the_tool_and_what_it_touches() {
        let cases = [
            (
                r#"{"tool_name":"Bash","tool_input":{"command":"touch x","description":"Make x"}}"#,
                "Claude needs your permission for Bash: touch x",
            ),
            (
                r#"{"tool_name":"Write","tool_input":{"file_path":"/p/a.txt","content":"hi"}}"#,
                "Claude needs your permission for Write: /p/a.txt",
            ),
            (
                r#"{"tool_name":"mcp__x__y","tool_input":{}}"#,
                "Claude needs your permission for mcp__x__y",
            ),
            (
                r#"{"tool_input":{"url":"https://e"}}"#,
                "Claude needs your permission: https://e",
            ),
            (r#"{}"#, "Claude needs your permission"),
        ];
        for (extra, message) in cases {
            let mut v: Value = serde_json::from_str(extra).unwrap();
            v["hook_event_name"] = "PermissionRequest".into();
            v["session_id"] = "s".into();
            v["prompt_id"] = "p".into();
            let payload = v.to_string();
            let ev = build_event(Some("permission_request"), None, payload.as_bytes(), false);
            assert_eq!(ev.kind, Some(Kind::Notify), "{payload}");
            assert_eq!(ev.harness.as_deref(), Some("claude"));
            assert_eq!(ev.notification_type.as_deref(), Some("permission_prompt"));
            assert_eq!(ev.source.as_deref(), Some(PERMISSION_REQUEST));
            assert_eq!(ev.prompt_id.as_deref(), Some("p"));
            assert_eq!(ev.message.as_deref(), Some(message));
            assert!(!message.contains("permission to use"));
            assert!(ev.error.is_none());
        }
        // A Notification is not a PermissionRequest: no source.
        let n = br#"{"hook_event_name":"Notification","notification_type":"permission_prompt","message":"Claude needs your permission"}"#;
        let ev = build_event(Some("notify"), None, n, false);
        assert_eq!(ev.source, None);
    }

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

    /// Payloads Codex 0.171.0 passed to orch's per-spawn hooks.
    #[test]
    fn codex_hook_payloads() {
        let perm = br#"{"session_id":"01a23723-315d-7951-9e2f-cd674a22867c","turn_id":"01a23723-478c-7c02-bef1-ea73ed5b95c8","transcript_path":"/h/.codex/sessions/2026/12/02/rollout-x.jsonl","cwd":"/w/proj","hook_event_name":"PermissionRequest","model":"mock-model","permission_mode":"default","tool_name":"Bash","tool_input":{"command":"touch made.txt && echo TOOL-RAN","description":"Mock model asks to run: touch made.txt && echo TOOL-RAN"}}"#;
        let ev = build_event(Some("permission_request"), Some("codex"), perm, false);
        assert_eq!(ev.kind, Some(Kind::Notify));
        assert_eq!(ev.notification_type.as_deref(), Some("permission_prompt"));
        assert_eq!(
            ev.message.as_deref(),
            Some(
                "Codex needs your permission: Mock model asks to run: touch made.txt && echo TOOL-RAN"
            )
        );
        assert_eq!(
            ev.session_id.as_deref(),
            Some("01a23723-315d-7951-9e2f-cd674a22867c")
        );
        assert!(ev.error.is_none());
        assert_eq!(ev.source.as_deref(), Some("PermissionRequest"));

        let stop = br#"{"session_id":"s-1","turn_id":"t-1","transcript_path":"/t.jsonl","cwd":"/w","hook_event_name":"Stop","model":"mock-model","permission_mode":"default","stop_hook_active":false,"last_assistant_message":"Hi from the mock API! MOCK-OK"}"#;
        let ev = build_event(Some("stop"), Some("codex"), stop, false);
        assert_eq!(ev.kind, Some(Kind::Stop));
        assert_eq!(ev.reply.as_deref(), Some("Hi from the mock API! MOCK-OK"));
        let prompt = br#"{"session_id":"s-1","turn_id":"t-1","hook_event_name":"UserPromptSubmit","prompt":"line one\nline two"}"#;
        let ev = build_event(Some("prompt"), Some("codex"), prompt, false);
        assert_eq!(ev.kind, Some(Kind::Prompt));
        assert_eq!(ev.prompt.as_deref(), Some("line one\nline two"));
    }
}

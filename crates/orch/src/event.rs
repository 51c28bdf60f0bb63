//! Event records: one JSON object per line in a pane's event log.
//!
//! The schema is documented in `docs/protocol.md` ("Event record"); field
//! names are stable. Optional fields are omitted when absent.

use serde::{Deserialize, Serialize};

use crate::pane::PaneId;

/// Schema version written in every record's `v`.
pub const SCHEMA_VERSION: u32 = 1;

/// Longest prompt text kept in a `prompt`/`sent` record; longer prompts keep
/// this much plus their full length and hash.
pub const PROMPT_KEEP_BYTES: usize = 4096;
/// Longest reply kept in a `stop` record (`reply_truncated` marks the cut).
pub const REPLY_KEEP_BYTES: usize = 256 * 1024;
/// Longest notification message / error text kept.
pub const MESSAGE_KEEP_BYTES: usize = 4096;

/// Every notice orch types into a subscriber starts with this, so the turn
/// it starts is recognisable (see [`crate::notice`]).
pub const NOTICE_PREFIX: &str = "[orch] ";

/// Is this prompt text one of orch's notices?
pub fn is_notice_text(prompt: &str) -> bool {
    prompt.trim_start().starts_with(NOTICE_PREFIX)
}

/// What happened. Hook events first, then orch's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The agent session started (or resumed/cleared/compacted): it is ready.
    SessionStart,
    /// The agent accepted a prompt (Claude Code `UserPromptSubmit`).
    Prompt,
    /// The agent finished a turn; `reply` holds its last message.
    Stop,
    /// The turn ended in an API error (rate limit, overload, auth…).
    StopFailure,
    /// The agent needs attention (`notification_type`: `permission_prompt`,
    /// `idle_prompt`, …).
    Notify,
    /// The agent session ended (`reason`).
    SessionEnd,
    /// orch typed a prompt into this pane (written by `orch-tell`).
    Sent,
    /// orch started an agent in this pane (written by `orch-spawn`).
    Spawned,
    /// orch observed the agent process gone / asked it to stop.
    Exited,
    /// A hook firing orch could not make sense of (bad payload, unknown
    /// event name). Kept so nothing fails silently.
    Error,
}

pub const ALL_KINDS: &[Kind] = &[
    Kind::SessionStart,
    Kind::Prompt,
    Kind::Stop,
    Kind::StopFailure,
    Kind::Notify,
    Kind::SessionEnd,
    Kind::Sent,
    Kind::Spawned,
    Kind::Exited,
    Kind::Error,
];

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::SessionStart => "session_start",
            Kind::Prompt => "prompt",
            Kind::Stop => "stop",
            Kind::StopFailure => "stop_failure",
            Kind::Notify => "notify",
            Kind::SessionEnd => "session_end",
            Kind::Sent => "sent",
            Kind::Spawned => "spawned",
            Kind::Exited => "exited",
            Kind::Error => "error",
        }
    }

    /// Map a hook event name, either orch's (`stop`) or a harness's
    /// (`Stop`, `UserPromptSubmit`, gemini's `AfterAgent`…), to a kind.
    pub fn from_hook_name(name: &str) -> Option<Kind> {
        Some(match name {
            "session_start" | "SessionStart" => Kind::SessionStart,
            "prompt" | "UserPromptSubmit" | "BeforeAgent" => Kind::Prompt,
            "stop" | "Stop" | "AfterAgent" | "agent-turn-complete" => Kind::Stop,
            "stop_failure" | "StopFailure" => Kind::StopFailure,
            // Claude Code's and Codex's `PermissionRequest` (the dialog is
            // up) is a `permission_prompt` notification (`hook.rs`).
            "notify" | "Notification" | "permission_request" | "PermissionRequest" => Kind::Notify,
            "session_end" | "SessionEnd" => Kind::SessionEnd,
            _ => return None,
        })
    }

    /// Kinds that end a turn or need someone's attention: what a listener
    /// waits for by default.
    pub fn is_turn_end(&self) -> bool {
        matches!(
            self,
            Kind::Stop | Kind::StopFailure | Kind::Notify | Kind::SessionEnd
        )
    }
}

named_enum!(Kind, ALL_KINDS, |s| {
    let names: Vec<_> = ALL_KINDS.iter().map(|k| k.as_str()).collect();
    format!(
        "unknown event kind {s:?}; known kinds: {}",
        names.join(", ")
    )
});

/// One event. Fields beyond the first five depend on the kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version.
    pub v: u32,
    /// Per-pane sequence number, from 1, strictly increasing.
    pub seq: u64,
    /// Wall-clock time of the append, nanoseconds since the Unix epoch.
    pub ts: u64,
    pub pane: Option<PaneId>,
    pub kind: Option<Kind>,
    /// The agent's name (from the registry at the time of the append).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    /// session_start: `startup`, `resume`, `clear`, `compact`. notify: the
    /// harness hook that raised it when that was not a notification
    /// (`PermissionRequest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_id: Option<String>,
    /// prompt/sent: the text, at most [`PROMPT_KEEP_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// prompt/sent: full length of the text in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_len: Option<u64>,
    /// prompt/sent: [`prompt_hash`] of the full text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_hash: Option<String>,
    /// stop: the agent's last message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// stop/stop_failure: token use the harness reported with the turn end
    /// (opencode, whose usage is in its events, not in a transcript file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<crate::usage::Tokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// session_end: why (`prompt_input_exit`, `clear`, `logout`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// error / stop_failure: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Some field or the whole payload was cut to fit a bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// sent: the pane that sent the prompt (None when sent from outside tmux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PaneId>,
    /// Free-form extras a kind needs (e.g. spawn's command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl Event {
    pub fn new(kind: Kind) -> Event {
        Event {
            v: SCHEMA_VERSION,
            kind: Some(kind),
            ..Default::default()
        }
    }
}

/// Cut `s` to at most `max` bytes on a char boundary. Returns whether it cut.
pub fn truncate_utf8(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

/// The text form prompts are compared in (docs/protocol.md, "Prompt
/// matching"): what survives the ways harnesses re-type a prompt, and
/// nothing more. CR and CRLF become LF; on each line, runs of spaces and
/// tabs become one space and trailing ones go (Claude Code trims inline
/// pastes and turns a tab into four spaces); blank lines at either end go.
/// Words, their order, the line breaks between them and every other
/// character stay, so two prompts that differ in anything but whitespace
/// width never compare equal.
pub fn normalize_prompt(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    for (i, line) in unified.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut gap = false;
        for c in line.chars() {
            if c == ' ' || c == '\t' {
                gap = true;
                continue;
            }
            if gap && !out.is_empty() && !out.ends_with('\n') {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        }
    }
    out.trim_matches('\n').to_string()
}

/// A prompt as the agent reported it, with the wrapper the harness put
/// around a pasted text taken off. Claude Code (2.1.3xx) submits a paste
/// over 800 characters or of 3+ line breaks as
/// `\n\n<pasted_content id="XXXX">\n` + text + `\n</pasted_content id="XXXX">\n`
/// (the id: 4 hex digits of the session id's sha256). Only a prompt that
/// is exactly one such wrapper, with matching ids, is unwrapped: anything
/// typed around it would make it another prompt.
pub fn unwrap_pasted(prompt: &str) -> &str {
    const OPEN: &str = "<pasted_content id=\"";
    let t = prompt.trim_matches('\n');
    let Some(rest) = t.strip_prefix(OPEN) else {
        return prompt;
    };
    let Some((id, body)) = rest.split_once("\">\n") else {
        return prompt;
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return prompt;
    }
    let close = format!("\n</pasted_content id=\"{id}\">");
    match body.strip_suffix(close.as_str()) {
        Some(inner) if !inner.contains(OPEN) => inner,
        _ => prompt,
    }
}

/// FNV-1a, 64 bit: a stable fingerprint (std's hasher is not guaranteed
/// stable across Rust versions, and hashes outlive them in logs and the
/// install manifest). Not cryptographic.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `fnv1a64:<16 hex>` of the normalized text: it only has to match a
/// receipt to what was sent.
pub fn prompt_hash(text: &str) -> String {
    format!(
        "fnv1a64:{:016x}",
        fnv1a64(normalize_prompt(text).as_bytes())
    )
}

/// Fill the prompt fields of `ev` from the full text.
pub fn set_prompt(ev: &mut Event, text: &str) {
    let mut kept = text.to_string();
    if truncate_utf8(&mut kept, PROMPT_KEEP_BYTES) {
        ev.truncated = true;
    }
    ev.prompt_len = Some(text.len() as u64);
    ev.prompt_hash = Some(prompt_hash(text));
    ev.prompt = Some(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in ALL_KINDS {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
            let j = serde_json::to_string(k).unwrap();
            assert_eq!(j, format!("\"{}\"", k.as_str()));
        }
        assert!("bogus".parse::<Kind>().unwrap_err().contains("known kinds"));
    }

    #[test]
    fn hash_ignores_line_endings_and_outer_space() {
        assert_eq!(prompt_hash("a\r\nb\n"), prompt_hash("  a\nb"));
        assert_ne!(prompt_hash("a b"), prompt_hash("ab"));
    }

    /// What Claude Code does to a pasted prompt still matches it; any
    /// change to the words, their order or the line breaks does not.
    #[test]
    fn hash_tolerates_how_harnesses_retype_whitespace_only() {
        let sent = "col\tsep  values  \r\nline two\t\n\n  indented\n";
        for seen in [
            "col    sep values\nline two\n\n indented",
            "col sep values\r\nline two\n\nindented\n\n",
        ] {
            assert_eq!(prompt_hash(sent), prompt_hash(seen), "{seen:?}");
        }
        for other in [
            "colsep values\nline two\n\nindented",
            "col sep values line two\n\nindented",
            "col sep values\nline two\nindented",
            "col sep values\nline two\n\nindented too",
            "col sep values\nline two\n\nIndented",
        ] {
            assert_ne!(prompt_hash(sent), prompt_hash(other), "{other:?}");
        }
    }

    /// Claude Code 2.1.332's UserPromptSubmit payload for a 4-line paste.
    #[test]
    fn pasted_content_wrapper_is_taken_off_exactly() {
        let text = "alpha line\nbeta\ngamma\nOMEGA-END";
        let wrapped =
            format!("\n\n<pasted_content id=\"5f62\">\n{text}\n</pasted_content id=\"5f62\">\n");
        assert_eq!(unwrap_pasted(&wrapped), text);
        // Anything else is left as it is: mismatched ids, text around the
        // paste, two pastes, no wrapper.
        for kept in [
            format!("<pasted_content id=\"5f62\">\n{text}\n</pasted_content id=\"0000\">"),
            format!(
                "intro\n\n<pasted_content id=\"5f62\">\n{text}\n</pasted_content id=\"5f62\">\n"
            ),
            format!("<pasted_content id=\"5f62\">\n{text}\n</pasted_content id=\"5f62\">\nmore"),
            "<pasted_content id=\"a\">\nx\n</pasted_content id=\"a\">\n<pasted_content id=\"a\">\ny\n</pasted_content id=\"a\">"
                .to_string(),
            text.to_string(),
        ] {
            assert_eq!(unwrap_pasted(&kept), kept);
        }
    }

    #[test]
    fn truncates_on_char_boundary() {
        let mut s = "héllo".to_string();
        assert!(truncate_utf8(&mut s, 2));
        assert_eq!(s, "h");
    }
}

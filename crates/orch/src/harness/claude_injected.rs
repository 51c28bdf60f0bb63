//! Messages Claude Code took into a running turn, read from its transcript.
//!
//! A prompt typed while a turn runs a tool is not submitted as a turn of its
//! own: at the next tool result Claude Code hands it to the running turn
//! ("The user sent a new message while you were working: …"). 2.1.197 fires
//! no `UserPromptSubmit` for it, so no `prompt` event is its receipt; both
//! 2.1.197 and 2.1.332 record it in the session's JSONL transcript as
//!
//! ```json
//! {"type":"attachment","attachment":{"type":"queued_command","prompt":"…","commandMode":"prompt",…},…}
//! ```
//!
//! written when the turn takes it (after the tool result). Typing it first
//! writes a `{"type":"queue-operation","operation":"enqueue",…}` line: that
//! only says the text sits in Claude's queue (it may still be removed, or run
//! later as its own turn), so it is not a confirmation. The newest CLI
//! wraps a paste in the attachment as in its prompts
//! (`<pasted_content id="…">`, taken off by [`unwrap_pasted`]).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use crate::event::{prompt_hash, unwrap_pasted};

/// At most this much of a transcript is read from the first offset asked
/// for (the hook runs this at a turn end and must stay quick).
const SCAN_MAX: u64 = 16 * 1024 * 1024;

/// Every message taken into a running turn that the transcript at `path`
/// records from byte `offset` on, in order: (the byte offset of its line,
/// its `prompt_hash`). Nothing when the file cannot be read.
pub fn injected_hashes(path: &Path, offset: u64) -> Vec<(u64, String)> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    // A transcript that shrank is another file: read it whole.
    let start = if offset > len { 0 } else { offset };
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut reader = BufReader::new(f.take(SCAN_MAX));
    let mut line = Vec::new();
    let mut at = start;
    loop {
        line.clear();
        let line_at = at;
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n as u64,
        }
        // Most lines (tool output, assistant messages) are skipped unparsed.
        if !contains(&line, b"queued_command") {
            continue;
        }
        if let Some(h) = injected_hash(&line) {
            out.push((line_at, h));
        }
    }
    out
}

/// The hash of the message a transcript line records as taken into the
/// running turn, if it is such a line.
fn injected_hash(line: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(line).ok()?;
    if v.get("type")?.as_str()? != "attachment" {
        return None;
    }
    let a = v.get("attachment")?;
    if a.get("type")?.as_str()? != "queued_command" {
        return None;
    }
    // A queued slash command or bash-mode line is not a prompt orch sent.
    if a.get("commandMode")
        .and_then(Value::as_str)
        .is_some_and(|m| m != "prompt")
    {
        return None;
    }
    let prompt = a.get("prompt")?.as_str()?;
    Some(prompt_hash(unwrap_pasted(prompt)))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The transcript's size now: where a scan for what is taken in after this
/// moment starts.
pub fn transcript_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as Claude Code 2.1.197 and 2.1.332 wrote them (trimmed of
    /// fields that do not matter here), from a turn running `sleep 8`
    /// while a message was typed.
    const ENQUEUE: &str = r#"{"type":"queue-operation","operation":"enqueue","timestamp":"2026-12-02T17:16:42.159Z","sessionId":"s","content":"MESSAGE B mid tool"}"#;
    const PINNED: &str = r#"{"parentUuid":"4f37","isSidechain":false,"attachment":{"type":"queued_command","prompt":"MESSAGE B mid tool\nline two\n    line three\nline four","commandMode":"prompt","origin":{"kind":"human"},"timestamp":"2026-12-02T17:18:36.093Z"},"type":"attachment","uuid":"2d94","version":"2.1.197"}"#;
    const NEWEST: &str = r#"{"parentUuid":"7e4d","isSidechain":false,"attachment":{"type":"queued_command","prompt":"<pasted_content id=\"6236\">\nMESSAGE B mid tool\nline two\n    line three\nline four  \n</pasted_content id=\"6236\">","source_uuid":"18ee","commandMode":"prompt","origin":{"kind":"human"},"humanTurn":true},"type":"attachment","uuid":"cde3","rendered":[{"content":"<system-reminder>\nThe user sent a new message while you were working:\n…"}],"version":"2.1.332"}"#;

    #[test]
    fn injected_messages_are_found_by_the_receipt_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        let sent = "MESSAGE B mid tool\nline two\n\tline three\nline four  ";
        let head = format!("{ENQUEUE}\n");
        std::fs::write(&p, format!("{head}{PINNED}\n{NEWEST}\n")).unwrap();
        let want = prompt_hash(sent);
        let first = head.len() as u64;
        let second = first + PINNED.len() as u64 + 1;
        assert_eq!(
            injected_hashes(&p, 0),
            [(first, want.clone()), (second, want)]
        );
        // Only what was written from the offset on.
        assert_eq!(injected_hashes(&p, second).len(), 1);
        // An offset past the end (another file now): read from the start.
        assert_eq!(injected_hashes(&p, 1 << 40).len(), 2);
    }

    /// Regression: the enqueue line is written as the text is typed, and
    /// a message still in the queue is not yet taken by the turn.
    #[test]
    fn a_message_only_enqueued_is_not_injected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, format!("{ENQUEUE}\n")).unwrap();
        assert!(injected_hashes(&p, 0).is_empty());
        let slash = PINNED.replace(r#""commandMode":"prompt""#, r#""commandMode":"bash""#);
        std::fs::write(&p, format!("{slash}\n")).unwrap();
        assert!(injected_hashes(&p, 0).is_empty());
        assert!(injected_hashes(&dir.path().join("none"), 0).is_empty());
    }
}

//! Token use of an agent, from its transcript (JSONL): Claude Code's, pi's,
//! Codex's rollout file (see [`codex_line`]) and Gemini CLI's; opencode
//! keeps its sessions in SQLite, so its plugin reports usage with each turn
//! end instead ([`from_opencode`]).
//!
//! Gemini CLI writes one `{"type":"gemini", "tokens": {input, output,
//! cached, …}}` line per model message; `input` includes `cached`.
//!
//! Every assistant entry carries `message.usage` {`input_tokens`,
//! `cache_creation_input_tokens`, `cache_read_input_tokens`,
//! `output_tokens`}. pi's session file is the same idea in other words:
//! `{"type": "message", "message": {"role": "assistant", "responseId",
//! "usage": {"input", "cacheWrite", "cacheRead", "output"}}}`. The context an agent is carrying is what its latest
//! model call read: input + cache creation + cache read. Its total output is
//! the sum over the session, counting each API message once (Claude Code
//! writes one entry per content block, all with the same `message.id`).
//!
//! Transcripts grow to many megabytes, and survey runs every few seconds,
//! so reads are bounded and incremental: a cache (`<server dir>/usage.json`,
//! one file for all panes so a refresh writes at most one file) remembers
//! how far each transcript was counted. A refresh whose transcript did not
//! grow costs one `stat`; one that grew reads only the new bytes. When more
//! than [`MAX_READ`] is new (first sight of a long session, a huge burst),
//! only the last [`TAIL_BYTES`] are read and the total is marked incomplete.
//! Entries of panes that no longer have a registry record are dropped when
//! the cache is saved, so it never outgrows the registry.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;

/// Read at most this much new transcript per refresh.
pub const MAX_READ: u64 = 4 * 1024 * 1024;
/// When more than [`MAX_READ`] is new, read this much of the end instead.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// What survey reports as `tokens`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// Tokens the latest model call read: input + cache_creation + cache_read.
    pub context: u64,
    pub input: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
    /// Output tokens over the session (each API message counted once).
    pub output_total: u64,
    /// False when part of the transcript was skipped (see module doc), so
    /// `output_total` covers only its end.
    pub output_total_complete: bool,
    /// The model of the latest call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The per-pane cache: how far the transcript has been counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cache {
    path: String,
    ino: u64,
    /// Bytes consumed (always at a line boundary).
    offset: u64,
    tokens: Tokens,
    /// Latest assistant message id and the output counted for it, so a
    /// message split over several entries is counted once.
    last_id: Option<String>,
    last_output: u64,
    /// Whether any usage was seen (a transcript of a fresh session has none).
    seen: bool,
}

/// Every pane's counting state, loaded once per survey and saved once.
#[derive(Debug, Default)]
pub struct UsageCache {
    panes: HashMap<u32, Cache>,
    dirty: bool,
}

impl UsageCache {
    pub fn load(store: &Store) -> UsageCache {
        let panes = paths::read(&store.layout().usage())
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default();
        UsageCache {
            panes,
            dirty: false,
        }
    }

    /// Write the cache if it changed or holds panes not in `keep` (those
    /// are dropped). Best effort: a failed write only costs a re-read.
    pub fn save(mut self, store: &Store, keep: &HashSet<PaneId>) {
        let before = self.panes.len();
        self.panes.retain(|n, _| keep.contains(&PaneId(*n)));
        if !self.dirty && self.panes.len() == before {
            return;
        }
        if let Ok(data) = serde_json::to_vec(&self.panes) {
            let _ = paths::write_atomic(&store.layout().usage(), &data, 0o600);
        }
    }

    /// Token use for `pane` whose transcript is `transcript`. `None` when
    /// the transcript is missing or holds no usage yet.
    pub fn tokens(&mut self, pane: PaneId, transcript: &Path) -> Option<Tokens> {
        let meta = fs::metadata(transcript).ok()?;
        if !meta.is_file() {
            return None;
        }
        let path_str = transcript.to_string_lossy();
        let size = meta.len();
        let cache = self
            .panes
            .entry(pane.0)
            .or_insert_with(|| Cache::fresh(&path_str, meta.ino()));
        if cache.path != path_str || cache.ino != meta.ino() || cache.offset > size {
            // Another transcript (a new session) or one rewritten in place.
            *cache = Cache::fresh(&path_str, meta.ino());
        }
        if size > cache.offset {
            let file = File::open(transcript).ok()?;
            let mut start = cache.offset;
            if size - start > MAX_READ {
                start = size - TAIL_BYTES;
                cache.tokens.output_total_complete = false;
            }
            let mid_line = start != cache.offset;
            cache.offset = count(&file, start, size, mid_line, cache).ok()?;
            self.dirty = true;
        }
        cache.seen.then(|| cache.tokens.clone())
    }
}

impl Cache {
    fn fresh(path: &str, ino: u64) -> Cache {
        Cache {
            path: path.to_string(),
            ino,
            tokens: Tokens {
                output_total_complete: true,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, rename = "isSidechain")]
    sidechain: bool,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(alias = "responseId")]
    id: Option<String>,
    role: Option<String>,
    model: Option<String>,
    usage: Option<Usage>,
}

/// Claude Code's names, with pi's as aliases.
#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default, alias = "input")]
    input_tokens: u64,
    #[serde(default, alias = "cacheWrite")]
    cache_creation_input_tokens: u64,
    #[serde(default, alias = "cacheRead")]
    cache_read_input_tokens: u64,
    #[serde(default, alias = "output")]
    output_tokens: u64,
}

/// A Gemini CLI transcript message:
/// `{"id","type":"gemini","tokens":{"input","output","cached",…},"model"}`.
/// Its `input` (the prompt's token count) includes the `cached` part.
#[derive(Deserialize)]
struct GeminiEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    model: Option<String>,
    tokens: Option<GeminiTokens>,
}

#[derive(Deserialize, Default)]
struct GeminiTokens {
    #[serde(default)]
    input: u64,
    #[serde(default)]
    output: u64,
    #[serde(default)]
    cached: u64,
}

fn count_gemini(line: &[u8], cache: &mut Cache) {
    let Ok(e) = serde_json::from_slice::<GeminiEntry>(line) else {
        return;
    };
    let (Some("gemini"), Some(t)) = (e.kind.as_deref(), e.tokens) else {
        return;
    };
    cache.seen = true;
    if e.id.is_none() || e.id != cache.last_id {
        cache.tokens.output_total += t.output;
        cache.last_id = e.id;
        cache.last_output = t.output;
    }
    if t.input > 0 {
        cache.tokens.context = t.input;
        cache.tokens.input = t.input.saturating_sub(t.cached);
        cache.tokens.cache_creation = 0;
        cache.tokens.cache_read = t.cached;
        if e.model.is_some() {
            cache.tokens.model = e.model;
        }
    }
}

/// Fold the complete lines of `file[start..size]` into `cache`; returns the
/// offset after the last complete line. `mid_line` says `start` may fall
/// inside a line, whose rest is skipped.
fn count(file: &File, start: u64, size: u64, mid_line: bool, cache: &mut Cache) -> io::Result<u64> {
    let mut buf = vec![0u8; (size - start) as usize];
    file.read_exact_at(&mut buf, start)?;
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return Ok(start);
    };
    let mut body = &buf[..end];
    if mid_line {
        match body.iter().position(|&b| b == b'\n') {
            Some(i) => body = &body[i + 1..],
            None => return Ok(start + end as u64 + 1),
        }
    }
    for line in body.split(|&b| b == b'\n') {
        if codex_line(line, cache) {
            continue;
        }
        if contains(line, b"\"tokens\"") && contains(line, b"\"gemini\"") {
            count_gemini(line, cache);
            continue;
        }
        // Most lines are tool results and user turns: skip them unparsed.
        if !contains(line, b"\"usage\"") || !contains(line, b"\"assistant\"") {
            continue;
        }
        let Ok(e) = serde_json::from_slice::<Entry>(line) else {
            continue;
        };
        let Some(m) = e.message else { continue };
        let assistant = match e.kind.as_deref() {
            Some("assistant") => true,
            Some("message") => m.role.as_deref() == Some("assistant"),
            _ => false,
        };
        if !assistant {
            continue;
        }
        let Some(u) = m.usage else { continue };
        cache.seen = true;
        if m.id.is_some() && m.id == cache.last_id {
            // Another block of the same message: its usage supersedes.
            cache.tokens.output_total = cache.tokens.output_total - cache.last_output
                + u.output_tokens.max(cache.last_output);
            cache.last_output = u.output_tokens.max(cache.last_output);
        } else {
            cache.tokens.output_total += u.output_tokens;
            cache.last_id = m.id;
            cache.last_output = u.output_tokens;
        }
        let read = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
        // Sub-agent calls have their own context; synthetic entries read nothing.
        if !e.sidechain && read > 0 {
            cache.tokens.context = read;
            cache.tokens.input = u.input_tokens;
            cache.tokens.cache_creation = u.cache_creation_input_tokens;
            cache.tokens.cache_read = u.cache_read_input_tokens;
            if m.model.is_some() {
                cache.tokens.model = m.model;
            }
        }
    }
    Ok(start + end as u64 + 1)
}

/// A line of a Codex rollout (`$CODEX_HOME/sessions/…/rollout-*.jsonl`, the
/// hooks' `transcript_path`) that carries usage, folded into `cache`:
/// `event_msg` `token_count` (`info.last_token_usage`: the latest model
/// call; `info.total_token_usage`: the session's running totals) and
/// `turn_context` (`model`). OpenAI counts cached input inside
/// `input_tokens`. Returns whether the line was one of these.
fn codex_line(line: &[u8], cache: &mut Cache) -> bool {
    #[derive(Deserialize, Default)]
    struct CodexUsage {
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        cached_input_tokens: u64,
        #[serde(default)]
        cache_write_input_tokens: u64,
        #[serde(default)]
        output_tokens: u64,
    }
    #[derive(Deserialize)]
    struct Info {
        last_token_usage: Option<CodexUsage>,
        total_token_usage: Option<CodexUsage>,
    }
    #[derive(Deserialize)]
    struct Payload {
        #[serde(rename = "type")]
        kind: Option<String>,
        info: Option<Info>,
        model: Option<String>,
    }
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: Option<String>,
        payload: Option<Payload>,
    }
    let token_count = contains(line, b"\"token_count\"");
    if !token_count && !contains(line, b"\"turn_context\"") {
        return false;
    }
    let Ok(Line {
        kind,
        payload: Some(p),
    }) = serde_json::from_slice::<Line>(line)
    else {
        return false;
    };
    match (kind.as_deref(), p.kind.as_deref()) {
        (Some("turn_context"), _) => {
            if p.model.is_some() {
                cache.tokens.model = p.model;
            }
            true
        }
        (Some("event_msg"), Some("token_count")) => {
            // `info` is null until the first model call has reported.
            let Some(info) = p.info else { return true };
            if let Some(last) = info.last_token_usage {
                cache.seen = true;
                cache.tokens.context = last.input_tokens;
                cache.tokens.cache_read = last.cached_input_tokens;
                cache.tokens.cache_creation = last.cache_write_input_tokens;
                cache.tokens.input = last.input_tokens.saturating_sub(last.cached_input_tokens);
            }
            if let Some(total) = info.total_token_usage {
                cache.seen = true;
                // A running total: it replaces, never adds.
                cache.tokens.output_total = total.output_tokens;
            }
            true
        }
        _ => false,
    }
}

/// The `usage` orch's opencode plugin (`hooks/opencode/orch.js`) puts in a
/// turn end: `{"last": <the latest assistant message's "tokens">,
/// "output_total", "complete", "model"}`. opencode's own `tokens` object
/// (1.18) is `{input, output, reasoning, cache: {read, write}}`, where
/// `input` excludes the cached part and `output` the reasoning; the plugin
/// sums `output + reasoning` over the session's assistant messages it saw
/// (`complete` is false for a session it did not see from the start: a
/// resumed one). `None` when the payload has no usage or no model call
/// read anything yet.
pub fn from_opencode(usage: &serde_json::Value) -> Option<Tokens> {
    #[derive(Deserialize, Default)]
    struct Cache {
        #[serde(default)]
        read: u64,
        #[serde(default)]
        write: u64,
    }
    #[derive(Deserialize)]
    struct Last {
        #[serde(default)]
        input: u64,
        #[serde(default)]
        cache: Cache,
    }
    #[derive(Deserialize)]
    struct Usage {
        last: Last,
        #[serde(default)]
        output_total: u64,
        #[serde(default)]
        complete: bool,
        model: Option<String>,
    }
    let u: Usage = serde_json::from_value(usage.clone()).ok()?;
    let context = u.last.input + u.last.cache.read + u.last.cache.write;
    (context > 0).then(|| Tokens {
        context,
        input: u.last.input,
        cache_creation: u.last.cache.write,
        cache_read: u.last.cache.read,
        output_total: u.output_total,
        output_total_complete: u.complete,
        model: u.model.filter(|m| !m.is_empty()),
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Server;
    use serde_json::Value;
    use std::io::Write;

    fn assistant(id: &str, input: u64, cread: u64, out: u64, side: bool) -> String {
        serde_json::json!({
            "type": "assistant", "isSidechain": side, "uuid": "u",
            "message": {"id": id, "model": "claude-opus-4-8", "role": "assistant",
                "content": [{"type": "text", "text": "hi"}],
                "usage": {"input_tokens": input, "cache_creation_input_tokens": 10,
                          "cache_read_input_tokens": cread, "output_tokens": out}}
        })
        .to_string()
    }

    fn store(dir: &Path) -> Store {
        Store::open_in(dir, &Server::new("/tmp/s", 1)).unwrap()
    }

    /// Lines as Gemini CLI 0.61.0 writes them (an e2e run's transcript).
    #[test]
    fn gemini_transcript_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let st = store(dir.path());
        let tp = dir.path().join("session.jsonl");
        std::fs::write(
            &tp,
            concat!(
                r#"{"sessionId":"s","kind":"main"}"#, "\n",
                r#"{"id":"u1","type":"user","content":[{"text":"say hi"}]}"#, "\n",
                r#"{"id":"g1","type":"gemini","content":"Hi","thoughts":[],"tokens":{"input":12,"output":9,"cached":0,"thoughts":0,"tool":0,"total":21},"model":"gemini-3.8-flash"}"#, "\n",
                r#"{"$set":{"lastUpdated":"2026-12-02T14:23:49.368Z"}}"#, "\n",
                r#"{"id":"g2","type":"gemini","content":"Again","tokens":{"input":40,"output":5,"cached":30,"total":45},"model":"gemini-3.8-flash"}"#, "\n",
            ),
        )
        .unwrap();
        let mut c = UsageCache::load(&st);
        let t = c.tokens(PaneId(1), &tp).unwrap();
        assert_eq!((t.context, t.input, t.cache_read), (40, 10, 30));
        assert_eq!(t.output_total, 14);
        assert_eq!(t.model.as_deref(), Some("gemini-3.8-flash"));
    }

    #[test]
    fn counts_incrementally_and_once_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let st = store(dir.path());
        let tp = dir.path().join("t.jsonl");
        let mut f = File::create(&tp).unwrap();
        f.write_all(b"{\"type\":\"user\",\"message\":{\"content\":\"hi\"}}\n")
            .unwrap();
        let mut c = UsageCache::load(&st);
        assert_eq!(c.tokens(PaneId(1), &tp), None, "no usage yet");
        writeln!(f, "{}", assistant("m1", 3, 100, 5, false)).unwrap();
        writeln!(f, "{}", assistant("m1", 3, 100, 7, false)).unwrap();
        let t = c.tokens(PaneId(1), &tp).unwrap();
        assert_eq!((t.context, t.output_total), (113, 7));
        // Saved and loaded again: counting carries on from where it was.
        c.save(&st, &[PaneId(1)].into());
        let mut c = UsageCache::load(&st);
        assert!(t.output_total_complete);
        writeln!(f, "{}", assistant("m2", 1, 200, 11, false)).unwrap();
        writeln!(f, "{}", assistant("s1", 1, 999, 2, true)).unwrap();
        // A torn last line is left for the next refresh.
        write!(f, "{}", &assistant("m3", 1, 1, 1, false)[..40]).unwrap();
        let t = c.tokens(PaneId(1), &tp).unwrap();
        assert_eq!((t.context, t.output_total), (211, 20));
        assert_eq!(t.cache_read, 200);
        assert_eq!(t.model.as_deref(), Some("claude-opus-4-8"));
    }

    /// pi's session file (0.73): entries `{"type": "message"}`, usage in
    /// pi's own words; user messages and tool results are not counted.
    #[test]
    fn counts_a_pi_session_file() {
        let dir = tempfile::tempdir().unwrap();
        let st = store(dir.path());
        let tp = dir.path().join("pi.jsonl");
        let pi = |role: &str, id: &str, input: u64, out: u64| {
            serde_json::json!({"type": "message", "id": "e1", "parentId": null,
                "message": {"role": role, "content": [{"type": "text", "text": "x"}],
                    "provider": "mock", "model": "m", "responseId": id,
                    "usage": {"input": input, "output": out, "cacheRead": 4, "cacheWrite": 0,
                        "totalTokens": input + out + 4}}})
            .to_string()
        };
        let lines = [
            r#"{"type":"session","version":3,"id":"01a","cwd":"/p"}"#.to_string(),
            pi("user", "", 0, 0),
            pi("assistant", "r1", 12, 8),
            pi("toolResult", "", 0, 0),
            pi("assistant", "r2", 30, 5),
        ];
        std::fs::write(&tp, lines.join("\n") + "\n").unwrap();
        let t = UsageCache::load(&st).tokens(PaneId(2), &tp).unwrap();
        assert_eq!((t.context, t.input, t.cache_read), (34, 30, 4));
        assert_eq!(t.output_total, 13);
        assert_eq!(t.model.as_deref(), Some("m"));
    }

    /// Lines of a Codex 0.171.0 rollout (mock API: 12 in, 8 out per call).
    #[test]
    fn codex_rollout_token_counts() {
        let dir = tempfile::tempdir().unwrap();
        let tp = dir.path().join("rollout.jsonl");
        let usage = |i: u64, c: u64, o: u64| {
            serde_json::json!({"input_tokens": i, "cached_input_tokens": c,
                "cache_write_input_tokens": 0, "output_tokens": o,
                "reasoning_output_tokens": 0, "total_tokens": i + o})
        };
        let count = |last: Value, total: Value| {
            serde_json::json!({"timestamp": "2026-12-02T14:22:30.597Z", "type": "event_msg",
                "payload": {"type": "token_count", "info": {"total_token_usage": total,
                "last_token_usage": last, "model_context_window": 258400}, "rate_limits": {}}})
            .to_string()
        };
        let lines = [
            r#"{"type":"session_meta","payload":{"id":"s"}}"#.to_string(),
            r#"{"type":"event_msg","payload":{"type":"token_count","info":null}}"#.to_string(),
            r#"{"type":"turn_context","payload":{"turn_id":"t","model":"mock-model"}}"#.to_string(),
            count(usage(12, 0, 8), usage(12, 0, 8)),
            count(usage(40, 30, 8), usage(52, 30, 16)),
        ];
        std::fs::write(&tp, lines.join("\n") + "\n").unwrap();
        let t = UsageCache::default().tokens(PaneId(3), &tp).unwrap();
        assert_eq!(t.context, 40);
        assert_eq!(t.cache_read, 30);
        assert_eq!(t.input, 10);
        assert_eq!(t.output_total, 16, "running total, not a sum of totals");
        assert_eq!(t.model.as_deref(), Some("mock-model"));
    }

    /// The plugin's usage for a turn end on opencode 1.18.33 (mock API: 12
    /// prompt tokens, 8 completion tokens, two calls).
    #[test]
    fn opencode_usage_from_the_plugin() {
        let u = serde_json::json!({"last": {"input": 9, "output": 8, "reasoning": 2,
            "cache": {"read": 3, "write": 1}}, "output_total": 20, "complete": true,
            "model": "mock/m"});
        let t = from_opencode(&u).unwrap();
        assert_eq!(
            (t.context, t.input, t.cache_read, t.cache_creation),
            (13, 9, 3, 1)
        );
        assert_eq!(t.output_total, 20);
        assert!(t.output_total_complete);
        assert_eq!(t.model.as_deref(), Some("mock/m"));
        // A turn that made no model call, or no usage at all.
        let none = serde_json::json!({"last": {"input": 0, "cache": {"read": 0, "write": 0}}});
        assert_eq!(from_opencode(&none), None);
        assert_eq!(from_opencode(&serde_json::json!("x")), None);
    }

    #[test]
    fn saving_drops_panes_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let st = store(dir.path());
        let tp = dir.path().join("t.jsonl");
        std::fs::write(&tp, format!("{}\n", assistant("m", 1, 1, 1, false))).unwrap();
        let mut c = UsageCache::load(&st);
        c.tokens(PaneId(1), &tp).unwrap();
        c.tokens(PaneId(2), &tp).unwrap();
        c.save(&st, &[PaneId(1), PaneId(2)].into());
        assert_eq!(UsageCache::load(&st).panes.len(), 2);
        UsageCache::load(&st).save(&st, &[PaneId(2)].into());
        let left: Vec<u32> = UsageCache::load(&st).panes.into_keys().collect();
        assert_eq!(left, vec![2]);
    }

    #[test]
    fn a_huge_backlog_reads_only_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let tp = dir.path().join("t.jsonl");
        let mut f = File::create(&tp).unwrap();
        let filler = format!(
            "{}\n",
            serde_json::json!({"type":"user","message":{"content":"y".repeat(4000)}})
        );
        while f.metadata().unwrap().len() < MAX_READ + 1024 {
            f.write_all(filler.as_bytes()).unwrap();
        }
        writeln!(f, "{}", assistant("last", 5, 50, 9, false)).unwrap();
        let t = UsageCache::default().tokens(PaneId(2), &tp).unwrap();
        assert_eq!(t.context, 65);
        assert!(!t.output_total_complete);
    }
}

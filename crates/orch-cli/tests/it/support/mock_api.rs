//! A scriptable mock of the Anthropic Messages API, so the real Claude Code
//! CLI can run offline in tests (facts in `docs/claude-code-e2e.md`).
//!
//! `POST /v1/messages` answers with server-sent events when the request has
//! `"stream": true` (what Claude Code sends) and with one JSON message
//! otherwise; every other request (`HEAD /` connectivity probe,
//! `count_tokens`, …) gets `200 {}`.
//!
//! Claude Code sends two sorts of Messages requests:
//! - **main turns**: the conversation itself (model = the session's model,
//!   the agent's tools in `tools`, 27-28 of them). These take replies from
//!   the script: [`MockApi::push`] queues replies used in order, then
//!   [`MockApi::set_default`] answers the rest.
//! - **side requests**: helpers such as session-title generation (haiku,
//!   `tools: []`, a JSON-schema output format, the first prompt wrapped in
//!   `<session>`). They get [`MockApi::set_side_reply`] (a JSON title by
//!   default) so a script is never consumed by them.
//!
//! The line between the two is "has a non-empty `tools` array"
//! ([`is_main_turn`]). Every request is logged ([`MockApi::requests`]).
//!
//! Plain `std::net` with a thread per connection; each response closes its
//! connection, so no keep-alive bookkeeping is needed.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the mock answers to one main turn.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A text reply, `stop_reason: end_turn`.
    Text(String),
    /// A text reply describing the last user text it received
    /// ([`EchoSummary`]), so a test can check a prompt arrived intact.
    Echo,
    /// Wait this long (after the stream has started, so Claude Code shows
    /// its busy indicator), then answer with the inner reply.
    Slow(Duration, Box<Reply>),
    /// Like `Slow`, but wait until the test calls [`MockApi::release`].
    Held(Box<Reply>),
    /// A `tool_use` block for the Bash tool (`stop_reason: tool_use`):
    /// without bypass permissions Claude Code asks the user first.
    ToolUseBash {
        command: String,
        description: String,
    },
    /// An HTTP error with the API's JSON error body
    /// (`{"type":"error","error":{"type":…,"message":…}}`).
    Error {
        status: u16,
        error_type: String,
        message: String,
    },
}

impl Reply {
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Text(s.into())
    }
    pub fn slow(delay: Duration, then: Reply) -> Reply {
        Reply::Slow(delay, Box::new(then))
    }
    pub fn held(then: Reply) -> Reply {
        Reply::Held(Box::new(then))
    }
    pub fn bash(command: impl Into<String>) -> Reply {
        Reply::ToolUseBash {
            command: command.into(),
            description: "Run a command for the test".into(),
        }
    }
    /// HTTP 529 `overloaded_error`. Claude Code 2.1.197 retries a 529
    /// twice (~0.5 s, ~1 s) then gives up: `StopFailure` after ~1.7 s.
    pub fn overloaded() -> Reply {
        Reply::Error {
            status: 529,
            error_type: "overloaded_error".into(),
            message: "Overloaded".into(),
        }
    }
    /// HTTP 500 `api_error`. Claude Code retries these
    /// `CLAUDE_CODE_MAX_RETRIES` times (default 10, with backoff).
    pub fn server_error() -> Reply {
        Reply::Error {
            status: 500,
            error_type: "api_error".into(),
            message: "Internal server error".into(),
        }
    }
    /// HTTP 429 `rate_limit_error`.
    pub fn rate_limited() -> Reply {
        Reply::Error {
            status: 429,
            error_type: "rate_limit_error".into(),
            message: "Number of request tokens has exceeded your per-minute rate limit".into(),
        }
    }
}

/// What an [`Reply::Echo`] reports about the text it received. The reply
/// text is `MOCK-ECHO {json}`; compare `EchoSummary::parse(reply)` with
/// `EchoSummary::of(expected)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoSummary {
    /// Length in bytes.
    pub len: usize,
    /// Number of `\n`-separated lines (`"a\nb"` has 2; `"a\n"` has 2 too).
    pub lines: usize,
    /// FNV-1a 64 of the exact bytes, hex.
    pub fnv: String,
    /// The first and last [`ECHO_EDGE_CHARS`] characters.
    pub head: String,
    pub tail: String,
}

pub const ECHO_PREFIX: &str = "MOCK-ECHO ";
pub const ECHO_EDGE_CHARS: usize = 40;

impl EchoSummary {
    pub fn of(text: &str) -> EchoSummary {
        let chars: Vec<char> = text.chars().collect();
        let head: String = chars.iter().take(ECHO_EDGE_CHARS).collect();
        let tail: String = chars[chars.len().saturating_sub(ECHO_EDGE_CHARS)..]
            .iter()
            .collect();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        EchoSummary {
            len: text.len(),
            lines: text.split('\n').count(),
            fnv: format!("{h:016x}"),
            head,
            tail,
        }
    }

    /// The reply text an echo sends for `text`.
    pub fn reply_for(text: &str) -> String {
        let s = EchoSummary::of(text);
        let j =
            json!({"len": s.len, "lines": s.lines, "fnv": s.fnv, "head": s.head, "tail": s.tail});
        format!("{ECHO_PREFIX}{j}")
    }

    /// Parse an echo reply (as it arrives in a `stop` event's `reply`).
    pub fn parse(reply: &str) -> Option<EchoSummary> {
        let j: Value = serde_json::from_str(reply.trim().strip_prefix(ECHO_PREFIX)?).ok()?;
        Some(EchoSummary {
            len: j["len"].as_u64()? as usize,
            lines: j["lines"].as_u64()? as usize,
            fnv: j["fnv"].as_str()?.to_string(),
            head: j["head"].as_str()?.to_string(),
            tail: j["tail"].as_str()?.to_string(),
        })
    }
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived (headers and body read).
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if it had one.
    pub body: Option<Value>,
    pub main_turn: bool,
    /// What the mock answered (debug form of the [`Reply`], or `200 {}`).
    pub answered: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn model(&self) -> Option<&str> {
        self.body.as_ref()?.get("model")?.as_str()
    }
    /// The text the user typed in this turn: the text blocks of the last
    /// `user` message that has any, leaving out the `<system-reminder>`
    /// blocks Claude Code adds, joined with `\n`.
    pub fn last_user_text(&self) -> Option<String> {
        last_user_text(self.body.as_ref()?)
    }
}

/// Is this Messages request a main conversation turn (vs. a side request
/// such as title generation)? Main turns carry the agent's tools.
pub fn is_main_turn(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

fn last_user_text(body: &Value) -> Option<String> {
    let messages = body.get("messages")?.as_array()?;
    for m in messages.iter().rev() {
        if m.get("role").and_then(Value::as_str) != Some("user") {
            continue;
        }
        let texts: Vec<&str> = match m.get("content") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .filter(|t| !t.starts_with("<system-reminder>"))
                .collect(),
            _ => vec![],
        };
        if !texts.is_empty() {
            return Some(texts.join("\n"));
        }
    }
    None
}

struct State {
    queue: VecDeque<Reply>,
    default: Reply,
    side: Reply,
    log: Vec<Request>,
    /// Held replies served so far / released so far: the n-th held reply
    /// (from 0) goes once `released > n`.
    held_served: u64,
    released: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    shutdown: AtomicBool,
    msg_counter: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running mock. Stops (and unblocks held replies) on drop.
pub struct MockApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockApi {
    /// Listen on a free port of 127.0.0.1. The default main-turn reply is
    /// `Reply::Text("Hi from the mock API! MOCK-OK")`.
    pub fn start() -> MockApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("mock API: cannot bind");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                default: Reply::text("Hi from the mock API! MOCK-OK"),
                side: Reply::text(r#"{"title": "Mock session"}"#),
                log: Vec::new(),
                held_served: 0,
                released: 0,
            }),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
            msg_counter: AtomicU64::new(0),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &s);
                });
            }
        });
        MockApi {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `ANTHROPIC_BASE_URL` for this mock.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a reply for the next main turn that has none yet.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().queue.push_back(reply);
    }

    /// The reply for main turns once the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        self.shared.lock().default = reply;
    }

    /// The reply for side requests (title generation, …).
    pub fn set_side_reply(&self, reply: Reply) {
        self.shared.lock().side = reply;
    }

    /// Let one [`Reply::Held`] reply go (the oldest still held; a release
    /// given before the reply is served lets it through at once).
    pub fn release(&self) {
        self.shared.lock().released += 1;
        self.shared.changed.notify_all();
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().log.clone()
    }

    pub fn main_turns(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.main_turn)
            .collect()
    }

    /// Block until at least `n` main turns arrived (panics after
    /// `timeout`, showing the request log).
    pub fn wait_main_turns(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let turns: Vec<Request> = st.log.iter().filter(|r| r.main_turn).cloned().collect();
            if turns.len() >= n {
                return turns;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "mock API: timed out waiting for {n} main turns; requests so far:\n{}",
                describe(&st.log)
            );
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The request log, one line per request, for assertion messages.
    pub fn describe(&self) -> String {
        describe(&self.shared.lock().log)
    }
}

fn describe(log: &[Request]) -> String {
    let t0 = log.first().map(|r| r.at);
    log.iter()
        .map(|r| {
            format!(
                "  +{:>6}ms {} {} model={} main={} -> {}",
                t0.map(|t| r.at.duration_since(t).as_millis()).unwrap_or(0),
                r.method,
                r.path,
                r.model().unwrap_or("-"),
                r.main_turn,
                r.answered
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the blocking accept() so its thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2]; // data + CRLF
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(HttpRequest {
        method,
        path,
        headers,
        body,
    }))
}

fn handle(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    let mut out = conn;
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    let is_messages = req.method == "POST"
        && req.path.starts_with("/v1/messages")
        && !req.path.contains("count_tokens");
    let main_turn = is_messages && body.as_ref().is_some_and(is_main_turn);
    let reply = if !is_messages {
        None
    } else {
        let mut st = shared.lock();
        Some(if main_turn {
            st.queue.pop_front().unwrap_or_else(|| st.default.clone())
        } else {
            st.side.clone()
        })
    };
    {
        let mut st = shared.lock();
        st.log.push(Request {
            at: Instant::now(),
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: body.clone(),
            main_turn,
            answered: reply
                .as_ref()
                .map(short_debug)
                .unwrap_or_else(|| "200 {}".into()),
        });
    }
    shared.changed.notify_all();
    match (reply, body) {
        (Some(reply), Some(body)) => answer(&mut out, shared, &body, reply),
        _ => respond(&mut out, 200, "application/json", b"{}"),
    }
}

fn short_debug(r: &Reply) -> String {
    let mut s = format!("{r:?}");
    if s.len() > 120 {
        let mut cut = 120;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn respond(out: &mut TcpStream, status: u16, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Error",
    }
}

/// Wait until `delay` passed or the mock shuts down.
fn pause(shared: &Shared, delay: Duration) {
    let deadline = Instant::now() + delay;
    let mut st = shared.lock();
    while !shared.shutdown.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        st = shared
            .changed
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Wait for the test to release this held reply (or the mock to stop).
fn hold(shared: &Shared) {
    let mut st = shared.lock();
    let ticket = st.held_served;
    st.held_served += 1;
    while st.released <= ticket && !shared.shutdown.load(Ordering::SeqCst) {
        st = shared.changed.wait(st).unwrap_or_else(|e| e.into_inner());
    }
}

/// The content blocks and stop reason of a final (non-waiting) reply.
fn content_of(reply: &Reply, body: &Value) -> (Vec<Value>, &'static str) {
    match reply {
        Reply::Text(t) => (vec![json!({"type": "text", "text": t})], "end_turn"),
        Reply::Echo => {
            let text = last_user_text(body).unwrap_or_default();
            (
                vec![json!({"type": "text", "text": EchoSummary::reply_for(&text)})],
                "end_turn",
            )
        }
        Reply::ToolUseBash {
            command,
            description,
        } => (
            vec![json!({
                "type": "tool_use",
                "id": "toolu_mock_bash",
                "name": "Bash",
                "input": {"command": command, "description": description},
            })],
            "tool_use",
        ),
        // Waiting and errors are handled before this is called.
        Reply::Slow(_, r) | Reply::Held(r) => content_of(r, body),
        Reply::Error { .. } => (vec![], "end_turn"),
    }
}

fn answer(out: &mut TcpStream, shared: &Shared, body: &Value, reply: Reply) -> std::io::Result<()> {
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-mock")
        .to_string();
    let id = format!(
        "msg_mock_{}",
        shared.msg_counter.fetch_add(1, Ordering::SeqCst)
    );
    // Unwrap waits: a non-streamed reply waits before answering; a
    // streamed one starts the stream first so the client shows it is busy.
    let mut waits = Vec::new();
    let mut reply = reply;
    loop {
        match reply {
            Reply::Slow(d, r) => {
                waits.push(Some(d));
                reply = *r;
            }
            Reply::Held(r) => {
                waits.push(None);
                reply = *r;
            }
            r => {
                reply = r;
                break;
            }
        }
    }
    let wait = |shared: &Shared| {
        for w in &waits {
            match w {
                Some(d) => pause(shared, *d),
                None => hold(shared),
            }
        }
    };
    if let Reply::Error {
        status,
        error_type,
        message,
    } = &reply
    {
        wait(shared);
        let b = json!({"type": "error", "error": {"type": error_type, "message": message}});
        return respond(out, *status, "application/json", b.to_string().as_bytes());
    }
    let (content, stop_reason) = content_of(&reply, body);
    let usage = json!({"input_tokens": 12, "output_tokens": 7});
    if !stream {
        wait(shared);
        let b = json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage,
        });
        return respond(out, 200, "application/json", b.to_string().as_bytes());
    }
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )?;
    let mut send = |name: &str, data: Value| -> std::io::Result<()> {
        out.write_all(format!("event: {name}\ndata: {data}\n\n").as_bytes())?;
        out.flush()
    };
    send(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        }}),
    )?;
    wait(shared);
    for (i, block) in content.iter().enumerate() {
        match block["type"].as_str() {
            Some("tool_use") => {
                send(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": i, "content_block": {
                        "type": "tool_use", "id": block["id"], "name": block["name"], "input": {},
                    }}),
                )?;
                send(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": i, "delta": {
                        "type": "input_json_delta", "partial_json": block["input"].to_string(),
                    }}),
                )?;
            }
            _ => {
                send(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": i,
                           "content_block": {"type": "text", "text": ""}}),
                )?;
                send(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": i,
                           "delta": {"type": "text_delta", "text": block["text"]}}),
                )?;
            }
        }
        send(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        )?;
    }
    send(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": 7}}),
    )?;
    send("message_stop", json!({"type": "message_stop"}))
}

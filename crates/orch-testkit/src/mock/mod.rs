//! Scriptable mocks of the model APIs the agent CLIs speak, so the real
//! CLIs run offline in tests. One module per wire protocol, all on one
//! small HTTP core ([`http`]) and one script:
//!
//! | mock | protocol | CLI |
//! |---|---|---|
//! | [`AnthropicMock`] | Anthropic Messages (`POST /v1/messages`) | Claude Code, pi |
//! | [`ResponsesMock`] | OpenAI Responses (`POST /v1/responses`) | codex |
//! | [`ChatMock`] | OpenAI Chat Completions (`POST /v1/chat/completions`) | opencode |
//! | [`GeminiMock`] | Gemini Generative Language (`:streamGenerateContent`, …) | Gemini CLI |
//!
//! Every CLI sends two sorts of model requests:
//! - **main turns**, the conversation itself, which carry the agent's
//!   tools. They take replies from the script: [`Mock::push`] queues replies
//!   used in order, then [`Mock::set_default`] answers the rest (by default
//!   [`Reply::Script`]: the prompt's own words decide, see [`script`]).
//! - **side requests** with no tools (session titles, Gemini CLI's model
//!   router): [`Mock::set_side_reply`], else a protocol default (a title;
//!   for a JSON-schema request, an object that fits the schema), so a
//!   script is never consumed by them.
//!
//! Anything else (probes, token counts, model lists) gets a fixed answer.
//! Every request is logged ([`Mock::requests`]) with what the user said in
//! it, so a test can assert on what the CLI sent.

pub mod anthropic;
pub mod client;
mod echo;
pub mod gemini;
pub mod http;
pub mod openai_chat;
pub mod openai_responses;
pub mod script;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use anthropic::Anthropic;
pub use echo::{ECHO_EDGE_CHARS, ECHO_PREFIX, EchoSummary};
pub use gemini::Gemini;
use http::{HttpRequest, Responder, Server};
pub use openai_chat::Chat;
pub use openai_responses::Responses;

pub type AnthropicMock = Mock<Anthropic>;
pub type ResponsesMock = Mock<Responses>;
pub type ChatMock = Mock<Chat>;
pub type GeminiMock = Mock<Gemini>;

/// What a mock answers to one model request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A text reply that ends the turn.
    Text(String),
    /// The echo reply for the last user text it received ([`EchoSummary`]),
    /// so a test can check a prompt arrived intact.
    Echo,
    /// Decided by the prompt's words ([`script`]).
    Script,
    /// Wait this long (after a streamed response has started, so the CLI
    /// shows it is busy), then answer with the inner reply.
    Slow(Duration, Box<Reply>),
    /// Like `Slow`, but wait until the test calls [`Mock::release`].
    Held(Box<Reply>),
    /// A call to the shell tool the request declares (Claude's `Bash`, pi's
    /// `bash`, codex's `exec_command`, Gemini CLI's `run_shell_command`, …):
    /// without bypass permissions the CLI asks the user first.
    Bash {
        command: String,
        description: String,
    },
    /// An HTTP error with the protocol's own error body.
    Error { status: u16, message: String },
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
        Reply::Bash {
            command: command.into(),
            description: "Run a command for the test".into(),
        }
    }
    /// HTTP `status` with a message fitting it.
    pub fn error(status: u16) -> Reply {
        let message = match status {
            400 => "Invalid request (mock)",
            429 => "Number of request tokens has exceeded your per-minute rate limit",
            500 => "Internal server error",
            529 => "Overloaded",
            _ => "Mock error",
        };
        Reply::Error {
            status,
            message: message.into(),
        }
    }
    /// HTTP 529, overloaded. Claude Code 2.1.197 retries a 529 twice
    /// (~0.5 s, ~1 s) then gives up: `StopFailure` after ~1.7 s.
    pub fn overloaded() -> Reply {
        Reply::error(529)
    }
    /// HTTP 500. Claude Code retries these `CLAUDE_CODE_MAX_RETRIES` times
    /// (default 10, with backoff).
    pub fn server_error() -> Reply {
        Reply::error(500)
    }
    /// HTTP 429, rate limited.
    pub fn rate_limited() -> Reply {
        Reply::error(429)
    }
}

/// What the user said in a request, as the protocol carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The text of the last user message that has any (the CLI's own
    /// injected context left out).
    pub text: Option<String>,
    /// The output of a tool, when the newest input is a tool result.
    pub tool_result: Option<String>,
}

/// The kind of a logged request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A conversation turn (carries tools): answered from the script.
    Main,
    /// A model request without tools (titles, routing).
    Side,
    /// Not a model request.
    Other,
}

/// One request a mock received.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived (headers and body read).
    pub at: Instant,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if it had one.
    pub body: Option<Value>,
    pub kind: Kind,
    /// What the user said in it (model requests only).
    pub input: Option<Input>,
    /// What the mock answered (short debug form).
    pub answered: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }
    pub fn is_main(&self) -> bool {
        self.kind == Kind::Main
    }
    /// The model asked for: the body's `model`, or the path's
    /// `models/<m>:…` (Gemini).
    pub fn model(&self) -> Option<&str> {
        if let Some(m) = self.body.as_ref().and_then(|b| b.get("model")?.as_str()) {
            return Some(m);
        }
        let rest = self.target.split("/models/").nth(1)?;
        rest.split([':', '?', '/']).next()
    }
    /// The text the user typed in this request's conversation (see
    /// [`Input::text`]).
    pub fn last_user_text(&self) -> Option<String> {
        self.input.as_ref()?.text.clone()
    }
    /// The tool output this request carries as its newest input.
    pub fn tool_result(&self) -> Option<&str> {
        self.input.as_ref()?.tool_result.as_deref()
    }
    /// The whole body as text, to check what a conversation carried
    /// (e.g. that a resumed session sent the earlier turns).
    pub fn body_text(&self) -> String {
        self.body.as_ref().map(Value::to_string).unwrap_or_default()
    }
}

/// What a protocol writes once waits are done: the final reply (errors
/// are written by the mock, with [`Protocol::error`]'s body).
#[derive(Debug, Clone)]
pub enum Answer {
    Text(String),
    Bash(ShellCall),
}

/// A call to the shell tool.
#[derive(Debug, Clone)]
pub struct ShellCall {
    pub command: String,
    pub description: String,
}

/// A model request being answered.
pub struct Turn<'a> {
    pub req: &'a HttpRequest,
    pub body: &'a Value,
    /// Unique within the mock (for ids).
    pub n: u64,
    pub answer: Answer,
    wait: &'a mut dyn FnMut(),
}

impl Turn<'_> {
    /// Wait as the reply says (`slow`, held). A protocol calls it once,
    /// before the content: after a streamed response has started (so the
    /// CLI shows it is busy), or before a plain one.
    pub fn wait(&mut self) {
        (self.wait)()
    }
}

/// One wire protocol: how to tell its requests apart, read what the user
/// said, and write an answer.
pub trait Protocol: Send + Sync + 'static {
    /// How the path of a model request ends (`/v1/messages`).
    const MODEL_PATH: &'static str;
    /// Fixed answers to requests that are not model requests: (a string
    /// the path contains, the JSON body). Anything else gets `{}`.
    const FIXED: &'static [(&'static str, &'static str)] = &[];
    /// The default reply to a side request.
    const SIDE_REPLY: &'static str;

    /// `Some` for a model request (a main turn if it declares tools, else a
    /// side request), `None` for anything else.
    fn classify(&self, req: &HttpRequest, body: Option<&Value>) -> Option<Kind> {
        (req.method == "POST" && req.path().ends_with(Self::MODEL_PATH))
            .then(|| kind_by_tools(body.and_then(|b| b.get("tools"))))
    }
    fn input(&self, body: &Value) -> Input;
    fn side_reply(&self, _body: &Value) -> Reply {
        Reply::text(Self::SIDE_REPLY)
    }
    /// The protocol's body for an HTTP error.
    fn error(&self, status: u16, message: &str) -> Value;
    /// Write `turn.answer`, calling [`Turn::wait`] once first.
    fn write(&self, out: &mut Responder, turn: Turn) -> std::io::Result<()>;
}

/// The answer to a request that is not a model request.
fn fixed<P: Protocol>(req: &HttpRequest) -> Value {
    P::FIXED
        .iter()
        .find(|(p, _)| req.path().contains(p))
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_else(|| json!({}))
}

struct State {
    queue: VecDeque<Reply>,
    default: Reply,
    side: Option<Reply>,
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
    counter: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until `delay` passed or the mock shuts down.
    fn pause(&self, delay: Duration) {
        let deadline = Instant::now() + delay;
        let mut st = self.lock();
        while !self.shutdown.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wait for the test to release this held reply (or the mock to stop).
    fn hold(&self) {
        let mut st = self.lock();
        let ticket = st.held_served;
        st.held_served += 1;
        while st.released <= ticket && !self.shutdown.load(Ordering::SeqCst) {
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A running mock of protocol `P`. Stops (and unblocks held replies) on drop.
pub struct Mock<P: Protocol> {
    shared: Arc<Shared>,
    server: Server,
    _protocol: std::marker::PhantomData<P>,
}

impl<P: Protocol + Default> Mock<P> {
    /// Listen on a free port of 127.0.0.1.
    pub fn start() -> Mock<P> {
        Mock::start_with(P::default())
    }
}

impl<P: Protocol> Mock<P> {
    pub fn start_with(protocol: P) -> Mock<P> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                default: Reply::Script,
                side: None,
                log: Vec::new(),
                held_served: 0,
                released: 0,
            }),
            changed: Condvar::new(),
            shutdown: AtomicBool::new(false),
            counter: AtomicU64::new(0),
        });
        let s = shared.clone();
        let server = Server::start(Arc::new(move |req, out: &mut Responder| {
            handle(&protocol, &s, req, out)
        }))
        .expect("mock: cannot listen on 127.0.0.1");
        Mock {
            shared,
            server,
            _protocol: std::marker::PhantomData,
        }
    }

    /// `http://127.0.0.1:PORT` (each CLI's base-URL setting wants this or
    /// this plus `/v1`: see the protocol's module).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Queue a reply for the next main turn that has none yet.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().queue.push_back(reply);
    }

    /// The reply for main turns once the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        self.shared.lock().default = reply;
    }

    /// The reply for side requests (titles, routing), instead of the
    /// protocol's default.
    pub fn set_side_reply(&self, reply: Reply) {
        self.shared.lock().side = Some(reply);
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
            .filter(Request::is_main)
            .collect()
    }

    /// How many main turns' user text was exactly `text`: a prompt typed
    /// twice shows as two.
    pub fn main_turns_with(&self, text: &str) -> usize {
        self.main_turns()
            .iter()
            .filter(|r| r.last_user_text().as_deref() == Some(text))
            .count()
    }

    /// Block until at least `n` main turns arrived (panics after
    /// `timeout`, showing the request log).
    pub fn wait_main_turns(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let turns: Vec<Request> = st.log.iter().filter(|r| r.is_main()).cloned().collect();
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

impl<P: Protocol> Drop for Mock<P> {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
    }
}

fn describe(log: &[Request]) -> String {
    let t0 = log.first().map(|r| r.at);
    log.iter()
        .map(|r| {
            format!(
                "  +{:>6}ms {} {} model={} {:?} -> {}",
                t0.map(|t| r.at.duration_since(t).as_millis()).unwrap_or(0),
                r.method,
                r.target,
                r.model().unwrap_or("-"),
                r.kind,
                r.answered
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn handle<P: Protocol>(
    protocol: &P,
    shared: &Shared,
    req: HttpRequest,
    out: &mut Responder,
) -> std::io::Result<()> {
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    let kind = if req.method == "HEAD" {
        None
    } else {
        protocol.classify(&req, body.as_ref())
    };
    let log = |kind: Kind, input: Option<Input>, answered: String| {
        shared.lock().log.push(Request {
            at: Instant::now(),
            method: req.method.clone(),
            target: req.target.clone(),
            headers: req.headers.clone(),
            body: body.clone(),
            kind,
            input,
            answered,
        });
        shared.changed.notify_all();
    };
    let (Some(kind), Some(b)) = (kind, body.as_ref()) else {
        if req.method == "HEAD" {
            log(Kind::Other, None, "200".into());
            return out.empty(200);
        }
        if kind.is_some() {
            // A model request whose body is not JSON (compressed?): say so
            // loudly rather than answer something the CLI misreads.
            let why = format!(
                "mock: the request body is not JSON (content-encoding: {})",
                req.header("content-encoding").unwrap_or("none")
            );
            log(Kind::Other, None, format!("400 {why}"));
            return out.json(400, &json!({"error": {"message": why}}));
        }
        let v = fixed::<P>(&req);
        log(Kind::Other, None, format!("200 {v}"));
        return out.json(200, &v);
    };
    let input = protocol.input(b);
    let reply = {
        let mut st = shared.lock();
        match kind {
            Kind::Main => st.queue.pop_front().unwrap_or_else(|| st.default.clone()),
            _ => st.side.clone().unwrap_or_else(|| protocol.side_reply(b)),
        }
    };
    log(kind, Some(input.clone()), short_debug(&reply));
    let (waits, answer) = resolve(reply, &input);
    let mut wait = || {
        for w in &waits {
            match w {
                Some(d) => shared.pause(*d),
                None => shared.hold(),
            }
        }
    };
    let answer = match answer {
        Ok(a) => a,
        Err((status, message)) => {
            wait();
            return out.json(status, &protocol.error(status, &message));
        }
    };
    let turn = Turn {
        req: &req,
        body: b,
        n: shared.counter.fetch_add(1, Ordering::SeqCst),
        answer,
        wait: &mut wait,
    };
    protocol.write(out, turn)
}

/// Take the waits out of a reply (`Some(d)`: pause, `None`: hold) and
/// decide script and echo replies against `input`; an error as
/// `(status, message)`.
type Resolved = (Vec<Option<Duration>>, Result<Answer, (u16, String)>);

fn resolve(mut reply: Reply, input: &Input) -> Resolved {
    let mut waits = Vec::new();
    loop {
        reply = match reply {
            Reply::Slow(d, r) => {
                waits.push(Some(d));
                *r
            }
            Reply::Held(r) => {
                waits.push(None);
                *r
            }
            Reply::Script => script::decide(input),
            Reply::Echo => Reply::Text(EchoSummary::reply_for(
                input.text.as_deref().unwrap_or_default(),
            )),
            Reply::Text(t) => return (waits, Ok(Answer::Text(t))),
            Reply::Bash {
                command,
                description,
            } => {
                let bash = Answer::Bash(ShellCall {
                    command,
                    description,
                });
                return (waits, Ok(bash));
            }
            Reply::Error { status, message } => return (waits, Err((status, message))),
        }
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

/// A model request that declares tools is a main turn; one without is a
/// side request.
pub(crate) fn kind_by_tools(tools: Option<&Value>) -> Kind {
    if tools
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
    {
        Kind::Main
    } else {
        Kind::Side
    }
}

/// The elements of a JSON array (none when `v` is not one).
pub(crate) fn arr(v: Option<&Value>) -> impl DoubleEndedIterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// The text of message content: a plain string, or the `text` of its parts
/// (of one of `types`, when given) joined with `sep`.
pub(crate) fn text_of(content: Option<&Value>, types: &[&str], sep: &str) -> String {
    if let Some(s) = content.and_then(Value::as_str) {
        return s.to_string();
    }
    let of_type = |p: &&Value| {
        types.is_empty() || types.contains(&p.get("type").and_then(Value::as_str).unwrap_or(""))
    };
    arr(content)
        .filter(of_type)
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Tool declarations as (name, parameter schema): the first of
/// `schema_keys` each declaration has.
pub(crate) fn named<'a>(
    decls: impl Iterator<Item = &'a Value>,
    schema_keys: &[&str],
) -> Vec<(&'a str, Option<&'a Value>)> {
    decls
        .filter_map(|d| {
            let schema = schema_keys.iter().find_map(|k| d.get(*k));
            Some((d.get("name")?.as_str()?, schema))
        })
        .collect()
}

/// The call to the shell tool: the first of `names` that `tools` declares
/// (compared ignoring case; `names[0]` when none is), with `command`, and
/// `description` where its schema has one (or no schema is known).
pub(crate) fn shell_call(
    tools: &[(&str, Option<&Value>)],
    names: &[&str],
    command: &str,
    description: &str,
) -> (String, Value) {
    let found = names
        .iter()
        .find_map(|want| tools.iter().find(|(n, _)| n.eq_ignore_ascii_case(want)));
    let (name, schema) = found.copied().unwrap_or((names[0], None));
    let props: Vec<&String> = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let mut args = json!({ "command": command });
    if props.is_empty() || props.iter().any(|p| *p == "description") {
        args["description"] = json!(description);
    }
    (name.to_string(), args)
}

//! A minimal HTTP/1.1 client for talking to a mock over a real socket: what
//! the mocks' self-tests use, and what a test can use to poke a mock
//! without an agent CLI.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// A response, read until the server closed the connection.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    /// The `event:` line, when there was one.
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    /// `data` as JSON (panics when it is not, e.g. `[DONE]`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {}", self.data))
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        super::http::header(&self.headers, name)
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// The body as server-sent events (blank-line separated, `\n` or `\r\n`).
    pub fn sse(&self) -> Vec<Sse> {
        self.body
            .replace("\r\n", "\n")
            .split("\n\n")
            .filter(|b| !b.trim().is_empty())
            .map(|b| Sse {
                event: b
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .map(str::to_string),
                data: b
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
            .collect()
    }
}

/// One exchange with `base` (`http://127.0.0.1:PORT`): `method target`
/// with an optional JSON body.
pub fn request(base: &str, method: &str, target: &str, body: Option<&str>) -> Response {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `POST target` with a JSON body.
pub fn post(base: &str, target: &str, body: &Value) -> Response {
    request(base, "POST", target, Some(&body.to_string()))
}

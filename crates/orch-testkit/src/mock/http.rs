//! The HTTP/1.1 core every mock shares: a listener on a free port of
//! 127.0.0.1, a thread per connection, one request per connection (every
//! response says `connection: close`, so no keep-alive bookkeeping), and a
//! [`Responder`] that writes plain or server-sent-event responses.
//!
//! Plain `std::net`; request bodies with `content-length` or chunked
//! transfer encoding; `expect: 100-continue` answered.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// One request as read off the socket.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The request target: path and query (`/v1/messages?beta=true`).
    pub target: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

type Handler = dyn Fn(HttpRequest, &mut Responder) -> std::io::Result<()> + Send + Sync;

/// A running listener; stops accepting on drop (connections already being
/// served finish on their own threads).
pub struct Server {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listen on a free port of 127.0.0.1 and hand every request to
    /// `handler` on its own thread.
    pub fn start(handler: Arc<Handler>) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &*handler);
                });
            }
        });
        Ok(Server {
            addr,
            shutdown,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so its thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, handler: &Handler) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let Some(req) = read_request(&mut reader, &mut out)? else {
        return Ok(());
    };
    let mut r = Responder { out };
    handler(req, &mut r)
}

fn read_request(
    r: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
) -> std::io::Result<Option<HttpRequest>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
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
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if let Some(n) = header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if header(&headers, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
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
        target,
        headers,
        body,
    }))
}

/// Writes one response to a connection.
pub struct Responder {
    out: TcpStream,
}

impl Responder {
    /// A complete response with a body.
    pub fn send(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        ctype: &str,
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n",
            reason(status),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.out.write_all(head.as_bytes())?;
        self.out.write_all(body)?;
        self.out.flush()
    }

    pub fn json(&mut self, status: u16, body: &Value) -> std::io::Result<()> {
        self.send(status, &[], "application/json", body.to_string().as_bytes())
    }

    /// Headers only (`HEAD`, or a body-less status).
    pub fn empty(&mut self, status: u16) -> std::io::Result<()> {
        self.send(status, &[], "text/plain", b"")
    }

    /// Start a `text/event-stream` response; the events follow with
    /// [`Responder::event`]. The stream ends when the connection closes.
    pub fn sse_start(&mut self) -> std::io::Result<()> {
        self.out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        )?;
        self.out.flush()
    }

    /// One event: an optional `event:` line, one `data:` line, and the
    /// blank line (`sep`: `"\n\n"`, or `"\r\n\r\n"` as Google's API sends).
    pub fn event(&mut self, name: Option<&str>, data: &str, sep: &str) -> std::io::Result<()> {
        let mut s = String::new();
        if let Some(n) = name {
            s.push_str(&format!("event: {n}\n"));
        }
        s.push_str(&format!("data: {data}{sep}"));
        self.out.write_all(s.as_bytes())?;
        self.out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Error",
    }
}

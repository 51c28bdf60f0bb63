//! `orch-echo`: a tiny agent that lives in a tmux pane like Claude Code
//! does, answers deterministically, and fires the same events through
//! `orch-hook`. It lets a newcomer see orch work with no API key, and lets
//! tests drive every state without npm.
//!
//! Like Claude Code it puts the terminal in raw mode and enables bracketed
//! paste, so a pasted newline is part of the prompt and only Enter submits;
//! input typed during a turn is queued and submitted after it.
//!
//! Directives inside a prompt script a turn (they are part of the prompt and
//! stay in it):
//! - `[[slow:MS]]`     the turn takes MS milliseconds;
//! - `[[permission]]`  the turn stops at a permission dialog ("1" / Enter =
//!   yes, "2" / Esc = no) and fires `notify` (`permission_prompt`);
//! - `[[fail]]`        the turn ends in `stop_failure` (a rate limit);
//! - `[[exit]]`        the agent exits after replying.
//!
//! `/exit` (alone) ends the session (`session_end`).

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::event::{normalize_prompt, prompt_hash};
use crate::exit::Code;

/// How the echo agent behaves (`orch-echo`'s flags; see its `--help`).
#[derive(Debug, Clone, Default)]
pub struct EchoOptions {
    /// How long an ordinary turn takes, in milliseconds.
    pub turn_ms: u64,
    /// Ignore the first N Enter keys (a swallowed Enter).
    pub swallow_enter: u32,
    /// Draw a bracketed paste only this many ms after it ends, dropping
    /// Enter keys until then (Claude Code right after start-up).
    pub paste_draw_ms: u64,
    /// Show a start-up trust dialog first.
    pub dialog: bool,
    /// Fail at once (an agent that cannot start).
    pub exit_immediately: bool,
    /// Fire no hooks (a harness orch can only watch on screen).
    pub no_hooks: bool,
    pub session_id: Option<String>,
    /// Resume this session: session_start says `resume`.
    pub resume: Option<String>,
    pub model: Option<String>,
    pub append_system_prompt: Option<String>,
}

struct Agent {
    args: EchoOptions,
    session_id: String,
    cwd: String,
    swallow_left: u32,
    hook: Option<std::path::PathBuf>,
    turn: u64,
}

/// Put the terminal in raw mode until dropped.
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enable() -> RawMode {
        use nix::sys::termios::{self, LocalFlags, SetArg};
        let stdin = io::stdin();
        let fd = stdin.as_fd();
        let Ok(saved) = termios::tcgetattr(fd) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        // Keep ISIG so Ctrl-C still kills the agent, like a real one.
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        raw.input_flags.remove(nix::sys::termios::InputFlags::ICRNL);
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &raw);
        print!("\x1b[?2004h");
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        print!("\x1b[?2004l");
        let _ = io::stdout().flush();
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                s,
            );
        }
    }
}

fn new_id() -> String {
    let n = crate::time::now_ns();
    let p = std::process::id() as u64;
    let a = n ^ (p << 32);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        (p & 0xfff) as u16,
        n & 0xffff_ffff_ffff
    )
}

/// The reply the echo agent gives to `prompt`. Public so tests can predict it.
pub fn reply_for(prompt: &str) -> String {
    let norm = normalize_prompt(prompt);
    let first: String = norm.lines().next().unwrap_or("").chars().take(80).collect();
    format!(
        "echo: {first} [{} bytes, {} lines, {}]",
        norm.len(),
        norm.lines().count().max(1),
        prompt_hash(&norm)
    )
}

fn directive_ms(prompt: &str, name: &str) -> Option<u64> {
    let start = prompt.find(&format!("[[{name}:"))? + name.len() + 3;
    let end = prompt[start..].find("]]")? + start;
    prompt[start..end].trim().parse().ok()
}

enum Input {
    Submit(String),
    Eof,
}

impl Agent {
    fn fire(&self, event: &str, mut payload: serde_json::Value) {
        let Some(hook) = &self.hook else { return };
        if let Some(o) = payload.as_object_mut() {
            o.insert("session_id".into(), self.session_id.clone().into());
            o.insert("cwd".into(), self.cwd.clone().into());
            o.insert("hook_event_name".into(), event.into());
        }
        let arg = match event {
            "SessionStart" => "session_start",
            "UserPromptSubmit" => "prompt",
            "Stop" => "stop",
            "StopFailure" => "stop_failure",
            "Notification" => "notify",
            _ => "session_end",
        };
        if let Ok(mut child) = Command::new(hook)
            .arg(arg)
            .env("ORCH_HARNESS", "echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(payload.to_string().as_bytes());
            }
            let _ = child.wait();
        }
    }

    /// Read one submitted prompt: bracketed paste keeps newlines; Enter
    /// outside a paste submits (unless it is being swallowed).
    fn read_prompt(&mut self) -> Input {
        let mut stdin = io::stdin().lock();
        let mut buf: Vec<u8> = Vec::new();
        let mut in_paste = false;
        let mut paste_from = 0;
        // With --paste-draw-ms: the paste is not on screen before this.
        let mut drawn_at: Option<std::time::Instant> = None;
        let mut byte = [0u8; 1];
        // A byte read after a lone ESC that belongs to the input.
        let mut pending: Option<u8> = None;
        loop {
            if let Some(p) = pending.take() {
                byte[0] = p;
            } else {
                match stdin.read(&mut byte) {
                    Ok(0) | Err(_) => return Input::Eof,
                    Ok(_) => {}
                }
            }
            let b = byte[0];
            if b == 0x1b {
                // Escape sequence: bracketed-paste markers matter, the rest
                // (arrows, focus events) are dropped. Only ESC '[' (CSI) and
                // ESC 'O' (SS3) start one; any other byte after ESC is a
                // lone Escape key followed by ordinary input.
                if stdin.read(&mut byte).unwrap_or(0) == 0 {
                    return Input::Eof;
                }
                if byte[0] == b'O' {
                    let _ = stdin.read(&mut byte);
                    continue;
                }
                if byte[0] != b'[' {
                    pending = Some(byte[0]);
                    continue;
                }
                let mut seq = vec![b'['];
                while seq.len() < 8 {
                    if stdin.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    seq.push(byte[0]);
                    if byte[0].is_ascii_alphabetic() || byte[0] == b'~' {
                        break;
                    }
                }
                match seq.as_slice() {
                    b"[200~" => {
                        in_paste = true;
                        paste_from = buf.len();
                    }
                    b"[201~" => {
                        in_paste = false;
                        if self.args.paste_draw_ms > 0 {
                            let delay = Duration::from_millis(self.args.paste_draw_ms);
                            drawn_at = Some(std::time::Instant::now() + delay);
                            let shown =
                                String::from_utf8_lossy(&buf[paste_from..]).replace('\n', "\r\n");
                            std::thread::spawn(move || {
                                std::thread::sleep(delay);
                                print!("{shown}");
                                let _ = io::stdout().flush();
                            });
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if in_paste {
                let b = if b == b'\r' { b'\n' } else { b };
                buf.push(b);
                if self.args.paste_draw_ms == 0 {
                    let _ = io::stdout().write_all(if b == b'\n' { b"\r\n" } else { &byte });
                    let _ = io::stdout().flush();
                }
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    if drawn_at.is_some_and(|t| std::time::Instant::now() < t) {
                        continue;
                    }
                    if self.swallow_left > 0 {
                        self.swallow_left -= 1;
                        continue;
                    }
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        buf.clear();
                        continue;
                    }
                    print!("\r\n");
                    return Input::Submit(String::from_utf8_lossy(&buf).into_owned());
                }
                0x7f | 0x08 => {
                    if !buf.is_empty() {
                        // Drop a whole UTF-8 char.
                        while let Some(last) = buf.pop() {
                            if last & 0xC0 != 0x80 {
                                break;
                            }
                        }
                        print!("\x08 \x08");
                    }
                }
                0x04 if buf.is_empty() => return Input::Eof,
                b if b < 0x20 && b != b'\t' => {}
                _ => {
                    buf.push(b);
                    let _ = io::stdout().write_all(&byte);
                }
            }
            let _ = io::stdout().flush();
        }
    }

    /// Wait for a dialog answer: true = yes ("1", "y", Enter), false = no.
    fn read_choice(&mut self) -> Option<bool> {
        let mut stdin = io::stdin().lock();
        let mut byte = [0u8; 1];
        loop {
            if stdin.read(&mut byte).unwrap_or(0) == 0 {
                return None;
            }
            match byte[0] {
                b'1' | b'y' | b'\r' | b'\n' => return Some(true),
                b'2' | b'n' | 0x1b => return Some(false),
                _ => {}
            }
        }
    }

    fn prompt_line(&self) {
        print!("echo> ");
        let _ = io::stdout().flush();
    }

    fn turn(&mut self, prompt: &str) -> bool {
        self.turn += 1;
        let prompt_id = new_id();
        self.fire(
            "UserPromptSubmit",
            json!({"prompt": prompt, "prompt_id": prompt_id, "permission_mode": "default"}),
        );
        print!("working… (esc to interrupt)\r\n");
        let _ = io::stdout().flush();
        let ms = directive_ms(prompt, "slow").unwrap_or(self.args.turn_ms);
        std::thread::sleep(Duration::from_millis(ms));
        if prompt.contains("[[permission]]") {
            print!("echo wants to use Bash: touch ./echo-was-here\r\n");
            print!("Do you want to proceed?\r\n❯ 1. Yes\r\n  2. No\r\n");
            let _ = io::stdout().flush();
            self.fire(
                "Notification",
                json!({"notification_type": "permission_prompt",
                       "message": "echo needs your permission to use Bash",
                       "prompt_id": prompt_id}),
            );
            match self.read_choice() {
                Some(true) => print!("(allowed)\r\n"),
                Some(false) => print!("(denied)\r\n"),
                None => return false,
            }
        }
        if prompt.contains("[[fail]]") {
            let msg = "rate limit reached; resets at 5pm";
            print!("API Error: {msg}\r\n");
            self.fire(
                "StopFailure",
                json!({"error": "rate_limit", "error_details": msg, "prompt_id": prompt_id}),
            );
        } else {
            let reply = reply_for(prompt);
            print!("{reply}\r\n");
            self.fire(
                "Stop",
                json!({"last_assistant_message": reply, "prompt_id": prompt_id,
                       "stop_hook_active": false}),
            );
        }
        !prompt.contains("[[exit]]")
    }
}

/// Run the agent in this terminal until its session ends.
pub fn run(args: EchoOptions) -> Result<Code> {
    if args.exit_immediately {
        eprintln!("orch-echo: exiting at once as asked (--exit-immediately)");
        return Ok(Code::Failure);
    }
    let hook = if args.no_hooks {
        None
    } else {
        crate::exe::sibling("hook")
    };
    let resumed = args.resume.is_some();
    let mut agent = Agent {
        session_id: args
            .resume
            .clone()
            .or_else(|| args.session_id.clone())
            .unwrap_or_else(new_id),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        swallow_left: args.swallow_enter,
        hook,
        turn: 0,
        args,
    };
    let _raw = RawMode::enable();
    if agent.args.dialog {
        print!(
            "Do you trust the files in this folder?\r\n\r\n  {}\r\n\r\n❯ 1. Yes, proceed\r\n  2. No, exit\r\n",
            agent.cwd
        );
        let _ = io::stdout().flush();
        match agent.read_choice() {
            Some(true) => {}
            _ => return Ok(Code::Failure),
        }
    }
    print!(
        "orch echo agent — session {}{}{}\r\n",
        agent.session_id,
        agent
            .args
            .model
            .as_deref()
            .map(|m| format!(", model {m}"))
            .unwrap_or_default(),
        agent
            .args
            .append_system_prompt
            .as_deref()
            .map(|p| format!(", system prompt +{} bytes", p.len()))
            .unwrap_or_default(),
    );
    agent.fire(
        "SessionStart",
        json!({"source": if resumed { "resume" } else { "startup" }, "model": agent.args.model.clone().unwrap_or_else(|| "echo".into())}),
    );
    loop {
        agent.prompt_line();
        match agent.read_prompt() {
            Input::Eof => {
                agent.fire("SessionEnd", json!({"reason": "other"}));
                return Ok(Code::Ok);
            }
            Input::Submit(p) if p.trim() == "/exit" => {
                agent.fire("SessionEnd", json!({"reason": "prompt_input_exit"}));
                return Ok(Code::Ok);
            }
            Input::Submit(p) => {
                if !agent.turn(&p) {
                    agent.fire("SessionEnd", json!({"reason": "prompt_input_exit"}));
                    return Ok(Code::Ok);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_is_deterministic() {
        assert_eq!(reply_for("hi\n"), reply_for("hi"));
        assert!(reply_for("hello world").starts_with("echo: hello world [11 bytes, 1 lines"));
        assert!(reply_for("a\nb\nc").contains("3 lines"));
    }

    #[test]
    fn directives() {
        assert_eq!(directive_ms("x [[slow:1500]] y", "slow"), Some(1500));
        assert_eq!(directive_ms("x", "slow"), None);
    }
}

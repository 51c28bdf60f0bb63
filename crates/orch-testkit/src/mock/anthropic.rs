//! Anthropic Messages, for Claude Code (`ANTHROPIC_BASE_URL=<url>`) and pi
//! (a custom provider with `"api": "anthropic-messages"`, base URL `<url>`).
//!
//! `POST …/v1/messages` answers with server-sent events when the request
//! has `"stream": true` (what both CLIs send) and with one JSON message
//! otherwise; `…/count_tokens` gets a count; anything else `200 {}`.
//!
//! Claude Code's main turns carry its 27-28 tools; its side requests
//! (session-title generation on haiku, `tools: []`, a JSON-schema output
//! format, the first prompt wrapped in `<session>`) get
//! `{"title": "Mock session"}`. A shell call goes to the declared `Bash`
//! (Claude) or `bash` (pi) tool.

use serde_json::{Value, json};

use super::http::Responder;
use super::{Answer, Input, Protocol, Turn, arr, named, shell_call, text_of};

#[derive(Debug, Default, Clone)]
pub struct Anthropic;

impl Protocol for Anthropic {
    const MODEL_PATH: &'static str = "/v1/messages";
    const FIXED: &'static [(&'static str, &'static str)] =
        &[("/count_tokens", r#"{"input_tokens": 12}"#)];
    const SIDE_REPLY: &'static str = r#"{"title": "Mock session"}"#;

    fn input(&self, body: &Value) -> Input {
        let users = arr(body.get("messages"))
            .rev()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        let mut input = Input::default();
        for (i, m) in users.enumerate() {
            let texts = user_texts(m);
            if i == 0 && texts.iter().all(|t| is_mid_tool_note(t)) {
                input.tool_result = last_tool_result(m);
            }
            let typed: Vec<&str> = texts.into_iter().filter(|t| !is_reminder(t)).collect();
            if !typed.is_empty() {
                input.text = Some(typed.join("\n"));
                break;
            }
        }
        input
    }

    fn error(&self, status: u16, message: &str) -> Value {
        json!({"type": "error", "error": {"type": error_type(status), "message": message}})
    }

    fn write(&self, out: &mut Responder, mut turn: Turn) -> std::io::Result<()> {
        let body = turn.body;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("claude-mock");
        let id = format!("msg_mock_{}", turn.n);
        let (content, stop_reason) = match &turn.answer {
            Answer::Text(t) => (json!({"type": "text", "text": t}), "end_turn"),
            Answer::Bash(sh) => {
                let tools = named(arr(body.get("tools")), &["input_schema"]);
                let (name, input) =
                    shell_call(&tools, &["Bash", "bash"], &sh.command, &sh.description);
                let id = format!("toolu_mock_{}", turn.n);
                let call = json!({"type": "tool_use", "id": id, "name": name, "input": input});
                (call, "tool_use")
            }
        };
        if body.get("stream").and_then(Value::as_bool) != Some(true) {
            turn.wait();
            let b = json!({
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [content], "stop_reason": stop_reason, "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 7},
            });
            return out.json(200, &b);
        }
        out.sse_start()?;
        let mut send = |name: &str, data: Value| out.event(Some(name), &data.to_string(), "\n\n");
        send(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            }}),
        )?;
        turn.wait();
        let (start, delta) = if content["type"] == "tool_use" {
            (
                json!({"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": content["input"].to_string()}),
            )
        } else {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": content["text"]}),
            )
        };
        send(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        )?;
        send(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        )?;
        send(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        )?;
        send(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": 7}}),
        )?;
        send("message_stop", json!({"type": "message_stop"}))
    }
}

/// The text blocks of a user message (a plain string content is one).
fn user_texts(m: &Value) -> Vec<&str> {
    match m.get("content") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => vec![],
    }
}

/// Context Claude Code adds to a user message, not typed by the user.
fn is_reminder(t: &str) -> bool {
    t.starts_with("<system-reminder>")
}

/// Text that may sit next to a tool result without making the message a
/// new prompt: reminders, and 2.1.328's note for a prompt typed while a tool
/// ran.
fn is_mid_tool_note(t: &str) -> bool {
    is_reminder(t) || t.starts_with("The user sent a new message while you were working")
}

fn last_tool_result(m: &Value) -> Option<String> {
    let r = m
        .get("content")?
        .as_array()?
        .iter()
        .rev()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))?;
    Some(text_of(r.get("content"), &[], " "))
}

fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::client::{post, request};
    use super::super::{AnthropicMock, EchoSummary, Reply};
    use serde_json::{Value, json};

    const T: Duration = Duration::from_secs(30);

    fn main_turn(text: &str, stream: bool) -> Value {
        json!({
            "model": "claude-opus-4-8", "stream": stream, "max_tokens": 64000,
            "tools": [{"name": "Bash", "input_schema": {"properties": {"command": {}, "description": {}}}}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\ncontext\n</system-reminder>"},
                {"type": "text", "text": text},
            ]}],
        })
    }

    /// The SSE events of a streamed body, as (event name, data).
    fn sse(mock: &AnthropicMock, body: &Value) -> Vec<(String, Value)> {
        let r = post(&mock.url(), "/v1/messages?beta=true", body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.sse()
            .into_iter()
            .map(|e| (e.event.clone().unwrap(), e.json()))
            .collect()
    }

    fn text_of(evs: &[(String, Value)]) -> String {
        evs[2].1["delta"]["text"].as_str().unwrap().to_string()
    }

    #[test]
    fn streams_a_text_reply_as_sse() {
        let mock = AnthropicMock::start();
        mock.push(Reply::text("first"));
        let evs = sse(&mock, &main_turn("hi", true));
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(evs[2].1["delta"]["type"], "text_delta");
        assert_eq!(text_of(&evs), "first");
        assert_eq!(evs[4].1["delta"]["stop_reason"], "end_turn");
        assert!(evs[4].1["usage"]["output_tokens"].is_u64());
        // The queue is used up: the script answers next.
        let evs = sse(&mock, &main_turn("please say hi", true));
        assert_eq!(text_of(&evs), "Hi from the mock API! MOCK-OK");
    }

    #[test]
    fn answers_json_when_not_streaming_and_fixed_answers_to_anything_else() {
        let mock = AnthropicMock::start();
        mock.set_default(Reply::text("plain"));
        let r = post(&mock.url(), "/v1/messages", &main_turn("hi", false));
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["type"], "message");
        assert_eq!(v["content"][0]["text"], "plain");
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(request(&mock.url(), "HEAD", "/", None).status, 200);
        let ct = post(&mock.url(), "/v1/messages/count_tokens", &json!({}));
        assert_eq!(ct.json()["input_tokens"], 12);
        let log = mock.requests();
        assert_eq!(log.len(), 3);
        assert_eq!(log.iter().filter(|r| r.is_main()).count(), 1);
        assert_eq!(log[0].model(), Some("claude-opus-4-8"));
    }

    #[test]
    fn side_requests_do_not_use_the_script() {
        let mock = AnthropicMock::start();
        mock.push(Reply::text("scripted"));
        // A title-generation side request (no tools).
        let side = json!({"model": "claude-haiku-4-5", "stream": true, "tools": [],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "<session>\nhi\n</session>"}]}]});
        assert_eq!(text_of(&sse(&mock, &side)), r#"{"title": "Mock session"}"#);
        assert_eq!(text_of(&sse(&mock, &main_turn("hi", true))), "scripted");
        let turns = mock.wait_main_turns(1, T);
        assert_eq!(turns[0].last_user_text().as_deref(), Some("hi"));
    }

    #[test]
    fn echo_describes_the_last_user_text() {
        let mock = AnthropicMock::start();
        mock.set_default(Reply::Echo);
        let text = "line one ünïcødé 日本\nline two\n\ttabbed END";
        let got = EchoSummary::parse(&text_of(&sse(&mock, &main_turn(text, true)))).unwrap();
        assert_eq!(got, EchoSummary::of(text));
        assert_eq!(got.lines, 3);
        assert_eq!(got.len, text.len());
        assert_ne!(got, EchoSummary::of("line one"));
    }

    #[test]
    fn scripts_tool_use_errors_and_held_replies() {
        let mock = AnthropicMock::start();
        mock.push(Reply::bash("touch x"));
        mock.push(Reply::overloaded());
        mock.push(Reply::server_error());
        mock.push(Reply::held(Reply::text("after release")));
        let evs = sse(&mock, &main_turn("go", true));
        assert_eq!(evs[1].1["content_block"]["type"], "tool_use");
        assert_eq!(evs[1].1["content_block"]["name"], "Bash");
        let input: Value =
            serde_json::from_str(evs[2].1["delta"]["partial_json"].as_str().unwrap()).unwrap();
        assert_eq!(input["command"], "touch x");
        assert_eq!(input["description"], "Run a command for the test");
        assert_eq!(evs[4].1["delta"]["stop_reason"], "tool_use");

        let r = post(&mock.url(), "/v1/messages", &main_turn("go", true));
        assert_eq!(r.status, 529);
        assert_eq!(r.json()["error"]["type"], "overloaded_error");
        let r = post(&mock.url(), "/v1/messages", &main_turn("go", true));
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["error"]["type"], "api_error");

        let url = mock.url();
        let held = std::thread::spawn(move || post(&url, "/v1/messages", &main_turn("go", true)));
        mock.wait_main_turns(4, T);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!held.is_finished(), "a held reply must wait for release()");
        mock.release();
        assert!(held.join().unwrap().body.contains("after release"));
    }

    #[test]
    fn pi_gets_its_own_bash_tool_and_tool_results_are_seen() {
        let mock = AnthropicMock::start();
        // pi's request: a lowercase `bash` tool whose input has no description.
        let mut body = json!({"model": "mock-model", "stream": true,
            "tools": [{"name": "bash", "input_schema": {"properties": {"command": {}, "timeout": {}}}}],
            "messages": [{"role": "user", "content": "use bash: touch /tmp/x"}]});
        let evs = sse(&mock, &body);
        assert_eq!(evs[1].1["content_block"]["name"], "bash");
        let id = evs[1].1["content_block"]["id"].clone();
        let input: Value =
            serde_json::from_str(evs[2].1["delta"]["partial_json"].as_str().unwrap()).unwrap();
        assert_eq!(input, json!({"command": "touch /tmp/x"}));
        // The tool's result comes back as the next turn.
        body["messages"] = json!([
            {"role": "user", "content": "use bash: touch /tmp/x"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "bash", "input": input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "done\n"}]}]},
        ]);
        assert_eq!(text_of(&sse(&mock, &body)), "Tool finished: done MOCK-OK");
        let turns = mock.main_turns();
        assert_eq!(turns[1].tool_result(), Some("done\n"));
        assert_eq!(
            turns[1].last_user_text().as_deref(),
            Some("use bash: touch /tmp/x")
        );
        assert!(turns[1].body_text().contains("tool_use"));
    }
}

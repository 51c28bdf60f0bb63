//! OpenAI Chat Completions, for opencode: a provider declared with
//! `"npm": "@ai-sdk/openai-compatible"` and `"options": {"baseURL":
//! "<url>/v1"}` (it POSTs `{baseURL}/chat/completions`).
//!
//! Streamed (`data: {chunk}` lines, then `data: [DONE]`) and plain JSON.
//! `GET …/models` lists one model, anything else gets `200 {}`.
//!
//! What the user typed is the newest `user` message; a `tool` message
//! after it is a tool result. opencode's title request ("Generate a title
//! for this conversation", through `small_model`) has no tools and gets
//! `Mock session title`. A shell call goes to the declared `bash` tool
//! (or `shell`, `run_shell_command`). `opencode run PROMPT` (1.18) sends the
//! prompt wrapped in double quotes.

use serde_json::{Value, json};

use super::http::Responder;
use super::openai_responses::openai_error;
use super::{Answer, Input, Protocol, Turn, arr, named, shell_call, text_of};

#[derive(Debug, Default, Clone)]
pub struct Chat;

impl Protocol for Chat {
    const MODEL_PATH: &'static str = "/chat/completions";
    const FIXED: &'static [(&'static str, &'static str)] = &[(
        "/models",
        r#"{"object": "list", "data": [{"id": "m", "object": "model", "created": 0, "owned_by": "mock"}]}"#,
    )];
    const SIDE_REPLY: &'static str = "Mock session title";

    fn input(&self, body: &Value) -> Input {
        let msgs = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_string);
        Input {
            text: msgs
                .iter()
                .rev()
                .find(|m| role(m).as_deref() == Some("user"))
                .map(|m| content_text(m.get("content"))),
            tool_result: msgs
                .last()
                .filter(|m| role(m).as_deref() == Some("tool"))
                .map(|m| content_text(m.get("content"))),
        }
    }

    fn error(&self, status: u16, message: &str) -> Value {
        openai_error(status, message)
    }

    fn write(&self, out: &mut Responder, mut turn: Turn) -> std::io::Result<()> {
        let body = turn.body;
        let n = turn.n;
        let (message, finish) = match &turn.answer {
            Answer::Text(t) => (json!({"role": "assistant", "content": t}), "stop"),
            Answer::Bash(sh) => {
                let decls = arr(body.get("tools")).map(|t| t.get("function").unwrap_or(t));
                let tools = named(decls, &["parameters"]);
                let names = ["bash", "shell", "run_shell_command"];
                let (name, args) = shell_call(&tools, &names, &sh.command, &sh.description);
                let call = json!({"id": format!("call_mock_{n}"), "type": "function",
                    "function": {"name": name, "arguments": args.to_string()}});
                let message = json!({"role": "assistant", "content": null, "tool_calls": [call]});
                (message, "tool_calls")
            }
        };
        let id = format!("chatcmpl-mock{n}");
        let model = body.get("model").and_then(Value::as_str).unwrap_or("m");
        let usage = json!({"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20});
        if body.get("stream").and_then(Value::as_bool) != Some(true) {
            turn.wait();
            return out.json(
                200,
                &json!({"id": id, "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage}),
            );
        }
        out.sse_start()?;
        let mut chunk = |delta: Value, finish: Option<&str>, usage: Option<&Value>| {
            let mut c = json!({"id": id, "object": "chat.completion.chunk", "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
            if let Some(u) = usage {
                c["usage"] = u.clone();
            }
            out.event(None, &c.to_string(), "\n\n")
        };
        chunk(json!({"role": "assistant", "content": ""}), None, None)?;
        turn.wait();
        if let Some(call) = message["tool_calls"].get(0) {
            let f = &call["function"];
            let head = json!({"index": 0, "id": call["id"], "type": "function",
                "function": {"name": f["name"], "arguments": ""}});
            chunk(json!({"tool_calls": [head]}), None, None)?;
            let rest = json!({"index": 0, "function": {"arguments": f["arguments"]}});
            chunk(json!({"tool_calls": [rest]}), None, None)?;
        } else {
            chunk(json!({"content": message["content"]}), None, None)?;
        }
        chunk(json!({}), Some(finish), Some(&usage))?;
        out.event(None, "[DONE]", "\n\n")
    }
}

/// A message's text: a plain string, or its `text` parts joined.
fn content_text(content: Option<&Value>) -> String {
    text_of(content, &["text"], "\n")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::client::{post, request};
    use super::super::{ChatMock, EchoSummary, Reply};
    use serde_json::{Value, json};

    /// opencode's shape: a system prompt, the bash tool (with a
    /// description parameter), the conversation.
    fn turn(messages: Value, stream: bool) -> Value {
        json!({
            "model": "m", "stream": stream,
            "tools": [{"type": "function", "function": {"name": "bash",
                "parameters": {"type": "object", "properties": {"command": {}, "description": {}, "timeout": {}}}}}],
            "messages": messages,
        })
    }

    fn said(text: &str) -> Value {
        json!([{"role": "system", "content": "You are opencode."},
               {"role": "user", "content": [{"type": "text", "text": text}]}])
    }

    fn chunks(mock: &ChatMock, body: &Value) -> Vec<String> {
        let r = post(&mock.url(), "/v1/chat/completions", body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.sse().into_iter().map(|e| e.data).collect()
    }

    #[test]
    fn streams_text_chunks_then_done() {
        let mock = ChatMock::start();
        let text = "two\nlines ✓";
        let data = chunks(&mock, &turn(said(text), true));
        assert_eq!(data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(EchoSummary::parse(&content), Some(EchoSummary::of(text)));
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["usage"]["total_tokens"], 20);
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk")
        );
    }

    #[test]
    fn use_bash_calls_the_bash_tool_and_reads_the_result() {
        let mock = ChatMock::start();
        let data = chunks(&mock, &turn(said("use bash: touch /p/f"), true));
        let c: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let head = &c[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(head["function"]["name"], "bash");
        let args: Value = serde_json::from_str(
            c[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args["command"], "touch /p/f");
        assert!(args["description"].is_string());
        assert_eq!(
            c.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );

        let mut msgs = said("use bash: touch /p/f").as_array().unwrap().clone();
        msgs.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": head["id"], "type": "function", "function": {"name": "bash", "arguments": args.to_string()}}]}));
        msgs.push(json!({"role": "tool", "tool_call_id": head["id"], "content": "\nok\n"}));
        let r = post(
            &mock.url(),
            "/v1/chat/completions",
            &turn(Value::Array(msgs), false),
        );
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Tool finished: ok MOCK-OK"
        );
        let turns = mock.main_turns();
        assert_eq!(turns[1].tool_result(), Some("\nok\n"));
        assert_eq!(
            turns[1].last_user_text().as_deref(),
            Some("use bash: touch /p/f")
        );
    }

    #[test]
    fn title_requests_models_slow_and_held_replies() {
        let mock = ChatMock::start();
        let title = json!({"model": "m", "stream": false, "messages": [
            {"role": "user", "content": "Generate a title for this conversation: use bash: rm x"}]});
        let r = post(&mock.url(), "/v1/chat/completions", &title);
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Mock session title"
        );
        let models = request(&mock.url(), "GET", "/v1/models", None).json();
        assert_eq!(models["data"][0]["id"], "m");

        let t0 = Instant::now();
        let r = post(
            &mock.url(),
            "/v1/chat/completions",
            &turn(said("slow 1 say hi"), false),
        );
        assert!(t0.elapsed() >= Duration::from_secs(1));
        assert_eq!(
            r.json()["choices"][0]["message"]["content"],
            "Hi from the mock API! MOCK-OK"
        );

        mock.push(Reply::held(Reply::text("released")));
        let url = mock.url();
        let held = std::thread::spawn(move || {
            post(&url, "/v1/chat/completions", &turn(said("wait"), true))
        });
        mock.wait_main_turns(2, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!held.is_finished());
        mock.release();
        assert!(held.join().unwrap().body.contains("released"));
        assert_eq!(
            post(
                &mock.url(),
                "/v1/chat/completions",
                &turn(said("fail429"), true)
            )
            .status,
            429
        );
    }
}

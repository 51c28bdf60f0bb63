//! OpenAI Responses, for codex: a custom provider in `$CODEX_HOME/config.toml`
//! with `base_url = "<url>/v1"` and `wire_api = "responses"` (codex POSTs
//! `{base_url}/responses`).
//!
//! Streamed (SSE) and plain JSON: `response.created`,
//! `response.output_item.added`, `response.output_text.delta`,
//! `response.output_item.done`, `response.completed`. `GET …/models`
//! answers an empty list, anything else `200 {}`.
//!
//! What the user typed is the newest `user` message of `input` that codex
//! did not inject itself (`<environment_context>`, `# AGENTS.md`, …); a
//! `function_call_output` after it is a tool result. codex's hidden
//! thread-title request has no tools and gets `Mock task title`.
//!
//! A shell call goes to the tool codex declared: `exec_command {cmd}`
//! (0.169; with `sandbox_permissions: "require_escalated"` and a
//! justification, so the default approval policy asks — unless the turn
//! runs with full access, where codex would reject an escalation, or
//! [`Responses::escalate`] is off), else `shell_command`, `shell` or
//! `local_shell` as older builds declare.

use serde_json::{Value, json};

use super::http::Responder;
use super::{Answer, Input, Protocol, Turn, text_of};

#[derive(Debug, Clone)]
pub struct Responses {
    /// Ask for sandbox escalation in `exec_command` calls (so codex shows a
    /// permission prompt). Default on.
    pub escalate: bool,
}

impl Default for Responses {
    fn default() -> Self {
        Responses { escalate: true }
    }
}

/// User-role items codex injects itself (not typed by the user).
const INJECTED: &[&str] = &[
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md",
    "<permissions",
    "<INSTRUCTIONS>",
    "<skills_instructions>",
    "<turn_aborted>",
    "<user_shell_command>",
    "<apps_instructions>",
    "<plugins_instructions>",
    "<collaboration_mode>",
];

impl Protocol for Responses {
    const MODEL_PATH: &'static str = "/responses";
    const FIXED: &'static [(&'static str, &'static str)] =
        &[("/models", r#"{"object": "list", "data": [], "models": []}"#)];
    const SIDE_REPLY: &'static str = "Mock task title";

    fn input(&self, body: &Value) -> Input {
        let mut input = Input::default();
        let items = match body.get("input") {
            Some(Value::String(s)) => {
                input.text = Some(s.clone());
                return input;
            }
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        let mut newest = true;
        for it in items.iter().rev() {
            let role = it.get("role").and_then(Value::as_str);
            match it.get("type").and_then(Value::as_str) {
                Some(
                    "function_call_output" | "custom_tool_call_output" | "local_shell_call_output",
                ) => {
                    if newest {
                        input.tool_result = Some(output_text(it.get("output")));
                    }
                    newest = false;
                }
                Some("function_call" | "local_shell_call" | "custom_tool_call" | "reasoning") => {}
                Some("message") | None if role == Some("user") => {
                    let t = item_text(it);
                    if !INJECTED.iter().any(|p| t.trim_start().starts_with(p)) {
                        input.text = Some(t);
                        break;
                    }
                }
                _ if role == Some("assistant") => newest = false,
                _ => {}
            }
        }
        input
    }

    fn error(&self, status: u16, message: &str) -> Value {
        openai_error(status, message)
    }

    fn write(&self, out: &mut Responder, mut turn: Turn) -> std::io::Result<()> {
        let body = turn.body;
        let n = turn.n;
        let item = match &turn.answer {
            Answer::Text(t) => json!({
                "type": "message", "id": format!("msg_mock_{n}"), "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": t, "annotations": []}],
            }),
            Answer::Bash(sh) => self.shell_call(body, n, &sh.command, &sh.description),
        };
        let usage = json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 8, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 20});
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model");
        let resp = json!({"id": format!("resp_mock_{n}"), "object": "response",
            "created_at": 0, "model": model, "status": "completed",
            "output": [item], "usage": usage});
        if body.get("stream").and_then(Value::as_bool) != Some(true) {
            turn.wait();
            return out.json(200, &resp);
        }
        out.sse_start()?;
        let mut seq = 0;
        let mut ev = |mut data: Value| {
            data["sequence_number"] = json!(seq);
            seq += 1;
            let name = data["type"].as_str().unwrap_or_default().to_string();
            out.event(Some(&name), &data.to_string(), "\n\n")
        };
        let mut created = resp.clone();
        created["status"] = json!("in_progress");
        created["output"] = json!([]);
        ev(json!({"type": "response.created", "response": created}))?;
        turn.wait();
        if item["type"] == "message" {
            let mut added = item.clone();
            added["status"] = json!("in_progress");
            added["content"] = json!([]);
            ev(json!({"type": "response.output_item.added", "output_index": 0, "item": added}))?;
            ev(
                json!({"type": "response.output_text.delta", "item_id": item["id"],
                "output_index": 0, "content_index": 0,
                "delta": item["content"][0]["text"]}),
            )?;
        } else {
            ev(json!({"type": "response.output_item.added", "output_index": 0, "item": item}))?;
        }
        ev(json!({"type": "response.output_item.done", "output_index": 0, "item": item}))?;
        ev(json!({"type": "response.completed", "response": resp}))
    }
}

impl Responses {
    /// The output item calling the shell tool this codex build declared.
    fn shell_call(&self, body: &Value, n: u64, cmd: &str, description: &str) -> Value {
        let call = |name: &str, args: Value| {
            json!({"type": "function_call", "id": format!("fc_mock_{n}"),
                "call_id": format!("call_mock_{n}"), "name": name,
                "arguments": args.to_string(), "status": "completed"})
        };
        let tools = tools(body);
        let find = |name: &str| tools.iter().find(|t| t.0 == name).map(|t| t.1);
        if let Some(schema) = find("exec_command") {
            let asks = schema
                .and_then(|s| s.pointer("/parameters/properties/sandbox_permissions"))
                .is_some();
            let mut args = json!({"cmd": cmd});
            if asks && self.escalate && !full_access(body) {
                args["sandbox_permissions"] = json!("require_escalated");
                args["justification"] = json!(format!("{description}: {cmd}"));
            }
            call("exec_command", args)
        } else if find("shell_command").is_some() {
            call("shell_command", json!({"command": cmd}))
        } else if find("shell").is_some() {
            call("shell", json!({"command": ["bash", "-lc", cmd]}))
        } else if find("local_shell").is_some() {
            json!({"type": "local_shell_call", "id": format!("lsh_mock_{n}"),
                "call_id": format!("call_mock_{n}"), "status": "completed",
                "action": {"type": "exec", "command": ["bash", "-lc", cmd]}})
        } else {
            call("exec_command", json!({"cmd": cmd}))
        }
    }
}

/// The declared tools by name (functions, the functions of a namespace,
/// and built-ins by their type), each with its declaration.
fn tools(body: &Value) -> Vec<(&str, Option<&Value>)> {
    let mut out = Vec::new();
    for t in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {
                out.extend(t.get("name").and_then(Value::as_str).map(|n| (n, Some(t))))
            }
            Some("namespace") => {
                for sub in t
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.extend(
                        sub.get("name")
                            .and_then(Value::as_str)
                            .map(|n| (n, Some(sub))),
                    );
                }
            }
            Some(other) => out.push((other, Some(t))),
            None => {}
        }
    }
    out
}

/// Does this turn run with sandbox `danger-full-access` (e.g.
/// `--dangerously-bypass-approvals-and-sandbox`)? Approval is then `never`
/// and codex rejects a call that asks for escalation.
fn full_access(body: &Value) -> bool {
    let meta = body
        .pointer("/client_metadata/x-codex-turn-metadata")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    match meta {
        Some(m) => m["sandbox_mode"] == "danger-full-access",
        None => body
            .get("input")
            .map(|i| i.to_string().chars().take(20_000).collect::<String>())
            .is_some_and(|s| s.contains("danger-full-access")),
    }
}

fn item_text(it: &Value) -> String {
    text_of(
        it.get("content"),
        &["input_text", "text", "output_text"],
        "\n",
    )
}

fn output_text(out: Option<&Value>) -> String {
    match out {
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| Value::Object(o.clone()).to_string()),
        other => text_of(other, &[], " "),
    }
}

/// OpenAI's error body (both OpenAI protocols).
pub(crate) fn openai_error(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_request"),
        401 => ("invalid_request_error", "invalid_api_key"),
        429 => ("requests", "rate_limit_exceeded"),
        503 | 529 => ("server_error", "server_is_overloaded"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::super::client::{post, request};
    use super::super::{EchoSummary, Reply, ResponsesMock};
    use serde_json::{Value, json};

    /// codex 0.169's shape: tools with an `exec_command` that takes
    /// `sandbox_permissions`, injected context before the typed prompt.
    fn turn(input: Value, stream: bool) -> Value {
        json!({
            "model": "mock-model", "stream": stream,
            "instructions": "You are Codex.",
            "tools": [
                {"type": "function", "name": "exec_command", "parameters": {"type": "object",
                    "properties": {"cmd": {}, "sandbox_permissions": {}, "justification": {}}}},
                {"type": "function", "name": "apply_patch", "parameters": {"type": "object", "properties": {}}},
            ],
            "input": input,
        })
    }

    fn typed(text: &str) -> Value {
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/p</cwd>\n</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        ])
    }

    /// (event name, data) of a streamed response.
    fn stream(mock: &ResponsesMock, body: &Value) -> Vec<(String, Value)> {
        let r = post(&mock.url(), "/v1/responses", body);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("text/event-stream"));
        r.sse()
            .into_iter()
            .map(|e| (e.event.clone().unwrap(), e.json()))
            .collect()
    }

    #[test]
    fn streams_a_text_reply_the_way_codex_reads_it() {
        let mock = ResponsesMock::start();
        let evs = stream(&mock, &turn(typed("please say hi"), true));
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (i, (name, data)) in evs.iter().enumerate() {
            assert_eq!(data["type"], name.as_str());
            assert_eq!(data["sequence_number"], i);
        }
        assert_eq!(evs[2].1["delta"], "Hi from the mock API! MOCK-OK");
        let done = &evs[4].1["response"];
        assert_eq!(done["status"], "completed");
        assert!(done["id"].as_str().unwrap().starts_with("resp_mock_"));
        assert_eq!(
            done["output"][0]["content"][0]["text"],
            "Hi from the mock API! MOCK-OK"
        );
        assert_eq!(done["usage"]["total_tokens"], 20);
        // The injected context is not what the user typed.
        assert_eq!(
            mock.main_turns()[0].last_user_text().as_deref(),
            Some("please say hi")
        );
    }

    #[test]
    fn echo_json_side_requests_and_other_paths() {
        let mock = ResponsesMock::start();
        let text = "multi\nline ünïcødé\tprompt";
        let r = post(&mock.url(), "/v1/responses", &turn(typed(text), false));
        let v = r.json();
        assert_eq!(v["object"], "response");
        let reply = v["output"][0]["content"][0]["text"].as_str().unwrap();
        assert_eq!(EchoSummary::parse(reply), Some(EchoSummary::of(text)));
        // codex's hidden title request: no tools.
        let title = json!({"model": "mock-model", "stream": false,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Generate a concise, single-line task title"}]}]});
        let v = post(&mock.url(), "/v1/responses", &title).json();
        assert_eq!(v["output"][0]["content"][0]["text"], "Mock task title");
        let models = request(&mock.url(), "GET", "/v1/models", None);
        assert_eq!(models.json()["data"], json!([]));
        assert_eq!(request(&mock.url(), "HEAD", "/v1", None).status, 200);
        let kinds: Vec<_> = mock.requests().iter().map(|r| r.kind).collect();
        use super::super::Kind::*;
        assert_eq!(kinds, [Main, Side, Other, Other]);
    }

    #[test]
    fn use_bash_asks_for_escalation_unless_full_access() {
        let mock = ResponsesMock::start();
        let done = |evs: &[(String, Value)]| {
            let e = evs.iter().find(|(n, _)| n == "response.output_item.done");
            e.unwrap().1["item"].clone()
        };
        let evs = stream(&mock, &turn(typed("use bash: touch /p/made"), true));
        let item = &done(&evs);
        assert_eq!(item["type"], "function_call");
        assert_eq!(item["name"], "exec_command");
        let args: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["cmd"], "touch /p/made");
        assert_eq!(args["sandbox_permissions"], "require_escalated");
        assert!(args["justification"].as_str().unwrap().contains("touch"));

        // Under --dangerously-bypass-approvals-and-sandbox: a plain call.
        let mut body = turn(typed("use bash: touch /p/made"), true);
        body["client_metadata"] = json!({"x-codex-turn-metadata":
            json!({"sandbox_mode": "danger-full-access"}).to_string()});
        let call = done(&stream(&mock, &body));
        let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"cmd": "touch /p/made"}));

        // The call's output comes back as the next turn.
        let mut input = typed("use bash: touch /p/made").as_array().unwrap().clone();
        input.push(call);
        input.push(
            json!({"type": "function_call_output", "call_id": "call_mock_1",
            "output": "Chunk ID: 7\nWall time: 0.01s\nOutput:\nmade it\n"}),
        );
        let evs = stream(&mock, &turn(Value::Array(input), true));
        assert_eq!(evs[2].1["delta"], "Tool finished: made it MOCK-OK");
        assert_eq!(
            mock.main_turns()[2].tool_result(),
            Some("Chunk ID: 7\nWall time: 0.01s\nOutput:\nmade it\n")
        );
    }

    #[test]
    fn older_shell_tools_and_errors() {
        let mock = ResponsesMock::start();
        let mut body = turn(typed("use bash: ls"), false);
        body["tools"] = json!([{"type": "function", "name": "shell", "parameters": {}}]);
        let v = post(&mock.url(), "/v1/responses", &body).json();
        let args: Value =
            serde_json::from_str(v["output"][0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args["command"], json!(["bash", "-lc", "ls"]));
        body["tools"] = json!([{"type": "local_shell"}]);
        let v = post(&mock.url(), "/v1/responses", &body).json();
        assert_eq!(v["output"][0]["type"], "local_shell_call");
        assert_eq!(v["output"][0]["action"]["command"][2], "ls");

        mock.push(Reply::rate_limited());
        let r = post(&mock.url(), "/v1/responses", &turn(typed("x"), true));
        assert_eq!(r.status, 429);
        assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");
        let r = post(
            &mock.url(),
            "/v1/responses",
            &turn(typed("x fail500"), true),
        );
        assert_eq!(r.status, 500);
        assert_eq!(r.json()["error"]["type"], "server_error");
    }
}

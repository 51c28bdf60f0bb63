//! Gemini Generative Language, for Gemini CLI: `GOOGLE_GEMINI_BASE_URL=<url>`,
//! `GEMINI_API_KEY=…` and `security.auth.selectedType: "gemini-api-key"` in
//! its settings (the base URL alone selects an auth method it rejects).
//!
//! `POST /v1beta/models/<m>:streamGenerateContent?alt=sse` (SSE of
//! `GenerateContentResponse`, `\r\n\r\n`-separated as Google sends them),
//! `:generateContent` (one response), `:countTokens`, `GET …/models`;
//! anything else `200 {}`.
//!
//! Side requests: Gemini CLI asks for JSON (`generationConfig.
//! responseMimeType: application/json`) for its model router, next-speaker
//! and loop checks — they get the smallest object that fits the request's
//! schema (numbers at their `minimum`, `next_speaker: "user"`); session
//! titles ("Summarize the user's primary intent…") get `Mock session
//! title`. A shell call goes to `run_shell_command {command, description}`.
//! Text is sent in one chunk unless [`Gemini::chunked`]: Gemini CLI 0.61 garbles the AfterAgent hook's
//! `prompt_response` when a reply streams in several.

use serde_json::{Map, Value, json};

use super::http::{HttpRequest, Responder};
use super::{Answer, Input, Kind, Protocol, Reply, Turn, arr, kind_by_tools, named, shell_call};

#[derive(Debug, Default, Clone)]
pub struct Gemini {
    /// Stream text replies in chunks of this many characters (as the real
    /// API does), instead of one chunk. Gemini CLI 0.61 then garbles
    /// `AfterAgent`'s `prompt_response`; its transcript stays right.
    pub chunk: Option<usize>,
}

impl Gemini {
    /// Text streamed `n` characters at a time.
    pub fn chunked(n: usize) -> Gemini {
        Gemini {
            chunk: Some(n.max(1)),
        }
    }
}

const TITLE_PROMPT: &str = "Summarize the user's primary intent";

impl Protocol for Gemini {
    const MODEL_PATH: &'static str = ":generateContent";
    const FIXED: &'static [(&'static str, &'static str)] = &[
        (":countTokens", r#"{"totalTokens": 42}"#),
        (
            ":embedContent",
            r#"{"embedding": {"values": [0, 0, 0, 0]}}"#,
        ),
        (
            ":batchEmbedContents",
            r#"{"embeddings": [{"values": [0, 0, 0, 0]}]}"#,
        ),
        (
            "/models",
            r#"{"models": [{"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent", "countTokens"]}]}"#,
        ),
    ];
    const SIDE_REPLY: &'static str = "Mock session title";

    fn classify(&self, req: &HttpRequest, body: Option<&Value>) -> Option<Kind> {
        let p = req.path();
        let generate = p.ends_with(Self::MODEL_PATH) || p.ends_with(":streamGenerateContent");
        (req.method == "POST" && generate).then(|| {
            let titled = body.is_some_and(|b| {
                self.input(b)
                    .text
                    .is_some_and(|t| t.starts_with(TITLE_PROMPT))
            });
            if body.is_some_and(json_mode) || titled {
                Kind::Side
            } else {
                kind_by_tools(body.and_then(|b| b.get("tools")))
            }
        })
    }

    fn input(&self, body: &Value) -> Input {
        let mut input = Input::default();
        let users = body
            .get("contents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .rev()
            .filter(|c| c.get("role").and_then(Value::as_str).unwrap_or("user") == "user");
        for (i, c) in users.enumerate() {
            let parts = c
                .get("parts")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if i == 0 {
                input.tool_result = parts
                    .iter()
                    .find_map(|p| p.get("functionResponse"))
                    .map(function_output);
            }
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .filter(|t| !t.trim().is_empty())
                .collect();
            // Context blocks (<session_context>, hook context) sit in
            // parts of their own; the typed prompt is the last other one.
            let typed = texts
                .iter()
                .rev()
                .find(|t| !t.trim_start().starts_with('<'));
            if let Some(t) = typed.or(texts.last()) {
                input.text = Some(t.to_string());
                break;
            }
        }
        input
    }

    fn side_reply(&self, body: &Value) -> Reply {
        if !json_mode(body) {
            return Reply::text(Self::SIDE_REPLY);
        }
        let gc = &body["generationConfig"];
        let schema = gc
            .get("responseJsonSchema")
            .or_else(|| gc.get("responseSchema"))
            .unwrap_or(&Value::Null);
        let mut obj = from_schema(schema);
        if obj.get("next_speaker").is_some() {
            // The model has finished: the user speaks next.
            obj["next_speaker"] = json!("user");
        }
        if !obj.is_object() {
            obj = json!({});
        }
        Reply::Text(obj.to_string())
    }

    fn error(&self, status: u16, message: &str) -> Value {
        json!({"error": {"code": status, "message": message, "status": status_name(status)}})
    }

    fn write(&self, out: &mut Responder, mut turn: Turn) -> std::io::Result<()> {
        let (part, tokens) = match &turn.answer {
            Answer::Text(t) => (json!({"text": t}), (t.len() / 4).max(1)),
            Answer::Bash(sh) => {
                let decls =
                    arr(turn.body.get("tools")).flat_map(|t| arr(t.get("functionDeclarations")));
                let tools = named(decls, &["parametersJsonSchema", "parameters"]);
                let names = ["run_shell_command", "shell", "bash"];
                let (name, args) = shell_call(&tools, &names, &sh.command, &sh.description);
                (json!({"functionCall": {"name": name, "args": args}}), 20)
            }
        };
        let chunk = json!({
            "candidates": [{"content": {"role": "model", "parts": [part]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": tokens,
                "totalTokenCount": 12 + tokens},
            "modelVersion": "gemini-mock",
            "responseId": format!("mock-{}", turn.n),
        });
        if !turn.req.path().ends_with(":streamGenerateContent") {
            turn.wait();
            return out.json(200, &chunk);
        }
        out.sse_start()?;
        turn.wait();
        let text = match &turn.answer {
            Answer::Text(t) => Some(t),
            Answer::Bash(_) => None,
        };
        if let (Some(n), Some(t)) = (self.chunk, text) {
            let chars: Vec<char> = t.chars().collect();
            let pieces: Vec<String> = chars.chunks(n).map(|c| c.iter().collect()).collect();
            for (i, piece) in pieces.iter().enumerate() {
                let mut c = chunk.clone();
                c["candidates"][0]["content"]["parts"][0] = json!({"text": piece});
                if i + 1 < pieces.len() {
                    c["candidates"][0]
                        .as_object_mut()
                        .map(|o| o.remove("finishReason"));
                }
                out.event(None, &c.to_string(), "\r\n\r\n")?;
            }
            return Ok(());
        }
        out.event(None, &chunk.to_string(), "\r\n\r\n")
    }
}

fn json_mode(body: &Value) -> bool {
    body.pointer("/generationConfig/responseMimeType")
        .and_then(Value::as_str)
        == Some("application/json")
}

fn function_output(fr: &Value) -> String {
    let resp = fr.get("response").unwrap_or(&Value::Null);
    match resp.get("output").or_else(|| resp.get("error")) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => resp.to_string(),
    }
}

/// The smallest instance of a JSON schema (OpenAPI-style too: types may
/// be upper case, or a list with `null`).
fn from_schema(s: &Value) -> Value {
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let t = match s.get("type") {
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| !t.eq_ignore_ascii_case("null"))
            .unwrap_or("object")
            .to_ascii_lowercase(),
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        _ => "object".into(),
    };
    match t.as_str() {
        "object" => {
            let props = s.get("properties").and_then(Value::as_object);
            Value::Object(
                props
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), from_schema(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        "array" => json!([]),
        // e.g. the router's complexity_score must be within 1..100.
        "integer" | "number" => s.get("minimum").cloned().unwrap_or(json!(1)),
        "boolean" => json!(false),
        _ => json!("mock"),
    }
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 | 529 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::{post, request};
    use super::super::{EchoSummary, GeminiMock, Kind};
    use serde_json::{Value, json};

    const STREAM: &str = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse";

    /// Gemini CLI's shape: its tools, a context part before the prompt.
    fn turn(contents: Value) -> Value {
        json!({
            "contents": contents,
            "tools": [{"functionDeclarations": [
                {"name": "run_shell_command", "parametersJsonSchema": {"type": "object",
                    "properties": {"command": {}, "description": {}, "dir_path": {}}}},
                {"name": "read_file", "parametersJsonSchema": {"type": "object"}}]}],
            "generationConfig": {"temperature": 0},
        })
    }

    fn said(text: &str) -> Value {
        json!([{"role": "user", "parts": [{"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"}, {"text": text}]}])
    }

    fn streamed(mock: &GeminiMock, body: &Value) -> Value {
        let r = post(&mock.url(), STREAM, body);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.ends_with("\r\n\r\n"), "{:?}", r.body);
        let evs = r.sse();
        assert_eq!(evs.len(), 1, "one chunk: {}", r.body);
        evs[0].json()
    }

    #[test]
    fn streams_one_chunk_and_echoes_the_prompt() {
        let mock = GeminiMock::start();
        let text = "a 4-line\nprompt\nwith ünïcødé\nEND";
        let c = streamed(&mock, &turn(said(text)));
        let cand = &c["candidates"][0];
        assert_eq!(cand["finishReason"], "STOP");
        assert_eq!(cand["content"]["role"], "model");
        let reply = cand["content"]["parts"][0]["text"].as_str().unwrap();
        assert_eq!(EchoSummary::parse(reply), Some(EchoSummary::of(text)));
        assert!(c["usageMetadata"]["totalTokenCount"].is_u64());
        let turns = mock.main_turns();
        assert_eq!(turns[0].last_user_text().as_deref(), Some(text));
        assert_eq!(turns[0].model(), Some("gemini-3.8-flash"));
    }

    #[test]
    fn use_bash_calls_run_shell_command_and_reads_its_response() {
        let mock = GeminiMock::start();
        let c = streamed(&mock, &turn(said("use bash: touch /p/f")));
        let call = &c["candidates"][0]["content"]["parts"][0]["functionCall"];
        assert_eq!(call["name"], "run_shell_command");
        assert_eq!(call["args"]["command"], "touch /p/f");
        assert!(call["args"]["description"].is_string());
        let mut contents = said("use bash: touch /p/f").as_array().unwrap().clone();
        contents.push(json!({"role": "model", "parts": [{"functionCall": call}]}));
        contents.push(
            json!({"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command",
            "response": {"output": "<untrusted_context>\nOutput: (empty)"}}}]}),
        );
        let c = streamed(&mock, &turn(Value::Array(contents)));
        assert_eq!(
            c["candidates"][0]["content"]["parts"][0]["text"],
            "Tool finished: (empty) MOCK-OK"
        );
    }

    #[test]
    fn router_and_title_requests_are_side_requests() {
        let mock = GeminiMock::start();
        // The model router: JSON out, fitted to the schema.
        let router = json!({
            "contents": said("say hi"),
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
                "type": "object", "properties": {
                    "complexity_reasoning": {"type": "string"},
                    "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100}}}},
        });
        let r = post(
            &mock.url(),
            "/v1beta/models/gemini-3.5-flash-lite:generateContent",
            &router,
        );
        let text = r.json()["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let routed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            routed,
            json!({"complexity_reasoning": "mock", "complexity_score": 1})
        );
        let next = json!({"contents": said("x"), "generationConfig": {
            "responseMimeType": "application/json", "responseJsonSchema": {"type": "OBJECT",
                "properties": {"reasoning": {"type": "STRING"},
                    "next_speaker": {"type": "STRING", "enum": ["user", "model"]}}}}});
        let r = post(&mock.url(), "/v1beta/models/m:generateContent", &next);
        let text = r.json()["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["next_speaker"],
            "user"
        );
        let title = turn(
            json!([{"role": "user", "parts": [{"text": "Summarize the user's primary intent in a few words"}]}]),
        );
        let r = post(&mock.url(), "/v1beta/models/m:generateContent", &title);
        assert_eq!(
            r.json()["candidates"][0]["content"]["parts"][0]["text"],
            "Mock session title"
        );
        // The main turn still gets the script.
        let c = streamed(&mock, &turn(said("say hi")));
        assert_eq!(
            c["candidates"][0]["content"]["parts"][0]["text"],
            "Hi from the mock API! MOCK-OK"
        );
        let ct = post(&mock.url(), "/v1beta/models/m:countTokens", &json!({}));
        assert_eq!(ct.json()["totalTokens"], 42);
        let models = request(&mock.url(), "GET", "/v1beta/models", None).json();
        assert!(models["models"][0]["name"].is_string());
        let kinds: Vec<Kind> = mock.requests().iter().map(|r| r.kind).collect();
        use Kind::*;
        assert_eq!(kinds, [Side, Side, Side, Main, Other, Other]);
    }

    #[test]
    fn chunked_streams_the_text_in_pieces() {
        let mock = GeminiMock::start_with(super::Gemini::chunked(16));
        let r = post(&mock.url(), STREAM, &turn(said("say hi")));
        let evs = r.sse();
        assert!(evs.len() > 1, "{}", r.body);
        let text: String = evs
            .iter()
            .map(|e| {
                e.json()["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(text, "Hi from the mock API! MOCK-OK");
        assert_eq!(
            evs.last().unwrap().json()["candidates"][0]["finishReason"],
            "STOP"
        );
        assert!(evs[0].json()["candidates"][0].get("finishReason").is_none());
    }

    #[test]
    fn errors_use_google_status_names() {
        let mock = GeminiMock::start();
        let r = post(&mock.url(), STREAM, &turn(said("this fail429 now")));
        assert_eq!(r.status, 429);
        assert_eq!(r.json()["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(r.json()["error"]["code"], 429);
    }
}

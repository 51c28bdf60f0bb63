//! [`Reply::Script`]: the reply decided by words in the prompt, the same on
//! every protocol, so one scenario can drive any agent CLI. First match wins:
//!
//! | the newest input | reply |
//! |---|---|
//! | a tool result | `Tool finished: <first 60 chars of its output> MOCK-OK` |
//! | `fail500`, `fail429`, `fail529`, `fail400` | that HTTP error |
//! | `use bash: CMD` (`use bash` alone: `echo MOCKTOOL-RAN`) | a call to the shell tool the request declares |
//! | `say hi` | `Hi from the mock API! MOCK-OK` |
//! | anything else | the echo reply ([`EchoSummary`]) |
//!
//! `slow` (or `slow N`) as a word anywhere holds the reply 4 (N) seconds
//! first, whatever it is — to see a busy screen or type mid-turn.

use std::time::Duration;

use super::{EchoSummary, Input, Reply};

pub const SAY_HI: &str = "Hi from the mock API! MOCK-OK";

/// The reply for `input`, with any `slow` delay wrapped around it.
pub(crate) fn decide(input: &Input) -> Reply {
    if let Some(out) = &input.tool_result {
        return Reply::Text(tool_finished(out));
    }
    let text = input.text.as_deref().unwrap_or("");
    let reply = decide_text(text);
    match slow(text) {
        Some(d) => Reply::slow(d, reply),
        None => reply,
    }
}

fn decide_text(text: &str) -> Reply {
    // ASCII lower-casing keeps byte offsets, so `low`'s indices fit `text`.
    let low = text.to_ascii_lowercase();
    for status in [500, 429, 529, 400] {
        if low.contains(&format!("fail{status}")) {
            return Reply::error(status);
        }
    }
    if let Some(i) = low.find("use bash") {
        // `opencode run PROMPT` sends the prompt wrapped in double quotes.
        let quoted = text.trim().starts_with('"') && text.trim().ends_with('"');
        let rest = &text[i + "use bash".len()..];
        let rest = if quoted {
            rest.trim_end().trim_end_matches('"')
        } else {
            rest
        };
        let command = match rest.strip_prefix(':') {
            Some(cmd) if !cmd.trim().is_empty() => cmd.trim().to_string(),
            _ => "echo MOCKTOOL-RAN".to_string(),
        };
        return Reply::bash(command);
    }
    if low.contains("say hi") {
        return Reply::text(SAY_HI);
    }
    Reply::Text(EchoSummary::reply_for(text))
}

/// `Tool finished: …` for a tool's output: what follows the last
/// `Output:` marker (codex and Gemini CLI wrap the command's output),
/// without Gemini CLI's wrapper lines, on one line, cut to 60 characters.
fn tool_finished(output: &str) -> String {
    let out = output.rsplit("Output:").next().unwrap_or(output);
    let wrapper = |l: &&str| {
        let l = l.trim();
        l.starts_with("Process Group PGID") || l.ends_with("untrusted_context>")
    };
    let lines: Vec<&str> = out.lines().filter(|l| !wrapper(l)).collect();
    let flat: String = lines.join(" ").trim().chars().take(60).collect();
    format!("Tool finished: {} MOCK-OK", flat.trim())
}

/// `slow` as a word, optionally followed by a number of seconds.
fn slow(text: &str) -> Option<Duration> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let i = words.iter().position(|w| w.eq_ignore_ascii_case("slow"))?;
    let secs = words
        .get(i + 1)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(4);
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Reply {
        decide(&Input {
            text: Some(text.into()),
            tool_result: None,
        })
    }

    #[test]
    fn script_words_pick_the_reply() {
        assert!(matches!(said("please say hi"), Reply::Text(t) if t == SAY_HI));
        assert!(
            matches!(said("now use bash: touch /x/y"), Reply::Bash { command, .. } if command == "touch /x/y")
        );
        assert!(
            matches!(said("use bash"), Reply::Bash { command, .. } if command == "echo MOCKTOOL-RAN")
        );
        assert!(matches!(
            said("x fail429 y"),
            Reply::Error { status: 429, .. }
        ));
        assert!(matches!(said("slowly, please"), Reply::Text(t) if t.starts_with("MOCK-REPLY ")));
        assert!(
            matches!(said("a slow one, say hi"), Reply::Slow(d, r) if d == Duration::from_secs(4) && matches!(*r, Reply::Text(ref t) if t == SAY_HI))
        );
        assert!(matches!(said("slow 1 then"), Reply::Slow(d, _) if d == Duration::from_secs(1)));
        let echo = said("anything\nelse");
        assert!(
            matches!(echo, Reply::Text(ref t) if EchoSummary::parse(t) == Some(EchoSummary::of("anything\nelse")))
        );
        let tool = decide(&Input {
            text: Some("use bash: ls".into()),
            tool_result: Some("Chunk ID: 1\nOutput:\nfile-a\nfile-b\n".into()),
        });
        assert!(matches!(tool, Reply::Text(t) if t == "Tool finished: file-a file-b MOCK-OK"));
        // Gemini CLI's wrapper; opencode run's quotes.
        let tool = decide(&Input {
            text: None,
            tool_result: Some(
                "<untrusted_context>\nOutput: (empty)\nProcess Group PGID: 7\n</untrusted_context>"
                    .into(),
            ),
        });
        assert!(matches!(tool, Reply::Text(t) if t == "Tool finished: (empty) MOCK-OK"));
        assert!(
            matches!(said("\"use bash: echo hi > f\""), Reply::Bash { command, .. } if command == "echo hi > f")
        );
    }
}

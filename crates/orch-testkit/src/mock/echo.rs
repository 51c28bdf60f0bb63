//! The echo reply: what a mock says about the text it received, so a test
//! can check a prompt reached the model API byte for byte.
//!
//! `MOCK-REPLY len=3631 lines=4 fnv=89abcdef01234567 head="alpha line\n…" tail="…OMEGA-END" MOCK-OK`
//! — length in bytes, `\n`-separated line count, FNV-1a 64 of the exact
//! bytes, and the first and last [`ECHO_EDGE_CHARS`] characters as JSON
//! strings. Compare `EchoSummary::parse(reply)` with `EchoSummary::of(sent)`.

use serde_json::Value;

pub const ECHO_PREFIX: &str = "MOCK-REPLY ";
pub const ECHO_SUFFIX: &str = " MOCK-OK";
pub const ECHO_EDGE_CHARS: usize = 24;

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
        format!(
            "{ECHO_PREFIX}len={} lines={} fnv={} head={} tail={}{ECHO_SUFFIX}",
            s.len,
            s.lines,
            s.fnv,
            Value::from(s.head),
            Value::from(s.tail)
        )
    }

    /// Parse an echo reply (as it arrives in a `stop` event's `reply`).
    pub fn parse(reply: &str) -> Option<EchoSummary> {
        let rest = reply
            .trim()
            .strip_prefix(ECHO_PREFIX)?
            .strip_suffix(ECHO_SUFFIX.trim_start())?;
        let mut fields = rest.splitn(4, ' ');
        let mut num =
            |key: &str| -> Option<String> { Some(fields.next()?.strip_prefix(key)?.to_string()) };
        let len = num("len=")?.parse().ok()?;
        let lines = num("lines=")?.parse().ok()?;
        let fnv = num("fnv=")?;
        let rest = fields.next()?.strip_prefix("head=")?;
        let (head, rest) = json_string(rest)?;
        let (tail, rest) = json_string(rest.strip_prefix(" tail=")?)?;
        rest.trim().is_empty().then_some(EchoSummary {
            len,
            lines,
            fnv,
            head,
            tail,
        })
    }
}

/// A JSON string at the start of `s`, and what follows it.
fn json_string(s: &str) -> Option<(String, &str)> {
    let mut it = serde_json::Deserializer::from_str(s).into_iter::<String>();
    let v = it.next()?.ok()?;
    Some((v, &s[it.byte_offset()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_reply_round_trips_awkward_text() {
        for text in [
            "",
            "hi",
            "line one ünïcødé 日本\nline two\n\ttabbed \"quoted\" END",
            "head= tail= MOCK-OK inside",
            &"x".repeat(5000),
        ] {
            let reply = EchoSummary::reply_for(text);
            assert!(reply.starts_with("MOCK-REPLY len="), "{reply}");
            assert!(reply.ends_with(" MOCK-OK"), "{reply}");
            assert!(!reply.contains('\n'), "one line: {reply}");
            assert_eq!(EchoSummary::parse(&reply), Some(EchoSummary::of(text)));
        }
        let s = EchoSummary::of("a\nb\n");
        assert_eq!((s.len, s.lines), (4, 3));
        assert_ne!(EchoSummary::of("a"), EchoSummary::of("b"));
        assert_eq!(EchoSummary::parse("MOCK-REPLY len=1"), None);
    }
}

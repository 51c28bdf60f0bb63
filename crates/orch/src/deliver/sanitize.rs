//! Cleaning text before it is typed: terminal control sequences removed,
//! line endings unified, invalid or oversize input refused.

use anyhow::Result;

use crate::exit::Fail;

/// The largest text tell accepts at all.
pub const INPUT_MAX: usize = 16 * 1024 * 1024;

/// Remove terminal control sequences: ESC-introduced sequences (CSI, OSC,
/// DCS/SOS/PM/APC strings, two-byte escapes), their 8-bit C1 forms, other
/// C1 and C0 controls except `\n` and `\t`, and DEL. CR and CRLF become LF.
/// An OSC/DCS string that has no terminator before the end of its line
/// loses only its introducer, so stray bytes cannot swallow real text.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut it = input.chars();
    while let Some(c) = it.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                let mut look = it.clone();
                if look.next() == Some('\n') {
                    it = look;
                }
                out.push('\n');
            }
            '\u{1b}' => skip_escape(&mut it),
            '\u{9b}' => skip_csi(&mut it),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut it),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_escape(it: &mut std::str::Chars<'_>) {
    let mut look = it.clone();
    match look.next() {
        Some('[') => {
            *it = look;
            skip_csi(it);
        }
        Some(']' | 'P' | 'X' | '^' | '_') => {
            *it = look;
            skip_string(it);
        }
        Some(c @ '\u{20}'..='\u{2f}') => {
            // nF escape: intermediates, then one final byte.
            let _ = c;
            *it = look;
            skip_sequence(it, '\u{20}'..='\u{2f}', '\u{30}'..='\u{7e}');
        }
        Some('\u{30}'..='\u{7e}') => *it = look,
        // A lone ESC (end of text, or before a control/non-ASCII char):
        // drop just the ESC.
        _ => {}
    }
}

fn skip_csi(it: &mut std::str::Chars<'_>) {
    skip_sequence(it, '\u{20}'..='\u{3f}', '\u{40}'..='\u{7e}');
}

/// Skip the chars in `params`, then one in `finals`, which ends the
/// sequence. Malformed (another char first): the sequence ends there and
/// that char is kept.
fn skip_sequence(
    it: &mut std::str::Chars<'_>,
    params: std::ops::RangeInclusive<char>,
    finals: std::ops::RangeInclusive<char>,
) {
    let mut look = it.clone();
    while let Some(c) = look.next() {
        if params.contains(&c) {
            *it = look.clone();
        } else {
            if finals.contains(&c) {
                *it = look;
            }
            return;
        }
    }
}

/// Skip a control string up to BEL or ST (`ESC \` or U+009C). Unterminated
/// before a newline or the end: skip nothing more.
fn skip_string(it: &mut std::str::Chars<'_>) {
    let mut look = it.clone();
    while let Some(c) = look.next() {
        match c {
            '\u{7}' | '\u{9c}' => {
                *it = look;
                return;
            }
            '\u{1b}' => {
                let mut after = look.clone();
                if after.next() == Some('\\') {
                    look = after;
                }
                *it = look;
                return;
            }
            '\n' | '\r' => return,
            _ => {}
        }
    }
}

/// Read a prompt's bytes as text: invalid UTF-8 or oversize input is a
/// usage error (nothing is sent).
pub fn text_from_bytes(data: Vec<u8>, what: &str) -> Result<String> {
    if data.len() > INPUT_MAX {
        return Err(Fail::usage(format!(
            "{what} is {} bytes; tell accepts at most {INPUT_MAX} bytes",
            data.len()
        )));
    }
    String::from_utf8(data).map_err(|e| {
        Fail::usage(format!(
            "{what} is not UTF-8 text (invalid byte at offset {}); send text, or point the agent at the file",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_keeps_text() {
        assert_eq!(sanitize("hello"), "hello");
        assert_eq!(sanitize("a\r\nb\rc\n\td"), "a\nb\nc\n\td");
        assert_eq!(sanitize("x\x1b]2;pwned\x07y"), "xy");
        assert_eq!(sanitize("x\x1b]0;t\x1b\\y"), "xy");
        assert_eq!(sanitize("red\x1b[31;1mtext\x1b[0m"), "redtext");
        assert_eq!(sanitize("paste\x1b[201~end"), "pasteend");
        assert_eq!(sanitize("a\x03b\x00c\x7fd\x08e"), "abcde");
        assert_eq!(sanitize("reset\x1bc!"), "reset!");
        assert_eq!(sanitize("charset\x1b(Bok"), "charsetok");
        assert_eq!(sanitize("c1\u{9b}31mx\u{85}y"), "c1xy");
        assert_eq!(sanitize("osc8 \u{9d}8;;http://x\u{9c}link"), "osc8 link");
        assert_eq!(sanitize("dcs\x1bPq#0;2\x1b\\done"), "dcsdone");
        assert_eq!(sanitize("trailing esc\x1b"), "trailing esc");
        assert_eq!(sanitize("héllo 🎉 — ok"), "héllo 🎉 — ok");
        // An unterminated string loses only its introducer.
        assert_eq!(sanitize("a\x1b]2;title\nnext line"), "a2;title\nnext line");
        // Nothing that reaches the pane is a control character.
        let nasty: String = (0u8..=0x7f)
            .map(char::from)
            .chain('\u{80}'..='\u{9f}')
            .collect();
        assert!(
            sanitize(&nasty)
                .chars()
                .all(|c| c == '\n' || c == '\t' || !(c.is_control()))
        );
    }
}

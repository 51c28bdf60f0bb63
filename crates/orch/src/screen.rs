//! Reading a pane's screen: the evidence orch uses only where no hook
//! event exists (start-up dialogs, harnesses without hooks), always with
//! volatile parts removed so a ticking timer or a spinner is not mistaken
//! for activity.

/// Characters agents animate in place: braille spinners and the glyphs
/// Claude Code, codex and gemini cycle through while working.
fn is_spinner(c: char) -> bool {
    matches!(c, '\u{2800}'..='\u{28FF}') || "·✢✳✶✻✽∗⋆✦✧◐◓◑◒◴◷◶◵".contains(c)
}

/// Lines that change on their own while nothing happens.
const VOLATILE_LINE_MARKERS: &[&str] = &[
    "esc to interrupt",
    "esc to cancel",
    "ctrl+c to interrupt",
    "tokens",
    "Pane is dead",
];

/// The screen with volatile content removed: lines carrying a known
/// busy/timer marker dropped, digits collapsed (clocks, counters), spinner
/// glyphs removed, trailing blanks trimmed. Two screens that differ only in
/// such details normalize to the same text.
pub fn strip_volatile(screen: &str) -> String {
    let mut out = String::with_capacity(screen.len());
    for line in screen.lines() {
        if VOLATILE_LINE_MARKERS.iter().any(|m| line.contains(m)) {
            continue;
        }
        let mut prev_digit = false;
        let mut kept = String::with_capacity(line.len());
        for c in line.chars() {
            if c.is_ascii_digit() {
                if !prev_digit {
                    kept.push('#');
                }
                prev_digit = true;
                continue;
            }
            prev_digit = false;
            if !is_spinner(c) {
                kept.push(c);
            }
        }
        out.push_str(kept.trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// A line drawn only with box-drawing rules and spaces: layout, not content.
fn is_rule(line: &str) -> bool {
    line.chars()
        .all(|c| c.is_whitespace() || ('\u{2500}'..='\u{257F}').contains(&c))
}

/// The last `n` lines of a screen that say something (blank lines and
/// box-drawing rules skipped), for error reports.
pub fn tail(screen: &str, n: usize) -> String {
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !is_rule(l))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_and_spinners_do_not_count_as_change() {
        let a = "codex\n⠋ Working (3s • esc to interrupt)\n› type here\n  12:01:05";
        let b = "codex\n⠙ Working (4s • esc to interrupt)\n› type here\n  12:01:06";
        assert_eq!(strip_volatile(a), strip_volatile(b));
        assert_ne!(
            strip_volatile("› type here"),
            strip_volatile("› typed more")
        );
    }

    #[test]
    fn tail_skips_blank_lines() {
        assert_eq!(tail("a\n\nb\n  \nc\n\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("x\n────────\n ╭──╮ \ny", 5), "x\ny");
    }
}

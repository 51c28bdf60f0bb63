//! Reading a pane's screen: the evidence orch uses only where no hook
//! event exists (start-up dialogs, a dialog that came up during a paste,
//! an Enter swallowed, harnesses without hooks), always with volatile parts
//! removed so a ticking timer or a spinner is not mistaken for activity.

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

/// `s` on one line (whitespace runs collapsed), at most `max` chars.
pub fn one_line(s: &str, max: usize) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut t: String = joined.chars().take(max).collect();
    t.push('…');
    t
}

/// Lines of the screen with box-drawing borders and outer space removed,
/// non-empty only.
fn content_lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| {
            l.trim_matches(|c: char| c.is_whitespace() || ('\u{2500}'..='\u{257f}').contains(&c))
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// A numbered menu option: `1. Yes`, `❯ 2. No`.
fn option_line(l: &str) -> Option<bool> {
    let (cursor, rest) = match l.strip_prefix(['❯', '›', '▶']) {
        Some(r) => (true, r.trim_start()),
        None => (false, l),
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    (digits > 0 && rest[digits..].starts_with(". ")).then_some(cursor)
}

/// A selection dialog at the bottom of the screen: a block of numbered
/// options, one of them under the menu cursor (`❯ 1. Yes`), with at most two
/// lines (a footer like "Esc to cancel") below it. Claude Code's permission,
/// trust, API-key and bypass dialogs, and the echo agent's, all look like
/// this; a prompt in an input box does not (no cursor mark), and neither
/// does an answered dialog scrolled up by later output. Returns the excerpt.
pub fn dialog(screen: &str) -> Option<String> {
    let lines = content_lines(screen);
    let last_option = lines.iter().rposition(|l| option_line(l).is_some())?;
    if lines.len() - 1 - last_option > 2 {
        return None;
    }
    let mut first = last_option;
    while first > 0 && option_line(&lines[first - 1]).is_some() {
        first -= 1;
    }
    if !lines[first..=last_option]
        .iter()
        .any(|l| option_line(l) == Some(true))
    {
        return None;
    }
    // Include the question (and what it is about) above the options.
    let from = first.saturating_sub(3);
    Some(one_line(&lines[from..=last_option].join(" / "), 240))
}

/// The harness shows that it is working on a turn (Claude Code and the echo
/// agent print "esc to interrupt" while busy).
pub fn working(screen: &str) -> bool {
    let lines = content_lines(screen);
    lines
        .iter()
        .rev()
        .take(6)
        .any(|l| l.to_ascii_lowercase().contains("esc to interrupt"))
}

/// Is `text` still sitting in the input area (the bottom of the screen)?
/// Compares the end of its last line, ignoring whitespace (harnesses wrap
/// and indent), and accepts Claude Code's collapsed-paste placeholder.
pub fn text_in_input(screen: &str, text: &str) -> bool {
    let lines = content_lines(screen);
    let bottom = lines[lines.len().saturating_sub(8)..].join("");
    let bottom: String = bottom.chars().filter(|c| !c.is_whitespace()).collect();
    if bottom.contains("[Pastedtext") {
        return true;
    }
    let last = text
        .lines()
        .rev()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let n = last.chars().count();
    let tail: String = last.chars().skip(n.saturating_sub(24)).collect();
    !tail.is_empty() && bottom.contains(&tail)
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

    #[test]
    fn dialogs_on_screen() {
        let echo_perm = "echo> [[permission]] go\nworking… (esc to interrupt)\necho wants to use Bash: touch ./echo-was-here\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n\n\n";
        assert!(
            dialog(echo_perm)
                .unwrap()
                .contains("Do you want to proceed?")
        );
        let answered =
            "Do you want to proceed?\n❯ 1. Yes\n  2. No\n(allowed)\necho: go [..]\necho> \n";
        assert_eq!(dialog(answered), None);
        let claude = "╭──────────────╮\n│ Bash command │\n│   touch x    │\n│ Do you want to proceed? │\n│ ❯ 1. Yes │\n│   2. Yes, and don't ask again │\n│   3. No, and tell Claude what to do differently (esc) │\n╰──────────────╯\n";
        assert!(dialog(claude).is_some());
        let trust = "Do you trust the files in this folder?\n\n  /tmp/x\n\n❯ 1. Yes, proceed\n  2. No, exit\n\nEnter to confirm · Esc to exit\n";
        assert!(dialog(trust).is_some());
        let input_list = "╭────╮\n│ > 1. first │\n│   2. second │\n╰────╯\n  ? for shortcuts\n";
        assert_eq!(dialog(input_list), None);
        assert_eq!(dialog("echo> \n"), None);
    }

    #[test]
    fn input_box_and_working() {
        assert!(text_in_input(
            "banner\necho> hello there\n\n",
            "hello there"
        ));
        assert!(!text_in_input(
            "echo> hello\nworking… (esc to interrupt)\necho: x\necho> \nfoo\nbar\nbaz\nqux\nquux\n",
            "hello"
        ));
        assert!(text_in_input(
            "> [Pasted text #1 +161 lines]\n",
            "long\ntext"
        ));
        assert!(working("echo> hi\nworking… (esc to interrupt)\n"));
        assert!(!working("echo> \n"));
    }
}

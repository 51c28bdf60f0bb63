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

/// A numbered menu option: `1. Yes`, `❯ 2. No` (Gemini CLI: `● 1. Allow once`).
fn option_line(l: &str) -> Option<bool> {
    let (cursor, rest) = match l.strip_prefix(['❯', '›', '▶', '●']) {
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
    if let Some(excerpt) = unnumbered_dialog(&lines) {
        return Some(excerpt);
    }
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

/// The footer Claude Code draws under a selection dialog (2.1.197 and
/// 2.1.3xx): "Enter to confirm · Esc to cancel" (start-up dialogs), "Esc to
/// cancel · Tab to amend" (permission prompts). An input box's footer never
/// says either.
fn dialog_footer(l: &str) -> bool {
    l.starts_with("Enter to confirm") || l.starts_with("Esc to cancel")
}

/// Claude Code 2.1.3xx's dialogs have no numbers: the cursor `❯` marks one
/// option (`❯ No, exit` / `Yes, I trust this folder`), and the trust and
/// bypass dialogs preselect the answer that quits. Recognised by a dialog
/// footer among the last lines with the cursor line at most four lines
/// above it, so an input box (`❯ text` over a status line) is not one.
/// Also the auto-mode choice that blocks a turn ("Enter to stay in auto
/// mode · …"), which has no options at all.
fn unnumbered_dialog(lines: &[String]) -> Option<String> {
    let n = lines.len();
    let footer = (n.saturating_sub(3)..n).rev().find(|&i| {
        dialog_footer(&lines[i]) || lines[i].starts_with("Enter to stay in auto mode")
    })?;
    let cursor = (footer.saturating_sub(4)..footer).find(|&i| {
        lines[i]
            .strip_prefix('❯')
            .is_some_and(|rest| !rest.trim().is_empty())
    });
    let from = match cursor {
        Some(c) => c.saturating_sub(3),
        None if lines[footer].starts_with("Enter to stay in auto mode") => footer.saturating_sub(3),
        None => return None,
    };
    Some(one_line(&lines[from..footer].join(" / "), 240))
}

/// The harness shows that it is working on a turn (Claude Code and the echo
/// agent print "esc to interrupt" while busy, Gemini CLI "esc to cancel").
pub fn working(screen: &str) -> bool {
    let lines = content_lines(screen);
    lines.iter().rev().take(6).any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("esc to interrupt") || l.contains("esc to cancel")
    })
}

/// The agent's status line — the last line of the screen — says it is
/// working now (Claude Code's footer: `… esc to interrupt · …`). Stricter
/// than [`working`]: a line-based agent (echo) leaves its "working… (esc to
/// interrupt)" line in the history above its prompt once the turn is over,
/// so only the bottom line counts as what it is doing now.
pub fn working_now(screen: &str) -> bool {
    content_lines(screen)
        .last()
        .is_some_and(|l| l.to_ascii_lowercase().contains("esc to interrupt"))
}

/// Is `text` still sitting in the input area (the bottom of the screen)?
/// Compares the end of its last line, ignoring whitespace (harnesses wrap
/// and indent), and accepts the collapsed-paste placeholders: Claude
/// Code's `[Pasted text #1 +N lines]`, Codex's `[Pasted Content N chars]`,
/// Gemini CLI's `[Pasted Text: N chars]`, pi's `[paste #1 +N lines]` /
/// `[paste #1 N chars]`, opencode's `[Pasted ~N lines]`.
pub fn text_in_input(screen: &str, text: &str) -> bool {
    let lines = content_lines(screen);
    let bottom = lines[lines.len().saturating_sub(8)..].join("");
    let bottom: String = bottom.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = bottom.to_ascii_lowercase();
    if ["[pastedtext", "[pastedcontent", "[paste#", "[pasted~"]
        .iter()
        .any(|p| lower.contains(p))
    {
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

/// Did an Enter pressed on `before` (the screen showing the pasted `text`)
/// become a newline in the input box instead of a submit? Gemini CLI 0.61
/// takes an Enter that it reads within 40 ms of a paste as a newline: the
/// text stays in the input box and one more empty line opens under it.
/// True only for that exact picture on `after` — the line holding the
/// text's end followed by more blank lines than on `before`, and everything
/// from that line down otherwise the same — which the agent draws only
/// once it has handled the Enter; so pressing Enter again then can never
/// land on top of an Enter still waiting to be read (which, read with the
/// same input, could submit the text twice).
pub fn enter_became_newline(before: &str, after: &str, text: &str) -> bool {
    let (Some(b), Some(a)) = (input_bottom(before, text), input_bottom(after, text)) else {
        return false;
    };
    a.blank_after > b.blank_after && a.rest == b.rest
}

/// The input box's part of a screen: the last line (among the bottom 8
/// that say something) holding the end of `text` or a collapsed-paste chip,
/// the blank lines right under it, and what follows (volatile parts off).
struct InputBottom {
    blank_after: usize,
    rest: Vec<String>,
}

fn input_bottom(screen: &str, text: &str) -> Option<InputBottom> {
    let trimmed = |l: &str| {
        l.trim_matches(|c: char| c.is_whitespace() || ('\u{2500}'..='\u{257f}').contains(&c))
            .to_string()
    };
    let squeezed = |l: &str| -> String { l.chars().filter(|c| !c.is_whitespace()).collect() };
    let last = text.lines().rev().map(squeezed).find(|l| !l.is_empty())?;
    let n = last.chars().count();
    let tail: String = last.chars().skip(n.saturating_sub(24)).collect();
    let lines: Vec<String> = screen.lines().map(trimmed).collect();
    let said: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].is_empty()).collect();
    let bottom = &said[said.len().saturating_sub(8)..];
    let at = *bottom.iter().rev().find(|&&i| {
        let l = squeezed(&lines[i]);
        l.contains(&tail) || l.to_ascii_lowercase().contains("[pastedtext")
    })?;
    let blank_after = lines[at + 1..].iter().take_while(|l| l.is_empty()).count();
    let rest = lines[at..]
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| strip_volatile(l))
        .collect();
    Some(InputBottom { blank_after, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gemini CLI 0.61.0 in tmux (e2e capture): the paste showing, then the
    /// same Enter read as a newline (one more empty line under the text),
    /// and a submit (the text moved up into the history, spinner below).
    #[test]
    fn an_enter_that_became_a_newline_is_seen_on_screen() {
        let rule = "─".repeat(40);
        let shown = format!(
            "4. Be specific for the best results\n\n\n  Executing Hook: orch-session_start\n{rule}\n YOLO Ctrl+Y\n   \n * fast enter probe   \n   \n workspace (/directory)     sandbox   /model\n /tmp/p    no sandbox   Auto\n\n\n"
        );
        let newline = format!(
            "4. Be specific for the best results\n\n\n  Executing Hook: orch-session_start\n{rule}\n YOLO Ctrl+Y\n   \n * fast enter probe   \n   \n   \n workspace (/directory)     sandbox   /model\n /tmp/p    no sandbox   Auto\n\n"
        );
        let submitted = format!(
            "4. Be specific for the best results\n > fast enter probe\n ⠋ Executing Hooks: orch-prompt (esc to cancel, 0s)   ? for shortcuts\n{rule}\n YOLO Ctrl+Y\n   \n *   Type your message or @path/to/file\n   \n workspace (/directory)     sandbox   /model\n /tmp/p    no sandbox   Auto\n\n\n"
        );
        let text = "fast enter probe";
        assert!(enter_became_newline(&shown, &newline, text));
        assert!(!enter_became_newline(&shown, &submitted, text));
        assert!(
            !enter_became_newline(&shown, &shown, text),
            "nothing happened yet"
        );
        // A second newline after the first is seen too.
        let twice = newline.replacen("   \n workspace", "   \n   \n workspace", 1);
        assert!(enter_became_newline(&newline, &twice, text));
        // Another text in the box is not ours.
        assert!(!enter_became_newline(&shown, &newline, "something else"));
        // The footer changing under it is not a newline.
        let other_footer = newline.replace("no sandbox", "sandboxed");
        assert!(!enter_became_newline(&shown, &other_footer, text));
    }

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
        // Gemini CLI 0.61.0 (shared/recipes/gemini/screens.txt).
        let gemini = "╭────╮\n│ ? Shell  touch x │\n│ Allow execution of [Shell]? │\n│ │\n│ ● 1. Allow once │\n│   2. Allow for this session │\n│   3. No, suggest changes (esc) │\n╰────╯\n";
        assert!(
            dialog(gemini)
                .unwrap()
                .contains("Allow execution of [Shell]?")
        );
        let input_list = "╭────╮\n│ > 1. first │\n│   2. second │\n╰────╯\n  ? for shortcuts\n";
        assert_eq!(dialog(input_list), None);
        assert_eq!(dialog("echo> \n"), None);
    }

    /// Screens of Claude Code 2.1.332 (the recipe's screens.txt, checked
    /// again by the e2e suite's `::newest` tests).
    #[test]
    fn unnumbered_claude_dialogs() {
        let trust = " Quick safety check: Is this a project you created or one you trust?\n Security guide\n ❯ No, exit\n   Yes, I trust this folder\n Enter to confirm · Esc to cancel\n";
        assert!(dialog(trust).unwrap().contains("❯ No, exit"));
        let key = "  Do you want to use this API key?\n    Yes\n  ❯ No (recommended)\n  Enter to confirm · Esc to cancel\n";
        assert!(
            dialog(key)
                .unwrap()
                .contains("Do you want to use this API key?")
        );
        let perm = " Auto mode can't check actions in this session, so this one needs your approval\n Do you want to proceed?\n ❯ No\n   Yes\n Esc to cancel · Tab to amend\n";
        assert!(dialog(perm).unwrap().contains("Do you want to proceed?"));
        let numbered = " Do you want to proceed?\n ❯ 1. Yes\n   2. Yes, and always allow access to /p from this project\n   3. Yes, and switch to auto mode · auto mode handles these prompts for you\n   4. No\n Esc to cancel · Tab to amend\n";
        assert!(dialog(numbered).unwrap().contains("❯ 1. Yes"));
        let auto = "  Auto mode can't check actions in this session\n  Or you can leave …\n  Enter to stay in auto mode · shift+Tab to leave for accept edits mode and stop · Esc to cancel\n";
        assert!(dialog(auto).is_some());
        // Ready and queued input boxes are not dialogs.
        let ready = "❯ say hi\n● Hi MOCK-OK\n────────\n❯ \n────────\n  ⏸ manual mode on · ? for shortcuts · ← for agents\n";
        assert_eq!(dialog(ready), None);
        let typed =
            "────────\n❯\u{a0}Esc to cancel is what I typed\n────────\n  ⏸ manual mode on\n";
        assert_eq!(dialog(typed), None);
        let queued = "❯ typed while busy\n  ⎿  Queued · ctrl+x ctrl+s to send now\n────\n❯ Press up to edit queued messages\n────\n  ⏸ manual mode on · esc to interrupt\n";
        assert_eq!(dialog(queued), None);
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
        // pi 0.73 and opencode 1.18 collapse long pastes too.
        for shown in [
            "[paste #1 +30 lines]",
            "[paste #2 2000 chars]",
            "┃  [Pasted ~3 lines]",
        ] {
            assert!(
                text_in_input(&format!("──\n{shown}\n──\n"), "long\ntext"),
                "{shown}"
            );
        }
        assert!(text_in_input(
            " Shift+Tab to accept edits\n\n > [Pasted Text: 2000 chars]\n\n workspace (/directory)\n",
            "long\ntext"
        ));
        // Codex 0.171 with a 4 KiB paste in its composer.
        assert!(text_in_input(
            "› [Pasted Content 4096 chars]\n\n  mock-model default · /p\n",
            "long\ntext"
        ));
        // Codex's permission dialog (its cursor is `›`).
        let codex = "  Would you like to run the following command?\n  $ touch x\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for commands that start with `touch x` (p)\n  3. No, and tell Codex what to do differently (esc)\n  Press enter to confirm or esc to cancel\n";
        assert!(dialog(codex).is_some_and(|d| d.contains("Would you like to run")));
        assert_eq!(
            dialog("› Ask Codex to do anything\n\n  ? for shortcuts\n"),
            None
        );
        assert!(working("echo> hi\nworking… (esc to interrupt)\n"));
        assert!(!working("echo> \n"));
        // Regression: after an echo turn the working line stays in the
        // history; tells then took the idle agent for busy.
        let echo_done = "echo> hi\nworking… (esc to interrupt)\necho: reply\necho> \n";
        assert!(!working_now(echo_done));
        assert!(working_now(
            "────\n❯ \n────\n  ⏸ manual mode on · esc to interrupt · ← for agents\n"
        ));
        assert!(!working_now(
            "────\n❯ \n────\n  ⏸ manual mode on · ? for shortcuts · ← for agents\n"
        ));
    }
}

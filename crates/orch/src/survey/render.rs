//! Survey output for people: the `--pretty` table, `--watch` frames and
//! the status-bar line. Text from agents is untrusted: [`clean`] makes it
//! safe for a terminal.

use std::io::{self, IsTerminal};
use std::time::Duration;

use super::{Agent, Counts, Report};
use crate::state::State;

/// The status-bar line: `◌1 ⚙3 ✓2 ⚠1 ✗1`, zero counts left out; empty when
/// there are no agents. Gone panes are not counted.
pub fn status_line(c: &Counts) -> String {
    [
        ("◌", c.starting),
        ("⚙", c.working),
        ("✓", c.idle),
        ("⚠", c.blocked),
        ("✗", c.exited),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(s, n)| format!("{s}{n}"))
    .collect::<Vec<_>>()
    .join(" ")
}

/// One line of untrusted text made safe for a terminal: control characters
/// (ESC, C0, C1, DEL) become spaces, runs of whitespace one space.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c.is_whitespace() {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim_end().to_string()
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `12.3k`, `1.2M`.
fn short_count(n: u64) -> String {
    match n {
        n if n < 1000 => n.to_string(),
        n if n < 1_000_000 => format!("{:.1}k", n as f64 / 1000.0),
        n => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// The NOTE column: what a person wants to know about that state.
fn note(a: &Agent) -> String {
    let text = match a.state {
        State::Working => match &a.last_prompt {
            Some(p) => format!("» {}", p.text),
            None => a.evidence.detail.clone(),
        },
        State::Idle => match (&a.error, &a.last_reply) {
            (Some(e), _) => format!("! {e}"),
            (None, Some(r)) => format!("« {}", r.text),
            (None, None) => a.evidence.detail.clone(),
        },
        _ => a.evidence.detail.clone(),
    };
    match a.queued.len() {
        0 => clean(&text),
        n => format!("[{n} queued, unconfirmed] {}", clean(&text)),
    }
}

fn state_colour(s: State) -> &'static str {
    match s {
        State::Starting => "36",
        State::Idle => "32",
        State::Working => "33",
        State::BlockedPermission | State::BlockedDialog | State::BlockedRateLimit => "1;31",
        State::Exited | State::Gone => "2",
    }
}

/// The `--pretty` table. `width` bounds each line (the NOTE column is cut);
/// `colour` adds ANSI colour to the STATE column.
pub fn render_table(r: &Report, width: usize, colour: bool) -> String {
    let mut out = String::new();
    if r.agents.is_empty() {
        out.push_str(
            "no agents on this tmux server (start one with `orch spawn`; --all shows gone ones)\n",
        );
        return out;
    }
    const HEAD: [&str; 10] = [
        "PANE", "NAME", "ROLE", "HARNESS", "STATE", "AGE", "TURNS", "CTX", "WHERE", "NOTE",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 10]> = r
        .agents
        .iter()
        .map(|a| {
            [
                a.pane.to_string(),
                a.name
                    .as_deref()
                    .map(clean)
                    .map(|n| cut(&n, 24))
                    .unwrap_or_else(dash),
                a.role
                    .as_ref()
                    .map(|r| clean(r.as_str()))
                    .unwrap_or_else(dash),
                a.harness.as_deref().map(clean).unwrap_or_else(dash),
                a.state.to_string(),
                a.state_age.clone(),
                a.turns.to_string(),
                a.tokens
                    .as_ref()
                    .map(|t| short_count(t.context))
                    .unwrap_or_else(dash),
                a.location.as_deref().map(clean).unwrap_or_else(dash),
                note(a),
            ]
        })
        .collect();
    let mut widths = HEAD.map(|h| h.chars().count());
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(9) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let fixed: usize = widths[..9].iter().map(|w| w + 2).sum();
    let note_w = width.saturating_sub(fixed).max(16);
    let line = |cells: &[String; 10], state: Option<State>| -> String {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 9 {
                l.push_str(&cut(cell, note_w));
                break;
            }
            let pad = widths[i] - cell.chars().count();
            match (i, state, colour) {
                (4, Some(s), true) => {
                    l.push_str(&format!("\x1b[{}m{cell}\x1b[0m", state_colour(s)));
                }
                _ => l.push_str(cell),
            }
            // AGE, TURNS and CTX are numbers: right-aligned would move the
            // column starts, so they stay left-aligned like the rest.
            l.push_str(&" ".repeat(pad + 2));
        }
        l.trim_end().to_string()
    };
    out.push_str(&line(&HEAD.map(String::from), None));
    out.push('\n');
    for (row, a) in rows.iter().zip(&r.agents) {
        out.push_str(&line(row, Some(a.state)));
        out.push('\n');
    }
    let c = &r.counts;
    let mut parts = Vec::new();
    for (n, what) in [
        (c.starting, "starting"),
        (c.working, "working"),
        (c.idle, "idle"),
        (c.blocked, "blocked"),
        (c.exited, "exited"),
        (c.gone, "gone"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    out.push_str(&format!(
        "{} agent{}: {}\n",
        c.total,
        if c.total == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    out
}

/// The terminal's width, when stdout is one.
pub fn terminal_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(c);
    }
    if !io::stdout().is_terminal() {
        return None;
    }
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

pub fn use_colour() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One `--watch` frame: the status line alone, or a header and the table.
/// On a terminal each line is drawn over the last frame's, with no blank
/// flash between frames.
pub fn frame(report: &Report, every: Duration, status: bool) -> String {
    if status {
        return format!("{}\n", status_line(&report.counts));
    }
    let tty = io::stdout().is_terminal();
    let frame = format!(
        "orch survey · {} · {} · every {}s (Ctrl-C to quit)\n\n{}",
        report.server.key,
        crate::time::clock_hms(report.ts),
        every.as_secs_f64(),
        render_table(report, terminal_width().unwrap_or(160), tty && use_colour())
    );
    if !tty {
        return frame + "\n";
    }
    let mut s = String::from("\x1b[H");
    for l in frame.lines() {
        s.push_str(l);
        s.push_str("\x1b[K\n");
    }
    s.push_str("\x1b[J");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_strips_escapes() {
        assert_eq!(clean("a\x1b[31mred\x07\nb\u{9b}c\t d"), "a [31mred b c d");
    }

    #[test]
    fn status_symbols() {
        let c = Counts {
            total: 7,
            working: 3,
            idle: 2,
            blocked: 1,
            blocked_permission: 1,
            gone: 1,
            ..Default::default()
        };
        assert_eq!(status_line(&c), "⚙3 ✓2 ⚠1");
        assert_eq!(status_line(&Counts::default()), "");
    }
}

//! The default placement (issue 15): the operator keeps a full-height
//! column of at least half its window; agents stack in one column beside
//! it, evened out after every spawn; once another agent would make a pane
//! smaller than [`MIN_WIDTH`]×[`MIN_HEIGHT`], agents go to overflow windows
//! (tiled) after the operator's. Splitting the operator's own pane every
//! time left it 6 columns wide after five spawns, and tells into it slowed
//! to ~520 ms.

use anyhow::{Context, Result};
use serde::Serialize;

use super::place::PLACEHOLDER;
use crate::pane::PaneId;
use crate::tmux::Tmux;

/// No pane orch makes gets narrower than this…
pub const MIN_WIDTH: u32 = 20;
/// …or lower than this.
pub const MIN_HEIGHT: u32 = 5;
/// Window option marking an overflow window with the operator pane it serves.
const OVERFLOW_OPT: &str = "@orch-overflow-of";

#[derive(Debug, Clone)]
struct Geo {
    pane: PaneId,
    top: u32,
    width: u32,
}

#[derive(Debug, Clone)]
struct Win {
    id: String,
    width: u32,
    height: u32,
    panes: Vec<Geo>,
}

fn window_of(tmux: &Tmux, target: &str) -> Result<Win> {
    let out = tmux.run([
        "list-panes",
        "-t",
        target,
        "-F",
        "#{window_id}\t#{window_width}\t#{window_height}\t#{pane_id}\t#{pane_top}\t#{pane_width}",
    ])?;
    let mut win: Option<Win> = None;
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 {
            continue;
        }
        let n = |s: &str| s.parse::<u32>().unwrap_or(0);
        let w = win.get_or_insert_with(|| Win {
            id: f[0].to_string(),
            width: n(f[1]),
            height: n(f[2]),
            panes: Vec::new(),
        });
        if let Ok(pane) = f[3].parse() {
            w.panes.push(Geo {
                pane,
                top: n(f[4]),
                width: n(f[5]),
            });
        }
    }
    win.with_context(|| format!("tmux lists no panes for {target}"))
}

/// Height of each of `n` panes stacked in `height` rows (borders between).
fn stacked(height: u32, n: u32) -> u32 {
    (height + 1) / n.max(1) - 1
}

/// Width and height of the smallest pane when tmux's `tiled` layout puts
/// `n` panes in a `width`×`height` window (its rows/columns rule).
fn tiled_cell(width: u32, height: u32, n: u32) -> (u32, u32) {
    let (mut rows, mut cols) = (1u32, 1u32);
    while rows * cols < n {
        rows += 1;
        if rows * cols < n {
            cols += 1;
        }
    }
    ((width + 1) / cols - 1, (height + 1) / rows - 1)
}

fn split(tmux: &Tmux, flags: &[&str], target: PaneId, cwd: &str) -> Result<PaneId> {
    let t = target.to_string();
    let mut args = vec!["split-window", "-d", "-P", "-F", "#{pane_id}"];
    args.extend(flags);
    args.extend(["-t", &t, "-c", cwd]);
    args.extend(PLACEHOLDER);
    let out = tmux.run(&args)?;
    out.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("tmux printed {out:?} instead of a pane id"))
}

/// Create the new agent's pane by the rule above; its id and where it went.
pub fn create(tmux: &Tmux, operator: PaneId, cwd: &str, title: &str) -> Result<(PaneId, String)> {
    let win = window_of(tmux, &operator.to_string())?;
    let others: Vec<&Geo> = win.panes.iter().filter(|g| g.pane != operator).collect();
    if others.is_empty() {
        // The agent gets the smaller half: the operator keeps the rest
        // of the window less the border column.
        let agent_width = win.width.saturating_sub(1) / 2;
        if agent_width >= MIN_WIDTH {
            let l = agent_width.to_string();
            let p = split(tmux, &["-h", "-l", &l], operator, cwd)?;
            return Ok((p, format!("right of {operator}")));
        }
    } else {
        let bottom = others.iter().max_by_key(|g| g.top).copied();
        let n = others.len() as u32 + 1;
        if let Some(b) = bottom
            && b.width >= MIN_WIDTH
            && stacked(win.height, n) >= MIN_HEIGHT
        {
            let p = split(tmux, &["-v"], b.pane, cwd)?;
            // Even out the agents' column (the operator's width is untouched).
            let _ = tmux.run(["select-layout", "-E", "-t", &p.to_string()]);
            return Ok((p, format!("right of {operator}")));
        }
    }
    overflow(tmux, operator, &win.id, cwd, title)
}

/// Put the pane in an overflow window of `operator` with room, or a new one.
fn overflow(
    tmux: &Tmux,
    operator: PaneId,
    operator_window: &str,
    cwd: &str,
    title: &str,
) -> Result<(PaneId, String)> {
    if let Some(id) = overflow_window_for(tmux, operator, operator_window)? {
        let win = window_of(tmux, &id)?;
        if let Some(last) = win.panes.last() {
            let p = split(tmux, &[], last.pane, cwd)?;
            let _ = tmux.run(["select-layout", "-t", &id, "tiled"]);
            return Ok((p, format!("window {id} (overflow of {operator})")));
        }
    }
    let mut args = vec![
        "new-window",
        "-d",
        "-a",
        "-t",
        operator_window,
        "-P",
        "-F",
        "#{pane_id}\t#{window_id}",
        "-n",
        title,
        "-c",
        cwd,
    ];
    args.extend(PLACEHOLDER);
    let out = tmux.run(&args)?;
    let (p, w) = out
        .trim()
        .split_once('\t')
        .with_context(|| format!("tmux printed {out:?} instead of a pane and window id"))?;
    let pane: PaneId = p
        .parse()
        .map_err(|_| anyhow::anyhow!("tmux printed {p:?} instead of a pane id"))?;
    tmux.run([
        "set-option",
        "-w",
        "-t",
        w,
        OVERFLOW_OPT,
        &operator.to_string(),
    ])?;
    Ok((pane, format!("window {w} (overflow of {operator})")))
}

/// What `orch spawn --relayout` did.
#[derive(Debug, Clone, Serialize)]
pub struct Relayout {
    pub operator: PaneId,
    pub window: String,
    /// Agents left beside the operator.
    pub beside: Vec<PaneId>,
    /// Agents moved to overflow windows.
    pub moved: Vec<PaneId>,
    pub operator_width: u32,
    pub window_width: u32,
}

/// Re-tile the operator's window on demand: the operator first, a
/// full-height column of half the window; as many agents as fit stacked
/// beside it; the rest moved to overflow windows.
pub fn relayout(tmux: &Tmux, operator: PaneId) -> Result<Relayout> {
    let win = window_of(tmux, &operator.to_string())?;
    let others: Vec<PaneId> = win
        .panes
        .iter()
        .map(|g| g.pane)
        .filter(|p| *p != operator)
        .collect();
    let mut fit = others.len() as u32;
    while fit > 0 && stacked(win.height, fit) < MIN_HEIGHT {
        fit -= 1;
    }
    let (beside, extra) = others.split_at(fit as usize);
    let mut moved = Vec::new();
    for &p in extra {
        // Into an overflow window with room, else one of its own.
        let dest = overflow_window_for(tmux, operator, &win.id)?;
        match dest {
            Some(w) => {
                tmux.run(["join-pane", "-d", "-s", &p.to_string(), "-t", &w])?;
                let _ = tmux.run(["select-layout", "-t", &w, "tiled"]);
            }
            None => {
                let out = tmux.run([
                    "break-pane",
                    "-d",
                    "-s",
                    &p.to_string(),
                    "-P",
                    "-F",
                    "#{window_id}",
                ])?;
                tmux.run([
                    "set-option",
                    "-w",
                    "-t",
                    out.trim(),
                    OVERFLOW_OPT,
                    &operator.to_string(),
                ])?;
            }
        }
        moved.push(p);
    }
    if !beside.is_empty() {
        let first = win.panes.first().map(|g| g.pane);
        if first != Some(operator)
            && let Some(f) = first
        {
            tmux.run([
                "swap-pane",
                "-d",
                "-s",
                &operator.to_string(),
                "-t",
                &f.to_string(),
            ])?;
        }
        // As in `create`: the agents' column gets the smaller half.
        let main = win.width.saturating_sub(1) - win.width.saturating_sub(1) / 2;
        let main = main.to_string();
        tmux.run(["set-option", "-w", "-t", &win.id, "main-pane-width", &main])?;
        tmux.run(["select-layout", "-t", &win.id, "main-vertical"])?;
    }
    let after = window_of(tmux, &win.id)?;
    let operator_width = after
        .panes
        .iter()
        .find(|g| g.pane == operator)
        .map(|g| g.width)
        .unwrap_or(0);
    Ok(Relayout {
        operator,
        window: win.id,
        beside: beside.to_vec(),
        moved,
        operator_width,
        window_width: after.width,
    })
}

/// An overflow window of `operator` with room for one more pane.
fn overflow_window_for(
    tmux: &Tmux,
    operator: PaneId,
    operator_window: &str,
) -> Result<Option<String>> {
    let out = tmux.run([
        "list-windows",
        "-t",
        operator_window,
        "-F",
        &format!("#{{window_id}}\t#{{{OVERFLOW_OPT}}}"),
    ])?;
    for line in out.lines() {
        let Some((id, of)) = line.split_once('\t') else {
            continue;
        };
        if of != operator.to_string() {
            continue;
        }
        let win = window_of(tmux, id)?;
        let (w, h) = tiled_cell(win.width, win.height, win.panes.len() as u32 + 1);
        if w >= MIN_WIDTH && h >= MIN_HEIGHT {
            return Ok(Some(id.to_string()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_tmux_rules() {
        assert_eq!(stacked(50, 1), 50);
        assert_eq!(stacked(50, 8), 5);
        assert!(stacked(50, 9) < MIN_HEIGHT);
        assert_eq!(tiled_cell(200, 50, 4), (99, 24));
        assert_eq!(tiled_cell(200, 50, 5), (99, 16));
    }
}

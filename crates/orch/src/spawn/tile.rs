//! The default placement (issue 15): the operator keeps a full-height
//! column of at least half its window; agents tile a grid beside it — one
//! column while the panes stay at least [`MIN_HEIGHT`] high, then as many
//! columns as it takes, evened out after every spawn — and once the grid is
//! full (another column would be narrower than [`MIN_WIDTH`]), agents go to
//! overflow windows (tiled) after the operator's. Splitting the operator's
//! own pane every time left it 6 columns wide after five spawns, and tells
//! into it slowed to ~520 ms.
//!
//! The grid is applied as a tmux layout string (`select-layout`), which
//! places the window's panes in their index order: the operator first,
//! then the agents column by column, top to bottom.

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
        "#{window_id}\t#{window_width}\t#{window_height}\t#{pane_id}\t#{pane_width}",
    ])?;
    let mut win: Option<Win> = None;
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
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
                width: n(f[4]),
            });
        }
    }
    win.with_context(|| format!("tmux lists no panes for {target}"))
}

/// Height of each of `n` panes stacked in `height` rows (borders between).
fn stacked(height: u32, n: u32) -> u32 {
    (height + 1) / n.max(1) - 1
}

/// The columns of agents for `n` agents in an agents' area of
/// `width`×`height`: the fewest columns whose panes are at least
/// [`MIN_HEIGHT`] high, or none when those are narrower than [`MIN_WIDTH`]
/// (the grid is full).
fn grid_columns(width: u32, height: u32, n: u32) -> Option<u32> {
    let n = n.max(1);
    let cols = (1..=n).find(|c| stacked(height, n.div_ceil(*c)) >= MIN_HEIGHT)?;
    (stacked(width, cols) >= MIN_WIDTH).then_some(cols)
}

/// The agents' area: the smaller half of the window, beside the operator
/// (less the border column).
fn agents_width(window_width: u32) -> u32 {
    window_width.saturating_sub(1) / 2
}

/// `total` cells split into `n` parts with a border between each: the
/// parts' sizes, the larger ones first.
fn parts(total: u32, n: u32) -> Vec<u32> {
    let n = n.max(1);
    let room = total.saturating_sub(n - 1);
    (0..n).map(|i| room / n + u32::from(i < room % n)).collect()
}

/// tmux's layout checksum (layout-custom.c).
fn layout_checksum(layout: &str) -> u16 {
    let mut csum: u16 = 0;
    for b in layout.bytes() {
        csum = (csum >> 1) | ((csum & 1) << 15);
        csum = csum.wrapping_add(u16::from(b));
    }
    csum
}

/// The layout string for a `width`×`height` window: the operator's column
/// on the left, then `n` agents in `cols` columns (the first columns take
/// one more when `n` does not divide evenly).
fn grid_layout(width: u32, height: u32, operator: PaneId, agents: &[PaneId], cols: u32) -> String {
    let area = agents_width(width);
    let op_width = width - 1 - area;
    let mut cells = vec![format!("{op_width}x{height},0,0,{}", operator.0)];
    let n = agents.len() as u32;
    let mut x = op_width + 1;
    let mut next = agents.iter();
    for (i, cw) in parts(area, cols).into_iter().enumerate() {
        let rows = n / cols + u32::from((i as u32) < n % cols);
        let panes: Vec<PaneId> = next.by_ref().take(rows as usize).copied().collect();
        if let [only] = panes.as_slice() {
            cells.push(format!("{cw}x{height},{x},0,{}", only.0));
        } else {
            let mut y = 0;
            let leaves: Vec<String> = parts(height, rows)
                .into_iter()
                .zip(&panes)
                .map(|(h, p)| {
                    let leaf = format!("{cw}x{h},{x},{y},{}", p.0);
                    y += h + 1;
                    leaf
                })
                .collect();
            cells.push(format!("{cw}x{height},{x},0[{}]", leaves.join(",")));
        }
        x += cw + 1;
    }
    let body = format!("{width}x{height},0,0{{{}}}", cells.join(","));
    format!("{:04x},{body}", layout_checksum(&body))
}

/// Put `operator` first in its window (the layout places panes in index
/// order), then lay the window out as the grid.
fn apply_grid(tmux: &Tmux, window: &str, operator: PaneId) -> Result<()> {
    let mut win = window_of(tmux, window)?;
    if let Some(first) = win.panes.first().map(|g| g.pane)
        && first != operator
    {
        tmux.run([
            "swap-pane",
            "-d",
            "-s",
            &operator.to_string(),
            "-t",
            &first.to_string(),
        ])?;
        win = window_of(tmux, window)?;
    }
    let agents: Vec<PaneId> = win
        .panes
        .iter()
        .map(|g| g.pane)
        .filter(|p| *p != operator)
        .collect();
    if agents.is_empty() {
        return Ok(());
    }
    let area = agents_width(win.width);
    let cols = grid_columns(area, win.height, agents.len() as u32)
        .with_context(|| format!("{} agents do not fit beside {operator}", agents.len()))?;
    let layout = grid_layout(win.width, win.height, operator, &agents, cols);
    tmux.run(["select-layout", "-t", &win.id, &layout])?;
    Ok(())
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
        let agent_width = agents_width(win.width);
        if agent_width >= MIN_WIDTH {
            let l = agent_width.to_string();
            let p = split(tmux, &["-h", "-l", &l], operator, cwd)?;
            return Ok((p, format!("right of {operator}")));
        }
    } else if grid_columns(agents_width(win.width), win.height, others.len() as u32 + 1).is_some() {
        // Split the last pane, so the new one comes last in the window's
        // order (the end of the grid), then lay the grid out anew.
        let last = win.panes.last().map(|g| g.pane).unwrap_or(operator);
        let p = split(tmux, &["-v"], last, cwd).or_else(|_| split(tmux, &["-h"], last, cwd))?;
        apply_grid(tmux, &win.id, operator)?;
        return Ok((p, format!("right of {operator}")));
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
/// full-height column of half the window; as many agents as the grid
/// holds beside it; the rest moved to overflow windows.
pub fn relayout(tmux: &Tmux, operator: PaneId) -> Result<Relayout> {
    let win = window_of(tmux, &operator.to_string())?;
    let others: Vec<PaneId> = win
        .panes
        .iter()
        .map(|g| g.pane)
        .filter(|p| *p != operator)
        .collect();
    let area = agents_width(win.width);
    let mut fit = others.len() as u32;
    while fit > 0 && grid_columns(area, win.height, fit).is_none() {
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
        apply_grid(tmux, &win.id, operator)?;
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
        assert_eq!(parts(99, 2), [49, 49]);
        assert_eq!(parts(30, 4), [7, 7, 7, 6]);
    }

    #[test]
    fn the_grid_adds_columns_before_panes_get_too_short_and_fills_up() {
        // 160x30: agents' area 79 wide; at most 5 panes of >= 5 rows high.
        let area = agents_width(160);
        assert_eq!(area, 79);
        assert_eq!(grid_columns(area, 30, 1), Some(1));
        assert_eq!(grid_columns(area, 30, 5), Some(1));
        assert_eq!(grid_columns(area, 30, 6), Some(2));
        assert_eq!(grid_columns(area, 30, 8), Some(2));
        assert_eq!(grid_columns(area, 30, 12), Some(3));
        assert_eq!(grid_columns(area, 30, 15), Some(3));
        // A fourth column would be 19 wide: full.
        assert_eq!(grid_columns(area, 30, 16), None);
    }

    /// The string tmux 3.3a printed back (`list-windows -F '#{window_layout}'`)
    /// after being given it, checksum included.
    #[test]
    fn the_layout_string_is_what_tmux_writes() {
        let l = grid_layout(160, 30, PaneId(0), &[PaneId(1), PaneId(2), PaneId(3)], 2);
        assert_eq!(
            l,
            "92c6,160x30,0,0{80x30,0,0,0,39x30,81,0[39x15,81,0,1,39x14,81,16,2],39x30,121,0,3}"
        );
    }
}

//! `orch-down`: remove exactly what `orch up` installed
//! (`orch::install::down`).

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::install::Approval;
use orch::install::down::DownRequest;

use crate::out;
use crate::up::{ask_on_terminal, can_ask};

/// Remove orch's hook entries, skills and glue (exactly what `orch up`
/// added), and orch's state.
#[derive(Debug, Parser)]
#[command(
    name = "orch-down",
    version,
    about = "Remove exactly what `orch up` installed (and orch's state)",
    after_help = "Removes orch's hook entries from each settings file `orch up` changed (a\n\
timestamped backup is written first), the skill and glue files it installed\n\
(only if unchanged since), its lines in Codex's config.toml, and — unless\n\
--keep-state — orch's state directory. Nothing a person or another tool added\n\
is touched. Details: docs/install.md.\n\n\
Asks for confirmation on a terminal; without a terminal it refuses unless --yes.\n\n\
Exit codes: 0 removed (or nothing to remove), 1 failure, 2 a settings file is\n\
invalid JSON or has an unexpected shape (nothing changed), 4 refused: no --yes\n\
and no terminal to ask on, the answer was no, or a settings file is read-only\n\
(nothing changed).\n\n\
Examples:\n  \
  orch down --dry-run --pretty   # show what would be removed\n  \
  orch down --yes --keep-state"
)]
pub struct DownArgs {
    /// Print what would change (a unified diff of each settings file) and
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Don't ask for confirmation (required when there is no terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Keep orch's state directory (event logs, registry).
    #[arg(long)]
    pub keep_state: bool,
    /// Also delete orch's backups of a settings file that is back to its
    /// original bytes (what `install.sh --uninstall` does).
    #[arg(long)]
    pub remove_backups: bool,
    /// Print nothing on success (errors still go to stderr).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub format: out::Format,
}

pub fn run(a: DownArgs) -> Result<Code> {
    let req = DownRequest {
        dry_run: a.dry_run,
        keep_state: a.keep_state,
        remove_backups: a.remove_backups,
    };
    let mut ask = ask_on_terminal;
    let approval = if a.yes {
        Approval::Given
    } else if can_ask() {
        Approval::Ask(&mut ask)
    } else {
        Approval::Unavailable
    };
    let report = orch::install::down::down(&req, approval)?;
    out::install_report(&report, a.quiet, &a.format)?;
    Ok(Code::Ok)
}

//! `orch-up`: install orch's hooks, skills and glue (`orch::install::up`).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use orch::exit::Code;
use orch::install::Approval;
use orch::install::up::UpRequest;

use crate::out;

/// Install orch: hook entries for Claude Code, skills, and glue for the
/// other agent harnesses found.
#[derive(Debug, Parser)]
#[command(
    name = "orch-up",
    version,
    about = "Install orch's hooks, skills and harness glue (idempotent; never clobbers other settings)",
    after_help = "What it does (details: docs/install.md):\n  \
  - checks tmux >= 3.0 and reports which agent CLIs are on PATH;\n  \
  - merges hook entries for SessionStart, UserPromptSubmit, Stop, StopFailure,\n    \
    Notification and SessionEnd (`<abs path>/orch-hook <event>`) into\n    \
    $CLAUDE_CONFIG_DIR/settings.json (default ~/.claude/settings.json), keeping\n    \
    every other key and hook; a timestamped backup is written first;\n  \
  - installs orch's skills into $CLAUDE_CONFIG_DIR/skills/;\n  \
  - installs glue for Codex (~/.codex/config.toml notify), Gemini CLI\n    \
    (~/.gemini/settings.json hooks) and pi (~/.pi/agent/extensions/orch.ts) when found;\n  \
  - records all of it in $ORCH_CONFIG_DIR/install.json for `orch down`.\n\
Running it again changes nothing and says so. On a terminal it shows the change\n\
and asks first (--yes skips the question); without a terminal it proceeds.\n\n\
Exit codes: 0 installed (or already installed), 1 failure (e.g. tmux missing),\n\
2 a settings file is invalid JSON or has an unexpected shape (nothing changed),\n\
4 refused: read-only settings file, or the question was answered no (nothing changed).\n\n\
Examples:\n  \
  orch up --dry-run --pretty   # show the diff, change nothing\n  \
  orch up --yes --quiet        # unattended install"
)]
pub struct UpArgs {
    /// Print what would change (a unified diff of each settings file) and
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Don't ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print nothing on success (errors still go to stderr).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub format: out::Format,
    /// Register this orch-hook binary instead of the one next to orch-up
    /// (or on PATH).
    #[arg(long, value_name = "PATH")]
    pub hook: Option<PathBuf>,
    /// Only Claude Code (hooks and skills): leave Codex, Gemini CLI and pi
    /// alone.
    #[arg(long)]
    pub claude_only: bool,
}

pub fn run(a: UpArgs) -> Result<Code> {
    let req = UpRequest {
        dry_run: a.dry_run,
        hook: a.hook,
        claude_only: a.claude_only,
    };
    let mut ask = ask_on_terminal;
    let approval = if a.yes || !can_ask() {
        Approval::Given
    } else {
        Approval::Ask(&mut ask)
    };
    let report = orch::install::up::up(&req, approval)?;
    out::install_report(&report, a.quiet, &a.format)?;
    Ok(Code::Ok)
}

/// Can we ask a person? (stdin and stderr are both terminals.)
pub(crate) fn can_ask() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Show `plan` on stderr and ask `question [y/N]` on the terminal.
pub(crate) fn ask_on_terminal(plan: &str, question: &str) -> Result<bool> {
    eprint!("{plan}{question} [y/N] ");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

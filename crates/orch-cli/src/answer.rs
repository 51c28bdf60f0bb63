//! `orch-answer`: answer an agent's permission prompt by what the option
//! says (`orch::answer`).

use anyhow::Result;
use clap::Parser;
use orch::answer::Choice;
use orch::exit::{Code, Fail};

/// Answer an agent's permission prompt: allow, deny or always.
#[derive(Debug, Parser)]
#[command(
    name = "orch-answer",
    version,
    about = "Answer an agent's permission prompt: allow, deny or always",
    after_help = "Reads the agent's screen, checks it shows the permission prompt for the tool its\n\
permission_prompt event named, selects the option by its label (never by position),\n\
confirms the dialog went away, and records it in the audit log (orch tell --audit).\n\n\
Prints {\"status\":\"answered\",\"pane\":…,\"choice\":\"allow\",\"option\":\"1. Yes\",\"tool\":\"Bash\",…}.\n\n\
Exit codes: 0 answered, 1 pressed but the dialog stayed, 2 bad arguments,\n\
  4 refused — nothing typed: not a permission prompt for that tool, no option\n\
  meaning that answer, or you are not the operator (or the agent's parent),\n\
  7 the pane is gone.\n\n\
Examples:\n  \
  orch-answer alice allow\n  \
  orch-answer %7 deny"
)]
pub struct AnswerArgs {
    /// The blocked agent: %12 or its name.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// allow (this once), deny, or always (allow and do not ask again).
    #[arg(value_name = "allow|deny|always")]
    pub choice: String,
    /// Human-readable output.
    #[arg(long)]
    pub pretty: bool,
}

pub fn run(a: AnswerArgs) -> Result<Code> {
    let choice = Choice::named(&a.choice).ok_or_else(|| {
        Fail::usage(format!(
            "{:?} is not an answer: use allow, deny or always",
            a.choice
        ))
    })?;
    let r = orch::answer::answer(&a.target, choice)?;
    if a.pretty {
        crate::out::text(&format!(
            "answered {} on {}: {}\n",
            a.choice, r.pane, r.option
        ))?;
    } else {
        crate::out::json_line(&r)?;
    }
    Ok(Code::Ok)
}

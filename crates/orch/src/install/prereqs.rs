//! What orch needs around it: tmux 3.0 or newer, and the agent CLIs it
//! can drive (reported, with how to get the missing ones).

use std::path::PathBuf;

use serde::Serialize;

/// An agent CLI orch can drive, and how to get it.
pub const AGENT_CLIS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("pi", "npm install -g @mariozechner/pi-coding-agent"),
    ("opencode", "npm install -g opencode-ai"),
];

#[derive(Debug, Clone, Serialize)]
pub struct AgentCli {
    pub name: &'static str,
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

pub fn agent_clis() -> Vec<AgentCli> {
    AGENT_CLIS
        .iter()
        .map(|(name, hint)| {
            let path = which::which(name).ok();
            AgentCli {
                name,
                hint: if path.is_none() { Some(hint) } else { None },
                path,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct TmuxCheck {
    pub version: Option<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// orch needs tmux 3.0 or newer.
pub fn check_tmux() -> TmuxCheck {
    match crate::tmux::version() {
        Ok((maj, min)) if (maj, min) >= (3, 0) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: true,
            problem: None,
        },
        Ok((maj, min)) => TmuxCheck {
            version: Some(format!("{maj}.{min}")),
            ok: false,
            problem: Some(format!(
                "tmux {maj}.{min} is too old: orch needs tmux 3.0 or newer"
            )),
        },
        Err(e) => TmuxCheck {
            version: None,
            ok: false,
            problem: Some(format!("{e:#}")),
        },
    }
}

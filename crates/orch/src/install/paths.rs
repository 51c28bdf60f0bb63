//! Where the harnesses keep their configuration (each one's environment
//! override, else its default under the home directory), where orch's
//! install manifest and lock are, and which `orch-hook` to register.
//! orch's own state paths are in [`crate::layout`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::exit::Fail;
use crate::lock::FileLock;

pub fn home_dir() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .context("cannot find the home directory; set HOME")
}

/// `$var` when set and not empty, else `default` under the home directory.
fn env_or_home(var: &str, default: &[&str]) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(default.iter().fold(home_dir()?, |p, c| p.join(c))),
    }
}

/// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn claude_dir() -> Result<PathBuf> {
    env_or_home("CLAUDE_CONFIG_DIR", &[".claude"])
}

pub fn claude_settings_path() -> Result<PathBuf> {
    Ok(claude_dir()?.join("settings.json"))
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_dir() -> Result<PathBuf> {
    env_or_home("CODEX_HOME", &[".codex"])
}

pub fn gemini_dir() -> Result<PathBuf> {
    Ok(home_dir()?.join(".gemini"))
}

/// `$PI_CODING_AGENT_DIR`, else `~/.pi/agent`.
pub fn pi_agent_dir() -> Result<PathBuf> {
    env_or_home("PI_CODING_AGENT_DIR", &[".pi", "agent"])
}

/// opencode's global config dir: `$XDG_CONFIG_HOME/opencode`, else
/// `~/.config/opencode`.
pub fn opencode_config_dir() -> Result<PathBuf> {
    Ok(env_or_home("XDG_CONFIG_HOME", &[".config"])?.join("opencode"))
}

pub fn manifest_path() -> Result<PathBuf> {
    Ok(crate::layout::install_manifest(
        &crate::layout::config_dir()?
    ))
}

/// Serialize `up`/`down` runs (across processes): held until dropped.
pub fn lock_install() -> Result<FileLock> {
    let dir = crate::layout::config_dir()?;
    crate::paths::ensure_private_dir(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let p = crate::layout::install_lock(&dir);
    FileLock::acquire(&p).with_context(|| format!("cannot lock {}", p.display()))
}

/// Where the `orch-hook` to register lives: `explicit`, else next to the
/// running binary, else on PATH. Always absolute.
pub fn locate_orch_hook(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()?.join(p)
        };
        if !abs.is_file() {
            return Err(Fail::usage(format!(
                "--hook {}: no such file",
                abs.display()
            )));
        }
        return Ok(abs);
    }
    crate::exe::sibling("hook").ok_or_else(|| {
        anyhow::anyhow!(
            "cannot find orch-hook next to this binary or on PATH; install orch with ./install.sh (or pass --hook PATH)"
        )
    })
}

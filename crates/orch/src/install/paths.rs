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
/// A finishing `orch down` removes the config dir (lock included) when
/// nothing else is left in it, so a concurrent run can find the dir gone
/// between creating it and opening the lock: create it again and retry.
pub fn lock_install() -> Result<FileLock> {
    let dir = crate::layout::config_dir()?;
    let p = crate::layout::install_lock(&dir);
    let mut tries = 0;
    loop {
        crate::paths::create_private_dir(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        match FileLock::acquire(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 100 => tries += 1,
            r => return r.with_context(|| format!("cannot lock {}", p.display())),
        }
    }
}

/// [`lock_install`] for `orch down`: no lock, and nothing created, when
/// orch's config dir does not exist. Then no `up` ever finished here (it
/// creates the dir before writing anything), and `down` on a home that
/// never had orch must leave it exactly as it was.
pub fn lock_install_if_configured() -> Result<Option<FileLock>> {
    if !crate::layout::config_dir()?.is_dir() {
        return Ok(None);
    }
    lock_install().map(Some)
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

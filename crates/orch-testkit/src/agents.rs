//! The pinned agent CLIs (`.ci/agent-versions`), installed on first use
//! into the e2e cache by `.ci/install-agent.sh`, one prefix per name and
//! version, shared by every test of the run.
//!
//! `ORCH_AGENT_VERSION_<NAME>` (name upper-cased, `-` as `_`; e.g.
//! `ORCH_AGENT_VERSION_CODEX=latest`) runs a suite against another version:
//! that is how the compatibility run checks the newest releases.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::bins::bin_dir;

/// The pinned version of `name` as written in `.ci/agent-versions`.
pub fn pinned_version(name: &str) -> Option<String> {
    let text = include_str!("../../../.ci/agent-versions");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2).map(|v| v.to_string()))
}

/// The installed binary of agent `name`, installing it on first use.
/// `None` (after printing `SKIPPED: …` on stderr) when it cannot be
/// installed here (no npm, no registry); with `CI` set that is a failure.
pub fn agent_bin(name: &str) -> Option<PathBuf> {
    static INSTALLED: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let map = INSTALLED.get_or_init(Default::default);
    let got = {
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| install(name))
            .clone()
    };
    match got {
        Ok(p) => Some(p),
        Err(why) => {
            crate::skip::skipped(
                &format!("needs the real {name} CLI: {why}"),
                &format!("the {name} e2e tests need the CLI in CI"),
            );
            None
        }
    }
}

/// The version override for `name` from the environment, if any.
pub fn version_override(name: &str) -> Option<String> {
    let var = format!(
        "ORCH_AGENT_VERSION_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// Where the CLIs are cached: `$ORCH_E2E_CACHE`, else `<target>/e2e-cache`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("ORCH_E2E_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().parent().unwrap().join("e2e-cache"))
}

/// The workspace root (where `.ci/` is).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn install(name: &str) -> Result<PathBuf, String> {
    let script = repo_root().join(".ci/install-agent.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(name).arg(cache_dir());
    if let Some(v) = version_override(name) {
        cmd.env("ORCH_AGENT_VERSION", v);
    }
    run_installer(&format!("{} {name}", script.display()), cmd)
}

/// Run one of the `.ci/install-*.sh` scripts; the last line it prints is
/// the path of what it installed.
/// `what` names it in errors.
pub(crate) fn run_installer(what: &str, mut cmd: Command) -> Result<PathBuf, String> {
    let out = crate::output::stdout_of_ok(what, &mut cmd)?;
    let path = out.lines().last().unwrap_or_default().trim().to_string();
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_harness_has_a_pinned_version() {
        for name in [
            "claude",
            "claude-newest",
            "codex",
            "gemini",
            "pi",
            "opencode",
        ] {
            let v = pinned_version(name).unwrap_or_else(|| panic!("{name} not pinned"));
            assert!(v.chars().next().unwrap().is_ascii_digit(), "{name}: {v}");
        }
    }
}

//! `$ORCH_CONFIG_DIR/hosts.json`: the hosts `survey --hosts` visits, and
//! per host what ssh should dial and where orch is there.
//!
//! ```json
//! {"hosts": {"box": {"dest": "me@devbox.example", "orch": "/opt/orch/bin/orch"},
//!            "gpu": {}}}
//! ```
//!
//! A name is what targets use (`box:reviewer`); `dest` (default: the name)
//! is anything ssh accepts, `~/.ssh/config` aliases included; `orch`
//! (default: found on the remote PATH, `~/.local/bin`, `~/.cargo/bin`) is
//! the remote umbrella binary. A host not in the file is dialled by name.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::exit::Fail;

pub const HOSTS_FILE: &str = "hosts.json";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    #[serde(default)]
    pub dest: Option<String>,
    #[serde(default)]
    pub orch: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hosts {
    #[serde(default)]
    pub hosts: BTreeMap<String, HostEntry>,
}

impl Hosts {
    /// The file under `config`, or no hosts when there is none.
    pub fn load(config: &Path) -> Result<Hosts> {
        let path = crate::layout::hosts_file(config);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Hosts::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let hosts: Hosts = serde_json::from_str(&text).map_err(|e| {
            Fail::usage(format!(
                "{} is not valid: {e}; expected {{\"hosts\": {{\"NAME\": {{\"dest\": \"user@host\", \"orch\": \"/path/to/orch\"}}}}}}",
                path.display()
            ))
        })?;
        for (name, h) in &hosts.hosts {
            check_name(name)?;
            if let Some(o) = &h.orch {
                check_orch_path(o)
                    .map_err(|e| Fail::usage(format!("{}: host {name}: {e}", path.display())))?;
            }
        }
        Ok(hosts)
    }

    /// What to dial for host `name`.
    pub fn get(&self, name: &str) -> HostEntry {
        self.hosts.get(name).cloned().unwrap_or_default()
    }

    pub fn names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }
}

/// A host name as targets write it: no `:` (it ends the host part), no
/// leading `-` (ssh would take it for an option), no whitespace or control
/// characters.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && !name.starts_with('%')
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != ':' && c != ',');
    if ok {
        Ok(())
    } else {
        Err(Fail::usage(format!(
            "invalid host {name:?}: use an ssh destination (host, user@host or a ~/.ssh/config alias) without ':', ',' or spaces, not starting with '-'"
        )))
    }
}

/// The remote orch path goes inside the fixed remote command line, so it
/// must need no quoting at all.
pub fn check_orch_path(p: &str) -> std::result::Result<(), String> {
    if !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c))
    {
        Ok(())
    } else {
        Err(format!(
            "orch path {p:?} must be a plain path (letters, digits, / . _ - + ~)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_host_names_are_refused() {
        for bad in ["-oProxyCommand=x", "a:b", "a b", "", "a\nb", "%1", "a,b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["box", "me@dev.example.com", "dev-1"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn orch_paths_need_no_quoting() {
        assert!(check_orch_path("/opt/orch/bin/orch").is_ok());
        assert!(check_orch_path("~/bin/orch").is_ok());
        assert!(check_orch_path("/x; rm -rf /").is_err());
        assert!(check_orch_path("/a'b").is_err());
    }
}

//! Where every file orch keeps lives: the one owner of the on-disk layout.
//! Every other module asks here for a path; none joins file names itself.
//! `docs/protocol.md` ("Layout") is the same tree for other tools.
//!
//! ```text
//! $ORCH_STATE_DIR/                (state_dir(): XDG state dir, ~/.local/state/orch)
//!   errors.log  errors.log.1      hook failures, one JSON line each
//!   audit.jsonl  audit.jsonl.1    every orch-tell send
//!   audit.lock
//!   ssh/                          ssh connection-sharing sockets (`orch --host`)
//!   glue/claude-settings-<h>.json --settings files for spawned claudes
//!   glue/pi-orch-<h>.ts           the extension spawned pis get (-e)
//!   glue/opencode-orch-<h>.js     the plugin spawned opencodes get
//!   servers/<socket>-<pid>/       one tmux server (Layout)
//!     server.json                 {"socket", "pid", "created_ts"}
//!     events/<N>.jsonl[.1]        pane %N's event log (only logs live here)
//!     panes/<N>.json              pane %N's registry record
//!     panes/<N>.lock              pane lock (log + registry)
//!     panes/<N>.deliver.lock      delivery lock
//!     panes/<N>.launch.json       a spawn's launch file, until the agent runs
//!     operator.json               the claimed operator pane
//!     prompts/                    large prompts handed over as files
//!     subs/<P>.json  subs/.lock   who subscribes to pane %P
//!     inbox/<S>.jsonl             notices waiting for subscriber %S
//!     inbox/<S>.state.json        their delivery cursor
//!     inbox/<S>.lock              guards the two above
//!     inbox/<S>.flush.lock        held by the one flusher delivering to %S
//!     inbox/flush.log[.1]         what flushers did
//!     usage.json                  survey's token-count cache
//!     spawn.lock                  serializes name checks in orch-spawn
//!     alerts/<N>-<kind>[.lock]    when pane %N last alerted the person (rate limit)
//! $ORCH_CONFIG_DIR/               (config_dir(): XDG config dir, ~/.config/orch)
//!   install.json  install.lock    what `orch up` installed
//!   glue/codex-notify.sh          Codex's notify program (legacy: older orch versions; removed by up/down)
//!   outfits/<name>.json  roles.json  fleet-prompt.md  hosts.json
//!   config.json                   {"notify": …}: how the person is alerted
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::pane::PaneId;

pub const STATE_ENV: &str = "ORCH_STATE_DIR";
pub const CONFIG_ENV: &str = "ORCH_CONFIG_DIR";

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "orch")
}

/// The state root, without creating it: `$ORCH_STATE_DIR`, else the XDG
/// state dir. The override exists so tests never touch a real home.
pub fn state_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(STATE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dirs = project_dirs().context("cannot find a home directory; set ORCH_STATE_DIR")?;
    Ok(dirs
        .state_dir()
        .map(Path::to_path_buf)
        // macOS has no XDG state dir; keep state beside the data.
        .unwrap_or_else(|| dirs.data_local_dir().to_path_buf()))
}

/// The config root, without creating it: `$ORCH_CONFIG_DIR`, else the XDG
/// config dir.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dirs = project_dirs().context("cannot find a home directory; set ORCH_CONFIG_DIR")?;
    Ok(dirs.config_dir().to_path_buf())
}

// ------------------------------------------------------- state root --

pub fn errors_log(state: &Path) -> PathBuf {
    state.join("errors.log")
}
pub fn audit_log(state: &Path) -> PathBuf {
    state.join("audit.jsonl")
}
pub fn audit_lock(state: &Path) -> PathBuf {
    state.join("audit.lock")
}
/// `--settings` files for spawned claudes.
pub fn spawn_glue_dir(state: &Path) -> PathBuf {
    state.join("glue")
}
pub fn servers_dir(state: &Path) -> PathBuf {
    state.join("servers")
}
/// A log's previous generation (`x.jsonl` → `x.jsonl.1`).
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    path.with_file_name(name)
}

// ------------------------------------------------------ config root --

pub fn install_manifest(config: &Path) -> PathBuf {
    config.join("install.json")
}
pub fn install_lock(config: &Path) -> PathBuf {
    config.join("install.lock")
}
/// Glue `orch up` installs for harnesses (Codex's notify program).
pub fn config_glue_dir(config: &Path) -> PathBuf {
    config.join("glue")
}
pub fn codex_notify_script(config: &Path) -> PathBuf {
    config_glue_dir(config).join("codex-notify.sh")
}
pub fn outfits_dir(config: &Path) -> PathBuf {
    config.join("outfits")
}
pub fn hosts_file(config: &Path) -> PathBuf {
    config.join(crate::remote::hosts::HOSTS_FILE)
}

/// ssh connection-sharing sockets (`orch --host`), one per destination.
pub fn ssh_control_dir(state: &Path) -> PathBuf {
    state.join("ssh")
}

pub fn roles_file(config: &Path) -> PathBuf {
    config.join("roles.json")
}
/// The user's settings (`{"notify": …}`, see `alert`).
pub fn user_config(config: &Path) -> PathBuf {
    config.join("config.json")
}
pub fn fleet_prompt_file(config: &Path) -> PathBuf {
    config.join("fleet-prompt.md")
}

// ---------------------------------------------------------- a server --

/// The files of one tmux server's state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The directory of the server whose key is `key` under `state`.
    pub fn new(state: &Path, key: &str) -> Layout {
        Layout {
            dir: servers_dir(state).join(key),
        }
    }

    /// The layout of an existing server directory (found by listing).
    pub fn at(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn server_json(&self) -> PathBuf {
        self.dir.join("server.json")
    }
    pub fn events_dir(&self) -> PathBuf {
        self.dir.join("events")
    }
    pub fn log(&self, pane: PaneId) -> PathBuf {
        self.events_dir().join(format!("{}.jsonl", pane.0))
    }
    pub fn rotated_log(&self, pane: PaneId) -> PathBuf {
        rotated(&self.log(pane))
    }
    pub fn panes_dir(&self) -> PathBuf {
        self.dir.join("panes")
    }
    pub fn registry(&self, pane: PaneId) -> PathBuf {
        self.panes_dir().join(format!("{}.json", pane.0))
    }
    pub fn pane_lock(&self, pane: PaneId) -> PathBuf {
        self.panes_dir().join(format!("{}.lock", pane.0))
    }
    pub fn delivery_lock(&self, pane: PaneId) -> PathBuf {
        self.panes_dir().join(format!("{}.deliver.lock", pane.0))
    }
    pub fn launch_file(&self, pane: PaneId) -> PathBuf {
        self.panes_dir().join(format!("{}.launch.json", pane.0))
    }
    /// The FIFO a spawned agent's inherited environment passes through.
    pub fn launch_env_fifo(&self, pane: PaneId) -> PathBuf {
        self.panes_dir().join(format!("{}.launch.env", pane.0))
    }
    pub fn operator(&self) -> PathBuf {
        self.dir.join("operator.json")
    }
    pub fn prompts_dir(&self) -> PathBuf {
        self.dir.join("prompts")
    }
    pub fn subs_dir(&self) -> PathBuf {
        self.dir.join("subs")
    }
    /// Who subscribes to `peer`.
    pub fn subs(&self, peer: PaneId) -> PathBuf {
        self.subs_dir().join(format!("{}.json", peer.0))
    }
    pub fn subs_lock(&self) -> PathBuf {
        self.subs_dir().join(".lock")
    }
    /// When pane `pane` last alerted the person about `kind`.
    pub fn alert_stamp(&self, pane: PaneId, kind: &str) -> PathBuf {
        self.dir.join("alerts").join(format!("{}-{kind}", pane.0))
    }
    pub fn alert_lock(&self, pane: PaneId, kind: &str) -> PathBuf {
        self.dir
            .join("alerts")
            .join(format!("{}-{kind}.lock", pane.0))
    }
    pub fn inbox_dir(&self) -> PathBuf {
        self.dir.join("inbox")
    }
    pub fn inbox(&self, sub: PaneId) -> PathBuf {
        self.inbox_dir().join(format!("{}.jsonl", sub.0))
    }
    pub fn inbox_state(&self, sub: PaneId) -> PathBuf {
        self.inbox_dir().join(format!("{}.state.json", sub.0))
    }
    pub fn inbox_lock(&self, sub: PaneId) -> PathBuf {
        self.inbox_dir().join(format!("{}.lock", sub.0))
    }
    pub fn flush_lock(&self, sub: PaneId) -> PathBuf {
        self.inbox_dir().join(format!("{}.flush.lock", sub.0))
    }
    pub fn flush_log(&self) -> PathBuf {
        self.inbox_dir().join("flush.log")
    }
    pub fn usage(&self) -> PathBuf {
        self.dir.join("usage.json")
    }
    pub fn spawn_lock(&self) -> PathBuf {
        self.dir.join("spawn.lock")
    }

    /// Every file of subscriber `sub`'s inbox.
    pub fn inbox_files(&self, sub: PaneId) -> [PathBuf; 4] {
        [
            self.inbox(sub),
            self.inbox_state(sub),
            self.inbox_lock(sub),
            self.flush_lock(sub),
        ]
    }

    /// Every file orch keeps for `pane` itself (others' subscriptions to
    /// it live in their files: see [`crate::subs::collect_garbage`]).
    pub fn pane_files(&self, pane: PaneId) -> Vec<PathBuf> {
        let mut files = vec![
            self.log(pane),
            self.rotated_log(pane),
            self.registry(pane),
            self.pane_lock(pane),
            self.delivery_lock(pane),
            self.launch_file(pane),
            self.subs(pane),
        ];
        files.extend(self.inbox_files(pane));
        files
    }
}

// ----------------------------------------------------- file names --

/// Pane of a file name `<N>` + one of `suffixes`.
fn pane_of(name: &str, suffixes: &[&str]) -> Option<PaneId> {
    let stem = suffixes.iter().find_map(|s| name.strip_suffix(s))?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().map(PaneId)
}

/// Pane of an `events/` or `panes/` record (`12.jsonl`, `12.jsonl.1`,
/// `12.json`).
pub fn pane_of_file(name: &str) -> Option<PaneId> {
    pane_of(name, &[".jsonl.1", ".jsonl", ".json"])
}

/// Pane of a registry record (`12.json`).
pub fn pane_of_registry(name: &str) -> Option<PaneId> {
    pane_of(name, &[".json"])
}

/// Peer of a subscription file (`7.json`).
pub fn peer_of_subs_file(name: &str) -> Option<PaneId> {
    pane_of(name, &[".json"])
}

/// Subscriber of an inbox file (`3.jsonl`, `3.state.json`, `3.lock`,
/// `3.flush.lock`).
pub fn pane_of_inbox_file(name: &str) -> Option<PaneId> {
    pane_of(name, &[".jsonl", ".state.json", ".flush.lock", ".lock"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(pane_of_file("12.jsonl"), Some(PaneId(12)));
        assert_eq!(pane_of_file("12.jsonl.1"), Some(PaneId(12)));
        assert_eq!(pane_of_file("12.json"), Some(PaneId(12)));
        assert_eq!(pane_of_file("12.lock"), None);
        assert_eq!(pane_of_file(".12.json.77.tmp"), None);
        assert_eq!(pane_of_inbox_file("3.jsonl"), Some(PaneId(3)));
        assert_eq!(pane_of_inbox_file("12.flush.lock"), Some(PaneId(12)));
        assert_eq!(pane_of_inbox_file("flush.log"), None);
        assert_eq!(pane_of_inbox_file("12"), None);
    }

    #[test]
    fn every_pane_file_is_recognised_as_that_pane_s() {
        let l = Layout::new(Path::new("/s"), "default-1");
        let p = PaneId(4);
        for f in [l.log(p), l.rotated_log(p), l.registry(p)] {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(pane_of_file(&name), Some(p), "{name}");
        }
        for f in l.inbox_files(p) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(pane_of_inbox_file(&name), Some(p), "{name}");
        }
        assert_eq!(
            l.rotated_log(p),
            Path::new("/s/servers/default-1/events/4.jsonl.1")
        );
    }
}

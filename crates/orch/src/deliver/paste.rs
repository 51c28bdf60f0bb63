//! The text's way into tmux: uniquely named paste buffers (and the sweep of
//! buffers a killed tell left behind), and the pointer file that replaces a
//! prompt too big to paste (step 5 of the algorithm in [`super`]).

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::event::prompt_hash;
use crate::pane::PaneId;
use crate::paths;
use crate::store::Store;
use crate::time::now_ns;
use crate::tmux::Tmux;

/// Pointer files older than this are deleted when a new one is written.
const PROMPT_FILE_KEEP: Duration = Duration::from_secs(7 * 86400);

static BUFFER_SEQ: AtomicU64 = AtomicU64::new(0);
const BUFFER_PREFIX: &str = "orch-";

pub(super) fn buffer_name() -> String {
    format!(
        "{BUFFER_PREFIX}{}-{}",
        std::process::id(),
        BUFFER_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pid in one of our buffer names, `orch-<pid>-<n>`.
fn buffer_pid(name: &str) -> Option<u32> {
    let (pid, n) = name.strip_prefix(BUFFER_PREFIX)?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Delete paste buffers left by tells that died between loading a buffer
/// and pasting it (`paste-buffer -d` deletes it otherwise): they hold
/// prompt text, visible to anyone with `tmux list-buffers`. Buffers of live
/// processes are someone's delivery in progress and are left alone.
pub fn remove_stale_buffers(tmux: &Tmux) {
    let Ok(names) = tmux.list_buffers() else {
        return;
    };
    for name in names {
        if buffer_pid(&name)
            .is_some_and(|pid| pid != std::process::id() && !crate::server::pid_alive(pid))
        {
            tmux.delete_buffer(&name);
        }
    }
}

/// A large prompt's file.
#[derive(Debug, Clone, Serialize)]
pub struct PromptFile {
    pub path: PathBuf,
    pub bytes: usize,
    pub hash: String,
}

/// Write a large prompt to `servers/<key>/prompts/` (0600) and return the
/// pointer message that replaces it.
pub(super) fn write_prompt_file(
    store: &Store,
    pane: PaneId,
    text: &str,
) -> Result<(String, PromptFile)> {
    let dir = store.layout().prompts_dir();
    paths::ensure_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prune_prompt_files(&dir);
    let path = dir.join(format!("{}-{}-{}.md", pane.0, now_ns(), std::process::id()));
    paths::write_atomic(&path, text.as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let pointer = format!(
        "Read the prompt in {} ({} bytes) and follow it.",
        path.display(),
        text.len()
    );
    Ok((
        pointer,
        PromptFile {
            path,
            bytes: text.len(),
            hash: prompt_hash(text),
        },
    ))
}

fn prune_prompt_files(dir: &std::path::Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > PROMPT_FILE_KEEP)
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

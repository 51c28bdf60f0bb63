//! `orch up` / `orch down` / `orch doctor`: installing orch into a user's
//! agent harnesses without ever damaging their settings. The contract is in
//! `docs/install.md`.
//!
//! The commands: [`up`], [`down`], [`doctor`] (its checks in
//! [`doctor_checks`], the hook probe in [`probe`]). What they share:
//!
//! - [`paths`]: the harnesses' config dirs, the manifest and lock, which
//!   `orch-hook` to register; [`prereqs`]: tmux and the agent CLIs.
//! - [`manifest`]: what `up` installed, so `down` removes exactly that.
//! - [`assets`]: the embedded `skills/` and `hooks/` files; [`files`]:
//!   writing a file orch manages outright.
//! - [`jsonhooks`] (merge and removal rules for hook tables), [`jsonfile`]
//!   and [`jsonedit`] (rewriting a JSON file keeping its layout),
//!   [`settings`] (orch's entries in one settings file), [`diff`].
//! - [`plugin`]: orch as a Claude Code plugin (what it registers, where
//!   Claude Code installed it).
//! - [`glue`]: the list of per-harness glue (`glue_codex`, `glue_gemini`,
//!   `glue_pi`), the one seam through which the commands reach them;
//!   [`codex_toml`]: orch's lines in Codex's `config.toml`.

pub mod assets;
pub mod codex_toml;
pub mod diff;
pub mod doctor;
pub mod doctor_checks;
pub mod down;
pub mod files;
pub mod glue;
pub mod glue_codex;
pub mod glue_gemini;
pub mod glue_opencode;
pub mod glue_pi;
pub mod jsonedit;
pub mod jsonfile;
pub mod jsonhooks;
pub mod manifest;
pub mod paths;
pub mod plugin;
pub mod prereqs;
pub mod probe;
pub mod settings;
pub mod up;

use anyhow::Result;

/// Whether `up`/`down` may go ahead once they know what they would change.
pub enum Approval<'a> {
    /// Yes, without asking (`--yes`).
    Given,
    /// Ask: the plan to show, the question; true means go ahead.
    Ask(&'a mut dyn FnMut(&str, &str) -> Result<bool>),
    /// Nobody to ask (no terminal): `up` goes ahead, `down` refuses.
    Unavailable,
}

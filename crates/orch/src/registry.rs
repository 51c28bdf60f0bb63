//! The per-pane registry record (`panes/<N>.json`): who the agent in a pane
//! is and a summary of its latest activity, so `survey` can show the whole
//! fleet without reading any event log.
//!
//! Written atomically (temp + rename) under the pane lock by whoever changes
//! it: `orch-hook` on every event, `orch-spawn` at start. Keys this version
//! does not know are preserved (`extra`), so newer writers don't lose data to
//! older ones.

use serde::{Deserialize, Serialize};

use crate::event::{Event, Kind, is_notice_text, truncate_utf8};
use crate::pane::PaneId;
use crate::roles::Role;
use crate::state::State;

/// Previews in the registry are short: survey shows them in one line.
pub const PREVIEW_BYTES: usize = 300;

/// At most this many unconfirmed queued prompts are kept per pane (the
/// oldest is dropped: it stays unconfirmed in the audit log).
pub const PENDING_QUEUED_MAX: usize = 16;

/// A prompt typed into a busy agent, waiting for evidence that the agent
/// took it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueuedSend {
    /// The `sent` event's seq.
    pub sent_seq: u64,
    pub ts: u64,
    /// Its `prompt_hash` (the receipt rule, docs/protocol.md).
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PaneId>,
    /// The agent's transcript size when it was typed: a scan for it being
    /// taken into a turn starts there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_offset: Option<u64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview: String,
}

/// What confirmed a queued prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmedBy {
    /// The agent's own `prompt` event with the prompt's hash.
    PromptEvent,
    /// The agent's transcript shows it taken into the running turn; the
    /// turn end that found it says so (`data.injected`).
    Transcript,
}

impl ConfirmedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::PromptEvent => "prompt_event",
            ConfirmedBy::Transcript => "transcript",
        }
    }
}

/// The sent seqs a turn end's `data.injected` names.
pub fn injected_seqs(ev: &Event) -> Vec<u64> {
    ev.data
        .as_ref()
        .and_then(|d| d.get("injected"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("sent_seq").and_then(|s| s.as_u64()))
                .collect()
        })
        .unwrap_or_default()
}

/// A timestamped snippet of text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub seq: u64,
    pub ts: u64,
    pub text: String,
}

/// The most recent event, enough to derive a state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastEvent {
    pub seq: u64,
    pub ts: u64,
    pub kind: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LastEvent {
    /// The event it summarises, as far as it kept it (no `session_end`
    /// reason, no `source`): what the state rules read.
    pub fn to_event(&self) -> Event {
        Event {
            seq: self.seq,
            ts: self.ts,
            kind: self.kind,
            notification_type: self.notification_type.clone(),
            message: self.message.clone(),
            error: self.error.clone(),
            ..Event::default()
        }
    }
}

/// A state inferred from the pane's screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenState {
    /// A survey state, e.g. `blocked:dialog`, `idle`, `working`.
    pub state: State,
    pub ts: u64,
    /// The lines of the screen that show it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaneRecord {
    pub v: u32,
    pub pane: Option<PaneId>,
    /// `<socket name>-<server pid>` (see `Server::key`).
    #[serde(default)]
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The pane that spawned this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<PaneId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    /// Token use from the latest turn end that carried it (harnesses
    /// without a transcript orch can read: opencode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<crate::usage::Tokens>,
    /// When orch first saw this pane (ns).
    #[serde(default)]
    pub created_ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<LastEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prompt: Option<Preview>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<Preview>,
    /// Completed turns (stop events).
    #[serde(default)]
    pub turns: u64,
    /// Name of the outfit the agent was spawned with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outfit: Option<String>,
    /// Git worktree created for the agent by `spawn --worktree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<String>,
    /// The argv orch started the agent with (spawned panes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// When orch spawned the agent (ns); absent for panes orch only observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawned_ts: Option<u64>,
    /// A state orch read off the screen rather than from a hook (a start-up
    /// dialog, a hookless harness's quiescence), with its evidence. One
    /// naming a state this build does not know is ignored.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "ignore_unknown"
    )]
    pub screen: Option<ScreenState>,
    /// Set by GC the first time the pane is found missing from tmux; the
    /// record is deleted on a later GC pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_ts: Option<u64>,
    /// The pid of the agent's first process (the pane's; spawned panes
    /// only): its session holds the agent's processes ([`crate::proctree`]),
    /// which may outlive the pane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The current turn was started by an orch notice: its end tells no one
    /// (the loop rule, docs/subscribe.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice_turn: bool,
    /// Notices wait for this pane's next turn end (set by the flusher).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inbox_waiting: bool,
    /// Prompts typed with `--queue` while the agent was mid-turn that no
    /// evidence has confirmed yet, oldest first: neither a matching `prompt`
    /// event nor a turn end that found them taken into its turn
    /// (`data.injected`, read from Claude Code's transcript). Survey lists
    /// them; at most [`PENDING_QUEUED_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_queued: Vec<QueuedSend>,
    /// Keys written by other orch versions/components, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `screen` as recorded, or none when it is not one this build reads (a
/// state a newer orch wrote): it is evidence, and unknown evidence is no
/// evidence.
fn ignore_unknown<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ScreenState>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| serde_json::from_value(v).ok()))
}

fn preview(ev: &Event, text: &str) -> Preview {
    let mut t: String = text.to_string();
    truncate_utf8(&mut t, PREVIEW_BYTES);
    Preview {
        seq: ev.seq,
        ts: ev.ts,
        text: t,
    }
}

/// What folding an event into a record found, under the pane lock: the
/// flags it consumed, so that exactly one writer acts on each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Folded {
    /// The event ended a turn a notice had started.
    pub ended_notice_turn: bool,
    /// The event freed a pane whose notices were waiting for it.
    pub freed_waiting_inbox: bool,
    /// Queued prompts this event confirmed (taken off `pending_queued`).
    pub confirmed: Vec<(QueuedSend, ConfirmedBy)>,
}

/// Does this event mean the pane can take a prompt now?
fn frees_pane(ev: &Event) -> bool {
    match ev.kind {
        Some(Kind::Stop | Kind::StopFailure | Kind::SessionStart) => true,
        Some(Kind::Notify) => ev.notification_type.as_deref() == Some("idle_prompt"),
        _ => false,
    }
}

impl PaneRecord {
    /// Fold one appended event into the summary.
    pub fn observe(&mut self, ev: &Event) -> Folded {
        let mut folded = Folded::default();
        match ev.kind {
            Some(Kind::Prompt) => {
                self.notice_turn = ev.prompt.as_deref().is_some_and(is_notice_text);
            }
            Some(Kind::Stop | Kind::StopFailure) => {
                folded.ended_notice_turn = std::mem::take(&mut self.notice_turn);
            }
            _ => {}
        }
        if frees_pane(ev) {
            folded.freed_waiting_inbox = std::mem::take(&mut self.inbox_waiting);
        }
        self.fold_queued(ev, &mut folded);
        self.v = crate::event::SCHEMA_VERSION;
        if self.pane.is_none() {
            self.pane = ev.pane;
        }
        if self.created_ts == 0 {
            self.created_ts = ev.ts;
        }
        if ev.session_id.is_some() {
            self.session_id.clone_from(&ev.session_id);
        }
        if ev.cwd.is_some() {
            self.cwd.clone_from(&ev.cwd);
        }
        if ev.harness.is_some() && self.harness.is_none() {
            self.harness.clone_from(&ev.harness);
        }
        if ev.model.is_some() {
            self.model.clone_from(&ev.model);
        }
        if ev.transcript_path.is_some() {
            self.transcript_path.clone_from(&ev.transcript_path);
        }
        if ev.tokens.is_some() {
            self.tokens.clone_from(&ev.tokens);
        }
        match ev.kind {
            Some(Kind::Prompt) | Some(Kind::Sent) => {
                if let Some(p) = &ev.prompt {
                    // A receipt (prompt) supersedes the send it confirms.
                    self.last_prompt = Some(preview(ev, p));
                }
            }
            Some(Kind::Stop) => {
                self.turns += 1;
                self.last_reply = Some(preview(ev, ev.reply.as_deref().unwrap_or("")));
            }
            _ => {}
        }
        // `sent` is orch's note that it typed; it says nothing about the
        // agent's state, so it does not become the last event.
        if ev.kind != Some(Kind::Sent) && ev.kind != Some(Kind::Error) {
            self.last_event = Some(LastEvent {
                seq: ev.seq,
                ts: ev.ts,
                kind: ev.kind,
                notification_type: ev.notification_type.clone(),
                message: ev.message.as_ref().map(|m| {
                    let mut m = m.clone();
                    truncate_utf8(&mut m, PREVIEW_BYTES);
                    m
                }),
                error: ev.error.clone(),
            });
        }
        if ev.kind != Some(Kind::Sent) && ev.kind != Some(Kind::Error) {
            // A hook event is better evidence than anything read off the screen.
            self.screen = None;
        }
        self.gone_ts = None;
        folded
    }

    /// Keep `pending_queued`: a queued `sent` adds one; the matching
    /// `prompt` event (first pending with its hash) or a turn end naming it
    /// in `data.injected` confirms it; the session's end drops the rest
    /// (they were never taken).
    fn fold_queued(&mut self, ev: &Event, folded: &mut Folded) {
        match ev.kind {
            Some(Kind::Sent)
                if ev
                    .data
                    .as_ref()
                    .and_then(|d| d.get("queued"))
                    .and_then(|q| q.as_bool())
                    == Some(true) =>
            {
                let data = ev.data.as_ref();
                let mut preview = ev.prompt.clone().unwrap_or_default();
                truncate_utf8(&mut preview, 80);
                self.pending_queued.push(QueuedSend {
                    sent_seq: ev.seq,
                    ts: ev.ts,
                    hash: ev.prompt_hash.clone().unwrap_or_default(),
                    from: ev.from,
                    transcript_offset: data
                        .and_then(|d| d.get("transcript_offset"))
                        .and_then(|o| o.as_u64()),
                    preview,
                });
                let over = self.pending_queued.len().saturating_sub(PENDING_QUEUED_MAX);
                self.pending_queued.drain(..over);
            }
            Some(Kind::Prompt) => {
                if let Some(h) = &ev.prompt_hash
                    && let Some(i) = self.pending_queued.iter().position(|q| &q.hash == h)
                {
                    let q = self.pending_queued.remove(i);
                    folded.confirmed.push((q, ConfirmedBy::PromptEvent));
                }
            }
            Some(Kind::Stop | Kind::StopFailure) => {
                for seq in injected_seqs(ev) {
                    if let Some(i) = self.pending_queued.iter().position(|q| q.sent_seq == seq) {
                        let q = self.pending_queued.remove(i);
                        folded.confirmed.push((q, ConfirmedBy::Transcript));
                    }
                }
            }
            Some(Kind::SessionEnd | Kind::Exited) => self.pending_queued.clear(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_with_a_screen_state_from_a_newer_orch_still_reads() {
        let known =
            r#"{"v":1,"pane":"%3","role":"reviewer","screen":{"state":"blocked:dialog","ts":5}}"#;
        let rec: PaneRecord = serde_json::from_str(known).unwrap();
        assert_eq!(rec.screen.as_ref().unwrap().state, State::BlockedDialog);
        assert_eq!(rec.role, Some(Role::named("reviewer")));
        let again = serde_json::to_string(&rec).unwrap();
        assert!(again.contains(r#""role":"reviewer""#), "{again}");
        assert!(again.contains(r#""state":"blocked:dialog""#), "{again}");

        let newer = r#"{"v":1,"pane":"%3","screen":{"state":"dreaming","ts":5}}"#;
        let rec: PaneRecord = serde_json::from_str(newer).unwrap();
        assert_eq!(rec.pane, Some(PaneId(3)));
        assert!(rec.screen.is_none(), "an unknown state is no evidence");
    }
}

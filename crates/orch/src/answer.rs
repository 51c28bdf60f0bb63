//! `orch answer TARGET allow|deny|always`: answer an agent's permission
//! prompt without a stray key answering the wrong thing.
//!
//! `tmux send-keys Enter` accepts whatever is highlighted, and screens move
//! (the newest Claude Code moved "No" from 3 to 4, digits only move its
//! cursor, its trust dialog preselects "No, exit"). So orch reads the
//! screen, checks it shows a permission prompt for the tool the agent's
//! `permission_prompt` event named, picks the option by what it says, moves
//! the harness's cursor to it, confirms the dialog went away, and audits.
//! Anything else on screen is a refusal (exit 4) with nothing typed.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::audit::{self, AuditRecord};
use crate::event::{Kind, SCHEMA_VERSION, prompt_hash};
use crate::exit::{Code, Fail};
use crate::pane::PaneId;
use crate::roles::{self, Role};
use crate::store::Store;
use crate::target::{name_of, own_pane, resolve_from};
use crate::time::now_ns;
use crate::tmux::Tmux;

/// The three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    Allow,
    Deny,
    Always,
}

impl Choice {
    pub fn named(s: &str) -> Option<Choice> {
        match s {
            "allow" => Some(Choice::Allow),
            "deny" => Some(Choice::Deny),
            "always" => Some(Choice::Always),
            _ => None,
        }
    }

    /// Does an option labelled `label` mean this answer?
    fn matches(self, label: &str) -> bool {
        let l = label.to_lowercase();
        let always = l.contains("don't ask again")
            || l.contains("do not ask again")
            || l.contains("always")
            || l.contains("allow all");
        match self {
            Choice::Allow => {
                (l == "yes" || l.starts_with("yes,") || l.starts_with("yes ")) && !always
            }
            Choice::Always => l.starts_with("yes") && always,
            Choice::Deny => l == "no" || l.starts_with("no,") || l.starts_with("no "),
        }
    }
}

/// What was answered.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerReport {
    pub status: &'static str,
    pub pane: PaneId,
    pub name: Option<String>,
    pub choice: Choice,
    /// The option chosen, as the screen showed it (`2. No`).
    pub option: String,
    /// The tool the permission event named.
    pub tool: String,
    pub answer_ms: f64,
}

/// A `PermissionRequest` hook runs just before its harness draws the
/// dialog, so an answer can come before there is anything on screen: up to
/// this long after such an event, orch waits for the dialog to be drawn.
const DIALOG_DRAW_WAIT: Duration = Duration::from_secs(3);
/// A freshly drawn dialog may be drawn again with the cursor back on its
/// default, and keys sent meanwhile can be dropped (Claude Code 2.1.3xx):
/// the options must look the same for this long before a key is sent.
const DIALOG_STEADY: Duration = Duration::from_millis(200);
/// How long moving the cursor to the chosen option may take.
const CURSOR_WAIT: Duration = Duration::from_secs(3);

/// One numbered option of the dialog at the bottom of the screen.
#[derive(Debug, Clone, PartialEq)]
struct Opt {
    number: u32,
    label: String,
    cursor: bool,
}

/// The options of the dialog at the bottom of `screen`, and the lines
/// above them (the question and what it is about).
fn options(screen: &str) -> Option<(Vec<Opt>, Vec<String>)> {
    crate::screen::dialog(screen)?;
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let parse = |l: &str| -> Option<Opt> {
        let (cursor, rest) = match l.strip_prefix(['❯', '›', '▶']) {
            Some(r) => (true, r.trim_start()),
            None => (false, l),
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let label = rest[digits.len()..].strip_prefix(". ")?;
        Some(Opt {
            number: digits.parse().ok()?,
            label: label.trim().to_string(),
            cursor,
        })
    };
    let last = lines.iter().rposition(|l| parse(l).is_some())?;
    let mut first = last;
    while first > 0 && parse(lines[first - 1]).is_some() {
        first -= 1;
    }
    let opts = lines[first..=last]
        .iter()
        .filter_map(|l| parse(l))
        .collect();
    let above = lines[first.saturating_sub(8)..first]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Some((opts, above))
}

/// The tool a `permission_prompt` message names: "… permission to use Bash".
fn tool_of(message: &str) -> Option<String> {
    let rest = message.rsplit_once("permission to use ")?.1;
    let tool: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!tool.is_empty()).then_some(tool)
}

/// Answer `target`'s permission prompt with `choice` (see the module doc).
pub fn answer(target: &str, choice: Choice) -> Result<AnswerReport> {
    let start = Instant::now();
    let store = Store::current()?;
    let me = own_pane(&store);
    let pane = resolve_from(&store, target, me)?;
    let tmux = Tmux::for_server(store.server());
    crate::deliver::check_pane_exists(&tmux, pane)?;

    // Workers may not answer for others: only the operator, or the agent's
    // own parent (who spawned it and owns its work).
    let operator = roles::claimed_operator(&store);
    let env_role = roles::env_role();
    let sender = roles::role_of(&store, me, env_role.as_deref(), operator);
    let rec = store.read_registry(pane);
    let is_parent = me.is_some() && rec.as_ref().and_then(|r| r.parent) == me;
    let mut audit = AuditRecord {
        v: SCHEMA_VERSION,
        ts: now_ns(),
        action: "answer".into(),
        server: store.server().key(),
        from: me,
        from_name: me.and_then(|p| name_of(&store, p)),
        target_arg: target.to_string(),
        target: Some(pane),
        target_name: name_of(&store, pane),
        sender_role: Some(sender.role.clone()),
        preview: format!("{choice:?}").to_lowercase(),
        hash: prompt_hash(&format!("{choice:?}")),
        role_check: "allowed".into(),
        ..Default::default()
    };
    let refuse = |audit: &mut AuditRecord, msg: String| -> anyhow::Error {
        audit.outcome = "refused".into();
        audit.reason = Some(msg.clone());
        let _ = audit::append(store.root(), audit);
        Fail::refused(msg)
    };
    if sender.role != Role::Operator && !is_parent {
        audit.role_check = "denied".into();
        return Err(refuse(
            &mut audit,
            format!(
                "only the operator (or the agent's parent) may answer {pane}'s dialogs, and you are a {} here; nothing was typed — report it to the operator",
                sender.role
            ),
        ));
    }

    // The event: the agent's last hook event must be its permission prompt.
    let last = store
        .read_events(pane, 0)?
        .into_iter()
        .rev()
        .find(|e| !matches!(e.kind, Some(Kind::Sent)));
    let Some(ev) = last.filter(|e| {
        e.kind == Some(Kind::Notify) && e.notification_type.as_deref() == Some("permission_prompt")
    }) else {
        return Err(refuse(
            &mut audit,
            format!(
                "{pane} is not waiting on a permission prompt (its last event is not a permission_prompt notification); nothing was typed"
            ),
        ));
    };
    let message = ev.message.clone().unwrap_or_default();
    // Claude Code's notification says only "Claude needs your permission";
    // when the event names a tool, the screen must be about that tool.
    let named_tool = tool_of(&message);
    // The screen: a dialog, about that tool, with the option asked for.
    let age = Duration::from_nanos(now_ns().saturating_sub(ev.ts));
    let from_request = ev.source.as_deref() == Some(crate::hook::PERMISSION_REQUEST);
    let draw_wait = if from_request {
        DIALOG_DRAW_WAIT.saturating_sub(age)
    } else {
        Duration::ZERO
    };
    let Some((opts, above)) = steady_options(&tmux, pane, draw_wait)? else {
        return Err(refuse(
            &mut audit,
            format!(
                "{pane} shows no selection dialog (the prompt may have been answered already); nothing was typed"
            ),
        ));
    };
    let context = above.join(" / ");
    let about_tool = named_tool
        .as_ref()
        .is_none_or(|t| context.contains(t.as_str()));
    if !about_tool || !context.to_lowercase().contains("proceed") {
        return Err(refuse(
            &mut audit,
            format!(
                "the dialog on {pane} is not the permission prompt {}its event announced (it says: {context:?}); nothing was typed",
                named_tool
                    .as_ref()
                    .map(|t| format!("for {t} that "))
                    .unwrap_or_default()
            ),
        ));
    }
    // What the prompt is about, for the report: the tool the event named,
    // else the screen's "<Tool> command" header.
    let tool = named_tool.unwrap_or_else(|| {
        above
            .iter()
            .find_map(|l| l.strip_suffix(" command").map(str::to_string))
            .unwrap_or_default()
    });
    let Some(want) = opts.iter().position(|o| choice.matches(&o.label)) else {
        let labels: Vec<String> = opts
            .iter()
            .map(|o| format!("{}. {}", o.number, o.label))
            .collect();
        return Err(refuse(
            &mut audit,
            format!(
                "the dialog on {pane} has no option meaning {:?} (options: {}); nothing was typed",
                format!("{choice:?}").to_lowercase(),
                labels.join(", ")
            ),
        ));
    };
    let harness = rec
        .as_ref()
        .and_then(|r| r.harness.clone())
        .unwrap_or_default();
    let p = pane.to_string();
    if harness == "echo" {
        // The echo agent takes the option's digit.
        tmux.run(["send-keys", "-t", &p, "-l", &opts[want].number.to_string()])?;
    } else if harness == "claude" && choice == Choice::Deny {
        // Claude Code's "No" is its Esc ("No, and tell Claude what to do
        // differently (esc)"): one key that cannot approve anything. Arrows
        // and Enter could: once under load (2.1.197, right after the
        // PermissionRequest event) the screen showed the cursor on "No",
        // the Enter went in, and the command ran.
        tmux.run(["send-keys", "-t", &p, "Escape"])?;
    } else {
        // Claude Code and the others: digits only move the cursor in newer
        // versions, so move it there by arrows, see it there, then Enter —
        // never Enter on an option that was not read off the screen.
        let deadline = Instant::now() + CURSOR_WAIT;
        loop {
            let now = tmux.capture(pane).unwrap_or_default();
            let here = options(&now).filter(|(o, a)| *a == above && o.len() == opts.len());
            let Some((o, _)) = here else {
                return Err(refuse(
                    &mut audit,
                    format!(
                        "the dialog on {pane} went away while the cursor was moved to {:?}; Enter was not pressed",
                        opts[want].label
                    ),
                ));
            };
            let at = o.iter().position(|o| o.cursor).unwrap_or(0);
            if at == want {
                break;
            }
            if Instant::now() >= deadline {
                return Err(refuse(
                    &mut audit,
                    format!(
                        "the cursor on {pane} did not reach {:?} within {CURSOR_WAIT:?}; Enter was not pressed",
                        opts[want].label
                    ),
                ));
            }
            let key = if want > at { "Down" } else { "Up" };
            for _ in 0..want.abs_diff(at) {
                tmux.run(["send-keys", "-t", &p, key])?;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        tmux.run(["send-keys", "-t", &p, "Enter"])?;
    }
    let chosen = format!("{}. {}", opts[want].number, opts[want].label);
    audit.outcome = "answered".into();
    audit.reason = Some(format!("{chosen} ({message}; {tool})"));

    // Confirm the dialog went away.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now_screen = tmux.capture(pane).unwrap_or_default();
        if options(&now_screen).is_none_or(|(o, a)| a != above || o.len() != opts.len()) {
            break;
        }
        if Instant::now() >= deadline {
            audit.outcome = "failed".into();
            audit.reason = Some(format!("pressed {chosen}, but the dialog is still showing"));
            let _ = audit::append(store.root(), &audit);
            return Err(Fail::new(
                Code::Failure,
                format!("pressed {chosen} on {pane}, but the dialog is still showing after 3 s; look at the screen"),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Err(e) = audit::append(store.root(), &audit) {
        eprintln!("orch-answer: warning: not recorded in the audit log: {e:#}");
    }
    Ok(AnswerReport {
        status: "answered",
        pane,
        name: name_of(&store, pane),
        choice,
        option: chosen,
        tool,
        answer_ms: (start.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
    })
}

/// The dialog on `pane` once it looks the same for [`DIALOG_STEADY`],
/// waiting up to `draw_wait` for one to be drawn at all. `None`: no dialog.
#[allow(clippy::type_complexity)]
fn steady_options(
    tmux: &Tmux,
    pane: PaneId,
    draw_wait: Duration,
) -> Result<Option<(Vec<Opt>, Vec<String>)>> {
    let start = Instant::now();
    let limit = draw_wait + Duration::from_secs(2);
    let mut seen: Option<((Vec<Opt>, Vec<String>), Instant)> = None;
    loop {
        let now = options(&tmux.capture(pane)?);
        if start.elapsed() >= limit {
            // Still changing: what it shows now (checked again below).
            return Ok(now);
        }
        match (now, &seen) {
            (None, _) if start.elapsed() >= draw_wait => return Ok(None),
            (None, _) => seen = None,
            (Some(o), Some((prev, since))) if *prev == o => {
                if since.elapsed() >= DIALOG_STEADY {
                    return Ok(Some(o));
                }
            }
            (Some(o), _) => seen = Some((o, Instant::now())),
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_chosen_by_label() {
        assert!(Choice::Allow.matches("Yes"));
        assert!(!Choice::Allow.matches("Yes, and don't ask again for this command"));
        assert!(Choice::Always.matches("Yes, and don't ask again for this command"));
        assert!(Choice::Deny.matches("No, and tell Claude what to do differently"));
        assert!(!Choice::Deny.matches("Not sure"));
        assert_eq!(
            tool_of("echo needs your permission to use Bash").as_deref(),
            Some("Bash")
        );
        let screen = "Bash wants to run\nDo you want to proceed?\n  1. Yes\n❯ 2. No\n";
        let (o, above) = options(screen).unwrap();
        assert_eq!((o.len(), o[1].cursor, o[1].label.as_str()), (2, true, "No"));
        assert!(above.join(" ").contains("proceed"));
    }
}

//! Fan-out: one prompt to many agents (`orch tell --to a,b,%7`, `--all`).
//!
//! Every target gets the single-target tell ([`super::tell_one`]: its own
//! role check, audit record, delivery lock and receipt), each on its own
//! thread, so panes are typed into in parallel while each pane is still
//! serialized by its delivery lock. The outcome is one line per target and
//! the worst exit code.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::{TellReport, TellRequest, outcome_of, prompt_text, sender, tell_one};
use crate::exit::{Code, code_of};
use crate::pane::PaneId;
use crate::roles::{self, Matrix, Role};
use crate::store::Store;
use crate::target::{is_live, resolve_from};
use crate::tmux::Tmux;

/// What happened for one target of a fan-out.
#[derive(Debug)]
pub enum TargetOutcome {
    Sent(Box<TellReport>),
    /// Nothing was typed into this target: why, as a line of its own.
    Failed(FanoutLine),
}

impl TargetOutcome {
    /// The exit code this target earns.
    pub fn code(&self) -> Code {
        match self {
            TargetOutcome::Sent(r) => r.code,
            TargetOutcome::Failed(l) => l.code_value,
        }
    }
}

/// A target a fan-out could not type into (the JSON line printed for it).
#[derive(Debug, Clone, Serialize)]
pub struct FanoutLine {
    /// `refused`, `timeout`, `invalid`, `exited`, `failed`.
    pub status: &'static str,
    /// The target as given (a name, `%7`).
    pub target: String,
    pub pane: Option<PaneId>,
    pub name: Option<String>,
    /// The exit code a single tell to this target would have had.
    pub code: u8,
    pub reason: String,
    #[serde(skip)]
    pub code_value: Code,
}

/// The exit code of a whole fan-out: the highest of its targets' codes.
pub fn worst(outcomes: &[TargetOutcome]) -> Code {
    outcomes
        .iter()
        .map(TargetOutcome::code)
        .max_by_key(|c| *c as u8)
        .unwrap_or(Code::Ok)
}

/// Send `args`' text to every target it names, in parallel.
pub(super) fn tell_many(args: &TellRequest, deadline: Instant) -> Result<Vec<TargetOutcome>> {
    if args.all && !args.to.is_empty() {
        return Err(crate::exit::Fail::usage(
            "give either --to NAMES or --all, not both",
        ));
    }
    if args.role.is_some() && !args.all {
        return Err(crate::exit::Fail::usage(
            "--role filters --all; with --to, name the targets themselves",
        ));
    }
    if args.claim_operator || args.release_operator || args.audit {
        return Err(crate::exit::Fail::usage(
            "--to/--all send a prompt; they do not go with --claim-operator, --release-operator or --audit",
        ));
    }
    // With --to/--all there is no positional target: the first word is text.
    let words: Vec<String> = args.target.iter().chain(&args.text).cloned().collect();
    let text = prompt_text(args, &words)?;
    let store = Store::current()?;
    let (me, from) = sender(&store, args)?;
    let mut targets: Vec<String> = if args.all {
        every_agent(&store, args, me, from)?
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    } else {
        args.to
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()
    };
    targets.dedup();
    if targets.is_empty() {
        return Err(crate::exit::Fail::usage(if args.all {
            "--all found no live agent you may tell (spawn one with `orch spawn`; `orch survey` lists them); nothing was typed"
        } else {
            "--to names no target: give a comma-separated list such as --to alice,bob,%7"
        }));
    }
    let store = &store;
    let text = &text;
    let outcomes = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| {
                s.spawn(
                    move || match tell_one(store, args, me, from, t, text.clone(), deadline) {
                        Ok(r) => TargetOutcome::Sent(Box::new(r)),
                        Err(e) => TargetOutcome::Failed(failed_line(store, t, from, &e)),
                    },
                )
            })
            .collect();
        handles
            .into_iter()
            .zip(&targets)
            .map(|(h, t)| {
                h.join().unwrap_or_else(|_| {
                    TargetOutcome::Failed(FanoutLine {
                        status: "failed",
                        target: t.clone(),
                        pane: None,
                        name: None,
                        code: Code::Failure as u8,
                        reason: "the delivery thread panicked".into(),
                        code_value: Code::Failure,
                    })
                })
            })
            .collect()
    });
    Ok(outcomes)
}

fn failed_line(store: &Store, target: &str, from: Option<PaneId>, e: &anyhow::Error) -> FanoutLine {
    let code = code_of(e);
    let pane = resolve_from(store, target, from).ok();
    FanoutLine {
        status: outcome_of(code),
        target: target.to_string(),
        pane,
        name: pane.and_then(|p| crate::target::name_of(store, p)),
        code: code as u8,
        reason: format!("{e:#}"),
        code_value: code,
    }
}

/// `--all`: every live agent the sender may tell — panes tmux lists alive
/// whose registry record makes them an agent orch knows, not the sender,
/// not the operator (unless `--role operator`), admitted by the role
/// matrix, and with `--role` of that role. In pane order.
fn every_agent(
    store: &Store,
    args: &TellRequest,
    me: Option<PaneId>,
    from: Option<PaneId>,
) -> Result<Vec<PaneId>> {
    let matrix = Matrix::load()?;
    let operator = roles::claimed_operator(store);
    let sender = roles::sender_role(store, me, from, operator);
    let want = args.role.as_deref().map(Role::named);
    let listed = Tmux::for_server(store.server()).list_panes()?;
    let mut out: Vec<PaneId> = store
        .list_registry()
        .into_iter()
        .filter(|r| r.gone_ts.is_none())
        .filter_map(|r| r.pane)
        .filter(|&p| Some(p) != from && Some(p) != me && is_live(&listed, p))
        .filter(|&p| super::known_agent(store, p, None))
        .filter(|&p| {
            let role = roles::role_of(store, Some(p), None, operator).role;
            let wanted = match &want {
                Some(w) => &role == w,
                None => role != Role::Operator,
            };
            wanted && matrix.allows(&sender.role, &role)
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

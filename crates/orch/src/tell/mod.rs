//! `orch-tell`: give an agent a prompt — resolved by name, checked against
//! the role matrix, delivered exactly once ([`crate::deliver`]), recorded in
//! the audit log — and optionally wait for its reply.
//!
//! This module only wires things together: addressing is
//! [`crate::target`], roles [`crate::roles`], typing and receipts
//! [`crate::deliver`], the log [`crate::audit`]. docs/tell.md is the
//! user-facing description.

mod fanout;
mod later;
mod operator;
mod report;

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::audit::{self, AuditRecord};
use crate::deliver::{self, Busy, DeliverOpts, Status};
use crate::event::{SCHEMA_VERSION, prompt_hash, truncate_utf8};
use crate::exit::{Code, Fail, code_of};
use crate::pane::PaneId;
use crate::roles::{self, Matrix, Role, RoleOf};
use crate::store::Store;
use crate::target::{name_of, own_pane, resolve_from};
use crate::time::now_ns;
use crate::tmux::Tmux;
pub use fanout::{FanoutLine, TargetOutcome, worst};
pub use operator::OperatorReport;
pub use report::{TellReport, TurnReport};

/// What `orch-tell` was asked (its flags).
#[derive(Debug, Clone)]
pub struct TellRequest {
    pub target: Option<String>,
    /// Fan-out: these targets (`--to a,b,%7`); the positional target is
    /// then the first word of the text.
    pub to: Vec<String>,
    /// Fan-out: every live agent the sender may tell (`--all`).
    pub all: bool,
    /// With `all`: only agents with this role.
    pub role: Option<String>,
    /// The prompt's words, or `["-"]` for stdin.
    pub text: Vec<String>,
    /// Read the prompt from this file (`-`: stdin).
    pub file: Option<PathBuf>,
    /// Wait for the turn to end and report its reply.
    pub wait: bool,
    /// For everything: waiting to type, the receipt, the reply.
    pub timeout: Duration,
    pub queue: bool,
    /// Put it in the target's inbox for its next idle and return at once.
    pub later: bool,
    pub wait_idle: bool,
    pub force: bool,
    pub escalate: Option<String>,
    /// Send as this pane instead of the caller's.
    pub from: Option<String>,
    pub claim_operator: bool,
    pub release_operator: bool,
    /// List the audit log instead of sending.
    pub audit: bool,
    /// With `audit`: sends from or to this pane.
    pub pane: Option<String>,
    /// With `audit`: records newer than this.
    pub since: Option<Duration>,
}

/// What a request did.
#[derive(Debug)]
pub enum Told {
    Sent(Box<TellReport>),
    Operator(OperatorReport),
    /// Audit records, oldest first, as JSON (fields of newer versions kept).
    Audit(Vec<Value>),
    /// A fan-out (`--to`, `--all`): one outcome per target, in target order.
    Many(Vec<TargetOutcome>),
}

fn read_limited(r: impl Read, what: &str) -> Result<String> {
    let mut data = Vec::new();
    r.take(deliver::INPUT_MAX as u64 + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {what}"))?;
    deliver::text_from_bytes(data, what)
}

/// The prompt text as given (not yet sanitized).
fn read_text(args: &TellRequest) -> Result<String> {
    let stdin_dash = args.text.len() == 1 && args.text[0] == "-";
    match (&args.file, args.text.is_empty()) {
        (Some(_), false) => Err(Fail::usage(
            "give the text either as arguments or with --file, not both",
        )),
        (Some(f), true) if f.as_os_str() == "-" => read_limited(std::io::stdin(), "stdin"),
        (Some(f), true) => {
            let file = std::fs::File::open(f)
                .map_err(|e| Fail::usage(format!("cannot read --file {}: {e}", f.display())))?;
            read_limited(file, &f.display().to_string())
        }
        (None, _) if stdin_dash => read_limited(std::io::stdin(), "stdin"),
        (None, false) => Ok(args.text.join(" ")),
        (None, true) => Err(Fail::usage(
            "no text: give the prompt as arguments, `-` to read stdin, or --file F",
        )),
    }
}

fn preview(text: &str) -> String {
    let mut p = text.to_string();
    if truncate_utf8(&mut p, audit::PREVIEW_BYTES) {
        p.push('…');
    }
    p
}

fn outcome_of(code: Code) -> &'static str {
    match code {
        Code::Ok => "delivered",
        Code::Failure => "failed",
        Code::Usage => "invalid",
        Code::Timeout => "timeout",
        Code::Refused => "refused",
        Code::Unconfirmed => "unconfirmed",
        Code::Blocked => "blocked",
        Code::Exited => "exited",
    }
}

fn write_audit(store: &Store, rec: &AuditRecord) {
    if let Err(e) = audit::append(store.root(), rec) {
        eprintln!("orch-tell: warning: the send was not recorded in the audit log: {e:#}");
    }
}

/// "a worker", "an observer".
fn article(role: &Role) -> String {
    let vowel = role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {role}", if vowel { "an" } else { "a" })
}

/// Carry out a request: a send (with its audit record), an operator claim
/// or release, or an audit listing.
pub fn tell(args: &TellRequest) -> Result<Told> {
    let deadline = Instant::now() + args.timeout;
    if args.audit {
        if args.target.is_some() || !args.text.is_empty() {
            return Err(Fail::usage(
                "--audit takes no target or text; filter with --pane P and --since DURATION",
            ));
        }
        return audit_records(args).map(Told::Audit);
    }
    if args.claim_operator || args.release_operator {
        if args.target.is_some() || !args.text.is_empty() {
            return Err(Fail::usage(
                "--claim-operator/--release-operator take no target or text (use --from PANE)",
            ));
        }
        let store = Store::current()?;
        return operator::claim(&store, args).map(Told::Operator);
    }
    if args.all || !args.to.is_empty() {
        return fanout::tell_many(args, deadline).map(Told::Many);
    }
    let target_arg = args.target.clone().ok_or_else(|| {
        Fail::usage("no target: orch-tell <TARGET> <TEXT…> (a pane id like %3, an agent name, operator, self or parent)")
    })?;
    let text = prompt_text(args, &args.text)?;
    let store = Store::current()?;
    let (me, from) = sender(&store, args)?;
    tell_one(&store, args, me, from, &target_arg, text, deadline).map(|r| Told::Sent(Box::new(r)))
}

/// The sanitized prompt from `words` (or stdin/--file); empty is refused.
fn prompt_text(args: &TellRequest, words: &[String]) -> Result<String> {
    let text = deliver::sanitize(&read_text(&TellRequest {
        text: words.to_vec(),
        ..args.clone()
    })?);
    if text.trim().is_empty() {
        return Err(Fail::usage(
            "the text is empty (after removing control characters); nothing was sent",
        ));
    }
    Ok(text)
}

/// The pane tell runs in, and the pane it sends as (`--from`).
fn sender(store: &Store, args: &TellRequest) -> Result<(Option<PaneId>, Option<PaneId>)> {
    let me = own_pane(store);
    let from = match &args.from {
        Some(f) => Some(resolve_from(store, f, me).context("--from")?),
        None => me,
    };
    Ok((me, from))
}

/// Resolve one target and send it `text`, writing its audit record.
fn tell_one(
    store: &Store,
    args: &TellRequest,
    me: Option<PaneId>,
    from: Option<PaneId>,
    target_arg: &str,
    mut text: String,
    deadline: Instant,
) -> Result<TellReport> {
    let axis = args.escalate.clone();
    let target = resolve_from(store, target_arg, from)?;

    let mut rec = AuditRecord {
        v: SCHEMA_VERSION,
        ts: now_ns(),
        action: "send".into(),
        server: store.server().key(),
        from,
        from_name: from.and_then(|p| name_of(store, p)),
        via: (from != me).then_some(me).flatten(),
        target_arg: target_arg.to_string(),
        target: Some(target),
        target_name: name_of(store, target),
        bytes: text.len() as u64,
        hash: prompt_hash(&text),
        preview: preview(&text),
        role_check: "not-checked".into(),
        forced: args.force,
        escalation: axis.clone(),
        remote_from: std::env::var(crate::remote::FROM_ENV).ok(),
        ..Default::default()
    };

    let result = send(
        store, args, me, from, target, &mut text, axis, deadline, &mut rec,
    );
    if result.is_ok()
        && let Some(a) = &rec.escalation
    {
        // Keyed by the worker, so one worker's escalations are
        // rate-limited, not every worker's together.
        let mut alert = crate::alert::Alert::new(
            store,
            "escalation",
            from.unwrap_or(target),
            None,
            &format!("escalates to the operator ({a}): {}", rec.preview),
        );
        alert.detail = Some(a.clone());
        crate::alert::raise(store, alert);
    }
    if let Err(e) = &result
        && rec.outcome.is_empty()
    {
        rec.outcome = outcome_of(code_of(e)).into();
        rec.reason = Some(format!("{e:#}"));
        write_audit(store, &rec);
    }
    result
}

/// Everything after the target is known. Writes the audit record itself
/// once delivery has an outcome (before any --wait); on an error returned
/// with `rec.outcome` still empty, the caller records it.
#[allow(clippy::too_many_arguments)]
fn send(
    store: &Store,
    args: &TellRequest,
    me: Option<PaneId>,
    from: Option<PaneId>,
    target: PaneId,
    text: &mut String,
    axis: Option<String>,
    deadline: Instant,
    rec: &mut AuditRecord,
) -> Result<TellReport> {
    let tmux = Tmux::for_server(store.server());
    // A pane that does not exist is "exited", before any other check, so
    // nothing is typed anywhere.
    deliver::check_pane(&tmux, store, target)?;

    let matrix = Matrix::load()?;
    let operator = roles::claimed_operator(store);
    let sender: RoleOf = roles::sender_role(store, me, from, operator);
    // A spy never types into what it watches, --force or not.
    if let Some(f) = from
        && crate::spawn::spy::watched_by(store, f) == Some(target)
    {
        rec.role_check = "denied".into();
        return Err(Fail::refused(format!(
            "{f} is a spy watching {target}, and a spy never types into what it watches (not even with --force); nothing was typed — report to the operator instead"
        )));
    }
    let target_role = roles::role_of(store, Some(target), None, operator);
    rec.sender_role = Some(sender.role.clone());
    rec.target_role = Some(target_role.role.clone());

    let mut overrides = Vec::new();
    if from != me {
        let caller = roles::sender_role(store, me, me, operator);
        if caller.role != Role::Operator {
            if !args.force {
                rec.role_check = "denied".into();
                return Err(Fail::refused(format!(
                    "only the operator may send as another pane (--from {}); you are {} ({} role); nothing was typed",
                    from.map(|p| p.to_string()).unwrap_or_default(),
                    article(&caller.role),
                    caller.source
                )));
            }
            overrides.push("--from");
        }
    }
    if !matrix.allows(&sender.role, &target_role.role) {
        if !args.force {
            rec.role_check = "denied".into();
            let row = matrix.row(&sender.role);
            let may = if !matrix.knows(&sender.role) {
                format!(
                    "role {:?} is not in the role matrix ({})",
                    sender.role.as_str(),
                    matrix.source
                )
            } else if row.is_empty() {
                format!("{} may tell no one", article(&sender.role))
            } else {
                let row: Vec<String> = row.iter().map(ToString::to_string).collect();
                format!("{} may tell: {}", article(&sender.role), row.join(", "))
            };
            return Err(Fail::refused(format!(
                "{} may not tell {} ({target} is {}; {may}); nothing was typed — use --force to override (audited)",
                article(&sender.role),
                article(&target_role.role),
                article(&target_role.role)
            )));
        }
        overrides.push("roles");
        rec.role_check = "denied".into();
    } else {
        rec.role_check = "allowed".into();
    }

    if sender.role != Role::Operator {
        // The operator a worker reaches as `operator` without a claim (its
        // spawner's root pane) is a known target too.
        let known_operator = operator.or_else(|| crate::target::implicit_operator(store, from));
        guard_target(
            store,
            args,
            &sender.role,
            target,
            known_operator,
            text,
            &mut overrides,
        )?;
    }

    if let Some(a) = &axis {
        let a = roles::check_axis(a)?;
        if target_role.role != Role::Operator {
            return Err(Fail::refused(format!(
                "escalations go to the operator, and {target} is {}; send it with `orch tell operator --escalate {a} …`",
                article(&target_role.role)
            )));
        }
        rec.escalation = Some(a.to_string());
        *text = format!("[escalation: {a}] {text}");
        rec.bytes = text.len() as u64;
        rec.hash = prompt_hash(text);
        rec.preview = preview(text);
    }
    if args.wait && Some(target) == from {
        return Err(Fail::usage(
            "cannot --wait for a reply from your own pane (your turn would have to end first)",
        ));
    }

    if args.later {
        if args.wait || args.queue {
            return Err(Fail::usage(
                "--later returns at once and lets orch type the message at the target's next idle; it does not go with --wait or --queue",
            ));
        }
        if Some(target) == from {
            return Err(Fail::usage(
                "--later into your own pane: just keep it in mind",
            ));
        }
        rec.overrides = overrides.iter().map(|o| o.to_string()).collect();
        let receipt = later::queue(store, from, target, text, rec)?;
        rec.hash.clone_from(&receipt.typed.hash);
        write_audit(store, rec);
        return Ok(TellReport::new(&receipt, rec));
    }
    let mut opts = DeliverOpts::new(Duration::ZERO);
    opts.deadline = deadline;
    opts.from = from;
    opts.busy = if args.queue {
        Busy::Queue
    } else {
        Busy::WaitIdle
    };
    opts.wait_dialog = args.wait_idle;
    opts.confirm_queued = args.wait;
    opts.pane_checked = true;
    if let Some(a) = &rec.escalation {
        opts.data.insert("escalation".into(), a.clone().into());
    }
    if !overrides.is_empty() {
        opts.data.insert("forced".into(), json!(overrides));
    }
    rec.overrides = overrides.iter().map(|o| o.to_string()).collect();
    if let Some(v) = rec.via {
        opts.data.insert("via".into(), v.to_string().into());
    }

    let receipt = deliver::deliver(store, target, text, &opts)?;
    rec.outcome = receipt.status.as_str().into();
    rec.reason.clone_from(&receipt.reason);
    rec.receipt_ms = receipt.typed.receipt_ms;
    rec.attempts = Some(receipt.typed.attempts);
    rec.sent_seq = Some(receipt.typed.sent_seq);
    rec.confirmed_by = (receipt.status == Status::Queued)
        .then_some(receipt.confirmed_by)
        .flatten()
        .map(|c| c.as_str().into());
    rec.hash.clone_from(&receipt.typed.hash);
    rec.file = receipt.file.as_ref().map(|f| f.path.display().to_string());
    write_audit(store, rec);

    let mut report = TellReport::new(&receipt, rec);
    // A prompt taken into a running turn has its receipt too: wait for the
    // turn that answers it.
    // One taken in at a tool result was confirmed by that turn's end: its
    // reply is the one to report.
    let acknowledged = receipt.status == Status::Delivered
        || (receipt.status == Status::Queued && receipt.confirmed_by.is_some());
    if args.wait && acknowledged {
        let (after, joined) = match receipt.injected_seq {
            Some(end) => (end - 1, None),
            None => (
                receipt.typed.prompt_seq.unwrap_or(receipt.typed.sent_seq),
                receipt.joined_turn.as_deref(),
            ),
        };
        match deliver::wait_turn_end(store, target, after, deadline, joined) {
            Ok(t) => report.add_turn(&t, target, args.timeout),
            Err(e) => {
                // Delivered all the same: say so, and why the wait broke.
                report.code = Code::Failure;
                report.wait_error = Some(format!("{e:#}"));
                report.notes.push(format!(
                    "delivered, but waiting for the reply failed: {e:#}"
                ));
            }
        }
    }
    Ok(report)
}

/// Is `pane` an agent orch knows — spawned by orch (its registry record has
/// a role or harness) or with hooks that fired — or the claimed operator?
/// A record made only by someone telling the pane does not count.
pub fn known_agent(store: &Store, pane: PaneId, operator: Option<PaneId>) -> bool {
    if Some(pane) == operator {
        return true;
    }
    let rec = store.read_registry(pane);
    rec.as_ref()
        .is_some_and(|r| r.role.is_some() || r.harness.is_some() || r.spawned_ts.is_some())
        || deliver::has_hooks(store, pane, rec.as_ref())
}

/// Text that a Claude Code input box does not take as a prompt: `!` runs
/// the rest in a shell (bash mode), `/` runs a slash command.
fn is_command_text(text: &str) -> bool {
    text.trim_start().starts_with(['!', '/'])
}

/// What a sender other than the operator may not do without `--force`
/// (issue 14): type into a pane that is not a known agent — the shell guard
/// is a list of names, and a python REPL, ssh, psql or node would run the
/// text — or send Claude Code a shell command or slash command. Overrides
/// are added to `overrides` (recorded in the `sent` event and the audit).
fn guard_target(
    store: &Store,
    args: &TellRequest,
    sender: &Role,
    target: PaneId,
    operator: Option<PaneId>,
    text: &str,
    overrides: &mut Vec<&'static str>,
) -> Result<()> {
    if !known_agent(store, target, operator) {
        if !args.force {
            return Err(Fail::refused(format!(
                "{target} is not a known agent (orch did not spawn it, no hooks fired there, and it is not the claimed operator), and {} may only tell agents: whatever runs there would take the text as input; nothing was typed — use --force to override (audited)",
                article(sender)
            )));
        }
        overrides.push("unknown-target");
    }
    let claude = store
        .read_registry(target)
        .and_then(|r| r.harness)
        .is_some_and(|h| h == "claude");
    if claude && is_command_text(text) {
        if !args.force {
            return Err(Fail::refused(format!(
                "text starting with `!` or `/` runs a shell command or slash command in Claude Code ({target}), which {} may not send; nothing was typed — use --force to override (audited)",
                article(sender)
            )));
        }
        overrides.push("command-text");
    }
    Ok(())
}

/// `--audit [--pane P] [--since D]`: the records to show.
fn audit_records(args: &TellRequest) -> Result<Vec<Value>> {
    let root = crate::layout::state_dir()?;
    let mut filter = audit::Filter::default();
    if let Some(p) = &args.pane {
        if p.starts_with('%') {
            filter.panes.push(
                p.parse()
                    .map_err(|e: crate::pane::BadPaneId| Fail::usage(e.to_string()))?,
            );
        } else {
            // A name: match records that carry it, and the pane it names now.
            filter.name = Some(p.clone());
            if let Ok(store) = Store::current()
                && let Ok(pane) = resolve_from(&store, p, own_pane(&store))
            {
                filter.panes.push(pane);
            }
        }
    }
    if let Some(d) = args.since {
        filter.since_ts = Some(now_ns().saturating_sub(d.as_nanos() as u64));
    }
    audit::read(&root, &filter)
}

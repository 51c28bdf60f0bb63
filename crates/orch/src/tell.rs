//! `orch-tell`: give an agent a prompt — resolved by name, checked against
//! the role matrix, delivered exactly once ([`crate::deliver`]), recorded in
//! the audit log — and optionally wait for its reply.
//!
//! The CLI only wires things together: addressing is [`crate::target`],
//! roles [`crate::roles`], typing and receipts [`crate::deliver`], the log
//! [`crate::audit`]. docs/tell.md is the user-facing description.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::{Map, Value, json};

use crate::audit::{self, AuditRecord};
use crate::deliver::{self, Busy, DeliverOpts, Receipt, Status, TurnEnd};
use crate::event::{SCHEMA_VERSION, prompt_hash, truncate_utf8};
use crate::exit::{Code, Fail, code_of};
use crate::pane::PaneId;
use crate::roles::{self, Matrix, RoleOf};
use crate::server::Server;
use crate::store::Store;
use crate::target::resolve_from;
use crate::time::now_ns;
use crate::tmux::Tmux;

/// Default `--timeout`: below Claude Code's 2-minute Bash tool limit, so a
/// model calling tell gets orch's clear timeout rather than a killed tool.
pub const DEFAULT_TIMEOUT_SECS: f64 = 100.0;

/// Deliver a prompt to an agent, exactly once, and optionally wait for the reply.
#[derive(Debug, Parser)]
#[command(
    name = "orch-tell",
    version,
    about = "Deliver a prompt to an agent, exactly once, and optionally wait for the reply",
    after_help = "TARGET: a pane id (%12), an agent name, `operator`, `self` or `parent`.\n\
TEXT: the remaining arguments joined by spaces, `-` to read stdin, or --file F.\n\
Text starting with `-` needs `--` before it (orch-tell %3 -- -v means verbose).\n\n\
Prints one JSON object: {\"status\":\"delivered\",\"pane\":\"%3\",\"name\":…,\"receipt_ms\":…,\n\
\"bytes\":…,\"hash\":…,\"attempts\":…} (+ \"reply\", \"stop_kind\" with --wait).\n\n\
Exit codes: 0 delivered (or queued; with --wait: the turn ended with a reply),\n\
  1 failure, 2 bad arguments or text, 3 timed out, 4 refused (role matrix, a dialog\n\
  on screen, a shell prompt, bad escalation axis), 5 typed but unconfirmed,\n\
  6 the turn ended blocked (permission dialog, API error), 7 pane or agent gone.\n\
If anything was typed, stdout has the JSON saying what happened; if stdout is\n\
empty, nothing was typed (the one-line error on stderr says why).\n\n\
Examples:\n  \
  orch-tell reviewer 'Review the diff in src/auth.rs' --wait\n  \
  git diff | orch-tell %7 -\n  \
  orch-tell operator --escalate architecture 'Split the store into two crates?'\n  \
  orch-tell --claim-operator                 # run in the operator's pane\n  \
  orch-tell --audit --since 1h --pretty"
)]
pub struct TellArgs {
    /// Who to tell: %12, an agent name, operator, self or parent.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// The prompt (joined by spaces), or `-` to read it from stdin.
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// Read the prompt from this file (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// After delivery, wait for that turn to end and include its reply.
    #[arg(long)]
    pub wait: bool,
    /// Give up after this many seconds in total (waiting for the target to
    /// be idle, for the receipt, and with --wait for the reply).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub timeout: f64,
    /// If the target is mid-turn, type now (the harness queues it) instead
    /// of waiting for the turn to end.
    #[arg(long)]
    pub queue: bool,
    /// If the target shows a permission or start-up dialog, wait for it to
    /// be answered instead of refusing.
    #[arg(long)]
    pub wait_idle: bool,
    /// Override the role matrix (recorded in the audit log).
    #[arg(long)]
    pub force: bool,
    /// Mark a question to the operator with its axis: taste, architecture,
    /// ethics or reversibility.
    #[arg(long, value_name = "AXIS")]
    pub escalate: Option<String>,
    /// Human-readable output instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Send as this pane (default: the pane tell runs in, TMUX_PANE). Only
    /// the operator may send as another pane.
    #[arg(long, value_name = "PANE")]
    pub from: Option<String>,
    /// Record this pane (or --from) as the operator of this tmux server.
    #[arg(long, conflicts_with_all = ["release_operator", "audit", "wait", "escalate", "queue"])]
    pub claim_operator: bool,
    /// Remove the operator claim.
    #[arg(long, conflicts_with_all = ["audit", "wait", "escalate", "queue"])]
    pub release_operator: bool,
    /// Print the audit log (JSON lines; --pretty for a table) and exit.
    #[arg(long, conflicts_with_all = ["wait", "escalate", "queue", "file"])]
    pub audit: bool,
    /// With --audit: only sends from or to this pane (id or name).
    #[arg(long, value_name = "PANE", requires = "audit")]
    pub pane: Option<String>,
    /// With --audit: only records newer than this (90s, 10m, 2h, 3d).
    #[arg(long, value_name = "DURATION", requires = "audit")]
    pub since: Option<String>,
}

/// The pane this process runs in, if it belongs to `store`'s server.
fn own_pane(store: &Store) -> Option<PaneId> {
    if Server::from_env().as_ref() != Some(store.server()) {
        return None;
    }
    PaneId::from_env()
}

fn read_limited(r: impl Read, what: &str) -> Result<String> {
    let mut data = Vec::new();
    r.take(deliver::INPUT_MAX as u64 + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {what}"))?;
    deliver::text_from_bytes(data, what)
}

/// The prompt text as given (not yet sanitized).
fn read_text(args: &TellArgs) -> Result<String> {
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
fn article(role: &str) -> String {
    let vowel = role.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {role}", if vowel { "an" } else { "a" })
}

fn name_of(store: &Store, pane: Option<PaneId>) -> Option<String> {
    pane.and_then(|p| store.read_registry(p))
        .and_then(|r| r.name)
}

pub fn run(args: TellArgs) -> Result<Code> {
    if !args.timeout.is_finite() || args.timeout < 0.0 {
        return Err(Fail::usage(format!(
            "invalid --timeout {}: give a number of seconds ≥ 0",
            args.timeout
        )));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout.min(1e9));
    if args.audit {
        if args.target.is_some() || !args.text.is_empty() {
            return Err(Fail::usage(
                "--audit takes no target or text; filter with --pane P and --since DURATION",
            ));
        }
        return show_audit(&args);
    }
    if args.claim_operator || args.release_operator {
        if args.target.is_some() || !args.text.is_empty() {
            return Err(Fail::usage(
                "--claim-operator/--release-operator take no target or text (use --from PANE)",
            ));
        }
        let store = Store::current()?;
        return claim(&store, &args);
    }
    let target_arg = args.target.clone().ok_or_else(|| {
        Fail::usage("no target: orch-tell <TARGET> <TEXT…> (a pane id like %3, an agent name, operator, self or parent)")
    })?;
    let mut text = deliver::sanitize(&read_text(&args)?);
    if text.trim().is_empty() {
        return Err(Fail::usage(
            "the text is empty (after removing control characters); nothing was sent",
        ));
    }
    let axis = args.escalate.clone();

    let store = Store::current()?;
    let me = own_pane(&store);
    let from = match &args.from {
        Some(f) => Some(resolve_from(&store, f, me).context("--from")?),
        None => me,
    };
    let target = resolve_from(&store, &target_arg, from)?;

    let mut rec = AuditRecord {
        v: SCHEMA_VERSION,
        ts: now_ns(),
        action: "send".into(),
        server: store.server().key(),
        from,
        from_name: name_of(&store, from),
        via: (from != me).then_some(me).flatten(),
        target_arg: target_arg.clone(),
        target: Some(target),
        target_name: name_of(&store, Some(target)),
        bytes: text.len() as u64,
        hash: prompt_hash(&text),
        preview: preview(&text),
        role_check: "not-checked".into(),
        forced: args.force,
        escalation: axis.clone(),
        ..Default::default()
    };

    let result = send(
        &store, &args, me, from, target, &mut text, axis, deadline, &mut rec,
    );
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            if rec.outcome.is_empty() {
                rec.outcome = outcome_of(code_of(&e)).into();
                rec.reason = Some(format!("{e:#}"));
                write_audit(&store, &rec);
            }
            Err(e)
        }
    }
}

/// Everything after the target is known. Writes the audit record itself
/// once delivery has an outcome (before any --wait); on an error returned
/// with `rec.outcome` still empty, the caller records it.
#[allow(clippy::too_many_arguments)]
fn send(
    store: &Store,
    args: &TellArgs,
    me: Option<PaneId>,
    from: Option<PaneId>,
    target: PaneId,
    text: &mut String,
    axis: Option<String>,
    deadline: Instant,
    rec: &mut AuditRecord,
) -> Result<Code> {
    let tmux = Tmux::for_server(store.server());
    // A pane that does not exist is "exited", before any other check, so
    // nothing is typed anywhere.
    deliver::check_pane(&tmux, target)?;

    let matrix = Matrix::load()?;
    let operator = roles::claimed_operator(store);
    let env_role = roles::env_role();
    let sender: RoleOf = roles::role_of(
        store,
        from,
        if from == me {
            env_role.as_deref()
        } else {
            None
        },
        operator,
    );
    let target_role = roles::role_of(store, Some(target), None, operator);
    rec.sender_role = Some(sender.role.clone());
    rec.target_role = Some(target_role.role.clone());

    let mut overrides = Vec::new();
    if from != me {
        let caller = roles::role_of(store, me, env_role.as_deref(), operator);
        if caller.role != roles::OPERATOR {
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
                    sender.role, matrix.source
                )
            } else if row.is_empty() {
                format!("{} may tell no one", article(&sender.role))
            } else {
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

    if let Some(a) = &axis {
        let a = roles::check_axis(a)?;
        if target_role.role != roles::OPERATOR {
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
    if let Some(v) = rec.via {
        opts.data.insert("via".into(), v.to_string().into());
    }

    let receipt = deliver::deliver(store, target, text, &opts)?;
    rec.outcome = receipt.status.as_str().into();
    rec.reason.clone_from(&receipt.reason);
    rec.receipt_ms = receipt.receipt_ms;
    rec.attempts = Some(receipt.attempts);
    rec.sent_seq = Some(receipt.sent_seq);
    rec.hash.clone_from(&receipt.hash);
    rec.file = receipt.file.as_ref().map(|f| f.path.display().to_string());
    write_audit(store, rec);

    let mut out = receipt_json(&receipt, rec);
    let mut code = match receipt.status {
        Status::Delivered | Status::Queued => Code::Ok,
        Status::Unconfirmed => Code::Unconfirmed,
        Status::Failed => Code::Failure,
        Status::Exited => Code::Exited,
    };
    let mut turn: Option<TurnEnd> = None;
    if args.wait && receipt.status == Status::Delivered {
        match deliver::wait_turn_end(
            store,
            target,
            receipt.prompt_seq.unwrap_or(receipt.sent_seq),
            deadline,
        ) {
            Ok(t) => {
                code = t.code();
                add_turn(&mut out, &t);
                turn = Some(t);
            }
            Err(e) => {
                // Delivered all the same: say so, and why the wait broke.
                code = Code::Failure;
                out.insert("wait_error".into(), format!("{e:#}").into());
                eprintln!("orch-tell: delivered, but waiting for the reply failed: {e:#}");
            }
        }
    }
    print_result(&out, args.pretty)?;
    if let Some(reason) = &receipt.reason
        && receipt.status != Status::Queued
    {
        eprintln!("orch-tell: {}: {reason}", receipt.status.as_str());
    }
    if let Some(t) = &turn {
        match t.kind {
            "timeout" => eprintln!(
                "orch-tell: delivered, but the turn did not end within --timeout {}s (listen for it: orch listen {target})",
                args.timeout
            ),
            "stop" => {}
            _ => eprintln!(
                "orch-tell: the turn ended with {}: {}",
                t.kind,
                t.message
                    .clone()
                    .or(t.error.clone())
                    .or(t.reason.clone())
                    .unwrap_or_default()
            ),
        }
    }
    Ok(code)
}

fn receipt_json(r: &Receipt, rec: &AuditRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("status".into(), r.status.as_str().into());
    m.insert("pane".into(), r.pane.to_string().into());
    m.insert("name".into(), json!(rec.target_name));
    m.insert("receipt_ms".into(), json!(r.receipt_ms));
    m.insert("bytes".into(), r.bytes.into());
    m.insert("hash".into(), r.hash.clone().into());
    m.insert("attempts".into(), r.attempts.into());
    m.insert("sent_seq".into(), r.sent_seq.into());
    m.insert("prompt_seq".into(), json!(r.prompt_seq));
    if r.waited_ms >= 1.0 {
        m.insert("waited_ms".into(), json!(r.waited_ms));
    }
    if let Some(how) = r.matched_by
        && how != "hash"
    {
        m.insert("matched_by".into(), how.into());
    }
    if let Some(f) = &r.file {
        m.insert(
            "file".into(),
            json!({"path": f.path.display().to_string(), "bytes": f.bytes, "hash": f.hash}),
        );
    }
    if let Some(a) = &rec.escalation {
        m.insert("escalation".into(), a.clone().into());
    }
    if rec.forced && rec.role_check == "denied" {
        m.insert("forced".into(), true.into());
    }
    if let Some(reason) = &r.reason {
        m.insert("reason".into(), reason.clone().into());
    }
    m
}

fn add_turn(m: &mut Map<String, Value>, t: &TurnEnd) {
    m.insert(
        "stop_kind".into(),
        if t.kind == "timeout" {
            Value::Null
        } else {
            t.kind.into()
        },
    );
    m.insert("reply".into(), json!(t.reply));
    if t.reply_truncated {
        m.insert("reply_truncated".into(), true.into());
    }
    m.insert("turn_ms".into(), json!(t.turn_ms));
    if let Some(s) = t.seq {
        m.insert("stop_seq".into(), s.into());
    }
    if t.kind == "timeout" {
        m.insert("timed_out".into(), true.into());
    }
    for (k, v) in [
        ("notification_type", &t.notification_type),
        ("message", &t.message),
        ("error", &t.error),
        ("end_reason", &t.reason),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    }
}

fn print_result(m: &Map<String, Value>, pretty: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if !pretty {
        writeln!(out, "{}", Value::Object(m.clone()))?;
        return Ok(out.flush()?);
    }
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    let who = match m.get("name").and_then(Value::as_str) {
        Some(n) => format!("{} ({n})", s("pane")),
        None => s("pane").to_string(),
    };
    let mut line = format!("{} to {who}", s("status"));
    if let Some(ms) = m.get("receipt_ms").and_then(Value::as_f64) {
        line.push_str(&format!(" — receipt in {ms} ms"));
    }
    line.push_str(&format!(
        ", {} bytes, {} Enter press(es)",
        m.get("bytes").and_then(Value::as_u64).unwrap_or(0),
        m.get("attempts").and_then(Value::as_u64).unwrap_or(0)
    ));
    writeln!(out, "{line}")?;
    if let Some(f) = m.get("file") {
        writeln!(
            out,
            "  via file {} ({} bytes)",
            f["path"].as_str().unwrap_or(""),
            f["bytes"]
        )?;
    }
    if !s("reason").is_empty() {
        writeln!(out, "  {}", s("reason"))?;
    }
    if m.contains_key("turn_ms") {
        match m.get("stop_kind").and_then(Value::as_str) {
            Some(k) => writeln!(out, "turn ended: {k} after {} ms", m["turn_ms"])?,
            None => writeln!(out, "turn still running (timed out waiting)")?,
        }
        if let Some(r) = m.get("reply").and_then(Value::as_str) {
            writeln!(out, "reply:\n{r}")?;
        }
    }
    Ok(out.flush()?)
}

/// `--claim-operator` / `--release-operator`.
fn claim(store: &Store, args: &TellArgs) -> Result<Code> {
    let me = own_pane(store);
    let pane = match &args.from {
        Some(f) => Some(resolve_from(store, f, me).context("--from")?),
        None => me,
    };
    let tmux = Tmux::for_server(store.server());
    let current = roles::claimed_operator(store);
    let mut rec = AuditRecord {
        v: SCHEMA_VERSION,
        ts: now_ns(),
        server: store.server().key(),
        from: pane,
        from_name: name_of(store, pane),
        via: (pane != me).then_some(me).flatten(),
        forced: args.force,
        ..Default::default()
    };
    let result: Result<Value> = (|| {
        if args.release_operator {
            rec.action = "release-operator".into();
            if let (Some(m), Some(c)) = (me, current)
                && m != c
                && !args.force
                && tmux.pane_exists(c)
            {
                return Err(Fail::refused(format!(
                    "{c} holds the operator role, not this pane ({m}); run this in {c}, or pass --force"
                )));
            }
            let previous = roles::release_operator(store)?;
            rec.target = previous;
            rec.outcome = "released".into();
            return Ok(json!({"status": "released", "pane": previous.map(|p| p.to_string())}));
        }
        rec.action = "claim-operator".into();
        let pane = pane.ok_or_else(|| {
            Fail::usage("--claim-operator must run inside the operator's tmux pane (TMUX_PANE is unset), or name it with --from %N")
        })?;
        rec.target = Some(pane);
        deliver::check_pane_exists(&tmux, pane)?;
        if let Some(role) = store.read_registry(pane).and_then(|r| r.role)
            && role != roles::OPERATOR
            && !args.force
        {
            return Err(Fail::refused(format!(
                "{pane} is registered as {}; it cannot claim the operator role (pass --force to override, audited)",
                article(&role)
            )));
        }
        if let Some(c) = current
            && c != pane
            && tmux.pane_exists(c)
            && !args.force
        {
            return Err(Fail::refused(format!(
                "{c} already holds the operator role; pass --force to take it over (audited)"
            )));
        }
        let previous = roles::claim_operator(store, pane)?;
        rec.outcome = "claimed".into();
        Ok(json!({"status": "claimed", "pane": pane.to_string(),
                  "previous": previous.filter(|p| *p != pane).map(|p| p.to_string())}))
    })();
    match result {
        Ok(v) => {
            write_audit(store, &rec);
            let mut m = Map::new();
            if let Value::Object(o) = v {
                m = o;
            }
            if args.pretty {
                println!(
                    "{} {}",
                    m["status"].as_str().unwrap_or(""),
                    m["pane"].as_str().unwrap_or("(no operator)")
                );
            } else {
                println!("{}", Value::Object(m));
            }
            Ok(Code::Ok)
        }
        Err(e) => {
            rec.outcome = outcome_of(code_of(&e)).into();
            rec.reason = Some(format!("{e:#}"));
            write_audit(store, &rec);
            Err(e)
        }
    }
}

/// `--audit [--pane P] [--since D]`.
fn show_audit(args: &TellArgs) -> Result<Code> {
    let root = crate::paths::state_dir()?;
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
    if let Some(s) = &args.since {
        let d = crate::time::parse_duration(s).map_err(|_| {
            Fail::usage(format!(
                "invalid --since {s:?}: give a duration like 90s, 10m, 2h, 3d"
            ))
        })?;
        filter.since_ts = Some(now_ns().saturating_sub(d.as_nanos() as u64));
    }
    let records = audit::read(&root, &filter)?;
    let mut out = std::io::stdout().lock();
    for r in &records {
        if args.pretty {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            let who = |pane: &str, name: &str, role: &str| {
                let mut w = if pane.is_empty() {
                    "(outside tmux)".to_string()
                } else {
                    pane.to_string()
                };
                if !name.is_empty() {
                    w.push_str(&format!(" {name}"));
                }
                if !role.is_empty() {
                    w.push_str(&format!(" [{role}]"));
                }
                w
            };
            let mut line = format!(
                "{}  {:<16} {} → {}  {}",
                crate::time::format_utc(r.get("ts").and_then(Value::as_u64).unwrap_or(0)),
                s("action"),
                who(s("from"), s("from_name"), s("sender_role")),
                who(s("target"), s("target_name"), s("target_role")),
                s("outcome"),
            );
            if let Some(ms) = r.get("receipt_ms").and_then(Value::as_f64) {
                line.push_str(&format!(" {ms}ms"));
            }
            if r.get("forced").and_then(Value::as_bool) == Some(true) {
                line.push_str(" FORCED");
            }
            if !s("escalation").is_empty() {
                line.push_str(&format!(" escalation:{}", s("escalation")));
            }
            if let Some(b) = r.get("bytes").and_then(Value::as_u64).filter(|&b| b > 0) {
                line.push_str(&format!(
                    " {b}B {:?}",
                    s("preview").chars().take(60).collect::<String>()
                ));
            }
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{r}")?;
        }
    }
    out.flush()?;
    Ok(Code::Ok)
}

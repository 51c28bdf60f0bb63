//! `--claim-operator` / `--release-operator`: which pane is this tmux
//! server's operator (`servers/<key>/operator.json`, see [`crate::roles`]).

use anyhow::{Context, Result};
use serde::Serialize;

use super::{TellRequest, article, outcome_of, write_audit};
use crate::audit::AuditRecord;
use crate::deliver;
use crate::event::SCHEMA_VERSION;
use crate::exit::{Fail, code_of};
use crate::pane::PaneId;
use crate::roles::{self, Role};
use crate::store::Store;
use crate::target::{name_of, own_pane, resolve_from};
use crate::time::now_ns;
use crate::tmux::Tmux;

/// `{"status":"claimed","pane":"%3","previous":null}` or
/// `{"status":"released","pane":"%3"}`.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorReport {
    /// `claimed` or `released`.
    pub status: &'static str,
    /// The pane that holds (claimed) or held (released) the role.
    pub pane: Option<PaneId>,
    /// claimed: the pane that held it before (null if none or the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Option<PaneId>>,
}

/// `--claim-operator` / `--release-operator`.
pub(super) fn claim(store: &Store, args: &TellRequest) -> Result<OperatorReport> {
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
        from_name: pane.and_then(|p| name_of(store, p)),
        via: (pane != me).then_some(me).flatten(),
        forced: args.force,
        ..Default::default()
    };
    let result: Result<OperatorReport> = (|| {
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
            return Ok(OperatorReport {
                status: "released",
                pane: previous,
                previous: None,
            });
        }
        rec.action = "claim-operator".into();
        let pane = pane.ok_or_else(|| {
            Fail::usage("--claim-operator must run inside the operator's tmux pane (TMUX_PANE is unset), or name it with --from %N")
        })?;
        rec.target = Some(pane);
        deliver::check_pane_exists(&tmux, pane)?;
        if let Some(role) = store.read_registry(pane).and_then(|r| r.role)
            && role != Role::Operator
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
        Ok(OperatorReport {
            status: "claimed",
            pane: Some(pane),
            previous: Some(previous.filter(|p| *p != pane)),
        })
    })();
    match result {
        Ok(r) => {
            write_audit(store, &rec);
            Ok(r)
        }
        Err(e) => {
            rec.outcome = outcome_of(code_of(&e)).into();
            rec.reason = Some(format!("{e:#}"));
            write_audit(store, &rec);
            Err(e)
        }
    }
}

//! `survey --hosts`: this host's survey and every named host's, merged.
//! Each agent gains a `host` field (`local` for this one); a host that
//! fails is reported in `hosts` with its error and never hides the rest.

use std::fmt::Write;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::transport::{Input, Remote};
use crate::exit::Code;

/// The name this host's own agents carry.
pub const LOCAL: &str = "local";

#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    pub host: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MultiReport {
    pub v: u32,
    pub ts: u64,
    pub hosts: Vec<HostResult>,
    pub counts: Value,
    pub agents: Vec<Value>,
}

/// Survey this host (the JSON of `local`, or its error) and `hosts` in
/// parallel, one ssh each, with the same survey arguments.
pub fn survey_hosts(
    local: Result<Value>,
    hosts: &[String],
    args: &[String],
) -> Result<MultiReport> {
    let remote: Vec<(String, Result<Value>)> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|h| {
                let h = h.clone();
                s.spawn(move || {
                    let r = survey_one(&h, args);
                    (h, r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|j| j.join().expect("survey thread"))
            .collect()
    });
    let mut out = MultiReport {
        v: 1,
        ts: crate::time::now_ns(),
        hosts: Vec::new(),
        counts: Value::Null,
        agents: Vec::new(),
    };
    for (host, r) in std::iter::once((LOCAL.to_string(), local)).chain(remote) {
        match r {
            Ok(mut rep) => {
                if let Some(Value::Array(agents)) = rep.get_mut("agents").map(Value::take) {
                    for mut a in agents {
                        if let Value::Object(m) = &mut a {
                            m.insert("host".into(), Value::from(host.as_str()));
                        }
                        out.agents.push(a);
                    }
                }
                out.hosts.push(HostResult {
                    host,
                    ok: true,
                    error: None,
                    server: rep.get("server").cloned(),
                });
            }
            Err(e) => out.hosts.push(HostResult {
                host,
                ok: false,
                error: Some(format!("{e:#}")),
                server: None,
            }),
        }
    }
    out.counts = counts(&out.agents);
    Ok(out)
}

fn survey_one(host: &str, args: &[String]) -> Result<Value> {
    let remote = Remote::resolve(host)?;
    let mut argv = vec!["survey".to_string()];
    argv.extend(args.iter().cloned());
    let mut text = String::new();
    let code = remote.run(&argv, Input::None, &mut |l| {
        text.push_str(l);
        text.push('\n');
    })?;
    if code != Code::Ok {
        anyhow::bail!("orch survey on {host} exited {}", code as u8);
    }
    serde_json::from_str(text.trim())
        .map_err(|e| anyhow::anyhow!("orch survey on {host} printed no report: {e}"))
}

/// Counts by state over the merged agents (the same keys as one host's).
fn counts(agents: &[Value]) -> Value {
    let mut m = serde_json::Map::new();
    let mut bump = |k: &str| {
        let n = m.get(k).and_then(Value::as_u64).unwrap_or(0);
        m.insert(k.to_string(), Value::from(n + 1));
    };
    for a in agents {
        bump("total");
        let state = a.get("state").and_then(Value::as_str).unwrap_or("");
        bump(state);
        if state.starts_with("blocked:") {
            bump("blocked");
        }
    }
    Value::Object(m)
}

/// A table for people: one row per agent, hosts that failed listed below.
pub fn render(r: &MultiReport) -> String {
    let mut s = String::new();
    let rows: Vec<[String; 6]> = r
        .agents
        .iter()
        .map(|a| {
            let f = |k: &str| match a.get(k) {
                Some(Value::String(v)) => v.clone(),
                Some(Value::Null) | None => "-".into(),
                Some(v) => v.to_string(),
            };
            [
                f("host"),
                f("name"),
                f("pane"),
                f("harness"),
                f("state"),
                f("state_age"),
            ]
        })
        .collect();
    let head = ["HOST", "NAME", "PANE", "HARNESS", "STATE", "AGE"];
    let mut w = head.map(str::len);
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(l, "{c:<width$}  ", width = w[i]);
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(s, "{}", line(&head));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(s, "{}", line(&cells));
    }
    for h in r.hosts.iter().filter(|h| !h.ok) {
        let _ = writeln!(
            s,
            "{}: unreachable: {}",
            h.host,
            h.error.as_deref().unwrap_or("?")
        );
    }
    s
}

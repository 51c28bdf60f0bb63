//! Alerts for the person: "human in the loop only when it matters".
//!
//! Three things reach the person, not only the operator model:
//! an **escalation** (a worker's `orch-tell operator --escalate <axis>`),
//! an agent **blocked** (a permission prompt, a start-up dialog) and an
//! agent that **exited** abnormally (during start-up, as spawn sees it).
//!
//! [`raise`] is called where orch learns of one (the hook, tell, spawn). It
//! reads `$ORCH_CONFIG_DIR/config.json`, applies the rate limit (one alert
//! per pane and kind per `every`, default 60 s, so a flapping agent does not
//! spam) and hands the delivery to a detached `orch-hook --alert <json>`
//! ([`crate::exe::spawn_detached`]), so a hook stays fast and never waits
//! for a notifier. The detached child ([`deliver`]) shows a tmux message on
//! the operator's client(s) and sets the server option `@orch_alert` (for
//! the status line, `share/tmux/orch-status.conf`), then runs the configured
//! command with the alert as JSON on stdin, or without one a desktop
//! notification (`notify-send`, `osascript`) where present. Every failure
//! and every suppressed alert is logged to `errors.log`; none is an error
//! for the caller.
//!
//! ```json
//! {"notify": {"command": ["ntfy", "publish", "mytopic"], "on": ["escalation", "blocked", "exited"],
//!             "every": "60s", "tmux": true}}
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, Kind, truncate_utf8};
use crate::lock::FileLock;
use crate::pane::PaneId;
use crate::store::{Store, log_error};
use crate::time::now_ns;
use crate::tmux::Tmux;

/// What an alert is about (`on` in the config names these).
pub const KINDS: &[&str] = &["escalation", "blocked", "exited"];

/// How long a configured command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One alert: what the configured command gets on stdin (one JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub v: u32,
    /// `escalation`, `blocked` or `exited`.
    pub kind: String,
    pub ts: u64,
    /// The tmux server: its socket and pid.
    pub socket: PathBuf,
    pub server_pid: u32,
    pub pane: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The survey state it is about (`blocked:permission`, `exited`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// One line for a person: `%3 (auth) is blocked: permission prompt`.
    pub text: String,
    /// The escalation's axis, the notification's message, a screen excerpt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Alert {
    pub fn new(store: &Store, kind: &str, pane: PaneId, state: Option<&str>, what: &str) -> Alert {
        let name = crate::target::name_of(store, pane);
        let who = match &name {
            Some(n) => format!("{pane} ({n})"),
            None => pane.to_string(),
        };
        let mut text = format!("orch: {who} {what}");
        truncate_utf8(&mut text, 300);
        Alert {
            v: 1,
            kind: kind.to_string(),
            ts: now_ns(),
            socket: store.server().socket.clone(),
            server_pid: store.server().pid,
            pane: pane.to_string(),
            name,
            state: state.map(str::to_string),
            text,
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Option<String>) -> Alert {
        self.detail = detail.map(|mut d| {
            truncate_utf8(&mut d, 1000);
            d
        });
        self
    }
}

/// The alert a hook event raises, if any: a permission prompt or a rate
/// limit (the survey's rule, `agent_state::is_rate_limit`) blocks the agent.
pub fn from_event(store: &Store, pane: PaneId, ev: &Event) -> Option<Alert> {
    match ev.kind? {
        Kind::Notify if ev.notification_type.as_deref() == Some("permission_prompt") => Some(
            Alert::new(
                store,
                "blocked",
                pane,
                Some("blocked:permission"),
                "is blocked: it asks for permission",
            )
            .with_detail(ev.message.clone()),
        ),
        Kind::StopFailure
            if crate::agent_state::is_rate_limit(ev.error.as_deref(), ev.message.as_deref()) =>
        {
            let detail = [ev.error.as_deref(), ev.message.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            Some(
                Alert::new(
                    store,
                    "blocked",
                    pane,
                    Some("blocked:rate-limit"),
                    "is blocked: rate limited",
                )
                .with_detail(Some(detail)),
            )
        }
        _ => None,
    }
}

/// `$ORCH_CONFIG_DIR/config.json`'s `notify` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// argv of the person's own notifier (the alert JSON on its stdin).
    pub command: Option<Vec<String>>,
    /// Which kinds alert at all.
    pub on: Vec<String>,
    /// At most one alert per pane and kind in this long.
    pub every: Duration,
    /// Show a tmux message (and set `@orch_alert`).
    pub tmux: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            command: None,
            on: KINDS.iter().map(|k| k.to_string()).collect(),
            every: Duration::from_secs(60),
            tmux: true,
        }
    }
}

impl Config {
    /// Parse the `notify` part of a config document. A field that is wrong
    /// is an error naming it (the caller logs it and uses the default).
    pub fn from_json(doc: &Value) -> Result<Config, String> {
        let mut c = Config::default();
        let Some(n) = doc.get("notify") else {
            return Ok(c);
        };
        if !n.is_object() {
            return Err("\"notify\" must be an object".into());
        }
        if let Some(cmd) = n.get("command") {
            let argv: Option<Vec<String>> = cmd
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
            match argv {
                Some(a) if !a.is_empty() && !a[0].is_empty() => c.command = Some(a),
                _ => {
                    return Err(
                        "\"notify.command\" must be a non-empty array of strings (argv, no shell)"
                            .into(),
                    );
                }
            }
        }
        if let Some(on) = n.get("on") {
            let kinds: Option<Vec<String>> = on
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
            match kinds {
                Some(k) if k.iter().all(|k| KINDS.contains(&k.as_str())) => c.on = k,
                _ => {
                    return Err(format!(
                        "\"notify.on\" must be an array of {}",
                        KINDS.join(", ")
                    ));
                }
            }
        }
        if let Some(e) = n.get("every") {
            c.every = e
                .as_str()
                .and_then(|s| crate::time::parse_duration(s).ok())
                .ok_or("\"notify.every\" must be a duration such as \"60s\"")?;
        }
        if let Some(t) = n.get("tmux") {
            c.tmux = t.as_bool().ok_or("\"notify.tmux\" must be true or false")?;
        }
        Ok(c)
    }

    /// The user's config; the default when there is none. A broken file is
    /// logged and the default used: an alert must not be lost to a typo.
    pub fn load(state_root: &Path) -> Config {
        let Ok(dir) = crate::layout::config_dir() else {
            return Config::default();
        };
        let path = crate::layout::user_config(&dir);
        let Ok(data) = std::fs::read(&path) else {
            return Config::default();
        };
        let parsed = serde_json::from_slice::<Value>(&data)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| Config::from_json(&v));
        parsed.unwrap_or_else(|e| {
            log_error(
                state_root,
                &format!("{}: {e}; using the default notify settings", path.display()),
            );
            Config::default()
        })
    }
}

/// Hand `alert` to a detached deliverer, unless its kind is off or this
/// pane raised the same kind within `every`. Never fails, never waits for
/// the delivery; what goes wrong is logged.
pub fn raise(store: &Store, alert: Alert) {
    let root = store.root().to_path_buf();
    let config = Config::load(&root);
    if !config.on.contains(&alert.kind) {
        return;
    }
    let Ok(pane) = alert.pane.parse::<PaneId>() else {
        return;
    };
    match claim_slot(store, pane, &alert.kind, config.every) {
        Ok(true) => {}
        Ok(false) => {
            log_error(
                &root,
                &format!(
                    "alert {} for {pane} suppressed: one was sent less than {:?} ago",
                    alert.kind, config.every
                ),
            );
            return;
        }
        Err(e) => log_error(&root, &format!("alert rate limit for {pane}: {e:#}")),
    }
    let result = serde_json::to_string(&alert)
        .map_err(anyhow::Error::from)
        .and_then(|json| {
            let hook = crate::exe::sibling("hook").ok_or_else(|| {
                anyhow::anyhow!("orch-hook is not installed next to this binary or on PATH")
            })?;
            crate::exe::spawn_detached(&hook, &["--alert".to_string(), json])
        });
    if let Err(e) = result {
        log_error(
            &root,
            &format!(
                "alert {} for {pane}: cannot start the deliverer: {e:#}",
                alert.kind
            ),
        );
    }
}

/// The rate limit: true (and the time recorded) when `pane` raised no
/// `kind` alert within `every`.
fn claim_slot(store: &Store, pane: PaneId, kind: &str, every: Duration) -> anyhow::Result<bool> {
    let stamp = store.layout().alert_stamp(pane, kind);
    if let Some(dir) = stamp.parent() {
        crate::paths::ensure_private_dir(dir)?;
    }
    let _lock = FileLock::acquire(&store.layout().alert_lock(pane, kind))?;
    let now = now_ns();
    let last: Option<u64> = std::fs::read_to_string(&stamp)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    if last.is_some_and(|t| now.saturating_sub(t) < every.as_nanos() as u64) {
        return Ok(false);
    }
    crate::paths::write_atomic(&stamp, now.to_string().as_bytes(), 0o600)?;
    Ok(true)
}

/// The detached deliverer (`orch-hook --alert JSON`): tmux, then the
/// command or the desktop. Failures go to `errors.log`.
pub fn deliver(json: &str) {
    let Ok(root) = crate::layout::state_dir() else {
        return;
    };
    let alert: Alert = match serde_json::from_str(json) {
        Ok(a) => a,
        Err(e) => {
            log_error(&root, &format!("orch-hook --alert: not an alert: {e}"));
            return;
        }
    };
    let config = Config::load(&root);
    if config.tmux
        && let Err(e) = tmux_message(&alert)
    {
        log_error(&root, &format!("alert {}: tmux message: {e:#}", alert.pane));
    }
    let outcome = match &config.command {
        Some(argv) => run_command(argv, json),
        None => desktop(&alert.text),
    };
    if let Err(e) = outcome {
        log_error(
            &root,
            &format!("alert {} for {}: {e:#}", alert.kind, alert.pane),
        );
    }
}

/// Text for tmux, which expands `#{…}` and `#(…)` in a message: every `#`
/// doubled, control characters dropped.
fn tmux_literal(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .replace('#', "##")
}

/// `display-message` on each client of the operator's session (all
/// clients when no operator is claimed), and `@orch_alert` for the status
/// line.
fn tmux_message(alert: &Alert) -> anyhow::Result<()> {
    let server = crate::server::Server::new(alert.socket.clone(), alert.server_pid);
    let tmux = Tmux::for_server(&server);
    let text: String = alert.text.chars().filter(|c| !c.is_control()).collect();
    tmux.run(["set-option", "-g", "@orch_alert", &text])?;
    let op_session = Store::open(&server)
        .ok()
        .and_then(|store| crate::roles::claimed_operator(&store))
        .and_then(|op| {
            tmux.run([
                "display-message",
                "-p",
                "-t",
                &op.to_string(),
                "#{session_name}",
            ])
            .ok()
        })
        .map(|s| s.trim().to_string());
    let clients = tmux.run(["list-clients", "-F", "#{client_name}\t#{session_name}"])?;
    let literal = tmux_literal(&alert.text);
    for line in clients.lines() {
        let Some((client, session)) = line.split_once('\t') else {
            continue;
        };
        if op_session.as_deref().is_some_and(|s| s != session) {
            continue;
        }
        tmux.run(["display-message", "-c", client, &literal])?;
    }
    Ok(())
}

/// The person's command, the alert JSON on stdin, bounded in time.
fn run_command(argv: &[String], json: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run the notify command {:?}", argv[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin may close it: fine.
        let _ = stdin.write_all(json.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let start = Instant::now();
    // The deliverer is a detached process of its own; a short poll bounds
    // a hung notifier without another thread.
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = (&mut e).take(2000).read_to_string(&mut err);
            }
            anyhow::bail!(
                "the notify command {:?} failed ({status}): {}",
                argv[0],
                err.trim()
            );
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "the notify command {:?} ran longer than {COMMAND_TIMEOUT:?} and was killed",
                argv[0]
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A desktop notification where the desktop has a notifier; the text is
/// an argument, never part of a script.
fn desktop(text: &str) -> anyhow::Result<()> {
    let argv: Vec<String> = if which::which("notify-send").is_ok() {
        vec!["notify-send".into(), "orch".into(), text.into()]
    } else if which::which("osascript").is_ok() {
        [
            "osascript",
            "-e",
            "on run argv",
            "-e",
            "display notification (item 1 of argv) with title \"orch\"",
            "-e",
            "end run",
            text,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    } else {
        return Ok(());
    };
    run_command(&argv, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_defaults_and_fields() {
        assert_eq!(Config::from_json(&json!({})).unwrap(), Config::default());
        let c = Config::from_json(&json!({"notify": {"command": ["ntfy", "pub", "t"], "on": ["blocked"], "every": "5s", "tmux": false}})).unwrap();
        assert_eq!(c.command.unwrap(), ["ntfy", "pub", "t"]);
        assert_eq!(c.on, ["blocked"]);
        assert_eq!(c.every, Duration::from_secs(5));
        assert!(!c.tmux);
    }

    #[test]
    fn bad_config_fields_are_named() {
        for (doc, needle) in [
            (json!({"notify": {"command": "ntfy pub"}}), "notify.command"),
            (json!({"notify": {"command": []}}), "notify.command"),
            (json!({"notify": {"on": ["sometimes"]}}), "notify.on"),
            (json!({"notify": {"every": 5}}), "notify.every"),
            (json!({"notify": 1}), "\"notify\""),
        ] {
            let e = Config::from_json(&doc).unwrap_err();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn tmux_text_cannot_run_formats_or_commands() {
        assert_eq!(
            tmux_literal("a #(rm -rf ~) #{pane_id}\x1b[31m"),
            "a ##(rm -rf ~) ##{pane_id}[31m"
        );
    }
}

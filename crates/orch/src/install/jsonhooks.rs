//! orch's entries in a Claude-style hook table (Claude Code's and Gemini
//! CLI's `settings.json`):
//!
//! ```json
//! {"hooks": {"Stop": [{"matcher": "…", "hooks": [{"type": "command", "command": "…", "timeout": 10}]}]}}
//! ```
//!
//! Pure functions over a parsed document, so every rule is unit-tested
//! without touching a file.
//!
//! **Recognition rule.** A handler is orch's when its `type` is `"command"`
//! (or absent) and its `command`, read as a simple shell command (see
//! [`shellwords::split`]; any pipe, `;`, redirection or expansion and it is
//! not orch's), is exactly: a program whose file name is `orch-hook` (any
//! directory, so entries written by an older install path are recognised),
//! then one event name that `orch-hook` accepts, then optionally
//! `--harness <name>` (or `--harness=<name>`), and nothing else. Substrings
//! never count: `my-orch-hook stop`, `orch-hook stop | tee` or
//! `echo orch-hook stop` are someone else's.
//!
//! **Merge.** For each event orch registers: if an orch handler exists (in
//! any matcher group), the first one is kept where it is and its `command`
//! is updated in place when it differs; later duplicates are removed (with
//! their group when that leaves the group empty). Otherwise a new group
//! `{"hooks": [handler]}` is appended at the end of the event's array.
//! Nothing else is touched: other keys, other handlers, matcher groups and
//! array order stay as they were.
//!
//! **Removal.** orch handlers (by the rule above, or by an exact command
//! recorded at install time) are removed from orch's events; a group is
//! removed when that empties it; an event array or the `hooks` object is
//! removed only when that empties it *and* it was created by `orch up`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::Kind;
use crate::json::type_name;
use crate::shellwords;

/// One handler orch wants registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// The harness's event name (`Stop`, `AfterAgent`…).
    pub event: String,
    /// The full command line.
    pub command: String,
    /// The handler's `timeout` field (the harness's unit).
    pub timeout: Option<u64>,
}

/// An `orch-hook` command line, as recognised by [`parse_orch_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchCommand {
    pub program: String,
    pub event: String,
    pub harness: Option<String>,
}

/// Is `command` an orch-hook invocation? (The recognition rule in the
/// module doc.)
pub fn parse_orch_command(command: &str) -> Option<OrchCommand> {
    let words = shellwords::split(command)?;
    let (program, rest) = words.split_first()?;
    let file_name = program.rsplit('/').next()?;
    if file_name != "orch-hook" {
        return None;
    }
    let (event, rest) = rest.split_first()?;
    Kind::from_hook_name(event)?;
    let harness = match rest {
        [] => None,
        [flag, name] if flag == "--harness" && !name.starts_with('-') => Some(name.clone()),
        [flag] => Some(flag.strip_prefix("--harness=")?.to_string()),
        _ => return None,
    };
    Some(OrchCommand {
        program: program.clone(),
        event: event.clone(),
        harness,
    })
}

fn handler_command(handler: &Value) -> Option<&str> {
    let obj = handler.as_object()?;
    match obj.get("type") {
        None => {}
        Some(Value::String(t)) if t == "command" => {}
        _ => return None,
    }
    obj.get("command")?.as_str()
}

fn is_orch_handler(handler: &Value, also: &[String]) -> bool {
    handler_command(handler)
        .is_some_and(|c| parse_orch_command(c).is_some() || also.iter().any(|a| a == c))
}

/// Check the parts of the document orch would walk. Returns a one-line
/// description of the first unexpected shape.
pub fn validate(root: &Value, events: &[&str]) -> Result<(), String> {
    let Some(obj) = root.as_object() else {
        return Err(format!(
            "the top level is {}, not an object",
            type_name(root)
        ));
    };
    let Some(hooks) = obj.get("hooks") else {
        return Ok(());
    };
    let Some(hooks) = hooks.as_object() else {
        return Err(format!("\"hooks\" is {}, not an object", type_name(hooks)));
    };
    for event in events {
        let Some(groups) = hooks.get(*event) else {
            continue;
        };
        let Some(groups) = groups.as_array() else {
            return Err(format!(
                "\"hooks.{event}\" is {}, not an array",
                type_name(groups)
            ));
        };
        for (i, group) in groups.iter().enumerate() {
            let Some(group) = group.as_object() else {
                return Err(format!(
                    "\"hooks.{event}[{i}]\" is {}, not an object",
                    type_name(group)
                ));
            };
            match group.get("hooks") {
                Some(Value::Array(handlers)) => {
                    if let Some((j, h)) = handlers.iter().enumerate().find(|(_, h)| !h.is_object())
                    {
                        return Err(format!(
                            "\"hooks.{event}[{i}].hooks[{j}]\" is {}, not an object",
                            type_name(h)
                        ));
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "\"hooks.{event}[{i}].hooks\" is {}, not an array",
                        type_name(other)
                    ));
                }
                None => {
                    return Err(format!("\"hooks.{event}[{i}]\" has no \"hooks\" array"));
                }
            }
        }
    }
    Ok(())
}

/// What [`merge`] did to one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryChange {
    pub event: String,
    pub command: String,
    /// `added`, `updated` (command rewritten in place) or `present`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicates_removed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub entries: Vec<EntryChange>,
    /// The document had no `hooks` object; orch created it.
    pub hooks_key_created: bool,
    /// Events whose array orch created.
    pub events_created: Vec<String>,
}

impl MergeReport {
    pub fn changed(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.action != "present" || e.duplicates_removed > 0)
    }
}

fn new_handler(spec: &HookSpec) -> Value {
    let mut h = Map::new();
    h.insert("type".into(), Value::from("command"));
    h.insert("command".into(), Value::from(spec.command.clone()));
    if let Some(t) = spec.timeout {
        h.insert("timeout".into(), Value::from(t));
    }
    let mut group = Map::new();
    group.insert("hooks".into(), Value::Array(vec![Value::Object(h)]));
    Value::Object(group)
}

/// Positions (group, handler) of orch handlers in one event's array.
fn find_orch(groups: &[Value], also: &[String]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        if let Some(handlers) = g.get("hooks").and_then(Value::as_array) {
            for (hi, h) in handlers.iter().enumerate() {
                if is_orch_handler(h, also) {
                    found.push((gi, hi));
                }
            }
        }
    }
    found
}

/// Remove handlers at `positions` (sorted ascending); remove groups this
/// leaves empty. Returns the removed commands.
fn remove_at(groups: &mut Vec<Value>, positions: &[(usize, usize)]) -> Vec<String> {
    let mut removed = Vec::new();
    let mut emptied = Vec::new();
    for &(gi, hi) in positions.iter().rev() {
        let handlers = groups[gi]
            .get_mut("hooks")
            .and_then(Value::as_array_mut)
            .expect("validated shape");
        let h = handlers.remove(hi);
        removed.push(handler_command(&h).unwrap_or_default().to_string());
        if handlers.is_empty() && !emptied.contains(&gi) {
            emptied.push(gi);
        }
    }
    // `emptied` is in descending order already (positions walked backwards).
    for gi in emptied {
        groups.remove(gi);
    }
    removed.reverse();
    removed
}

/// Merge `specs` into `root` (see the module doc). `root` is unchanged when
/// the shape is unexpected.
pub fn merge(root: &mut Value, specs: &[HookSpec]) -> Result<MergeReport, String> {
    let events: Vec<&str> = specs.iter().map(|s| s.event.as_str()).collect();
    validate(root, &events)?;
    let obj = root.as_object_mut().expect("validated");
    let mut report = MergeReport::default();
    if !obj.contains_key("hooks") {
        obj.insert("hooks".into(), Value::Object(Map::new()));
        report.hooks_key_created = true;
    }
    let hooks = obj
        .get_mut("hooks")
        .and_then(Value::as_object_mut)
        .expect("validated");
    for spec in specs {
        if !hooks.contains_key(&spec.event) {
            hooks.insert(spec.event.clone(), Value::Array(Vec::new()));
            report.events_created.push(spec.event.clone());
        }
        let groups = hooks
            .get_mut(&spec.event)
            .and_then(Value::as_array_mut)
            .expect("validated");
        let found = find_orch(groups, &[]);
        let mut change = EntryChange {
            event: spec.event.clone(),
            command: spec.command.clone(),
            action: "present",
            previous: None,
            duplicates_removed: 0,
        };
        match found.split_first() {
            None => {
                groups.push(new_handler(spec));
                change.action = "added";
            }
            Some((&(gi, hi), dups)) => {
                let handler = groups[gi]["hooks"][hi].as_object_mut().expect("validated");
                let current = handler
                    .get("command")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if current != spec.command {
                    handler.insert("command".into(), Value::from(spec.command.clone()));
                    change.action = "updated";
                    change.previous = Some(current);
                }
                change.duplicates_removed = remove_at(groups, dups).len();
            }
        }
        report.entries.push(change);
    }
    Ok(report)
}

/// What [`remove`] took out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub event: String,
    pub command: String,
}

/// Which containers `orch up` created, so removal can take them away again.
/// `None` (no install record) means: remove any container removal empties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub hooks_key: bool,
    pub events: Vec<String>,
}

/// Remove orch's handlers from `events` (see the module doc). `also` lists
/// exact commands recorded at install time, removed even if they no longer
/// match the recognition rule. `root` is unchanged when the shape is
/// unexpected.
pub fn remove(
    root: &mut Value,
    events: &[String],
    also: &[String],
    created: Option<&Created>,
) -> Result<Vec<Removed>, String> {
    let names: Vec<&str> = events.iter().map(String::as_str).collect();
    validate(root, &names)?;
    let obj = root.as_object_mut().expect("validated");
    let Some(hooks) = obj.get_mut("hooks").and_then(Value::as_object_mut) else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for event in events {
        let Some(groups) = hooks.get_mut(event).and_then(Value::as_array_mut) else {
            continue;
        };
        let found = find_orch(groups, also);
        if found.is_empty() {
            continue;
        }
        for command in remove_at(groups, &found) {
            removed.push(Removed {
                event: event.clone(),
                command,
            });
        }
        let ours = created.is_none_or(|c| c.events.contains(event));
        if groups.is_empty() && ours {
            // shift_remove: plain remove would swap the last key into
            // this one's place (serde_json preserve_order).
            hooks.shift_remove(event);
        }
    }
    let ours = created.is_none_or(|c| c.hooks_key);
    if !removed.is_empty() && hooks.is_empty() && ours {
        obj.shift_remove("hooks");
    }
    Ok(removed)
}

/// orch handlers currently registered for `event`, in order.
pub fn orch_commands(root: &Value, event: &str) -> Vec<String> {
    root.get("hooks")
        .and_then(|h| h.get(event))
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g.get("hooks").and_then(Value::as_array))
                .flatten()
                .filter(|h| is_orch_handler(h, &[]))
                .filter_map(handler_command)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The warning for a settings file that turns all hooks off
/// (`"disableAllHooks": true`): Claude Code would fire none of orch's, so
/// orch would see no turn end. `None` when hooks are on.
pub fn disabled_hooks_warning(value: &Value, path: &std::path::Path) -> Option<String> {
    (value.get("disableAllHooks") == Some(&Value::Bool(true))).then(|| {
        format!(
            "{}: \"disableAllHooks\": true, so Claude Code runs no hooks and orch sees no turn ends; remove it (or set it to false)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::jsonedit::same;
    use serde_json::json;

    fn specs(path: &str) -> Vec<HookSpec> {
        crate::harness::claude::HOOK_EVENTS
            .iter()
            .map(|(e, k)| HookSpec {
                event: e.to_string(),
                command: format!("{path} {k}"),
                timeout: Some(10),
            })
            .collect()
    }

    fn all_events() -> Vec<String> {
        specs("x").into_iter().map(|s| s.event).collect()
    }

    #[test]
    fn recognition_is_precise() {
        let ok = [
            ("/usr/bin/orch-hook stop", "stop", None),
            ("orch-hook Stop", "Stop", None),
            ("'/home/a b/orch-hook' notify", "notify", None),
            ("~/.cargo/bin/orch-hook prompt", "prompt", None),
            ("/x/orch-hook stop --harness gemini", "stop", Some("gemini")),
            ("/x/orch-hook stop --harness=codex", "stop", Some("codex")),
            ("  /x/orch-hook   session_end  ", "session_end", None),
        ];
        for (cmd, event, harness) in ok {
            let c = parse_orch_command(cmd).unwrap_or_else(|| panic!("{cmd}"));
            assert_eq!(c.event, event);
            assert_eq!(c.harness.as_deref(), harness);
        }
        for cmd in [
            "my-orch-hook stop",
            "/x/orch-hook-old stop",
            "/x/orch-hook",
            "/x/orch-hook bogus",
            "/x/orch-hook stop extra",
            "/x/orch-hook stop --harness",
            "/x/orch-hook stop --verbose",
            "/x/orch-hook stop | tee /tmp/log",
            "/x/orch-hook stop; echo hi",
            "echo /x/orch-hook stop",
            "FOO=1 /x/orch-hook stop",
            "sh -c '/x/orch-hook stop'",
            "$HOME/bin/orch-hook stop",
            "/x/orch hook stop",
        ] {
            assert_eq!(parse_orch_command(cmd), None, "{cmd}");
        }
    }

    #[test]
    fn merge_into_empty_document() {
        let mut v = json!({});
        let r = merge(&mut v, &specs("/bin/orch-hook")).unwrap();
        assert!(r.changed() && r.hooks_key_created);
        assert_eq!(r.events_created.len(), all_events().len());
        assert_eq!(
            v["hooks"]["Stop"],
            json!([{"hooks": [{"type": "command", "command": "/bin/orch-hook stop", "timeout": 10}]}])
        );
        // Order of events follows the specs.
        let keys: Vec<_> = v["hooks"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, all_events());
    }

    #[test]
    fn merge_is_idempotent() {
        let mut v = json!({"model": "opus"});
        merge(&mut v, &specs("/bin/orch-hook")).unwrap();
        let once = v.clone();
        let r = merge(&mut v, &specs("/bin/orch-hook")).unwrap();
        assert!(!r.changed());
        assert!(r.entries.iter().all(|e| e.action == "present"));
        assert_eq!(v, once);
    }

    #[test]
    fn merge_keeps_other_hooks_groups_and_order() {
        let original = json!({
            "permissions": {"allow": ["Bash(ls)"]},
            "hooks": {
                "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}],
                "Stop": [
                    {"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]},
                    {"hooks": [{"type": "command", "command": "say done", "timeout": 3}]}
                ],
                "Notification": [{"matcher": "permission_prompt", "hooks": [{"type": "command", "command": "beep"}]}]
            },
            "model": "sonnet"
        });
        let mut v = original.clone();
        let r = merge(&mut v, &specs("/bin/orch-hook")).unwrap();
        assert!(!r.hooks_key_created);
        // Stop and Notification were there already.
        assert_eq!(r.events_created.len(), all_events().len() - 2);
        let stop = v["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 3);
        assert_eq!(stop[0], original["hooks"]["Stop"][0]);
        assert_eq!(stop[1], original["hooks"]["Stop"][1]);
        assert_eq!(stop[2]["hooks"][0]["command"], "/bin/orch-hook stop");
        assert_eq!(v["hooks"]["PreToolUse"], original["hooks"]["PreToolUse"]);
        assert_eq!(
            v["hooks"]["Notification"][0],
            original["hooks"]["Notification"][0]
        );
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["permissions", "hooks", "model"]);
    }

    #[test]
    fn older_orch_entry_is_updated_in_place() {
        let mut v = json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "other"}]},
            {"matcher": "", "hooks": [
                {"type": "command", "command": "first"},
                {"type": "command", "command": "/old/place/orch-hook stop", "timeout": 30}
            ]}
        ]}});
        let r = merge(&mut v, &specs("/new/orch-hook")).unwrap();
        let stop = &r.entries[2];
        assert_eq!(stop.action, "updated");
        assert_eq!(stop.previous.as_deref(), Some("/old/place/orch-hook stop"));
        assert_eq!(
            v["hooks"]["Stop"],
            json!([
                {"hooks": [{"type": "command", "command": "other"}]},
                {"matcher": "", "hooks": [
                    {"type": "command", "command": "first"},
                    {"type": "command", "command": "/new/orch-hook stop", "timeout": 30}
                ]}
            ])
        );
    }

    #[test]
    fn duplicate_orch_entries_are_collapsed() {
        let mut v = json!({"hooks": {"Stop": [
            {"hooks": [{"type": "command", "command": "/a/orch-hook stop"}]},
            {"hooks": [{"type": "command", "command": "keep-me"}, {"type": "command", "command": "/b/orch-hook stop"}]},
            {"hooks": [{"type": "command", "command": "/c/orch-hook Stop"}]}
        ]}});
        let r = merge(&mut v, &specs("/a/orch-hook")).unwrap();
        assert_eq!(r.entries[2].action, "present");
        assert_eq!(r.entries[2].duplicates_removed, 2);
        assert!(r.changed());
        assert_eq!(
            v["hooks"]["Stop"],
            json!([
                {"hooks": [{"type": "command", "command": "/a/orch-hook stop"}]},
                {"hooks": [{"type": "command", "command": "keep-me"}]}
            ])
        );
    }

    #[test]
    fn unexpected_shapes_are_refused_and_untouched() {
        for bad in [
            json!([]),
            json!("x"),
            json!({"hooks": []}),
            json!({"hooks": "x"}),
            json!({"hooks": {"Stop": {}}}),
            json!({"hooks": {"Stop": ["x"]}}),
            json!({"hooks": {"Stop": [{"matcher": ""}]}}),
            json!({"hooks": {"Stop": [{"hooks": {}}]}}),
            json!({"hooks": {"Stop": [{"hooks": ["cmd"]}]}}),
        ] {
            let mut v = bad.clone();
            let err = merge(&mut v, &specs("/bin/orch-hook")).unwrap_err();
            assert!(!err.is_empty());
            assert_eq!(v, bad, "document changed despite refusal");
            let mut v = bad.clone();
            assert!(remove(&mut v, &all_events(), &[], None).is_err());
            assert_eq!(v, bad);
        }
    }

    #[test]
    fn events_orch_does_not_use_are_not_validated() {
        let mut v = json!({"hooks": {"SomeFutureEvent": "whatever"}});
        merge(&mut v, &specs("/bin/orch-hook")).unwrap();
        assert_eq!(v["hooks"]["SomeFutureEvent"], "whatever");
    }

    #[test]
    fn round_trip_restores_the_original() {
        let originals = [
            json!({}),
            json!({"first": 1, "second": 2, "third": 3}),
            json!({"hooks": {"PreToolUse": [], "PostToolUse": []}, "x": 1, "y": 2}),
            json!({"hooks": {}}),
            json!({"hooks": {"Stop": []}}),
            json!({"env": {"A": "1"}, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x"}]}]}}),
            json!({"hooks": {"Notification": [{"matcher": "idle_prompt", "hooks": [{"type": "command", "command": "y"}]}]}, "z": 1}),
        ];
        for original in originals {
            let mut v = original.clone();
            let r = merge(&mut v, &specs("/bin/orch-hook")).unwrap();
            let created = Created {
                hooks_key: r.hooks_key_created,
                events: r.events_created.clone(),
            };
            let removed = remove(&mut v, &all_events(), &[], Some(&created)).unwrap();
            assert_eq!(removed.len(), all_events().len());
            assert!(same(&v, &original), "{v} != {original}");
        }
    }

    #[test]
    fn removal_leaves_foreign_handlers() {
        let mut v = json!({"hooks": {"Stop": [{"matcher": "", "hooks": [
            {"type": "command", "command": "/x/orch-hook stop"},
            {"type": "command", "command": "not-orch-hook stop"},
            {"type": "prompt", "prompt": "/x/orch-hook stop"}
        ]}]}});
        let removed = remove(&mut v, &all_events(), &[], None).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(
            v,
            json!({"hooks": {"Stop": [{"matcher": "", "hooks": [
                {"type": "command", "command": "not-orch-hook stop"},
                {"type": "prompt", "prompt": "/x/orch-hook stop"}
            ]}]}})
        );
    }

    #[test]
    fn removal_without_a_record_drops_containers_it_empties() {
        let mut v = json!({"a": 1, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "/x/orch-hook stop"}]}]}, "b": 2, "c": 3});
        remove(&mut v, &all_events(), &[], None).unwrap();
        assert!(
            same(&v, &json!({"a": 1, "b": 2, "c": 3})),
            "key order kept: {v}"
        );
        // Nothing of orch's: nothing removed, even empty containers.
        let mut v = json!({"hooks": {"Stop": []}});
        assert!(remove(&mut v, &all_events(), &[], None).unwrap().is_empty());
        assert_eq!(v, json!({"hooks": {"Stop": []}}));
    }

    #[test]
    fn recorded_commands_are_removed_even_if_no_longer_recognised() {
        let mut v = json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "legacy-orch stop"}]}]}});
        let removed = remove(&mut v, &all_events(), &["legacy-orch stop".into()], None).unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(v, json!({}));
    }

    #[test]
    fn unicode_survives() {
        let mut v = json!({"statusLine": {"type": "command", "command": "echo 'ünï ✓ 日本'"}, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say 完成"}]}]}});
        let before = v.clone();
        merge(&mut v, &specs("/home/jürgen/bin/orch-hook")).unwrap();
        assert_eq!(v["statusLine"], before["statusLine"]);
        assert_eq!(
            orch_commands(&v, "Stop"),
            ["/home/jürgen/bin/orch-hook stop"]
        );
    }
}

//! Outfits: named bundles of spawn settings for a kind of worker.
//!
//! An outfit is a JSON object, found (first match wins) at
//! `$ORCH_CONFIG_DIR/outfits/<name>.json`, else among the examples built
//! into orch (`share/outfits/`: engineer, reviewer, researcher, spy), or at a
//! path when the name contains `/` or ends in `.json`. Every field is
//! optional:
//!
//! | field              | type              | meaning |
//! |--------------------|-------------------|---------|
//! | `description`      | string            | for people; not used |
//! | `harness`          | string            | claude, codex, gemini, pi, opencode, echo |
//! | `model`            | string            | passed to the harness (`--model` overrides) |
//! | `role`             | string            | `worker` or `observer` (`--role` overrides) |
//! | `system_prompt`    | string            | appended after the fleet prompt |
//! | `allowed_tools`    | array of strings  | claude `--allowedTools` |
//! | `disallowed_tools` | array of strings  | claude `--disallowedTools` |
//! | `skills_dirs`      | array of strings  | absolute or `~/` paths; claude loads `<dir>/.claude/skills/` of each (passed as `--add-dir`) |
//! | `env`              | object of strings | extra environment for the agent (names not starting with `ORCH_`) |
//!
//! Anything else, or a value of the wrong type, is refused with an error
//! naming the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

use crate::exit::Fail;
use crate::json::type_name;
use crate::roles::Role;

/// The examples shipped with orch, so `--outfit reviewer` works on a fresh
/// install without any file in the config dir.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "engineer",
        include_str!("../../../share/outfits/engineer.json"),
    ),
    (
        "reviewer",
        include_str!("../../../share/outfits/reviewer.json"),
    ),
    (
        "researcher",
        include_str!("../../../share/outfits/researcher.json"),
    ),
    ("spy", include_str!("../../../share/outfits/spy.json")),
];

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outfit {
    /// The name it was asked for by.
    #[serde(skip)]
    pub name: String,
    /// Where it was read from (a path, or `built-in`).
    #[serde(skip)]
    pub origin: String,
    pub description: Option<String>,
    pub harness: Option<String>,
    pub model: Option<String>,
    pub role: Option<Role>,
    pub system_prompt: Option<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub skills_dirs: Vec<String>,
    pub env: BTreeMap<String, String>,
}

const STRING_FIELDS: &[&str] = &["description", "harness", "model", "role", "system_prompt"];
const LIST_FIELDS: &[&str] = &["allowed_tools", "disallowed_tools", "skills_dirs"];

fn valid_env_name(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Parse and check an outfit. Errors name the outfit and the field.
pub fn parse(text: &str, name: &str, origin: &str) -> Result<Outfit> {
    let bad = |msg: String| Fail::usage(format!("outfit {name:?} ({origin}): {msg}"));
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let Value::Object(map) = &v else {
        return Err(bad(format!(
            "expected a JSON object, found {}",
            type_name(&v)
        )));
    };
    for (key, val) in map {
        if STRING_FIELDS.contains(&key.as_str()) {
            if !val.is_string() {
                return Err(bad(format!(
                    "field `{key}` must be a string, found {}",
                    type_name(val)
                )));
            }
        } else if LIST_FIELDS.contains(&key.as_str()) {
            let ok = val
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                return Err(bad(format!("field `{key}` must be an array of strings")));
            }
        } else if key == "env" {
            let Some(obj) = val.as_object() else {
                return Err(bad(format!(
                    "field `env` must be an object of strings, found {}",
                    type_name(val)
                )));
            };
            for (k, v) in obj {
                if !v.is_string() {
                    return Err(bad(format!("field `env`: {k:?} must be a string")));
                }
                if !valid_env_name(k) {
                    return Err(bad(format!(
                        "field `env`: {k:?} is not a valid variable name"
                    )));
                }
                if k.starts_with("ORCH_") {
                    return Err(bad(format!(
                        "field `env`: {k:?} is orch's own; spawn sets ORCH_* variables itself"
                    )));
                }
            }
        } else {
            let mut known: Vec<&str> = STRING_FIELDS.to_vec();
            known.extend(LIST_FIELDS);
            known.push("env");
            return Err(bad(format!(
                "unknown field `{key}`; known fields: {}",
                known.join(", ")
            )));
        }
    }
    let mut o: Outfit = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
    if let Some(h) = &o.harness
        && crate::harness::find(h).is_none()
    {
        return Err(bad(format!(
            "field `harness`: unknown harness {h:?}; known: {}",
            crate::harness::names()
        )));
    }
    if let Some(r) = &o.role
        && !matches!(r, Role::Worker | Role::Observer)
    {
        return Err(bad(format!(
            "field `role` must be \"worker\" or \"observer\", found {:?}",
            r.as_str()
        )));
    }
    for d in &o.skills_dirs {
        if !(d.starts_with('/') || d.starts_with("~/")) {
            return Err(bad(format!(
                "field `skills_dirs`: {d:?} must be an absolute path or start with ~/"
            )));
        }
    }
    o.name = name.to_string();
    o.origin = origin.to_string();
    Ok(o)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Find and parse the outfit `name` (see the module doc for where).
pub fn load(name: &str) -> Result<Outfit> {
    if name.contains('/') || name.ends_with(".json") {
        let p = Path::new(name);
        let text = std::fs::read_to_string(p)
            .map_err(|e| Fail::usage(format!("cannot read outfit file {name}: {e}")))?;
        return parse(&text, name, name);
    }
    if !valid_name(name) {
        return Err(Fail::usage(format!(
            "invalid outfit name {name:?}: use letters, digits, '.', '_' or '-'"
        )));
    }
    let dir = outfits_dir()?;
    let path = dir.join(format!("{name}.json"));
    match std::fs::read_to_string(&path) {
        Ok(text) => return parse(&text, name, &path.display().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Fail::usage(format!(
                "cannot read outfit {}: {e}",
                path.display()
            )));
        }
        Err(_) => {}
    }
    if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return parse(text, name, "built-in");
    }
    let mut known: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            if let Some(n) = e.file_name().to_string_lossy().strip_suffix(".json") {
                known.push(n.to_string());
            }
        }
    }
    known.sort();
    known.dedup();
    Err(Fail::usage(format!(
        "no outfit named {name:?} in {} or built in; known outfits: {}",
        dir.display(),
        known.join(", ")
    )))
}

/// `$ORCH_CONFIG_DIR/outfits`.
pub fn outfits_dir() -> Result<PathBuf> {
    Ok(crate::layout::outfits_dir(&crate::layout::config_dir()?))
}

/// Expand `~/` in a skills dir and check it exists.
pub fn resolve_dir(d: &str, outfit: &str) -> Result<PathBuf> {
    let p = match d.strip_prefix("~/") {
        Some(rest) => {
            let home = std::env::var_os("HOME").ok_or_else(|| {
                Fail::usage(format!(
                    "outfit {outfit:?}: field `skills_dirs`: {d:?} needs HOME, which is unset"
                ))
            })?;
            PathBuf::from(home).join(rest)
        }
        None => PathBuf::from(d),
    };
    if !p.is_dir() {
        return Err(Fail::usage(format!(
            "outfit {outfit:?}: field `skills_dirs`: {} is not a directory",
            p.display()
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, "t", "test").unwrap_err())
    }

    #[test]
    fn builtins_parse() {
        for (name, text) in BUILTIN {
            let o = parse(text, name, "built-in").unwrap();
            assert_eq!(o.harness.as_deref(), Some("claude"), "{name}");
            assert!(o.system_prompt.is_some(), "{name}");
        }
        let spy = parse(BUILTIN[3].1, "spy", "built-in").unwrap();
        assert_eq!(spy.role, Some(Role::Observer));
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err(r#"{"modle": "x"}"#).contains("unknown field `modle`"));
        assert!(err(r#"{"model": 3}"#).contains("field `model` must be a string, found a number"));
        assert!(err(r#"{"allowed_tools": "Read"}"#).contains("field `allowed_tools`"));
        assert!(err(r#"{"allowed_tools": [1]}"#).contains("field `allowed_tools`"));
        assert!(err(r#"{"role": "boss"}"#).contains("field `role`"));
        assert!(err(r#"{"harness": "vim"}"#).contains("field `harness`"));
        assert!(err(r#"{"env": {"ORCH_ROLE": "x"}}"#).contains("field `env`"));
        assert!(err(r#"{"env": {"A B": "x"}}"#).contains("field `env`"));
        assert!(err(r#"{"env": ["x"]}"#).contains("field `env`"));
        assert!(err(r#"{"skills_dirs": ["rel/dir"]}"#).contains("field `skills_dirs`"));
        assert!(err("[1]").contains("expected a JSON object"));
        assert!(err("{").contains("not valid JSON"));
    }

    #[test]
    fn all_fields() {
        let o = parse(
            r#"{"harness":"echo","model":"m","role":"observer","system_prompt":"p",
                "allowed_tools":["Read"],"disallowed_tools":["Edit"],
                "skills_dirs":["/s"],"env":{"FOO":"1"}}"#,
            "x",
            "test",
        )
        .unwrap();
        assert_eq!(o.env.get("FOO").map(String::as_str), Some("1"));
        assert_eq!(o.allowed_tools, ["Read"]);
        assert_eq!(o.skills_dirs, ["/s"]);
    }
}

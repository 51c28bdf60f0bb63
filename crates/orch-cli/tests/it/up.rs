//! orch-up / orch-down / orch-doctor against private homes.
//!
//! The corpus tests take a settings.json through up → up → down and check:
//! the first up adds exactly orch's six entries and keeps everything else;
//! the second changes nothing (no write, no backup); down gives back a
//! document semantically equal to the original (byte-equal where it can).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::prelude::*;
use orch::install::jsonedit::same;
use orch_testkit::claude::hook_events;

fn settings(env: &TestEnv) -> PathBuf {
    env.claude_config.join("settings.json")
}

fn orch_command(arg: &str) -> String {
    orch::shellwords::join(&[bin("orch-hook").to_string_lossy().as_ref(), arg])
}

fn backups(env: &TestEnv) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(&env.claude_config)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .contains(".orch-backup-")
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every orch command registered for `event`.
fn orch_entries(doc: &Value, event: &str) -> Vec<String> {
    doc["hooks"][event]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["hooks"].as_array())
        .flatten()
        .filter_map(|h| h["command"].as_str())
        .filter(|c| orch::install::jsonhooks::parse_orch_command(c).is_some())
        .map(str::to_string)
        .collect()
}

fn read_doc(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// Remove orch's handlers (and groups/containers left empty) from a
/// document, the way a person would describe "the original without orch".
fn without_orch(doc: &Value) -> Value {
    let mut d = doc.clone();
    if let Some(hooks) = d.get_mut("hooks").and_then(Value::as_object_mut) {
        for (_, groups) in hooks.iter_mut() {
            if let Some(groups) = groups.as_array_mut() {
                for g in groups.iter_mut() {
                    if let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) {
                        hs.retain(|h| {
                            h["command"].as_str().is_none_or(|c| {
                                orch::install::jsonhooks::parse_orch_command(c).is_none()
                            })
                        });
                    }
                }
                groups.retain(|g| g["hooks"].as_array().is_none_or(|a| !a.is_empty()));
            }
        }
    }
    d
}

/// The whole up → up → down cycle for a valid original (`None`: no file).
fn round_trip(original: Option<&str>) -> Option<TestEnv> {
    let env = TestEnv::if_tmux_installed()?;
    let path = settings(&env);
    if let Some(text) = original {
        fs::create_dir_all(&env.claude_config).unwrap();
        fs::write(&path, text).unwrap();
    }
    let orig_doc: Option<Value> = original.map(|t| serde_json::from_str(t).unwrap());

    // First up: orch's six entries, everything else kept.
    let o = env.run("orch-up", &[]);
    assert_eq!(o.status.code(), Some(0), "up failed: {}", stderr(&o));
    let report = json_of(&o);
    assert_eq!(report["changed"], true);
    assert_eq!(report["already_installed"], false);
    let after_up = fs::read(&path).unwrap();
    let doc = read_doc(&path);
    for (event, arg) in hook_events() {
        assert_eq!(
            orch_entries(&doc, event),
            vec![orch_command(arg)],
            "{event} in {doc:#}"
        );
        let handler = doc["hooks"][event]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["hooks"].as_array().unwrap())
            .find(|h| h["command"] == orch_command(arg))
            .unwrap();
        assert_eq!(handler["type"], "command");
    }
    if let Some(orig) = &orig_doc {
        // Every other top-level key is untouched, in its original order.
        let orig_keys: Vec<&String> = orig.as_object().unwrap().keys().collect();
        let new_keys: Vec<&String> = doc
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| orig.get(*k).is_some())
            .collect();
        assert_eq!(orig_keys, new_keys, "key order changed");
        for (k, v) in orig.as_object().unwrap() {
            if k != "hooks" {
                assert_eq!(&doc[k], v, "key {k} changed");
            }
        }
        // Every foreign hook group is still there, in order, unchanged.
        assert!(
            same(&foreign_part(&doc, orig), &without_orch(orig)),
            "foreign hooks changed"
        );
        let b = backups(&env);
        assert_eq!(b.len(), 1, "one backup expected: {b:?}");
        assert_eq!(fs::read(&b[0]).unwrap(), original.unwrap().as_bytes());
    } else {
        assert!(backups(&env).is_empty(), "nothing to back up");
    }

    // Second up: nothing to do, nothing written.
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let manifest = env.config.join("install.json");
    let manifest_before = fs::read(&manifest).unwrap();
    let o = env.run("orch-up", &[]);
    assert_eq!(o.status.code(), Some(0), "second up failed: {}", stderr(&o));
    let report = json_of(&o);
    assert_eq!(report["changed"], false);
    assert_eq!(report["already_installed"], true);
    assert_eq!(report["claude"]["action"], "unchanged");
    assert_eq!(fs::read(&path).unwrap(), after_up);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    assert_eq!(fs::read(&manifest).unwrap(), manifest_before);
    assert_eq!(backups(&env).len(), usize::from(original.is_some()));

    // Down: the original comes back.
    let o = env.run("orch-down", &["--yes"]);
    assert_eq!(o.status.code(), Some(0), "down failed: {}", stderr(&o));
    let report = json_of(&o);
    assert_eq!(
        report["settings"][0]["removed"].as_array().unwrap().len(),
        hook_events().count(),
        "{report:#}"
    );
    match original {
        None => {
            assert!(
                !path.exists(),
                "orch created settings.json; down removes it"
            );
            assert!(
                !env.claude_config.exists(),
                "orch created ~/.claude; down removes it when empty"
            );
        }
        Some(text) => {
            let orig = orig_doc.as_ref().unwrap();
            let has_orch = hook_events().any(|(e, _)| !orch_entries(orig, e).is_empty());
            if has_orch {
                // The pre-existing orch entry was orch's: it goes too.
                let got = read_doc(&path);
                assert!(same(&got, &without_orch(orig)), "{got:#}");
            } else {
                assert_eq!(read_doc(&path), *orig);
                assert_eq!(
                    fs::read_to_string(&path).unwrap(),
                    text,
                    "round trip is byte-equal"
                );
            }
        }
    }
    assert!(!manifest.exists(), "down removes the manifest");
    assert!(!env.state.exists(), "down removes the state dir");
    Some(env)
}

/// `after` without orch's entries and without the containers orch
/// created (event arrays / `hooks` absent from `orig`): what must equal
/// `without_orch(orig)` if nothing foreign was touched.
fn foreign_part(after: &Value, orig: &Value) -> Value {
    let mut d = without_orch(after);
    if let Some(h) = d.get_mut("hooks").and_then(Value::as_object_mut) {
        h.retain(|k, v| {
            orig["hooks"].get(k).is_some() || v.as_array().is_none_or(|a| !a.is_empty())
        });
    }
    if orig.get("hooks").is_none() && d["hooks"].as_object().is_some_and(|o| o.is_empty()) {
        d.as_object_mut().unwrap().shift_remove("hooks");
    }
    d
}

#[test]
fn corpus_missing_file_and_missing_claude_dir() {
    round_trip(None);
}

#[test]
fn corpus_empty_object() {
    round_trip(Some("{}"));
    round_trip(Some("{}\n"));
}

#[test]
fn corpus_other_top_level_keys() {
    round_trip(Some(
        r#"{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run test:*)",
      "Read(~/.zshrc)"
    ],
    "deny": [
      "Bash(curl:*)"
    ],
    "defaultMode": "acceptEdits"
  },
  "env": {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
    "ANTHROPIC_MODEL": "claude-opus-4"
  },
  "model": "opus",
  "statusLine": {
    "type": "command",
    "command": "~/.claude/statusline.sh",
    "padding": 0
  },
  "includeCoAuthoredBy": false,
  "cleanupPeriodDays": 30,
  "skipDangerousModePermissionPrompt": true,
  "feedbackSurveyState": {
    "lastShownTime": 1754000000000
  }
}
"#,
    ));
}

#[test]
fn corpus_foreign_stop_and_notification_hooks_with_and_without_matchers() {
    round_trip(Some(
        r#"{
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "afplay /System/Library/Sounds/Glass.aiff"
          }
        ]
      }
    ],
    "Notification": [
      {
        "matcher": "",
        "hooks": [
          {
            "type": "command",
            "command": "notify-send 'Claude needs you'",
            "timeout": 5
          }
        ]
      }
    ]
  },
  "model": "sonnet"
}
"#,
    ));
}

#[test]
fn corpus_several_matcher_groups() {
    round_trip(Some(
        r#"{
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "~/.claude/hooks/bash-guard.py"
          }
        ]
      },
      {
        "matcher": "Edit|MultiEdit|Write",
        "hooks": [
          {
            "type": "command",
            "command": "prettier --write \"$CLAUDE_FILE_PATHS\""
          }
        ]
      }
    ],
    "Notification": [
      {
        "matcher": "permission_prompt",
        "hooks": [
          {
            "type": "command",
            "command": "say permission"
          }
        ]
      },
      {
        "matcher": "idle_prompt",
        "hooks": [
          {
            "type": "command",
            "command": "say idle"
          },
          {
            "type": "command",
            "command": "logger claude-idle"
          }
        ]
      }
    ],
    "SessionStart": [
      {
        "matcher": "startup",
        "hooks": [
          {
            "type": "command",
            "command": "cat ~/notes.md"
          }
        ]
      }
    ]
  }
}
"#,
    ));
}

#[test]
fn corpus_older_orch_entry_is_updated_in_place() {
    let original = r#"{
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "say done"
          }
        ]
      },
      {
        "matcher": "",
        "hooks": [
          {
            "type": "command",
            "command": "/opt/old-orch/bin/orch-hook stop",
            "timeout": 30
          },
          {
            "type": "command",
            "command": "logger stop"
          }
        ]
      }
    ]
  }
}
"#;
    let env = or_skip!(round_trip(Some(original)));
    // And in detail: the old entry is rewritten where it was.
    fs::write(settings(&env), original).unwrap();
    let report = env.run_json("orch-up", &[]);
    let stop = entry(&report["claude"]["hooks"], "event", "Stop");
    assert_eq!(stop["action"], "updated");
    assert_eq!(stop["previous"], "/opt/old-orch/bin/orch-hook stop");
    let doc = read_doc(&settings(&env));
    let groups = doc["hooks"]["Stop"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "no new group: updated in place");
    assert_eq!(groups[0]["hooks"][0]["command"], "say done");
    assert_eq!(groups[1]["matcher"], "");
    assert_eq!(groups[1]["hooks"][0]["command"], orch_command("stop"));
    assert_eq!(
        groups[1]["hooks"][0]["timeout"], 30,
        "the user's timeout is kept"
    );
    assert_eq!(groups[1]["hooks"][1]["command"], "logger stop");
}

#[test]
fn corpus_unicode() {
    round_trip(Some(
        "{\n  \"env\": {\n    \"GREETING\": \"grüß dich — 你好 👋\",\n    \"ESCAPED\": \"caf\\u00e9 \\ud83d\\ude00\"\n  },\n  \"ünïcödé-kéy\": [\n    \"✓\",\n    \"\\\"quoted\\\"\"\n  ],\n  \"hooks\": {\n    \"Stop\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"say 完成了\"\n          }\n        ]\n      }\n    ]\n  }\n}\n",
    ));
}

#[test]
fn corpus_hand_formatted_file_only_gains_lines() {
    let original = "{\n    \"permissions\": {\"allow\": [\"Bash(ls)\", \"Read(*)\"], \"deny\": []},\n    \"env\": { \"A\" : \"1\" },\n    \"hooks\": {\n        \"Stop\": [ {\"hooks\": [{\"type\": \"command\", \"command\": \"say done\"}]} ]\n    },\n    \"model\": \"opus\"\n}\n";
    let env = or_skip!(round_trip(Some(original)));
    fs::write(settings(&env), original).unwrap();
    env.run_json("orch-up", &[]);
    let after = fs::read_to_string(settings(&env)).unwrap();
    let diff = orch::install::diff::unified(original, &after, "a", "b");
    for line in diff.lines().skip(2).filter(|l| l.starts_with('-')) {
        // The only lines that may go are ones that come back with a comma
        // or with the new group after them on the same line.
        let old = &line[1..];
        assert!(
            after
                .lines()
                .any(|l| l.starts_with(old.trim_end_matches(" ]")) && l != old),
            "line {old:?} was rewritten:\n{diff}"
        );
    }
    // New entries use the file's own 4-space indent.
    assert!(
        after.contains(&format!(
            "\n                        \"command\": \"{}\",",
            orch_command("session_start")
        )),
        "{after}"
    );
}

#[test]
fn down_keeps_what_changed_after_up() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let original = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"Stop\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"say done\"\n          }\n        ]\n      }\n    ]\n  }\n}\n";
    put(settings(&env), original);
    env.run_json("orch-up", &[]);
    // Claude Code rewrites its settings (JSON.stringify(…, null, 2)) and
    // adds a key of its own.
    let mut doc = read_doc(&settings(&env));
    doc["skipDangerousModePermissionPrompt"] = Value::Bool(true);
    fs::write(settings(&env), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = env.run("orch-down", &["--yes"]);
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["settings"][0]["action"], "updated");
    let mut expect: Value = serde_json::from_str(original).unwrap();
    expect["skipDangerousModePermissionPrompt"] = Value::Bool(true);
    let got = read_doc(&settings(&env));
    assert!(same(&got, &expect), "{got:#}");
}

#[test]
fn corpus_large_file() {
    let mut doc = serde_json::json!({});
    let allow: Vec<Value> = (0..30_000)
        .map(|i| Value::from(format!("Bash(tool-{i} --flag:*)")))
        .collect();
    doc["permissions"] = serde_json::json!({"allow": allow});
    let env_map: serde_json::Map<String, Value> = (0..5_000)
        .map(|i| (format!("VAR_{i}"), Value::from("x".repeat(40))))
        .collect();
    doc["env"] = Value::Object(env_map);
    doc["hooks"] =
        serde_json::json!({"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]});
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    assert!(
        text.len() > 1_000_000,
        "large means over 1 MB: {}",
        text.len()
    );
    round_trip(Some(&text));
}

/// An input up must refuse: exit `code`, one-line error, file untouched,
/// no backup, no manifest; down refuses it too.
fn refused(text: &str, mode: Option<u32>, code: i32, needle: &str) {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let path = settings(&env);
    put(&path, text);
    if let Some(m) = mode {
        fs::set_permissions(&path, fs::Permissions::from_mode(m)).unwrap();
    }
    for _ in 0..2 {
        let o = env.run("orch-up", &[]);
        assert_eq!(
            o.status.code(),
            Some(code),
            "stdout {} stderr {}",
            stdout(&o),
            stderr(&o)
        );
        let err = stderr(&o);
        assert!(
            err.starts_with("orch-up: ") && err.contains(needle),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(o.stdout.is_empty());
        assert_eq!(
            fs::read(&path).unwrap(),
            text.as_bytes(),
            "file must be byte-identical"
        );
        assert!(backups(&env).is_empty());
        assert!(!env.config.join("install.json").exists());
    }
    let o = env.run("orch-down", &["--yes"]);
    if mode.is_some() {
        // Nothing of orch's in it: down has nothing to remove there.
        assert_code(&o, 0);
    } else {
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    }
    assert_eq!(fs::read(&path).unwrap(), text.as_bytes());
    if let Some(m) = mode {
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, m);
    }
}

#[test]
fn corpus_invalid_json_is_refused_and_untouched() {
    refused(
        "{\n  \"model\": \"opus\",\n  \"hooks\": {\n}\n",
        None,
        2,
        "not valid JSON (line 5",
    );
    refused("{\"a\": 1,}", None, 2, "not valid JSON");
    refused("// comment\n{}", None, 2, "not valid JSON");
}

#[test]
fn corpus_not_an_object_is_refused() {
    refused("[]\n", None, 2, "the top level is an array, not an object");
    refused("\"settings\"", None, 2, "not an object");
}

#[test]
fn corpus_hooks_not_an_object_is_refused() {
    refused(
        "{\"hooks\": []}\n",
        None,
        2,
        "\"hooks\" is an array, not an object",
    );
    refused(
        "{\"hooks\": {\"Stop\": {\"command\": \"x\"}}}\n",
        None,
        2,
        "\"hooks.Stop\" is an object, not an array",
    );
    refused(
        "{\"hooks\": {\"Notification\": [{\"matcher\": \"\", \"hooks\": \"say hi\"}]}}\n",
        None,
        2,
        "hooks.Notification[0].hooks",
    );
}

#[test]
fn corpus_read_only_file_is_refused() {
    refused("{\n  \"model\": \"opus\"\n}\n", Some(0o444), 4, "read-only");
}

#[test]
fn concurrent_ups_lose_nothing() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let path = settings(&env);
    let original = "{\n  \"hooks\": {\n    \"Stop\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"say done\"\n          }\n        ]\n      }\n    ]\n  },\n  \"model\": \"opus\"\n}\n";
    put(&path, original);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.cmd("orch-up")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    }
    let changed = outs
        .iter()
        .filter(|o| json_of(o)["changed"] == true)
        .count();
    assert_eq!(
        changed, 1,
        "exactly one up changes the file, the others find it installed"
    );
    let doc = read_doc(&path);
    for (event, arg) in hook_events() {
        assert_eq!(
            orch_entries(&doc, event),
            vec![orch_command(arg)],
            "{event}"
        );
    }
    assert_eq!(doc["hooks"]["Stop"][0]["hooks"][0]["command"], "say done");
    assert_eq!(doc["model"], "opus");
    assert_eq!(backups(&env).len(), 1);
}

#[test]
fn dry_run_changes_nothing_and_shows_the_diff() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let path = settings(&env);
    let original = "{\n  \"model\": \"opus\"\n}\n";
    put(&path, original);
    let report = env.run_json("orch-up", &["--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["changed"], false);
    let diff = report["diff"].as_str().unwrap();
    let p = path.display().to_string();
    assert!(
        diff.starts_with(&format!("--- a{p}\n+++ b{p}\n@@ ")),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "+            \"command\": \"{}\",\n",
            orch_command("stop")
        )),
        "{diff}"
    );
    assert!(
        diff.contains("   \"model\": \"opus\"") || diff.contains("-  \"model\": \"opus\"\n"),
        "{diff}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), original);
    assert!(backups(&env).is_empty());
    assert!(
        !env.config.exists(),
        "dry-run does not even create orch's config dir"
    );
    // --pretty prints the same diff for people.
    let o = env.run("orch-up", &["--dry-run", "--pretty"]);
    assert!(stdout(&o).contains(diff), "{}", stdout(&o));
    assert_eq!(fs::read_to_string(&path).unwrap(), original);

    // And down --dry-run after a real up.
    assert!(env.run("orch-up", &["--quiet"]).stdout.is_empty());
    let installed = fs::read(&path).unwrap();
    let report = env.run_json("orch-down", &["--dry-run"]);
    assert!(report["diff"].as_str().unwrap().contains(&format!(
        "-            \"command\": \"{}\",\n",
        orch_command("stop")
    )));
    assert_eq!(fs::read(&path).unwrap(), installed);
    assert!(env.config.join("install.json").exists());
}

#[test]
fn down_without_yes_and_without_a_terminal_refuses() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    env.run_json("orch-up", &[]);
    let installed = fs::read(settings(&env)).unwrap();
    let o = env.run("orch-down", &[]);
    assert_eq!(o.status.code(), Some(4));
    let err = stderr(&o);
    assert!(
        err.starts_with("orch-down: ") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
    assert_eq!(fs::read(settings(&env)).unwrap(), installed);
    assert!(env.config.join("install.json").exists());
}

#[test]
fn down_keep_state_keeps_the_state_dir() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    env.run_json("orch-up", &[]);
    fs::create_dir_all(env.state.join("servers")).unwrap();
    fs::write(env.state.join("errors.log"), "x\n").unwrap();
    let o = env.run("orch-down", &["--yes", "--keep-state"]);
    assert_code(&o, 0);
    assert!(env.state.join("errors.log").exists());
    assert!(json_of(&o).get("state_dir_removed").is_none());
    // Nothing left to remove: a second down says so and succeeds.
    let o = env.run("orch-down", &["--pretty"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "the state dir is still there to remove: {}",
        stdout(&o)
    );
    let o = env.run("orch-down", &["--keep-state", "--pretty"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("not installed"), "{}", stdout(&o));
}

#[test]
fn down_refuses_to_delete_home_as_state_dir() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    env.run_json("orch-up", &[]);
    let o = env
        .cmd("orch-down")
        .arg("--yes")
        .env("ORCH_STATE_DIR", &env.home)
        .output()
        .unwrap();
    assert_code(&o, 4);
    assert!(
        stderr(&o).contains("will not delete the state dir"),
        "{}",
        stderr(&o)
    );
    assert!(env.home.exists());
    assert_eq!(
        orch_entries(&read_doc(&settings(&env)), "Stop").len(),
        1,
        "nothing changed"
    );
}

#[test]
fn default_claude_dir_is_home_dot_claude() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let o = env
        .cmd("orch-up")
        .env_remove("CLAUDE_CONFIG_DIR")
        .output()
        .unwrap();
    assert_code(&o, 0);
    let p = env.home.join(".claude").join("settings.json");
    assert_eq!(json_of(&o)["claude"]["path"], p.to_string_lossy().as_ref());
    assert_eq!(
        orch_entries(&read_doc(&p), "Stop"),
        vec![orch_command("stop")]
    );
}

#[test]
fn symlinked_settings_stay_a_symlink_and_keep_their_mode() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let dotfiles = env.home.join("dotfiles");
    fs::create_dir_all(&dotfiles).unwrap();
    fs::create_dir_all(&env.claude_config).unwrap();
    let real = dotfiles.join("claude-settings.json");
    fs::write(&real, "{\"model\": \"opus\"}").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink(&real, settings(&env)).unwrap();
    env.run_json("orch-up", &[]);
    assert!(
        fs::symlink_metadata(settings(&env))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(
        orch_entries(&read_doc(&real), "Stop"),
        vec![orch_command("stop")]
    );
    // Compact one-line files stay compact.
    assert_eq!(fs::read_to_string(&real).unwrap().lines().count(), 1);
    env.run_json("orch-down", &["--yes"]);
    assert!(
        fs::symlink_metadata(settings(&env))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&real).unwrap(), "{\"model\": \"opus\"}");
}

#[test]
fn skills_are_installed_and_removed_exactly() {
    if !have_tmux() {
        return;
    }
    // The skills this build embeds are the repository's skills/<name>/ files.
    let repo_skills = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
    let mut expected: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.parent() != Some(root) {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    walk(&repo_skills, &repo_skills, &mut expected);
    let env = TestEnv::new();
    let skills_dir = env.claude_config.join("skills");
    // A skill of the user's own must survive up and down.
    fs::create_dir_all(skills_dir.join("mine")).unwrap();
    fs::write(skills_dir.join("mine/SKILL.md"), "---\nname: mine\n---\n").unwrap();
    let report = env.run_json("orch-up", &[]);
    assert_eq!(report["skills"].as_array().unwrap().len(), expected.len());
    for (rel, data) in &expected {
        assert_eq!(&fs::read(skills_dir.join(rel)).unwrap(), data, "{rel:?}");
    }
    env.run_json("orch-down", &["--yes"]);
    for (rel, _) in &expected {
        assert!(!skills_dir.join(rel).exists(), "{rel:?} not removed");
    }
    assert_eq!(
        fs::read_to_string(skills_dir.join("mine/SKILL.md")).unwrap(),
        "---\nname: mine\n---\n"
    );
}

#[test]
fn harness_glue_is_installed_and_removed_exactly() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    // A home where codex, gemini and pi have been used before.
    let codex = env.home.join(".codex");
    let codex_config = "model = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    put(codex.join("config.toml"), codex_config);
    let gemini = env.home.join(".gemini");
    let gemini_settings = "{\n  \"theme\": \"GitHub\",\n  \"hooks\": {\n    \"AfterAgent\": [\n      {\n        \"matcher\": \"*\",\n        \"hooks\": [\n          {\n            \"name\": \"peon\",\n            \"type\": \"command\",\n            \"command\": \"peon-ping AfterAgent\"\n          }\n        ]\n      }\n    ]\n  }\n}\n";
    put(gemini.join("settings.json"), gemini_settings);
    let pi = env.home.join(".pi/agent");
    fs::create_dir_all(&pi).unwrap();
    let opencode = env.home.join(".config/opencode");
    put(opencode.join("opencode.json"), "{}");

    let report = env.run_json("orch-up", &[]);
    let glue = report["glue"].as_array().unwrap();
    for h in ["gemini", "pi", "opencode"] {
        let g = glue.iter().find(|g| g["harness"] == h).unwrap();
        assert_eq!(g["action"], "installed", "{g}");
    }
    // Codex: nothing to install (its hooks come per spawn); untouched.
    let g = glue.iter().find(|g| g["harness"] == "codex").unwrap();
    assert_eq!(g["action"], "not_needed", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("per spawn"), "{g}");
    assert_eq!(
        fs::read_to_string(codex.join("config.toml")).unwrap(),
        codex_config
    );
    let script = env.config.join("glue/codex-notify.sh");
    assert!(!script.exists());
    // Gemini: orch's entries next to the other tool's.
    let g = read_doc(&gemini.join("settings.json"));
    assert_eq!(g["theme"], "GitHub");
    assert_eq!(
        g["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
        "peon-ping AfterAgent"
    );
    let gcmd = format!("{} --harness gemini", orch_command("stop"));
    assert_eq!(orch_entries(&g, "AfterAgent"), vec![gcmd]);
    assert_eq!(orch_entries(&g, "BeforeAgent").len(), 1);
    // pi: the extension with the absolute orch-hook path.
    let ext = fs::read_to_string(pi.join("extensions/orch.ts")).unwrap();
    assert!(
        ext.contains(&format!(
            "const ORCH_HOOK = {};",
            serde_json::to_string(&bin("orch-hook")).unwrap()
        )),
        "{ext}"
    );
    assert!(!ext.contains("@ORCH_"));
    assert!(ext.contains("const SPAWNED = false;"), "{ext}");
    // opencode: the plugin, auto-loaded from plugins/, quiet in spawned panes.
    let plugin = fs::read_to_string(opencode.join("plugins/orch.js")).unwrap();
    assert!(
        plugin.contains(&format!(
            "const ORCH_HOOK = {};",
            serde_json::to_string(&bin("orch-hook")).unwrap()
        )),
        "{plugin}"
    );
    assert!(plugin.contains("const SPAWNED = false;"), "{plugin}");

    // Idempotent.
    let o = env.run("orch-up", &[]);
    assert_eq!(json_of(&o)["already_installed"], true, "{}", stdout(&o));

    // Down restores all three.
    let o = env.run("orch-down", &["--yes"]);
    assert_code(&o, 0);
    assert_eq!(
        fs::read_to_string(codex.join("config.toml")).unwrap(),
        codex_config
    );
    assert_eq!(
        fs::read_to_string(gemini.join("settings.json")).unwrap(),
        gemini_settings
    );
    assert!(
        !pi.join("extensions").exists(),
        "orch created extensions/; it was empty after removal"
    );
    assert!(pi.exists());
    assert!(!opencode.join("plugins").exists());
    assert_eq!(
        fs::read_to_string(opencode.join("opencode.json")).unwrap(),
        "{}"
    );
    assert!(!script.exists());
}

#[test]
fn codex_notify_of_someone_else_is_left_alone() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let codex = env.home.join(".codex");
    let config = "notify = [\"terminal-notifier\", \"-title\", \"Codex\"]\n";
    put(codex.join("config.toml"), config);
    let report = env.run_json("orch-up", &[]);
    let g = entry(&report["glue"], "harness", "codex");
    assert_eq!(g["action"], "not_needed", "{g}");
    assert_eq!(
        fs::read_to_string(codex.join("config.toml")).unwrap(),
        config
    );
    env.run_json("orch-down", &["--yes"]);
    assert_eq!(
        fs::read_to_string(codex.join("config.toml")).unwrap(),
        config
    );
}

/// What an orch from before Codex had hooks installed: a notify script in
/// orch's config dir and two lines at the top of Codex's config.toml.
fn legacy_codex_glue(env: &TestEnv, rest: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = env.config.join("glue/codex-notify.sh");
    let hook = orch::shellwords::quote(&bin("orch-hook").display().to_string());
    put(
        &script,
        format!(
            "#!/bin/sh\n[ -n \"$1\" ] || exit 0\nprintf '%s' \"$1\" | {hook} agent-turn-complete --harness codex\nexit 0\n"
        ),
    );
    let config = env.home.join(".codex/config.toml");
    put(
        &config,
        format!(
            "{}\nnotify = [{}]\n{rest}",
            orch::install::codex_toml::CODEX_MARKER,
            serde_json::to_string(&script.display().to_string()).unwrap()
        ),
    );
    (script, config)
}

/// `orch up` removes the deprecated notify glue an older orch installed
/// (Codex now gets orch's hooks per spawn), leaving the rest of the file.
#[test]
fn up_removes_the_legacy_codex_notify_glue() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let rest = "model = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    let (script, config) = legacy_codex_glue(&env, rest);
    let report = env.run_json("orch-up", &[]);
    let g = entry(&report["glue"], "harness", "codex");
    assert_eq!(g["action"], "updated", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("old notify"), "{g}");
    assert_eq!(fs::read_to_string(&config).unwrap(), rest);
    assert!(!script.exists());
    // Done once: the next up has nothing to do for codex.
    let report = env.run_json("orch-up", &[]);
    assert_eq!(
        entry(&report["glue"], "harness", "codex")["action"],
        "not_needed"
    );
}

/// `orch down` with no manifest still finds and removes the legacy glue.
#[test]
fn down_removes_the_legacy_codex_notify_glue() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let rest = "model = \"o3\"\n";
    let (_, config) = legacy_codex_glue(&env, rest);
    let o = env.run("orch-down", &["--yes"]);
    assert_code(&o, 0);
    assert_eq!(fs::read_to_string(&config).unwrap(), rest);
}

#[test]
fn doctor_passes_after_up_and_detects_a_removed_hook() {
    let env = or_skip!(TestEnv::with_tmux());
    let o = env.run("orch-doctor", &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "not installed yet: {}",
        stdout(&o)
    );
    assert!(
        json_of(&o)["problems"][0]
            .as_str()
            .unwrap()
            .contains("run orch up")
    );

    env.run_json("orch-up", &[]);
    let o = env.run("orch-doctor", &[]);
    let report = json_of(&o);
    assert_eq!(o.status.code(), Some(0), "doctor after up: {report:#}");
    assert_eq!(report["healthy"], true);
    assert_eq!(report["probe"], "ran");
    for h in report["hooks"].as_array().unwrap() {
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["fired"], true, "{h}");
    }
    // The probe leaves nothing behind in orch's state.
    let servers: Vec<_> = fs::read_dir(env.state.join("servers"))
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    assert!(servers.is_empty(), "{servers:?}");
    // The user's own tmux server was not touched (still one window).
    assert_eq!(env.tmux(&["list-windows", "-a"]).lines().count(), 1);

    // Someone removes orch's Stop hook.
    let path = settings(&env);
    let mut doc = read_doc(&path);
    doc["hooks"].as_object_mut().unwrap().shift_remove("Stop");
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = env.run("orch-doctor", &[]);
    assert_eq!(o.status.code(), Some(1));
    let report = json_of(&o);
    assert_eq!(report["healthy"], false);
    let stop = entry(&report["hooks"], "event", "Stop");
    assert_eq!(stop["status"], "missing");
    assert!(
        mentions(&report["problems"], "Stop hook is missing"),
        "{report:#}"
    );
    let err = stderr(&o);
    assert!(err.starts_with("orch-doctor: not healthy: "), "{err}");

    // Someone points orch's Notification hook at a program that is gone.
    let mut doc = read_doc(&path);
    doc["hooks"]["Notification"][0]["hooks"][0]["command"] =
        Value::from("/nonexistent/orch-hook notify");
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let report = json_of(&env.run("orch-doctor", &[]));
    let n = entry(&report["hooks"], "event", "Notification");
    assert_eq!(n["status"], "broken", "{n}");
    assert!(mentions(&report["problems"], "changed since orch up"));
}

/// Regression (issue 13): the probe's `PermissionRequest` is a permission
/// prompt to orch-hook, which alerts the person; a health check must not
/// page anyone. The person's notifier here is `touch MARKER`.
#[test]
fn doctor_probe_never_alerts_the_person() {
    let env = or_skip!(TestEnv::with_tmux());
    let marker = env.home.join("alerted");
    fs::create_dir_all(&env.config).unwrap();
    fs::write(
        env.config.join("config.json"),
        serde_json::json!({"notify": {"command": ["touch", marker.display().to_string()], "tmux": false}})
            .to_string(),
    )
    .unwrap();
    env.run_json("orch-up", &[]);
    let o = env.run("orch-doctor", &[]);
    let report = json_of(&o);
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    let request = entry(&report["hooks"], "event", "PermissionRequest");
    assert_eq!(request["fired"], true, "{request}");
    // The deliverer is detached: give one the time it would need.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!marker.exists(), "the probe alerted the person");
}

#[test]
fn doctor_sees_a_hook_that_runs_but_records_nothing() {
    let env = or_skip!(TestEnv::with_tmux());
    env.run_json("orch-up", &[]);
    // A "hook" that is named orch-hook but records nothing.
    let fake_dir = env.home.join("fake");
    fs::create_dir_all(&fake_dir).unwrap();
    let fake = fake_dir.join("orch-hook");
    fs::write(&fake, "#!/bin/sh\ncat >/dev/null\nexit 0\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let path = settings(&env);
    let mut doc = read_doc(&path);
    doc["hooks"]["Stop"][0]["hooks"][0]["command"] =
        Value::from(format!("{} stop", fake.display()));
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = env.run("orch-doctor", &[]);
    assert_eq!(o.status.code(), Some(1));
    let report = json_of(&o);
    let stop = entry(&report["hooks"], "event", "Stop");
    assert_eq!(stop["fired"], false, "{stop}");
    let others_fired = report["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["fired"] == true)
        .count();
    assert_eq!(others_fired, hook_events().count() - 1);
}

#[test]
fn doctor_reports_a_state_dir_that_is_not_private() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    env.run_json("orch-up", &[]);
    fs::create_dir_all(&env.state).unwrap();
    fs::set_permissions(&env.state, fs::Permissions::from_mode(0o755)).unwrap();
    let o = env.run("orch-doctor", &["--no-probe"]);
    assert_eq!(o.status.code(), Some(1));
    let report = json_of(&o);
    assert_eq!(report["state_dir"]["ok"], false);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("chmod 700"),
        "{report:#}"
    );
}

#[test]
fn umbrella_runs_up_down_doctor() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let o = env.run("orch", &["up", "--quiet"]);
    assert_code(&o, 0);
    assert!(o.stdout.is_empty(), "--quiet prints nothing");
    let o = env.run("orch", &["doctor", "--no-probe", "--pretty"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("orch doctor: healthy"));
    let o = env.run("orch", &["down", "--yes", "--pretty"]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("orch down: removed"));
    let o = env.run("orch", &["completions", "bash"]);
    for sub in ["up", "down", "doctor", "--keep-state", "--dry-run"] {
        assert!(stdout(&o).contains(sub), "completions lack {sub}");
    }
}

#[test]
fn awkward_install_path_is_quoted_for_the_shell() {
    let env = or_skip!(TestEnv::with_tmux());
    // An install dir with a space and a quote in its name.
    let dir = env.home.join("my tools/it's here");
    fs::create_dir_all(&dir).unwrap();
    let hook = dir.join("orch-hook");
    fs::copy(bin("orch-hook"), &hook).unwrap();
    let o = env.run("orch-up", &["--hook", hook.to_str().unwrap()]);
    assert_code(&o, 0);
    let doc = read_doc(&settings(&env));
    let cmd = orch_entries(&doc, "Stop").pop().unwrap();
    assert!(cmd.starts_with('\''), "quoted: {cmd}");
    let parsed = orch::install::jsonhooks::parse_orch_command(&cmd).unwrap();
    assert_eq!(Path::new(&parsed.program), hook);
    // Claude runs hooks through a shell: doctor does the same, and the
    // events arrive.
    let o = env.run("orch-doctor", &[]);
    let report = json_of(&o);
    for h in report["hooks"].as_array().unwrap() {
        assert_eq!(h["fired"], true, "{report:#}");
    }
    // Re-running up with the normal binary updates every entry in place.
    let o = env.run("orch-up", &[]);
    let report = json_of(&o);
    assert!(
        report["claude"]["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["action"] == "updated"),
        "{report:#}"
    );
    assert_eq!(
        orch_entries(&read_doc(&settings(&env)), "Stop"),
        vec![orch_command("stop")]
    );
}

#[test]
fn claude_only_leaves_other_harnesses_alone() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    fs::create_dir_all(env.home.join(".codex")).unwrap();
    fs::create_dir_all(env.home.join(".gemini")).unwrap();
    let o = env.run("orch-up", &["--claude-only"]);
    assert_code(&o, 0);
    assert!(json_of(&o)["glue"].as_array().unwrap().is_empty());
    assert!(!env.home.join(".codex/config.toml").exists());
    assert!(!env.home.join(".gemini/settings.json").exists());
}

#[test]
fn glue_files_orch_created_leave_nothing_behind() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    // Harness dirs exist but hold no config yet.
    for d in [".codex", ".gemini", ".pi/agent", ".config/opencode"] {
        fs::create_dir_all(env.home.join(d)).unwrap();
    }
    let o = env.run("orch-up", &[]);
    assert_code(&o, 0);
    assert!(
        !env.home.join(".codex/config.toml").exists(),
        "codex needs nothing"
    );
    assert!(env.home.join(".gemini/settings.json").exists());
    assert!(env.home.join(".config/opencode/plugins/orch.js").exists());
    env.run_json("orch-down", &["--yes"]);
    for d in [".codex", ".gemini", ".pi/agent", ".config/opencode"] {
        let left: Vec<_> = fs::read_dir(env.home.join(d))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{d} not left as found: {left:?}");
    }
    assert!(
        !env.config.exists(),
        "orch's config dir held only orch's files"
    );
}

#[test]
fn disable_all_hooks_is_warned_by_up_and_doctor() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    fs::create_dir_all(&env.claude_config).unwrap();
    fs::write(settings(&env), "{\n  \"disableAllHooks\": true\n}\n").unwrap();
    let o = env.run("orch", &["up"]);
    assert_code(&o, 0);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(said.contains("disableAllHooks"), "up said nothing: {said}");
    let o = env.run("orch-doctor", &["--no-probe"]);
    let report = json_of(&o);
    let warned = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("disableAllHooks"));
    assert!(warned, "{report:#}");
}

#[test]
fn concurrent_up_and_down_never_fail_to_lock() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    for _round in 0..3 {
        let kids: Vec<_> = (0..10)
            .map(|i| {
                let args: &[&str] = if i % 2 == 0 {
                    &["up", "--quiet"]
                } else {
                    &["down", "--yes", "--keep-state"]
                };
                env.cmd("orch")
                    .args(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in kids {
            let o = k.wait_with_output().unwrap();
            let err = stderr(&o);
            assert!(!err.contains("cannot lock"), "{err}");
            assert_eq!(o.status.code(), Some(0), "{err}");
        }
    }
}

//! orch as a Claude Code plugin (`.claude-plugin/`, `hooks/hooks.json`,
//! `skills/`): the hook wrapper, `orch doctor` and `orch up` seeing the
//! plugin, and the real CLI validating, installing and running it offline.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::prelude::*;
use orch_testkit::claude::{ClaudeEnv, hook_events, screen};
use orch_testkit::mock::Reply;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The plugin's parts copied to `dst`: what a clone of the repository
/// holds for the plugin. (A local directory marketplace is copied whole
/// by Claude Code, a checkout's multi-GB `target/` included, so neither the
/// tests nor the README install from a built checkout.)
fn plugin_copy(dst: &Path) -> PathBuf {
    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap().flatten() {
            let (f, t) = (e.path(), to.join(e.file_name()));
            if e.file_type().unwrap().is_dir() {
                copy_tree(&f, &t);
            } else {
                fs::copy(&f, &t).unwrap();
            }
        }
    }
    let root = repo_root();
    for part in [".claude-plugin", "hooks", "skills"] {
        copy_tree(&root.join(part), &dst.join(part));
    }
    for f in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        fs::copy(root.join(f), dst.join(f)).unwrap();
    }
    dst.to_path_buf()
}

/// Record `root` as the installed orch plugin in the world's Claude
/// config, the way `claude plugin install` does.
fn fake_install(env: &TestEnv, root: &Path) {
    put(
        env.claude_config.join("plugins/installed_plugins.json"),
        json!({"version": 2, "plugins": {"orch@orch": [{"scope": "user", "installPath": root}]}})
            .to_string(),
    );
    put(
        env.claude_config.join("settings.json"),
        json!({"enabledPlugins": {"orch@orch": true}}).to_string(),
    );
}

/// Every file under `dir` whose text mentions `needle`.
fn files_mentioning(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_mentioning(&p, needle));
        } else if fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            out.push(p);
        }
    }
    out
}

/// The plugin's hooks.json names exactly the events the tests state on
/// their own (the pinned Claude Code drops all of a plugin's hooks when
/// one event is unknown to it).
#[test]
fn plugin_hooks_json_registers_only_the_known_events() {
    let doc: Value =
        serde_json::from_slice(&fs::read(repo_root().join("hooks/hooks.json")).unwrap()).unwrap();
    let events: Vec<&str> = doc["hooks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want: Vec<&str> = hook_events().map(|(e, _)| e).collect();
    assert_eq!(events, want);
    for (event, arg) in hook_events() {
        assert_eq!(
            doc["hooks"][event][0]["hooks"][0]["command"],
            format!("sh \"${{CLAUDE_PLUGIN_ROOT}}/hooks/claude/plugin-hook.sh\" {arg}")
        );
    }
    let manifest: Value =
        serde_json::from_slice(&fs::read(repo_root().join(".claude-plugin/plugin.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["license"], "MIT OR Apache-2.0");
    assert!(repo_root().join("LICENSE-MIT").is_file());
    assert!(repo_root().join("LICENSE-APACHE").is_file());
}

/// A plugin installed before orch's binaries (or with them off PATH) must
/// never show an error in the user's session: the wrapper exits 0 and
/// prints nothing.
#[test]
fn plugin_hook_without_orch_hook_is_a_silent_no_op() {
    let env = TestEnv::new();
    let script = repo_root().join("hooks/claude/plugin-hook.sh");
    for orch_hook in [None, Some("/nonexistent/orch-hook")] {
        let mut c = env.command("sh");
        c.arg(&script)
            .arg("stop")
            .env("PATH", "/usr/bin:/bin")
            .env("TMUX", "/tmp/x,1,0")
            .env("TMUX_PANE", "%1");
        if let Some(h) = orch_hook {
            c.env("ORCH_HOOK", h);
        }
        let o = output_with_stdin(&mut c, br#"{"hook_event_name":"Stop"}"#);
        assert_code(&o, 0);
        assert_eq!(stdout(&o), "");
        assert_eq!(stderr(&o), "");
    }
    // Nothing was recorded anywhere.
    assert!(!env.state.join("servers").exists());
}

/// `orch doctor` finds the plugin's hooks, runs them as Claude Code would
/// (`CLAUDE_PLUGIN_ROOT` set) and sees each one's event; with `orch up`'s
/// hooks installed as well it warns that every event would be recorded
/// twice, and so does `orch up`.
#[test]
fn doctor_proves_plugin_hooks_fire_and_warns_about_both_routes() {
    let env = or_skip!(TestEnv::with_tmux());
    let root = plugin_copy(&env.dir.path().join("plugin-cache/orch"));
    fake_install(&env, &root);

    let o = env.run("orch-doctor", &[]);
    let report = json_of(&o);
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    assert_eq!(report["plugin"], root.display().to_string());
    let hooks = report["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), hook_events().count(), "{report:#}");
    for h in hooks {
        assert_eq!(h["source"], "plugin", "{h}");
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["fired"], true, "{h}");
    }
    assert!(!mentions(&report["warnings"], "twice"), "{report:#}");

    let up = env.run_json("orch-up", &["--claude-only"]);
    assert_eq!(up["plugin"]["installed"], "orch@orch", "{up:#}");
    assert!(mentions(&up["warnings"], "recorded twice"), "{up:#}");

    let o = env.run("orch-doctor", &[]);
    let report = json_of(&o);
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    assert!(
        mentions(&report["warnings"], "installed twice"),
        "{report:#}"
    );
    let sources: Vec<&str> = field(&report["hooks"], "source");
    assert_eq!(
        sources.iter().filter(|s| **s == "settings").count(),
        hook_events().count()
    );
    assert_eq!(
        sources.iter().filter(|s| **s == "plugin").count(),
        hook_events().count()
    );
    assert!(
        report["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["fired"] == true),
        "{report:#}"
    );
}

/// `claude …` (the real CLI) in the world's Claude config.
fn claude(ce: &ClaudeEnv, args: &[&str]) -> Output {
    let mut c: Command = ce.env.command(&ce.claude);
    c.envs(ce.agent_env()).args(args);
    c.output().unwrap()
}

/// The plugin route, end to end with the pinned Claude Code: the checkout
/// validates; marketplace add + install into the scratch config; a
/// hand-started session with only the plugin reaches orch (session_start,
/// `tell --wait` gets the receipt and the reply); uninstall leaves no orch
/// hook behind.
#[test]
fn claude_plugin_install_reaches_orch_and_uninstall_leaves_nothing() {
    let ce = or_skip!(ClaudeEnv::new(claude::ClaudeVersion::Pinned));
    let o = claude(
        &ce,
        &["plugin", "validate", &repo_root().display().to_string()],
    );
    assert_code(&o, 0);
    assert!(stdout(&o).contains("Validation passed"), "{}", show(&o));

    // orch up offers the plugin route: this claude has `claude plugin`.
    let up = json_of(&ce.run("orch-up", &["--dry-run", "--claude-only"]));
    assert_eq!(up["plugin"]["available"], true, "{up:#}");
    assert!(up["plugin"]["installed"].is_null(), "{up:#}");

    let src = plugin_copy(&ce.dir.path().join("orch-src"));
    let o = claude(
        &ce,
        &["plugin", "marketplace", "add", &src.display().to_string()],
    );
    assert_code(&o, 0);
    let o = claude(&ce, &["plugin", "install", "orch@orch"]);
    assert_code(&o, 0);
    // Only the plugin: nothing of orch in settings.json's hooks.
    let settings: Value = serde_json::from_slice(&fs::read(ce.user_settings()).unwrap()).unwrap();
    assert_eq!(
        settings["enabledPlugins"]["orch@orch"], true,
        "{settings:#}"
    );
    assert!(settings.get("hooks").is_none(), "{settings:#}");

    let up = json_of(&ce.run("orch-up", &["--dry-run", "--claude-only"]));
    assert_eq!(up["plugin"]["installed"], "orch@orch", "{up:#}");
    assert!(mentions(&up["warnings"], "recorded twice"), "{up:#}");

    let o = ce.run("orch-doctor", &[]);
    let report = json_of(&o);
    assert_eq!(o.status.code(), Some(0), "{report:#}");
    assert!(
        report["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"] == "plugin" && h["fired"] == true),
        "{report:#}"
    );

    let pane = ce.start_plain_claude(&[]);
    let start = ce.wait_ready(&pane);
    assert_eq!(start["harness"], "claude", "{start}");
    ce.mock.push(Reply::text("heard through the plugin"));
    let o = output_with_stdin(
        ce.cmd("orch-tell")
            .args([pane.as_str(), "-", "--timeout", "60", "--wait"]),
        b"do you report through the plugin?",
    );
    assert_code(&o, 0);
    let v = json_of(&o);
    assert_eq!(v["status"], "delivered", "{v}");
    assert_eq!(v["stop_kind"], "stop", "{v}");
    assert_eq!(v["reply"], "heard through the plugin", "{v}");
    ce.tmux(&["kill-pane", "-t", &pane]);

    let o = claude(&ce, &["plugin", "uninstall", "orch@orch"]);
    assert_code(&o, 0);
    let o = claude(&ce, &["plugin", "marketplace", "remove", "orch"]);
    assert_code(&o, 0);
    // No registration is left: Claude Code keeps its download cache
    // (`plugins/cache/`) and the session transcripts, neither of which
    // runs anything.
    let left: Vec<PathBuf> = ["plugin-hook.sh", "orch@orch"]
        .iter()
        .flat_map(|n| files_mentioning(&ce.claude_config, n))
        .filter(|p| {
            let rel = p.strip_prefix(&ce.claude_config).unwrap();
            !rel.starts_with("plugins/cache") && !rel.starts_with("projects")
        })
        .collect();
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "orch hooks left after uninstall"
    );
    // A session started now reaches orch no more.
    let fresh = ce.start_plain_claude(&[]);
    ce.wait_for_screen(&fresh, screen::READY, Duration::from_secs(60));
    assert_eq!(ce.events(&fresh), Vec::<Value>::new());
    let o = ce.run("orch-doctor", &["--no-probe"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

/// The plugin directory's profile (README of 40+ words, licence, hooks as
/// regular files) is checked only by newer Claude Code: the newest pinned
/// release (`claude-newest` in .ci/agent-versions) finds no problem a
/// submission would be refused for.
#[test]
fn newest_claude_validates_the_checkout_with_the_directory_profile() {
    let Some(claude) = orch_testkit::agents::agent_bin("claude-newest") else {
        return;
    };
    let env = TestEnv::new();
    let o = env
        .command(&claude)
        .env("CLAUDE_CONFIG_DIR", &env.claude_config)
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .args(["plugin", "validate", "--profile", "directory"])
        .arg(repo_root())
        .output()
        .unwrap();
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("Validation passed"), "{}", show(&o));
    assert!(!out.contains('✘'), "{}", show(&o));
}

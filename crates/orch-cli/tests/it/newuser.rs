//! Installing and uninstalling as a new user would: a private HOME with no
//! orch overrides (orch's own defaults under it), install.sh, orch up /
//! down / doctor, and nothing odd left behind or shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::prelude::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every path under `root` with its contents (None for a directory).
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).ok());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn changed(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> Vec<String> {
    let mut d = Vec::new();
    for (p, v) in after {
        match before.get(p) {
            None => d.push(format!("+ {}", p.display())),
            Some(b) if b != v => d.push(format!("~ {}", p.display())),
            _ => {}
        }
    }
    for p in before.keys().filter(|p| !after.contains_key(*p)) {
        d.push(format!("- {}", p.display()));
    }
    d
}

/// A command as a new user runs it: only HOME (and PATH, TERM, SHELL);
/// orch, Claude Code and XDG find their defaults under HOME.
fn as_new_user(env: &TestEnv, program: impl AsRef<std::ffi::OsStr>, path: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("HOME", &env.home)
        .env("PATH", path)
        .env("TERM", "xterm-256color")
        .env("SHELL", "/bin/sh")
        .env("TMPDIR", &env.tmp)
        .env("TMUX_TMPDIR", &env.tmp)
        .stdin(Stdio::null());
    c
}

fn system_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
}

/// Regression: `orch down` on a home that never had orch created an empty
/// `~/.config` (the install lock's directory).
#[test]
fn down_on_a_home_that_never_had_orch_creates_nothing() {
    let env = TestEnv::new();
    let before = tree(&env.home);
    let o = as_new_user(&env, bin("orch-down"), &system_path())
        .args(["--yes", "--json"])
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert_eq!(json_of(&o)["changed"], false, "{}", show(&o));
    assert_eq!(changed(&before, &tree(&env.home)), Vec::<String>::new());
}

/// install.sh then `install.sh --uninstall`, both with the defaults under
/// a fresh HOME (that already holds someone else's files): everything
/// install.sh and `orch up` made is gone, and nothing else changed.
#[test]
fn install_sh_uninstall_removes_exactly_what_it_made() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    // Someone else's things where orch puts its own.
    put(env.home.join(".local/share/other/keep.txt"), "mine");
    put(env.home.join(".local/bin/mytool"), "#!/bin/sh\n");
    put(
        env.home.join(".claude/settings.json"),
        "{\"permissions\": {\"allow\": [\"Bash(ls)\"]}}\n",
    );
    put(env.home.join(".config/other/x.conf"), "x");
    let before = tree(&env.home);

    let install = |args: &[&str], path: &str| -> Output {
        as_new_user(&env, "sh", path)
            .arg(repo().join("install.sh"))
            .args(args)
            .env("ORCH_INSTALL_FROM", bin_dir())
            .output()
            .unwrap()
    };
    let bindir = env.home.join(".local/bin");
    let o = install(&[], &system_path());
    assert_code(&o, 0);
    let text = stdout(&o);
    assert_eq!(
        text.matches("is not on your PATH").count(),
        1,
        "the PATH hint, once:\n{text}"
    );
    // Optional harnesses read as optional, not as failures.
    assert!(text.contains("not installed (optional)"), "{text}");
    assert!(!text.contains('✗'), "{text}");
    assert!(
        env.home
            .join(".claude/skills/orch-fleet/SKILL.md")
            .is_file()
    );

    // Installed again with the prefix on this shell's PATH: the login
    // shell a new tmux pane starts still lacks it, and install.sh says so.
    let on_path = format!("{}:{}", bindir.display(), system_path());
    let o = install(&[], &on_path);
    assert_code(&o, 0);
    assert!(
        stdout(&o).contains("not on a login shell's"),
        "{}",
        stdout(&o)
    );

    let o = install(&["--uninstall"], &system_path());
    assert_code(&o, 0);
    assert_eq!(
        changed(&before, &tree(&env.home)),
        Vec::<String>::new(),
        "install.sh --uninstall left or removed:\n{}",
        show(&o)
    );
}

/// New tmux panes start login shells: doctor warns when their PATH lacks
/// orch's directory, and stops once ~/.profile adds it.
#[test]
fn doctor_sees_a_login_shell_path_without_orch() {
    let env = TestEnv::new();
    let doctor = || {
        let o = as_new_user(&env, bin("orch-doctor"), &system_path())
            .args(["--no-probe", "--json"])
            .output()
            .unwrap();
        json_of(&o)
    };
    let r = doctor();
    assert!(r["login_shell_path"].is_string(), "{r:#}");
    assert!(mentions(&r["warnings"], "a login shell"), "{r:#}");
    put(
        env.home.join(".profile"),
        format!("export PATH=\"{}:$PATH\"\n", bin_dir().display()),
    );
    let r = doctor();
    assert!(!mentions(&r["warnings"], "a login shell"), "{r:#}");
}

/// On a terminal up/down/doctor print for a person; piped, JSON; `--json`
/// and `--pretty` say which; `orch up` calls missing harnesses optional.
#[test]
fn install_commands_print_for_people_on_a_terminal_and_json_when_piped() {
    let env = or_skip!(TestEnv::with_tmux());
    // Piped: JSON.
    let o = env.run("orch-doctor", &["--no-probe"]);
    assert!(stdout(&o).starts_with('{'), "{}", show(&o));
    let o = env.run("orch-doctor", &["--no-probe", "--pretty"]);
    assert!(stdout(&o).starts_with("orch doctor:"), "{}", show(&o));
    let o = env.run("orch-doctor", &["--pretty", "--json"]);
    assert_code(&o, 2);

    let o = env.run("orch-up", &["--pretty", "--claude-only"]);
    assert_code(&o, 0);
    let text = stdout(&o);
    for a in ["codex", "gemini", "pi", "opencode"] {
        let on_path = std::env::split_paths(&system_path()).any(|d| d.join(a).is_file());
        if !on_path {
            assert!(
                text.contains(&format!("{a}: not installed (optional) — would add")),
                "{text}"
            );
        }
    }

    // On a terminal (a tmux pane): for people, no --pretty needed.
    let pane = env.new_pane(&format!(
        "'{}' --yes --keep-state; sleep 60",
        bin("orch-down").display()
    ));
    let screen = env.wait_for_screen(&pane, "orch down: removed", Duration::from_secs(15));
    assert!(!screen.contains("{\""), "{screen}");
}

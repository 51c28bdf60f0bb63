//! Checks on the test suite itself: every test file is compiled, the kit
//! runs the binaries cargo built, and a test's world is really private.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::prelude::*;

/// The `mod NAME;` declarations (file modules, not inline ones) in `file`.
fn declared_modules(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A test file nobody declares is silently never compiled, let alone run.
#[test]
fn every_test_file_is_declared_as_a_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "{files:?}");
    let missing: Vec<&PathBuf> = files
        .iter()
        .filter(|f| **f != root.join("main.rs"))
        .filter(|f| {
            // `a/mod.rs` is module `a` of `a/`'s parent; `a/b.rs` is
            // module `b`, declared in `a.rs` or `a/mod.rs` (main.rs at the
            // top).
            let stem = f.file_stem().unwrap().to_string_lossy();
            let mut dir = f.parent().unwrap();
            let name = if stem == "mod" {
                let n = dir.file_name().unwrap().to_string_lossy().into_owned();
                dir = dir.parent().unwrap();
                n
            } else {
                stem.into_owned()
            };
            let parents = if dir == root {
                vec![root.join("main.rs")]
            } else {
                vec![dir.with_extension("rs"), dir.join("mod.rs")]
            };
            !parents.iter().any(|p| declared_modules(p).contains(&name))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "test files not declared as modules (add `mod …;`): {missing:?}"
    );
}

#[test]
fn the_kit_runs_the_binaries_cargo_built() {
    let cargo = Path::new(env!("CARGO_BIN_EXE_orch")).parent().unwrap();
    assert_eq!(bin_dir(), cargo);
    assert_eq!(bin("orch-hook"), Path::new(env!("CARGO_BIN_EXE_orch-hook")));
}

/// Everything a test runs — a command, and an agent in a pane — gets the
/// world's own HOME, TMPDIR and XDG dirs, and nothing of the test
/// process's environment beyond PATH.
#[test]
fn commands_and_panes_run_in_the_private_world() {
    let env = or_skip!(TestEnv::with_tmux());
    let parse = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let o = env.command("env").output().unwrap();
    let vars = parse(&stdout(&o));
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    let mut want: Vec<&str> = env.vars().iter().map(|(k, _)| *k).collect();
    let mut got = names.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the environment is exactly the kit's");
    let dumped = env.tmp.join("pane-env");
    let pane = env.new_pane(&format!("env > {}; exec sleep 60", dumped.display()));
    let pane_vars = eventually(Duration::from_secs(10), "the pane's env dump", || {
        let t = std::fs::read_to_string(&dumped).ok()?;
        t.contains("TMUX_PANE=").then(|| parse(&t))
    });
    let world = env.dir.path();
    for (set, whose) in [(&vars, "command"), (&pane_vars, "pane")] {
        let get = |k: &str| {
            set.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| PathBuf::from(v))
                .unwrap_or_else(|| panic!("{whose}: no {k} in {set:?}"))
        };
        assert_eq!(get("TMPDIR"), env.tmp, "{whose}");
        assert_eq!(get("HOME"), env.home, "{whose}");
        for k in [
            "XDG_CONFIG_HOME",
            "XDG_STATE_HOME",
            "XDG_DATA_HOME",
            "XDG_CACHE_HOME",
            "XDG_RUNTIME_DIR",
            "TMUX_TMPDIR",
            "ORCH_STATE_DIR",
            "ORCH_CONFIG_DIR",
            "CLAUDE_CONFIG_DIR",
        ] {
            assert!(get(k).starts_with(world), "{whose}: {k} outside the world");
        }
    }
    env.tmux(&["kill-pane", "-t", &pane]);
}

/// An agent that ignores the hang-up and the polite signal (Gemini CLI's
/// relaunched child does) must not outlive its test.
#[test]
fn a_process_that_ignores_signals_does_not_outlive_its_world() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = env.new_pane("trap '' HUP TERM INT; exec sleep 600");
    let pid: i32 = env.pane_format(&pane, "#{pane_pid}").parse().unwrap();
    // The trap is in place once the shell has exec'd sleep.
    eventually(Duration::from_secs(10), "sleep to run", || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "sleep").then_some(())
    });
    drop(env);
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state.rsplit(") ").next().and_then(|r| r.chars().next());
    assert!(
        matches!(state, None | Some('Z' | 'X')),
        "pid {pid} is still running after its world ended"
    );
}

/// `.ci/test` (the README's test command) ends with the skipped suites:
/// counted, with their reasons, and a failure in CI. Run here with a
/// stand-in `cargo` that logs skips the way the kit does.
#[test]
fn skipped_suites_are_counted_at_the_end_of_the_run() {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fake = env.dir.path().join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let cargo = fake.join("cargo");
    put(
        &cargo,
        "#!/bin/sh\necho 'test result: ok. 3 passed'\n\
         printf 'e2e::a\\tneeds the real claude CLI: npm missing\\n' >> \"$ORCH_SKIP_LOG\"\n\
         printf 'e2e::b\\tneeds the real claude CLI: npm missing\\n' >> \"$ORCH_SKIP_LOG\"\n\
         printf 'pi::c\\tneeds the real pi CLI: npm missing\\n' >> \"$ORCH_SKIP_LOG\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |ci: bool| {
        let mut c = env.command("bash");
        c.arg(repo.join(".ci/test"))
            .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
            .env("CARGO_TARGET_DIR", env.dir.path().join("target"))
            .env_remove("CI");
        if ci {
            c.env("CI", "true");
        }
        c.output().unwrap()
    };
    let o = run(false);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("SKIPPED: 2 suite(s), 3 test(s) did not run"),
        "{out}"
    );
    assert!(
        out.contains("2 tests: needs the real claude CLI: npm missing"),
        "{out}"
    );
    assert!(out.contains("1 tests: needs the real pi CLI"), "{out}");
    let o = run(true);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("In CI every suite must run"));

    // A run where nothing skipped says so (the stale log is gone).
    put(&cargo, "#!/bin/sh\necho 'test result: ok. 3 passed'\n");
    let o = run(true);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("no test was skipped"), "{}", stdout(&o));
}

/// A pane closed during the test (kill-pane) is not listed when the world
/// ends, but what it started may still run (Gemini CLI's relaunched child
/// survives its pane): the world's end finds it by its environment and
/// ends it.
#[test]
fn a_process_left_by_a_closed_pane_does_not_outlive_its_world() {
    let env = or_skip!(TestEnv::with_tmux());
    let marker = env.tmp.join("stray.pid");
    let pane = env.new_pane(&format!(
        "sh -c 'trap \"\" HUP TERM; sleep 600 & echo $! > {}; wait'",
        marker.display()
    ));
    let pid: i32 = eventually(Duration::from_secs(10), "the stray to start", || {
        std::fs::read_to_string(&marker).ok()?.trim().parse().ok()
    });
    env.tmux(&["kill-pane", "-t", &pane]);
    std::thread::sleep(Duration::from_millis(300));
    let alive = |pid: i32| {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        !matches!(
            s.rsplit(") ").next().and_then(|r| r.chars().next()),
            None | Some('Z' | 'X')
        )
    };
    assert!(
        alive(pid),
        "the stray should outlive its pane (sleep ignores HUP)"
    );
    drop(env);
    assert!(
        !alive(pid),
        "pid {pid} is still running after its world ended"
    );
}

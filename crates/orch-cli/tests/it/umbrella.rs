use crate::prelude::*;

#[test]
fn orch_help_lists_subcommands() {
    let env = TestEnv::new();
    let o = env.run("orch", &["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for sub in [
        "spawn",
        "tell",
        "listen",
        "survey",
        "subscribe",
        "up",
        "down",
        "completions",
    ] {
        assert!(out.contains(sub), "--help lacks {sub}: {out}");
    }
}

#[test]
fn orch_version() {
    let env = TestEnv::new();
    let o = env.run("orch", &["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("orch "), "{}", stdout(&o));
}

#[test]
fn orch_dispatches_to_subcommand_binary() {
    // `orch listen` with no target is orch-listen's own usage error.
    let o = TestEnv::new().run("orch", &["listen"]);
    assert_code(&o, 2);
    assert!(stderr(&o).starts_with("orch-listen: "), "{}", stderr(&o));
}

#[test]
fn orch_unknown_subcommand_is_a_usage_error() {
    let o = TestEnv::new().run("orch", &["frobnicate"]);
    assert_code(&o, 2);
    assert_one_line_error(&o, "orch", "unknown command");
    assert!(stderr(&o).contains("listen"), "{}", stderr(&o));
}

#[test]
fn orch_completions_for_each_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let o = env.run("orch", &["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("listen"),
            "{shell} completions lack listen"
        );
    }
    let o = env.run("orch", &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `orch spawn --help` is orch-spawn's help, not orch's: everything after
/// the subcommand belongs to it (it used to show the umbrella's help).
#[test]
fn orch_passes_help_and_version_to_the_subcommand() {
    let env = TestEnv::new();
    for args in [
        &["spawn", "--help"][..],
        &["help", "spawn"],
        &["spawn", "-h"],
    ] {
        let o = env.cmd("orch").args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("Usage: orch-spawn"),
            "{args:?} did not print orch-spawn's help: {}",
            stdout(&o)
        );
    }
    let o = env.run("orch", &["tell", "--version"]);
    assert!(stdout(&o).starts_with("orch-tell "), "{}", stdout(&o));
    // Options before the subcommand are still orch's own.
    let o = env.run("orch", &["--help"]);
    assert!(
        stdout(&o).contains("Usage: orch [--host DEST] <COMMAND>"),
        "{}",
        stdout(&o)
    );
    let o = env.run("orch", &["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `orch survey | head -c1`: a reader that went away is a clean exit, for
/// every binary that prints JSON. serde_json's error used to hide the
/// broken pipe from the error chain, so survey, up, down and doctor
/// reported "Broken pipe" and exited 1.
#[test]
fn a_closed_stdout_is_a_silent_clean_exit() {
    let env = or_skip!(TestEnv::with_tmux());
    let pane = env.new_pane("sleep 600");
    let mut stop = orch::event::Event::new(orch::event::Kind::Stop);
    stop.reply = Some("done".into());
    env.store().append(pane_id(&pane), stop).unwrap();
    std::fs::create_dir_all(&env.state).unwrap();
    std::fs::write(
        env.state.join("audit.jsonl"),
        "{\"v\":1,\"ts\":1,\"action\":\"send\",\"outcome\":\"delivered\"}\n",
    )
    .unwrap();
    let cases: &[&[&str]] = &[
        &["orch-survey"],
        &["orch-survey", "--pretty"],
        &["orch-up", "--dry-run"],
        &["orch-down", "--dry-run"],
        &["orch-doctor", "--no-probe"],
        &["orch-listen", &pane, "--since", "0", "--timeout", "5"],
        &["orch-tell", "--audit"],
        &["orch-spawn", "echo", "--dry-run"],
        &["orch-subscribe", "--list", "--all"],
    ];
    for argv in cases {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let o = env
            .cmd(argv[0])
            .args(&argv[1..])
            .stdout(std::process::Stdio::from(write))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{argv:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{argv:?}");
    }
}

use crate::support::*;

#[test]
fn orch_help_lists_subcommands() {
    let env = TestEnv::new();
    let o = env.cmd("orch").arg("--help").output().unwrap();
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
    let o = env.cmd("orch").arg("--version").output().unwrap();
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("orch "), "{}", stdout(&o));
}

#[test]
fn orch_dispatches_to_subcommand_binary() {
    let env = TestEnv::new();
    // `orch listen` with no target is orch-listen's own usage error.
    let o = env.cmd("orch").arg("listen").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("orch-listen: "), "{}", stderr(&o));
}

#[test]
fn orch_unknown_subcommand_is_a_usage_error() {
    let env = TestEnv::new();
    let o = env.cmd("orch").arg("frobnicate").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("unknown command") && err.contains("listen"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn orch_completions_for_each_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let o = env
            .cmd("orch")
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("listen"),
            "{shell} completions lack listen"
        );
    }
    let o = env
        .cmd("orch")
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

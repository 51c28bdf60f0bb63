//! Helpers the real-CLI scenario sets share (`e2e_pi`, `e2e_opencode`).

use std::process::Output;

use serde_json::Value;

use orch_testkit::{TestEnv, assert_code, processes_in_sessions, stdout};

/// The one JSON object an orch command printed (Null when it printed none).
pub fn json_out(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim()).unwrap_or(Value::Null)
}

/// `orch-survey PANE --all` (JSON): the entry for `pane`, gone ones too.
pub fn survey_entry(env: &TestEnv, pane: &str) -> Value {
    let o = env.run("orch-survey", &[pane, "--all"]);
    assert_code(&o, 0);
    let v = json_out(&o);
    v["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["pane"] == pane).cloned())
        .unwrap_or_else(|| panic!("{pane} not in the survey: {v}"))
}

/// The live processes of the session a pane's first process led (`pid`
/// from `#{pane_pid}`): what must be gone once an agent is stopped.
pub fn agent_processes(pid: &str) -> Vec<i32> {
    processes_in_sessions(&[pid.trim().parse().expect("a pane pid")])
}

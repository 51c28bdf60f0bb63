//! Helpers the real-CLI scenario sets share that need orch itself (the
//! rest is `orch_testkit::Agent`).

use serde_json::Value;

use orch_testkit::{TestEnv, assert_code, json_or_null, processes_in_sessions};

/// `orch-survey PANE --all` (JSON): the entry for `pane`, gone ones too.
pub fn survey_entry(env: &TestEnv, pane: &str) -> Value {
    let o = env.run("orch-survey", &[pane, "--all"]);
    assert_code(&o, 0);
    let v = json_or_null(&o);
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

/// The `prompt` event a tell's `report` was matched to records `text`:
/// its length and orch's hash of it.
pub fn assert_prompt_event(env: &TestEnv, pane: &str, report: &Value, text: &str) {
    let prompt = env
        .events(pane)
        .into_iter()
        .find(|e| e["seq"] == report["prompt_seq"])
        .unwrap_or_else(|| panic!("no prompt event for {report}"));
    assert_eq!(prompt["prompt_len"], text.len(), "{prompt}");
    assert_eq!(
        prompt["prompt_hash"],
        orch::event::prompt_hash(text).as_str(),
        "{prompt}"
    );
}

//! Reading what a command printed, feeding it stdin, and waiting on side
//! effects.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Run a helper command (stdin closed) that must succeed: its stdout, or
/// one line naming it (`what`) with its stderr.
pub(crate) fn stdout_of_ok(what: &str, cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// stdout of a finished command, asserting nothing about its status.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

/// Parse every stdout line as JSON.
pub fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// stdout as one JSON document (panics, showing the output, when it is not).
pub fn json_of(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", show(o)))
}

/// stdout as one JSON document, `Null` when it is none (a refused command
/// prints only its error): for tests that check the exit code themselves.
pub fn json_or_null(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim()).unwrap_or(Value::Null)
}

/// The element of JSON array `list` whose `key` is `value` (panics,
/// showing the list, when there is none): a survey's agent by pane, a
/// report's hook by event.
pub fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|e| e[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list}"))
}

/// The string `key` of each element of JSON array `list` (`""` where it
/// has none).
pub fn field<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|e| e[key].as_str().unwrap_or(""))
        .collect()
}

/// Does any string in JSON array `list` contain `needle`?
pub fn mentions(list: &Value, needle: &str) -> bool {
    list.as_array().is_some_and(|a| {
        a.iter()
            .any(|e| e.as_str().is_some_and(|t| t.contains(needle)))
    })
}

/// The command exited with `code` (else panics, showing its output).
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", show(o));
}

/// One clear line on stderr, starting with the binary's name
/// (`orch-tell: …`), saying `needle`.
pub fn assert_one_line_error(o: &Output, binary: &str, needle: &str) {
    let err = stderr(o);
    assert!(err.starts_with(&format!("{binary}: ")), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// Start `c` with `input` on its stdin (written from a thread, so a child
/// that stops reading cannot block the test) and stdout/stderr piped.
pub fn spawn_with_stdin(c: &mut Command, input: &[u8]) -> Child {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    child
}

/// Run `c` to the end with `input` on its stdin.
pub fn output_with_stdin(c: &mut Command, input: &[u8]) -> Output {
    spawn_with_stdin(c, input).wait_with_output().unwrap()
}

/// Write `contents` to `path`, making its parent dirs first.
pub fn put(path: impl AsRef<std::path::Path>, contents: impl AsRef<[u8]>) {
    let path = path.as_ref();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A large multi-line prompt of mixed scripts: `first`, then lines of
/// words (ASCII, accented, CJK, symbols) until it holds `bytes`, then
/// `last` as given.
pub fn big_prompt(first: &str, bytes: usize, last: &str) -> String {
    let words = ["alpha", "bravo", "ünïcødé", "日本語", "✓", "delta", "echo"];
    let mut text = format!("{first}\n");
    let mut i = 0;
    while text.len() < bytes {
        let line: Vec<&str> = (0..12)
            .map(|j| words[(i * 5 + j * 3) % words.len()])
            .collect();
        text.push_str(&format!("L{i:03} {}\n", line.join(" ")));
        i += 1;
    }
    text.push_str(last);
    text
}

/// Poll `f` until it returns Some, or panic after `timeout`. For waiting on
/// side effects in tests (never for measuring speed).
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

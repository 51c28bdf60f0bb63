//! A test that cannot run here says so where people look.
//!
//! cargo hides a passing test's stderr, so a skipped end-to-end suite would
//! read as "1 passed". [`skipped`] prints `SKIPPED: …` (seen with
//! `--nocapture`) and appends `<test>\t<why>` to the skip log, which
//! `.ci/test` (the README's test command) counts and prints at the end of
//! the run. In CI (`CI` set) a skip is a failure instead: [`skipped`]
//! panics.
//!
//! The log: `$ORCH_SKIP_LOG`, else `orch-skipped.log` in the target dir
//! (next to the binaries under test).

use std::io::Write;
use std::path::PathBuf;

use crate::bins::bin_dir;

/// Where skips are logged for the run's summary.
pub fn log_path() -> PathBuf {
    std::env::var_os("ORCH_SKIP_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            bin_dir()
                .parent()
                .unwrap_or(bin_dir())
                .join("orch-skipped.log")
        })
}

/// Record that the running test cannot run here, because `why` (one line,
/// with how to make it run). Panics with `ci_message` when `CI` is set.
pub fn skipped(why: &str, ci_message: &str) {
    assert!(std::env::var_os("CI").is_none(), "{ci_message}: {why}");
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed)")
        .to_string();
    eprintln!("SKIPPED: {test}: {why}");
    let line = format!("{test}\t{}\n", why.replace(['\n', '\t'], " "));
    // One write of one short line with O_APPEND: tests running in parallel
    // never interleave inside a line.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path())
    {
        let _ = f.write_all(line.as_bytes());
    }
}

//! Where the binaries under test are.
//!
//! Cargo puts a package's binaries in the profile dir (`target/debug`,
//! `target/release`); an integration test runs from `<profile>/deps`, a
//! benchmark binary from `<profile>` itself. So the kit looks next to the
//! running executable and one level up, for `orch-hook`. `ORCH_TEST_BIN_DIR`
//! overrides that for unusual layouts. Tests can check the answer against
//! cargo's own (`CARGO_BIN_EXE_orch`), and `crates/orch-cli/tests/it` does.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that names the binaries' directory outright.
pub const BIN_DIR_ENV: &str = "ORCH_TEST_BIN_DIR";

/// A binary every build of orch-cli has: what marks the directory.
const MARKER: &str = "orch-hook";

/// The directory holding the binaries under test (panics, naming the fix,
/// when they are not built).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| find().unwrap_or_else(|e| panic!("{e}")))
}

/// The path of binary `name` under test.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Fail unless each of `names` is built; the message says how to build them.
pub fn require(names: &[&str]) -> Result<(), String> {
    let dir = find()?;
    match names.iter().find(|n| !dir.join(n).is_file()) {
        None => Ok(()),
        Some(n) => Err(format!(
            "{n} is not in {}: build it (cargo build --release -p orch-cli -p orch-bench)",
            dir.display()
        )),
    }
}

fn find() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os(BIN_DIR_ENV) {
        let d = PathBuf::from(d);
        return if d.join(MARKER).is_file() {
            Ok(d)
        } else {
            Err(format!("{BIN_DIR_ENV}={} holds no {MARKER}", d.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own path: {e}"))?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .find(|d| d.join(MARKER).is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "orch's binaries are not next to {}: build them (cargo build -p orch-cli) or set {BIN_DIR_ENV}",
                exe.display()
            )
        })
}

//! orch's tuning knobs in the environment (`ORCH_LOG_MAX_BYTES`,
//! `ORCH_PASTE_MAX`, …): each is a positive number, and anything else
//! (unset, empty, `0`, not a number) means the built-in default.

/// The positive number in `var`, else `default`.
pub fn positive(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

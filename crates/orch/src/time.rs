//! Time as orch reads and writes it: nanoseconds since the Unix epoch in
//! every record, calendar dates for people (UTC, no time zone database),
//! ages (`3s`, `4m`, `2h`, `5d`), and durations as people type them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    now_ns() / 1_000_000_000
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's
/// civil-from-days.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day, hour, minute, second) in UTC.
fn utc(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time in ns since the epoch.
pub fn format_utc(ts_ns: u64) -> String {
    let (y, m, d, hh, mm, ss) = utc(ts_ns / 1_000_000_000);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `YYYYMMDDTHHMMSSZ` (for file names) for a time in seconds.
pub fn timestamp_compact(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = utc(secs);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// `HH:MM:SS UTC` of a time in ns since the epoch.
pub fn clock_hms(ts_ns: u64) -> String {
    let (_, _, _, hh, mm, ss) = utc(ts_ns / 1_000_000_000);
    format!("{hh:02}:{mm:02}:{ss:02} UTC")
}

/// `3s`, `4m`, `2h`, `5d` (whole units, rounded down; hours up to two days).
pub fn human_age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// How long ago `ts_ns` was, as [`human_age`].
pub fn age_of(ts_ns: u64) -> String {
    human_age(now_ns().saturating_sub(ts_ns) / 1_000_000_000)
}

/// A duration as people type it: `30` (seconds), `30s`, `500ms`, `5m`,
/// `2h`, `1d`, `1w`, `1.5h`. The one parser behind every duration flag.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 5m, 2h, 1d"))?;
    let mult = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "week" | "weeks" => 7.0 * 86400.0,
        u => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {u:?} (use ms, s, m, h, d or w)"
            ));
        }
    };
    let secs = n * mult;
    if !secs.is_finite() || !(0.0..=1e10).contains(&secs) {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1d").unwrap().as_secs(), 86400);
        assert_eq!(parse_duration("1.5s").unwrap().as_millis(), 1500);
        assert_eq!(parse_duration("1w").unwrap().as_secs(), 7 * 86400);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn calendar() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_utc(1_700_000_000 * 1_000_000_000),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            format_utc(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(timestamp_compact(0), "19700101T000000Z");
        assert_eq!(timestamp_compact(951_782_400), "20000229T000000Z");
        assert_eq!(timestamp_compact(1_767_225_599), "20251231T235959Z");
        assert_eq!(clock_hms(3_723 * 1_000_000_000), "01:02:03 UTC");
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(3), "3s");
        assert_eq!(human_age(185), "3m");
        assert_eq!(human_age(2 * 3600 + 5), "2h");
        assert_eq!(human_age(5 * 86400), "5d");
    }
}

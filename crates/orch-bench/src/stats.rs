//! Summaries of measured durations.

use std::time::Duration;

pub struct Stats {
    pub sorted: Vec<Duration>,
}

impl Stats {
    pub fn new(mut v: Vec<Duration>) -> Stats {
        v.sort();
        Stats { sorted: v }
    }
    pub fn pct(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
        self.sorted[i]
    }
    pub fn min(&self) -> Duration {
        self.sorted.first().copied().unwrap_or_default()
    }
    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
    pub fn line(&self) -> String {
        format!(
            "n={} median={} p90={} p99={} max={}",
            self.sorted.len(),
            ms(self.pct(50.0)),
            ms(self.pct(90.0)),
            ms(self.pct(99.0)),
            ms(self.max())
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A bench's command line: `--NAME VALUE` options of the names it takes.
pub struct Flags<'a> {
    given: Vec<(&'a str, &'a str)>,
    usage: &'a str,
}

/// Reads `args`, which may hold only options named in `names`, or
/// `-h`/`--help` (which prints `usage` and exits).
pub fn flags<'a>(args: &'a [String], names: &[&str], usage: &'a str) -> anyhow::Result<Flags<'a>> {
    let mut given = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            println!("{usage}");
            std::process::exit(0);
        }
        if !names.contains(&a.as_str()) {
            anyhow::bail!("unknown option {a:?} ({usage})");
        }
        let v = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{a} needs a value ({usage})"))?;
        given.push((a.as_str(), v.as_str()));
    }
    Ok(Flags { given, usage })
}

impl Flags<'_> {
    /// The value given last for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// `name`'s value as a number, if given.
    pub fn number(&self, name: &str) -> anyhow::Result<Option<usize>> {
        self.value(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| anyhow::anyhow!("{name} needs a number ({})", self.usage))
            })
            .transpose()
    }
}

/// The value of `--NAME N` options, in order: `args` may hold only these.
pub fn numbers(args: &[String], names: &[&str], usage: &str) -> anyhow::Result<Vec<Option<usize>>> {
    let f = flags(args, names, usage)?;
    names.iter().map(|n| f.number(n)).collect()
}

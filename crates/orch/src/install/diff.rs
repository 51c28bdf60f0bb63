//! A small line-based unified diff, for `--dry-run`.
//!
//! Common leading and trailing lines are trimmed first (orch's edits are
//! local, so the middle is small even in a large file); the middle gets an
//! exact LCS when it is small enough, otherwise it is shown as replaced
//! wholesale — still a correct diff, just not a minimal one.

/// Past this many LCS cells the middle is shown as one replacement.
const MAX_CELLS: usize = 4_000_000;
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

fn lines(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split_inclusive('\n').collect()
    }
}

fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<(Op, &str)> = a[..pre].iter().map(|l| (Op::Same, *l)).collect();
    if (am.len() + 1).saturating_mul(bm.len() + 1) <= MAX_CELLS {
        // lcs[i][j]: LCS length of am[i..] and bm[j..].
        let w = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * w];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * w + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                ops.push((Op::Same, am[i]));
                i += 1;
                j += 1;
            } else if i < am.len() && (j == bm.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
            {
                ops.push((Op::Del, am[i]));
                i += 1;
            } else {
                ops.push((Op::Add, bm[j]));
                j += 1;
            }
        }
    } else {
        ops.extend(am.iter().map(|l| (Op::Del, *l)));
        ops.extend(bm.iter().map(|l| (Op::Add, *l)));
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (Op::Same, *l)));
    ops
}

/// `old` → `new` as a unified diff with headers `--- a_name` / `+++ b_name`;
/// empty when the texts are equal.
pub fn unified(old: &str, new: &str, a_name: &str, b_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let a = lines(old);
    let b = lines(new);
    let ops = edit_script(&a, &b);
    let mut out = format!("--- {a_name}\n+++ {b_name}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    let mut k = 0;
    while k < changed.len() {
        // Grow a hunk while the next change is within 2×CONTEXT lines.
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * CONTEXT + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let a_start = ops[..start].iter().filter(|o| o.0 != Op::Add).count();
        let b_start = ops[..start].iter().filter(|o| o.0 != Op::Del).count();
        let a_len = ops[start..end].iter().filter(|o| o.0 != Op::Add).count();
        let b_len = ops[start..end].iter().filter(|o| o.0 != Op::Del).count();
        let range = |s: usize, n: usize| {
            if n == 0 {
                format!("{s},0")
            } else if n == 1 {
                format!("{}", s + 1)
            } else {
                format!("{},{n}", s + 1)
            }
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a_start, a_len),
            range(b_start, b_len)
        ));
        for (op, line) in &ops[start..end] {
            out.push(match op {
                Op::Same => ' ',
                Op::Del => '-',
                Op::Add => '+',
            });
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\n", "a\n", "a", "b"), "");
    }

    #[test]
    fn small_change_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(old, new, "a/x", "b/x"),
            "--- a/x\n+++ b/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn from_nothing() {
        assert_eq!(
            unified("", "{}\n", "a", "b"),
            "--- a\n+++ b\n@@ -0,0 +1 @@\n+{}\n"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old: String = (0..30).map(|i| format!("{i}\n")).collect();
        let new: String = (0..30)
            .map(|i| match i {
                2 => "two\n".to_string(),
                27 => "27b\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let d = unified(&old, &new, "a", "b");
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
    }

    #[test]
    fn diff_applies() {
        // Reconstruct new from old + diff, for a few shapes.
        let cases = [
            ("a\nb\nc\n", "a\nx\nb\nc\ny\n"),
            ("{\n  \"a\": 1\n}", "{\n  \"a\": 1,\n  \"hooks\": {}\n}\n"),
            ("x\n", ""),
        ];
        for (old, new) in cases {
            let d = unified(old, new, "a", "b");
            let mut rebuilt = String::new();
            let mut last_kept = false;
            for line in d.lines().skip(2) {
                if line.starts_with("@@") {
                    continue;
                }
                if line.starts_with('\\') {
                    if last_kept {
                        rebuilt.pop();
                    }
                    continue;
                }
                last_kept = false;
                if let Some(rest) = line.strip_prefix('+').or_else(|| line.strip_prefix(' ')) {
                    rebuilt.push_str(rest);
                    rebuilt.push('\n');
                    last_kept = true;
                }
            }
            // Context covers the whole (short) file in these cases.
            assert_eq!(rebuilt, new, "{d}");
        }
    }
}

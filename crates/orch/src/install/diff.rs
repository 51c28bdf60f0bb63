//! The unified diff `--dry-run` prints, by the `similar` crate: an exact
//! Myers diff with 3 lines of context. (orch had its own LCS with a size
//! cap, past which it showed a whole replacement; a maintained diff
//! library does that job better than code orch has to keep.)

/// `old` → `new` as a unified diff with headers `--- a_name` / `+++ b_name`;
/// empty when the texts are equal.
pub fn unified(old: &str, new: &str, a_name: &str, b_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(a_name, b_name)
        .to_string()
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

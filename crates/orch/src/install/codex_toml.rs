//! orch's two legacy lines in Codex's `config.toml` (a `notify` program,
//! installed by orch versions before Codex had hooks): finding them again
//! and removing them; [`codex_edit`] is how they were added. Line-based on
//! purpose: the rest of the file is never re-rendered.

/// The comment that marks orch's lines in Codex's `config.toml`.
pub const CODEX_MARKER: &str =
    "# orch: report Codex turn ends to orch (added by `orch up`, removed by `orch down`)";

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The two lines orch adds to Codex's `config.toml`.
pub fn codex_lines(script: &std::path::Path) -> Vec<String> {
    vec![
        CODEX_MARKER.to_string(),
        format!("notify = [{}]", toml_string(&script.to_string_lossy())),
    ]
}

fn is_notify_key(line: &str) -> bool {
    let t = line.trim_start();
    let rest = t
        .strip_prefix("notify")
        .or_else(|| t.strip_prefix("\"notify\""))
        .or_else(|| t.strip_prefix("'notify'"));
    rest.is_some_and(|r| r.trim_start().starts_with('='))
}

/// The index of orch's block (marker line followed by a notify line).
pub fn find_codex_block(lines: &[&str]) -> Option<usize> {
    lines
        .windows(2)
        .position(|w| w[0] == CODEX_MARKER && is_notify_key(w[1]))
}

/// What to do to Codex's config text: `Ok(None)` when orch's lines are
/// already there, `Err(reason)` when another `notify` is set (Codex allows
/// one; orch does not replace someone else's).
pub fn codex_edit(text: &str, ours: &[String]) -> Result<Option<String>, String> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = find_codex_block(&lines) {
        if lines[i + 1] == ours[1] {
            return Ok(None);
        }
        // An older orch block (another script path): replace it in place.
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out[i + 1] = ours[1].clone();
        return Ok(Some(join_lines(&out, text)));
    }
    if let Some(l) = lines.iter().find(|l| is_notify_key(l)) {
        return Err(format!(
            "Codex already has a notify program ({}); Codex allows only one, so orch left it alone",
            l.trim()
        ));
    }
    // Top-level keys must come before the first [table]: the top of the
    // file is always top level.
    let mut out: Vec<String> = ours.to_vec();
    out.extend(lines.iter().map(|l| l.to_string()));
    Ok(Some(join_lines(&out, text)))
}

/// Remove orch's block; `None` when it is not there.
pub fn codex_remove(text: &str, recorded: Option<&[String]>) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let i = match recorded {
        Some(rec) if rec.len() == 2 => lines
            .windows(2)
            .position(|w| w[0] == rec[0] && w[1] == rec[1])
            .or_else(|| find_codex_block(&lines)),
        _ => find_codex_block(&lines),
    }?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out.drain(i..i + 2);
    Some(join_lines(&out, text))
}

fn join_lines(lines: &[String], like: &str) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = lines.join("\n");
    if like.is_empty() || like.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn codex_config_edits() {
        let ours = codex_lines(Path::new("/x/codex-notify.sh"));
        let original = "model = \"o3\"\n\n[mcp_servers.a]\ncommand = \"a\"\n";
        let edited = codex_edit(original, &ours).unwrap().unwrap();
        assert!(edited.starts_with(CODEX_MARKER));
        assert!(edited.ends_with(original));
        assert_eq!(codex_edit(&edited, &ours), Ok(None));
        assert_eq!(codex_remove(&edited, Some(&ours)).unwrap(), original);
        // An older orch block is updated in place.
        let old = codex_lines(Path::new("/old/codex-notify.sh"));
        let older = codex_edit(original, &old).unwrap().unwrap();
        assert_eq!(codex_edit(&older, &ours).unwrap().unwrap(), edited);
        // Someone else's notify is left alone.
        let theirs = "notify = [\"notify-send\"]\n";
        assert!(
            codex_edit(theirs, &ours)
                .unwrap_err()
                .contains("notify-send")
        );
        // Empty / missing file.
        let fresh = codex_edit("", &ours).unwrap().unwrap();
        assert_eq!(codex_remove(&fresh, Some(&ours)).unwrap(), "");
        assert_eq!(codex_remove(original, Some(&ours)), None);
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
    }
}

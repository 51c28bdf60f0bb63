//! Just enough POSIX shell quoting to write a hook command line that `sh -c`
//! runs as exactly the argv we mean, and to read such a line back.
//!
//! The reader is deliberately strict: it accepts plain words, `'…'`,
//! `"…"` (with `\` escapes, but no `$` or backquote) and `\x` escapes, and
//! rejects anything the shell would treat as more than a simple command
//! (`;`, `|`, `&`, redirections, globs, expansions, comments…). A command
//! it rejects is simply not recognised as orch's.

/// Characters that need no quoting in a shell word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c)
}

/// Quote `s` as one shell word (unchanged when it needs no quoting).
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(is_plain) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Join words into a command line that `sh -c` splits back into them.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split a simple command line into words, or `None` if it uses any shell
/// feature beyond quoting (see the module doc).
pub fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => cur.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            ch @ ('"' | '\\' | '$' | '`') => cur.push(ch),
                            '\n' => {}
                            ch => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                        },
                        '$' | '`' => return None,
                        ch => cur.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => {}
                    ch => cur.push(ch),
                }
            }
            // `~` is kept literally: `~/bin/orch-hook` still names orch-hook.
            c if is_plain(c) || c == '~' || (!c.is_ascii() && !c.is_whitespace()) => {
                in_word = true;
                cur.push(c);
            }
            // Operators, expansions, globs, comments, newlines: not a
            // simple command.
            _ => return None,
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_not_quoted() {
        assert_eq!(
            quote("/usr/local/bin/orch-hook"),
            "/usr/local/bin/orch-hook"
        );
        assert_eq!(quote("stop"), "stop");
    }

    #[test]
    fn hostile_words_are_quoted() {
        assert_eq!(quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn awkward_paths_round_trip() {
        for p in [
            "/home/a b/bin/orch-hook",
            "/home/it's/orch-hook",
            "/tmp/$HOME/`x`/orch-hook",
            "/tmp/ünïcödé/orch-hook",
            "/tmp/a;b|c&d/orch-hook",
            "",
        ] {
            let line = join(&[p, "stop"]);
            assert_eq!(
                split(&line).unwrap(),
                vec![p.to_string(), "stop".into()],
                "{line}"
            );
        }
    }

    #[test]
    fn quoting_forms() {
        assert_eq!(
            split(r#"a "b c" 'd e' f\ g"#).unwrap(),
            vec!["a", "b c", "d e", "f g"]
        );
        assert_eq!(split(r#""x\"y""#).unwrap(), vec![r#"x"y"#]);
        assert_eq!(split("  a   b  ").unwrap(), vec!["a", "b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn shell_features_are_rejected() {
        for line in [
            "orch-hook stop; rm -rf /",
            "orch-hook stop | tee x",
            "orch-hook stop && y",
            "orch-hook stop > /dev/null",
            "orch-hook $EVENT",
            "orch-hook \"$EVENT\"",
            "orch-hook `x`",
            "orch-hook stop # comment",
            "orch-hook *",
            "orch-hook 'unterminated",
            "orch-hook (stop)",
            "orch-hook stop\nother",
        ] {
            assert_eq!(split(line), None, "{line:?}");
        }
    }
}

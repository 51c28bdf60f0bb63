//! Docs that cannot rot: README.md, the skills and the fleet prompt are
//! checked against the real binaries.
//!
//! Conventions for command lines quoted in ```sh / ```bash / ```console
//! blocks (README.md states them too, under "Docs are tested"):
//!
//! - A line starting with `$ ` is **run** (through `sh -c`, a cleared
//!   environment, the binaries under test first on PATH) against the echo
//!   agent in a private tmux server, in file order, all blocks of a file
//!   sharing one server. The lines after it, up to the next `$ ` line or the
//!   end of the block, are its expected output:
//!   - a JSON line is compared as a subset: every key it shows must be in
//!     the real output with the same value, except volatile keys (times,
//!     durations, session ids, pids, cwd…) whose JSON type only is checked;
//!   - a line starting `orch-<x>: ` or `orch: ` is expected on stderr;
//!   - any other line must match the real one with runs of whitespace
//!     collapsed and digits masked (tables show ages).
//!
//!   A trailing `# exit N` comment gives the expected exit code (default 0).
//! - Every other line that invokes `orch …` or `orch-<x> …` (also inside a
//!   pipeline) is **parsed** by that binary's clap definition but not run —
//!   for commands that never end (`orch listen --any --stream`), need a real
//!   Claude Code, or would change the machine (`orch up`). Anything else
//!   (cargo, ./install.sh) is not run here; the demo and install.sh have
//!   their own tests below.
//!
//! `ORCH_DOCS_BLESS=1 cargo test --test it docs::` rewrites the expected
//! output in the files with what the commands really printed (keeping only
//! the JSON keys each line already shows, and the doc's own values for
//! volatile keys), for a person to review in `git diff`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::prelude::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The skills in the repository: (directory name, SKILL.md text).
fn skills() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("skills")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path().join("SKILL.md"))
                .unwrap_or_else(|e| panic!("skills/{name}/SKILL.md: {e}"));
            out.push((name, text));
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Markdown

#[derive(Debug)]
struct Block {
    lang: String,
    /// 0-based line index of the first line inside the fence.
    first: usize,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("```") {
            match cur.take() {
                Some(b) => out.push(b),
                None => {
                    cur = Some(Block {
                        lang: rest.trim().to_string(),
                        first: i + 1,
                        lines: Vec::new(),
                    })
                }
            }
            continue;
        }
        if let Some(b) = cur.as_mut() {
            b.lines.push(line.to_string());
        }
    }
    assert!(cur.is_none(), "unclosed ``` block");
    out
}

fn is_shell(lang: &str) -> bool {
    matches!(lang, "sh" | "bash" | "console" | "shell")
}

/// Frontmatter `key: value` pairs, checked the way YAML would read them:
/// plain scalars may not contain `: ` or ` #`; quoted ones are unquoted.
fn frontmatter(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut lines = text.lines();
    if lines.next() != Some("---") {
        return Err("SKILL.md must start with a `---` line".into());
    }
    let mut map = BTreeMap::new();
    for line in lines {
        if line == "---" {
            return Ok(map);
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("not `key: value`: {line:?}"))?;
        let v = v.trim();
        let v = if let Some(q) = v.strip_prefix('"') {
            q.strip_suffix('"')
                .ok_or_else(|| format!("unterminated quote: {line:?}"))?
                .replace("\\\"", "\"")
        } else {
            if v.contains(": ") || v.contains(" #") {
                return Err(format!(
                    "{k}: a plain YAML value may not contain `: ` or ` #`; quote it"
                ));
            }
            v.to_string()
        };
        if map.insert(k.trim().to_string(), v).is_some() {
            return Err(format!("duplicate key {k}"));
        }
    }
    Err("no closing `---`".into())
}

// ---------------------------------------------------------------------------
// Shell lines → commands (just enough of sh for what docs quote)

/// Split a shell line into simple commands (argv lists), dropping
/// assignments and redirections, stopping at a comment.
fn simple_commands(line: &str) -> Result<Vec<Vec<String>>, String> {
    let mut cmds = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut redirect = false;
    let mut chars = line.chars().peekable();
    let finish = |word: &mut String,
                  in_word: &mut bool,
                  redirect: &mut bool,
                  cmds: &mut Vec<Vec<String>>| {
        if *in_word {
            if *redirect {
                *redirect = false;
            } else {
                cmds.last_mut().unwrap().push(std::mem::take(word));
            }
            word.clear();
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish(&mut word, &mut in_word, &mut redirect, &mut cmds),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err(format!("unterminated ' in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.push(chars.next().unwrap_or('\\')),
                        Some(ch) => word.push(ch),
                        None => return Err(format!("unterminated \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    word.push(ch);
                }
            }
            '|' | ';' | '&' => {
                finish(&mut word, &mut in_word, &mut redirect, &mut cmds);
                while chars.peek().is_some_and(|&n| n == '|' || n == '&') {
                    chars.next();
                }
                cmds.push(Vec::new());
            }
            '<' | '>' => {
                // `2>` : the digits were a file descriptor, not a word.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                finish(&mut word, &mut in_word, &mut redirect, &mut cmds);
                while chars.peek().is_some_and(|&n| n == '>' || n == '&') {
                    chars.next();
                }
                redirect = true;
            }
            '(' | ')' | '`' => {
                return Err(format!("subshells are not supported in docs: {line:?}"));
            }
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    finish(&mut word, &mut in_word, &mut redirect, &mut cmds);
    Ok(cmds
        .into_iter()
        .map(|c| {
            c.into_iter()
                .skip_while(|w| {
                    w.split_once('=').is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect())
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Checked,
    /// A subcommand orch knows whose binary this build does not have yet.
    NotBuilt(String),
    NotOrch,
}

/// Check one argv against the clap definition of the binary it runs.
fn check_argv(argv: &[String]) -> Result<Parsed, String> {
    let (sub, rest): (String, &[String]) = if argv[0] == "orch" {
        let Some(first) = argv.get(1) else {
            return Ok(Parsed::Checked);
        };
        match first.as_str() {
            "--help" | "-h" | "--version" | "-V" if argv.len() == 2 => return Ok(Parsed::Checked),
            "completions" => {
                let shells = ["bash", "zsh", "fish", "elvish", "powershell"];
                return match argv.get(2) {
                    Some(s) if shells.contains(&s.as_str()) && argv.len() == 3 => {
                        Ok(Parsed::Checked)
                    }
                    _ => Err(format!("`orch completions` takes one of {shells:?}")),
                };
            }
            "help" => {
                return match argv.get(2) {
                    Some(s) if orch_cli::umbrella::SUBCOMMANDS.iter().any(|(n, _)| n == s) => {
                        Ok(Parsed::Checked)
                    }
                    _ => Err("`orch help` takes a known subcommand".into()),
                };
            }
            f if f.starts_with('-') => return Err(format!("orch has no option {f}")),
            s => (s.to_string(), &argv[2..]),
        }
    } else if let Some(s) = argv[0].strip_prefix("orch-") {
        (s.to_string(), &argv[1..])
    } else {
        return Ok(Parsed::NotOrch);
    };
    let def = orch_cli::umbrella::subcommand_defs()
        .into_iter()
        .find(|c| c.get_name() == sub);
    let Some(def) = def else {
        let known = orch_cli::umbrella::SUBCOMMANDS
            .iter()
            .any(|(n, _)| *n == sub);
        if known && !bin(&format!("orch-{sub}")).exists() {
            return Ok(Parsed::NotBuilt(sub));
        }
        return Err(format!(
            "orch-{sub}: no such binary (or it is missing from orch_cli::umbrella::subcommand_defs)"
        ));
    };
    let name = format!("orch-{sub}");
    match def.try_get_matches_from(std::iter::once(name.clone()).chain(rest.iter().cloned())) {
        Ok(_) => Ok(Parsed::Checked),
        // --help and --version "fail" on stdout.
        Err(e) if !e.use_stderr() => Ok(Parsed::Checked),
        Err(e) => Err(format!(
            "{name} rejects it: {}",
            e.render().to_string().lines().next().unwrap_or("")
        )),
    }
}

/// Every command line a file quotes: (line number, text).
fn quoted_lines(file: &str, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    if file.ends_with(".md") && !file.contains("fleet-prompt") {
        for b in blocks(text) {
            if !is_shell(&b.lang) {
                continue;
            }
            let transcript = b.lines.iter().any(|l| l.starts_with("$ "));
            for (i, l) in b.lines.iter().enumerate() {
                let cmd = match l.strip_prefix("$ ") {
                    Some(c) => c,
                    None if transcript => continue, // expected output
                    None => l.as_str(),
                };
                if !cmd.trim().is_empty() {
                    out.push((b.first + i + 1, cmd.to_string()));
                }
            }
        }
    } else {
        // The fleet prompt is plain text for an agent: its examples are
        // the lines indented by four spaces.
        for (i, l) in text.lines().enumerate() {
            if let Some(c) = l.strip_prefix("    ") {
                out.push((i + 1, c.to_string()));
            }
        }
    }
    out
}

fn doc_files() -> Vec<(String, String)> {
    let mut files = vec![
        ("README.md".to_string(), read("README.md")),
        (
            "share/fleet-prompt.md".to_string(),
            read("share/fleet-prompt.md"),
        ),
    ];
    for (name, text) in skills() {
        files.push((format!("skills/{name}/SKILL.md"), text));
    }
    files
}

// ---------------------------------------------------------------------------
// Tests: structure

#[test]
fn shell_splitter_understands_what_docs_quote() {
    let c = simple_commands("git diff | orch tell %7 - # review it").unwrap();
    assert_eq!(
        c,
        vec![vec!["git", "diff"], vec!["orch", "tell", "%7", "-"]]
    );
    let c = simple_commands("X=1 orch-listen %3 --timeout 5 2>/dev/null && echo 'a b'").unwrap();
    assert_eq!(
        c,
        vec![
            vec!["orch-listen", "%3", "--timeout", "5"],
            vec!["echo", "a b"]
        ]
    );
    let c = simple_commands(r#"orch tell rev "it's \"done\"" > out.json"#).unwrap();
    assert_eq!(c, vec![vec!["orch", "tell", "rev", "it's \"done\""]]);
    assert!(simple_commands("orch tell x 'unterminated").is_err());
}

#[test]
fn argv_check_accepts_real_lines_and_rejects_wrong_ones() {
    let argv = |s: &str| simple_commands(s).unwrap().remove(0);
    assert_eq!(
        check_argv(&argv("orch tell %3 hi --wait")),
        Ok(Parsed::Checked)
    );
    assert_eq!(
        check_argv(&argv("orch-listen --any --stream")),
        Ok(Parsed::Checked)
    );
    assert_eq!(check_argv(&argv("orch spawn --help")), Ok(Parsed::Checked));
    assert_eq!(
        check_argv(&argv("orch completions zsh")),
        Ok(Parsed::Checked)
    );
    assert_eq!(check_argv(&argv("cargo test")), Ok(Parsed::NotOrch));
    assert!(check_argv(&argv("orch tell %3 hi --wiat")).is_err());
    assert!(check_argv(&argv("orch listen --stream --any --kinds")).is_err());
    assert!(check_argv(&argv("orch frobnicate")).is_err());
    assert!(check_argv(&argv("orch completions tcsh")).is_err());
}

#[test]
fn skills_have_valid_frontmatter() {
    let skills = skills();
    let names: Vec<&str> = skills.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["orch-fleet", "orch-worker"] {
        assert!(names.contains(&want), "skills/{want}/SKILL.md is missing");
    }
    for (dir, text) in &skills {
        let fm = frontmatter(text).unwrap_or_else(|e| panic!("skills/{dir}/SKILL.md: {e}"));
        // Claude Code / Agent Skills limits: name 1-64 chars of [a-z0-9-],
        // no leading/trailing or doubled hyphen, equal to the directory,
        // no reserved word; description 1-1024 chars, no XML tags.
        let name = fm.get("name").unwrap_or_else(|| panic!("{dir}: no name"));
        assert!(!name.is_empty() && name.len() <= 64, "{dir}: name length");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-')
                && !name.contains("--"),
            "{dir}: name {name:?} must be lowercase letters, digits and single hyphens"
        );
        assert_eq!(name, dir, "the name must equal the skill's directory");
        assert!(
            !name.contains("claude") && !name.contains("anthropic"),
            "{dir}: reserved word in name"
        );
        let desc = fm
            .get("description")
            .unwrap_or_else(|| panic!("{dir}: no description"));
        let chars = desc.chars().count();
        assert!(
            (1..=1024).contains(&chars),
            "{dir}: description is {chars} chars"
        );
        assert!(
            !desc.contains('<') && !desc.contains('>'),
            "{dir}: no XML tags in description"
        );
        for key in fm.keys() {
            assert!(
                ["name", "description", "allowed-tools", "license"].contains(&key.as_str()),
                "{dir}: unexpected frontmatter key {key}"
            );
        }
        // A model reads all of it: keep it short.
        let lines = text.lines().count();
        assert!(
            lines <= 400,
            "skills/{dir}/SKILL.md has {lines} lines; keep it under 400"
        );
    }
}

#[test]
fn every_quoted_orch_command_parses() {
    let mut checked = 0;
    let mut not_built = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in doc_files() {
        for (line_no, line) in quoted_lines(&file, &text) {
            let cmds = match simple_commands(&line) {
                Ok(c) => c,
                Err(e) => {
                    errors.push(format!("{file}:{line_no}: {e}"));
                    continue;
                }
            };
            for argv in cmds {
                match check_argv(&argv) {
                    Ok(Parsed::Checked) => checked += 1,
                    Ok(Parsed::NotBuilt(sub)) => {
                        not_built.push(format!("{file}:{line_no}: orch {sub}"))
                    }
                    Ok(Parsed::NotOrch) => {}
                    Err(e) => errors.push(format!("{file}:{line_no}: `{line}`: {e}")),
                }
            }
        }
    }
    for n in &not_built {
        eprintln!("NOT CHECKED (its binary is not part of this build yet): {n}");
    }
    assert!(
        errors.is_empty(),
        "quoted commands that do not parse:\n{}",
        errors.join("\n")
    );
    assert!(
        checked > 40,
        "only {checked} orch command lines found in the docs"
    );
}

#[test]
fn readme_starts_with_the_demo_and_the_test_command() {
    let readme = read("README.md");
    let first = blocks(&readme)
        .into_iter()
        .find(|b| is_shell(&b.lang))
        .expect("no sh block");
    let cmds: Vec<&str> = first
        .lines
        .iter()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        cmds,
        ["./install.sh --demo", ".ci/test"],
        "README's first block must be the two newcomer commands"
    );
    // The first code block comes before any section but the title.
    let before = &readme[..readme.find("```").unwrap()];
    assert!(
        before.matches("\n## ").count() == 0,
        "the two commands must come first"
    );
    assert!(
        readme.contains("docs/protocol.md"),
        "README must link the protocol"
    );
}

#[test]
fn readme_numbers_come_from_performance_md() {
    // Every "N ms" figure the README quotes must appear in docs/performance.md.
    let readme = read("README.md");
    let perf = read("docs/performance.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Performance"))
        .expect("README has a Performance section");
    let mut found = 0;
    for (i, _) in section.match_indices(" ms") {
        let num: String = section[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if num.is_empty() {
            continue;
        }
        found += 1;
        assert!(
            perf.contains(&num),
            "README quotes {num} ms, which docs/performance.md does not contain"
        );
    }
    assert!(found >= 3, "README's Performance section quotes no figures");
}

#[test]
fn committed_completions_are_current() {
    let env = TestEnv::new();
    for (shell, file) in [
        ("bash", "orch.bash"),
        ("zsh", "orch.zsh"),
        ("fish", "orch.fish"),
    ] {
        let o = env.run("orch", &["completions", shell]);
        assert_code(&o, 0);
        let path = format!("share/completions/{file}");
        if std::env::var_os("ORCH_DOCS_BLESS").is_some() {
            std::fs::write(repo().join(&path), &o.stdout).unwrap();
        }
        assert!(
            read(&path).as_bytes() == o.stdout,
            "{path} is stale: regenerate with `orch completions {shell} > {path}` \
             (or ORCH_DOCS_BLESS=1 cargo test --test it docs::)"
        );
    }
}

// ---------------------------------------------------------------------------
// Running transcripts

/// Keys whose values change from run to run: only their JSON type is compared.
fn volatile(key: &str) -> bool {
    key.ends_with("_ts")
        || key.ends_with("_ms")
        || matches!(
            key,
            "ts" | "session_id"
                | "prompt_id"
                | "pid"
                | "cwd"
                | "state_age"
                | "state_since"
                | "socket"
                | "key"
                | "attempts"
                | "since_ts"
                | "transcript_path"
        )
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Is `doc` a subset of `real`? Returns the first difference.
fn subset(doc: &Value, real: &Value, path: &str) -> Result<(), String> {
    match (doc, real) {
        (Value::Object(d), Value::Object(r)) => {
            for (k, dv) in d {
                let p = format!("{path}.{k}");
                let rv = r
                    .get(k)
                    .ok_or_else(|| format!("{p}: not in the real output"))?;
                if volatile(k) {
                    if !same_type(dv, rv) && !dv.is_null() && !rv.is_null() {
                        return Err(format!("{p}: type differs: doc {dv}, real {rv}"));
                    }
                } else {
                    subset(dv, rv, &p)?;
                }
            }
            Ok(())
        }
        (Value::Array(d), Value::Array(r)) => {
            if d.len() != r.len() {
                return Err(format!(
                    "{path}: {} items in the doc, {} in the real output",
                    d.len(),
                    r.len()
                ));
            }
            for (i, (dv, rv)) in d.iter().zip(r).enumerate() {
                subset(dv, rv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if doc == real => Ok(()),
        _ => Err(format!("{path}: doc has {doc}, real output has {real}")),
    }
}

/// `real` cut down to the keys `doc` shows (doc's values kept for volatile
/// keys): what bless writes back.
fn trim_like(doc: &Value, real: &Value) -> Value {
    match (doc, real) {
        (Value::Object(d), Value::Object(r)) => {
            let mut out = serde_json::Map::new();
            for (k, rv) in r {
                if let Some(dv) = d.get(k) {
                    let v = if volatile(k) && same_type(dv, rv) {
                        dv.clone()
                    } else {
                        trim_like(dv, rv)
                    };
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        (Value::Array(d), Value::Array(r)) if !d.is_empty() => Value::Array(
            r.iter()
                .enumerate()
                .map(|(i, rv)| trim_like(d.get(i).unwrap_or(&d[0]), rv))
                .collect(),
        ),
        _ => real.clone(),
    }
}

fn mask(line: &str) -> String {
    let mut out = String::new();
    let mut last_digit = false;
    for w in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in w.chars() {
            if c.is_ascii_digit() {
                if !last_digit {
                    out.push('#');
                }
                last_digit = true;
            } else {
                out.push(c);
                last_digit = false;
            }
        }
        last_digit = false;
    }
    out
}

fn is_stderr_line(l: &str) -> bool {
    l.starts_with("orch: ")
        || l.split_once(": ")
            .is_some_and(|(p, _)| p.starts_with("orch-") && !p.contains(' '))
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `line` through `sh -c` in `env`, as if typed in `pane`, with a deadline.
fn run_line(env: &TestEnv, pane: &str, cwd: &Path, line: &str) -> Ran {
    let mut c: Command = env.command("sh");
    c.arg("-c")
        .arg(line)
        .env("TMUX_PANE", pane)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{line}` did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// One `$ ` command of a transcript and its expected output.
struct Step {
    /// 0-based line of the `$ ` line in the file.
    at: usize,
    command: String,
    exit: i32,
    expect: Vec<String>,
}

fn steps(text: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for b in blocks(text) {
        if !is_shell(&b.lang) || !b.lines.iter().any(|l| l.starts_with("$ ")) {
            continue;
        }
        let mut cur: Option<Step> = None;
        for (i, l) in b.lines.iter().enumerate() {
            if let Some(cmd) = l.strip_prefix("$ ") {
                out.extend(cur.take());
                let exit = cmd
                    .rsplit_once("# exit ")
                    .and_then(|(_, n)| n.trim().parse().ok())
                    .unwrap_or(0);
                cur = Some(Step {
                    at: b.first + i,
                    command: cmd.to_string(),
                    exit,
                    expect: Vec::new(),
                });
            } else if let Some(s) = cur.as_mut() {
                s.expect.push(l.clone());
            }
        }
        out.extend(cur);
    }
    out
}

/// Compare one step; on bless, also return the lines to write instead.
fn compare(step: &Step, ran: &Ran) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    if ran.code != Some(step.exit) {
        problems.push(format!("exit code {:?}, expected {}", ran.code, step.exit));
    }
    let doc_out: Vec<&String> = step.expect.iter().filter(|l| !is_stderr_line(l)).collect();
    let doc_err: Vec<&String> = step.expect.iter().filter(|l| is_stderr_line(l)).collect();
    let real_out: Vec<&str> = ran.stdout.lines().collect();
    let real_err: Vec<&str> = ran.stderr.lines().collect();
    let mut blessed = Vec::new();
    if doc_out.len() != real_out.len() {
        problems.push(format!(
            "{} stdout lines in the doc, {} printed",
            doc_out.len(),
            real_out.len()
        ));
    }
    for (i, real) in real_out.iter().enumerate() {
        let doc = doc_out.get(i);
        let real_json = serde_json::from_str::<Value>(real)
            .ok()
            .filter(|v| v.is_object());
        let doc_json = doc.and_then(|d| serde_json::from_str::<Value>(d).ok());
        match (doc, doc_json, real_json) {
            (Some(_), Some(dj), Some(rj)) => {
                if let Err(e) = subset(&dj, &rj, "") {
                    problems.push(format!("line {}: {e}", i + 1));
                }
                blessed.push(serde_json::to_string(&trim_like(&dj, &rj)).unwrap());
            }
            (Some(d), _, _) => {
                if mask(d) != mask(real) {
                    problems.push(format!("line {}: doc {d:?}, printed {real:?}", i + 1));
                }
                blessed.push(real.to_string());
            }
            (None, _, _) => blessed.push(real.to_string()),
        }
    }
    for d in &doc_err {
        if !real_err.iter().any(|r| mask(r) == mask(d)) {
            problems.push(format!("stderr lacks {d:?}; it was {:?}", ran.stderr));
        }
    }
    if doc_err.is_empty() && ran.code != Some(0) {
        // A failing command's error line belongs in the doc.
        blessed.extend(real_err.iter().map(|s| s.to_string()));
    } else {
        blessed.extend(if doc_err.is_empty() {
            Vec::new()
        } else {
            real_err.iter().map(|s| s.to_string()).collect()
        });
    }
    (problems, blessed)
}

/// Run every transcript of `file` in order; fail listing each difference.
fn run_transcripts(file: &str, env: &TestEnv, pane: &str) {
    let text = read(file);
    let steps = steps(&text);
    assert!(!steps.is_empty(), "{file} has no `$ ` transcripts");
    let cwd = env.home.join("app");
    std::fs::create_dir_all(&cwd).unwrap();
    let bless = std::env::var_os("ORCH_DOCS_BLESS").is_some();
    let mut failures = Vec::new();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Rewrite from the bottom so earlier line numbers stay valid.
    let mut rewrites = Vec::new();
    for step in &steps {
        let ran = run_line(env, pane, &cwd, &step.command);
        let (problems, blessed) = compare(step, &ran);
        if !problems.is_empty() {
            failures.push(format!(
                "{file}:{}: `{}`\n  {}\n  stdout: {}\n  stderr: {}",
                step.at + 1,
                step.command,
                problems.join("\n  "),
                ran.stdout.trim_end(),
                ran.stderr.trim_end()
            ));
        }
        rewrites.push((step.at + 1, step.expect.len(), blessed));
    }
    if bless {
        for (at, n, new) in rewrites.into_iter().rev() {
            lines.splice(at..at + n, new);
        }
        let mut out = lines.join("\n");
        out.push('\n');
        std::fs::write(repo().join(file), out).unwrap();
        eprintln!("blessed {file}: review with git diff");
        return;
    }
    assert!(
        failures.is_empty(),
        "{file}: quoted output no longer matches the binaries \
         (fix the doc, or ORCH_DOCS_BLESS=1 cargo test --test it docs:: and review):\n\n{}",
        failures.join("\n\n")
    );
}

/// The README and the operator skill run from pane %0 of a fresh server,
/// a shell: a person, or the operator's Claude Code (which would be in %0).
#[test]
fn readme_transcripts_run() {
    let env = or_skip!(TestEnv::with_tmux());
    run_transcripts("README.md", &env, "%0");
}

#[test]
fn fleet_skill_transcripts_run() {
    let env = or_skip!(TestEnv::with_tmux());
    run_transcripts("skills/orch-fleet/SKILL.md", &env, "%0");
}

/// The worker skill runs from a worker's pane: %0 is the operator (an echo
/// agent standing in for Claude Code, so messages to it are answered; its
/// turns take 3 s, so the second message the skill sends it finds it busy
/// and is `queued`, every time), and %1 `backend`, %2 `reviewer` (workers)
/// and %3 `spy` (an observer) were spawned from it.
#[test]
fn worker_skill_transcripts_run() {
    let env = or_skip!(TestEnv::with_tmux());
    env.tmux(&["respawn-pane", "-k", "-t", "%0", "orch-echo --turn-ms 3000"]);
    eventually(Duration::from_secs(20), "the operator's echo agent", || {
        env.events("%0")
            .iter()
            .any(|e| e["kind"] == "session_start")
            .then_some(())
    });
    let home = env.home.clone();
    let setup = [
        "orch tell --claim-operator",
        "orch spawn echo --name backend",
        "orch spawn echo --name reviewer",
        "orch spawn echo --name spy --role observer",
    ];
    for line in setup {
        let ran = run_line(&env, "%0", &home, line);
        assert_eq!(ran.code, Some(0), "setup `{line}`: {}", ran.stderr);
    }
    run_transcripts("skills/orch-worker/SKILL.md", &env, "%1");
}

// ---------------------------------------------------------------------------
// The demo and install.sh

/// `share/demo.sh` runs to completion with no terminal, in its own private
/// tmux server, and cleans up after itself.
#[test]
fn demo_script_runs() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    // The world's TMPDIR: the demo's own tmux server goes there.
    let out = env
        .command("sh")
        .arg(repo().join("share/demo.sh"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let so = stdout(&out);
    assert!(out.status.success(), "demo failed:\n{so}\n{}", stderr(&out));
    for want in [
        "$ orch spawn echo --name alice",
        "\"state\":\"idle\"",
        "\"status\":\"delivered\"",
        "\"kind\":\"stop\"",
        "\"reply\":\"echo: hello bob",
        "2 agents: 2 idle",
        "demo finished",
    ] {
        assert!(so.contains(want), "demo output lacks {want:?}:\n{so}");
    }
    // Everything it made is gone: its temp dir (state and tmux socket).
    let left: Vec<_> = std::fs::read_dir(&env.tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "the demo left {left:?} behind");
    // It used its own state dir, not the caller's.
    assert!(
        !env.state.exists(),
        "the demo wrote to the caller's ORCH_STATE_DIR"
    );
}

const BINARIES: &[&str] = &[
    "orch",
    "orch-hook",
    "orch-listen",
    "orch-spawn",
    "orch-tell",
    "orch-survey",
    "orch-up",
    "orch-down",
    "orch-doctor",
    "orch-echo",
];

/// install.sh, twice, into a temp prefix: binaries, completions and
/// `orch up` — and the second run changes nothing. The binaries come from
/// this build (`ORCH_INSTALL_FROM`), so the test does not rebuild orch.
#[test]
fn install_sh_twice_into_a_temp_prefix() {
    let env = or_skip!(TestEnv::if_tmux_installed());
    let prefix = env.dir.path().join("prefix");
    // The first run names the prefix with --prefix, the second with PREFIX.
    let run = |flag: bool| {
        let mut c = env.command("sh");
        c.arg(repo().join("install.sh"));
        if flag {
            c.arg("--prefix").arg(&prefix);
        } else {
            c.env("PREFIX", &prefix);
        }
        // The caller's PATH without the binaries under test: the temp
        // prefix is not on it, so install.sh must print the PATH hint.
        c.env("ORCH_INSTALL_FROM", bin_dir())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let first = run(true);
    assert!(
        first.status.success(),
        "install.sh failed:\n{}\n{}",
        stdout(&first),
        stderr(&first)
    );
    let settings = env.claude_config.join("settings.json");
    let after_first = std::fs::read(&settings).expect("orch up wrote no settings.json");
    for b in BINARIES {
        let p = prefix.join("bin").join(b);
        assert!(p.is_file(), "{b} not installed");
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(bin(b)).unwrap(),
            "{b} differs"
        );
    }
    let hook = prefix.join("bin/orch-hook");
    assert!(
        String::from_utf8_lossy(&after_first).contains(&*hook.to_string_lossy()),
        "hooks do not point at the installed orch-hook"
    );
    for c in [
        "share/bash-completion/completions/orch",
        "share/zsh/site-functions/_orch",
        "share/fish/vendor_completions.d/orch.fish",
    ] {
        assert!(prefix.join(c).is_file(), "{c} not installed");
    }
    assert!(
        env.claude_config
            .join("skills/orch-fleet/SKILL.md")
            .is_file()
    );
    let text = format!("{}{}", stdout(&first), stderr(&first));
    assert!(
        text.contains(&*prefix.join("bin").to_string_lossy()),
        "{text}"
    );
    assert!(
        text.contains("is not on your PATH"),
        "no PATH hint:\n{text}"
    );

    let second = run(false);
    assert!(
        second.status.success(),
        "second run failed:\n{}",
        stderr(&second)
    );
    assert_eq!(
        std::fs::read(&settings).unwrap(),
        after_first,
        "second run changed settings.json"
    );
    assert!(
        stdout(&second).contains("already installed"),
        "{}",
        stdout(&second)
    );
    // Only the one backup of the first run.
    let backups = std::fs::read_dir(&env.claude_config)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("orch-backup"))
        .count();
    assert!(backups <= 1, "{backups} backups after two runs");
}

#[test]
fn install_sh_explains_missing_tools() {
    let env = TestEnv::new();
    let prefix = env.dir.path().join("prefix");
    // A PATH with sh but neither cargo nor tmux.
    let bin_only = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin_only).unwrap();
    for tool in ["sh", "dirname", "mkdir", "uname", "cat"] {
        if let Some(p) = which(tool) {
            std::os::unix::fs::symlink(p, bin_only.join(tool)).unwrap();
        }
    }
    let install = || {
        let mut c = env.command("sh");
        c.arg(repo().join("install.sh"))
            .arg("--prefix")
            .arg(&prefix);
        c.env("PATH", &bin_only).output().unwrap()
    };
    let o = install();
    assert_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("tmux") && err.contains("apt-get install tmux"),
        "{err}"
    );
    assert!(err.contains("brew install tmux"), "{err}");
    assert!(
        !prefix.join("bin").exists(),
        "nothing is installed when a tool is missing"
    );

    // With tmux present but no cargo (and no ORCH_INSTALL_FROM).
    if let Some(t) = which("tmux") {
        std::os::unix::fs::symlink(t, bin_only.join("tmux")).unwrap();
        let o = install();
        assert_code(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("cargo") && err.contains("rustup"), "{err}");
    }
    let o = env
        .command("sh")
        .arg(repo().join("install.sh"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_code(&o, 2);
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

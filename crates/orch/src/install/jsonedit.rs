//! Rewrite a JSON document so that only what changed changes.
//!
//! Re-serializing a whole settings file would reformat every line a person
//! wrote by hand (`"allow": ["Bash(ls)"]` becoming four lines), and the
//! diff would show edits orch never made. Instead the new document is
//! rendered against the original text: every subtree equal to the
//! original's is copied byte for byte; changed containers keep their
//! original whitespace, key spelling and separators; only new values are
//! rendered, in the file's indent style, at their nesting depth.
//!
//! The result is verified by parsing it and comparing with the intended
//! document *including key order*; on any mismatch the caller falls back
//! to plain re-serialization, so this can only ever improve the layout,
//! never change content.

use serde_json::Value;

use super::jsonfile::Style;

#[derive(Debug)]
struct Node {
    start: usize,
    end: usize,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    Scalar,
}

#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value: Node,
}

/// A span parser: where each value, key and separator is. Values
/// themselves are left to serde_json (the text was already validated).
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<()> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// After an opening bracket: the items up to `close`, separated by
    /// commas (none at all is fine, a trailing comma is not).
    fn items<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.i += 1;
        let mut out = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&close) {
            self.i += 1;
            return Some(out);
        }
        loop {
            out.push(item(self)?);
            self.ws();
            match *self.s.get(self.i)? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    /// `"key": value` inside an object.
    fn member(&mut self, depth: usize) -> Option<Member> {
        self.ws();
        let key_start = self.i;
        self.string()?;
        let key_end = self.i;
        let key: String = serde_json::from_slice(&self.s[key_start..key_end]).ok()?;
        self.ws();
        if self.s.get(self.i) != Some(&b':') {
            return None;
        }
        self.i += 1;
        let value = self.value(depth + 1)?;
        Some(Member {
            key,
            key_start,
            key_end,
            value,
        })
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > 200 {
            return None;
        }
        self.ws();
        let start = self.i;
        let kind = match *self.s.get(self.i)? {
            b'{' => NodeKind::Object(self.items(b'}', |p| p.member(depth))?),
            b'[' => NodeKind::Array(self.items(b']', |p| p.value(depth + 1))?),
            b'"' => {
                self.string()?;
                NodeKind::Scalar
            }
            _ => {
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
                NodeKind::Scalar
            }
        };
        Some(Node {
            start,
            end: self.i,
            kind,
        })
    }
}

/// Equality that also requires the same key order (serde_json's map
/// equality ignores order, and key order is part of what we preserve).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

struct Renderer<'a> {
    text: &'a str,
    style: &'a Style,
    newline: &'static str,
}

impl Renderer<'_> {
    fn slice(&self, n: &Node) -> &str {
        &self.text[n.start..n.end]
    }

    fn original(&self, n: &Node) -> Option<Value> {
        serde_json::from_str(self.slice(n)).ok()
    }

    /// A value with no original counterpart, at `indent` (the indentation
    /// of the line it starts on). `inline`: the container it goes into is
    /// written on one line, so keep the new value on one line too.
    fn fresh(&self, out: &mut String, v: &Value, indent: &str, inline: bool) {
        match (&self.style.indent, inline) {
            (Some(unit), false) => {
                let mut buf = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                serde::Serialize::serialize(v, &mut ser).expect("Value serializes");
                let s = String::from_utf8(buf).expect("UTF-8");
                out.push_str(&s.replace('\n', &format!("{}{indent}", self.newline)));
            }
            _ => out.push_str(&serde_json::to_string(v).expect("Value serializes")),
        }
    }

    fn render(&self, out: &mut String, v: &Value, node: Option<&Node>, indent: &str) {
        let Some(n) = node else {
            self.fresh(out, v, indent, false);
            return;
        };
        if self.original(n).is_some_and(|o| same(&o, v)) {
            out.push_str(self.slice(n));
            return;
        }
        match (v, &n.kind) {
            (Value::Object(map), NodeKind::Object(members)) => {
                self.object(out, map, n, members, indent)
            }
            (Value::Array(items), NodeKind::Array(orig)) => self.array(out, items, n, orig, indent),
            _ => self.fresh(out, v, indent, false),
        }
    }

    /// Whitespace layout of a container: before the first entry, between
    /// entries (after the comma), before the closing bracket.
    fn layout(
        &self,
        n: &Node,
        starts: &[usize],
        ends: &[usize],
        indent: &str,
    ) -> (String, String, String) {
        let t = self.text;
        if starts.is_empty() {
            return match &self.style.indent {
                Some(unit) => {
                    let first = format!("{}{indent}{unit}", self.newline);
                    (first.clone(), first, format!("{}{indent}", self.newline))
                }
                None => (String::new(), String::new(), String::new()),
            };
        }
        let first = t[n.start + 1..starts[0]].to_string();
        let rest = if starts.len() > 1 {
            let between = &t[ends[0]..starts[1]];
            between[between.find(',').map(|c| c + 1).unwrap_or(0)..].to_string()
        } else if let Some(nl) = first.rfind('\n') {
            // One entry: the next one goes on a line like it.
            format!("{}{}", self.newline, &first[nl + 1..])
        } else {
            first.clone()
        };
        let close = t[*ends.last().expect("non-empty")..n.end - 1].to_string();
        (first, rest, close)
    }

    fn object(
        &self,
        out: &mut String,
        map: &serde_json::Map<String, Value>,
        n: &Node,
        members: &[Member],
        indent: &str,
    ) {
        let starts: Vec<usize> = members.iter().map(|m| m.key_start).collect();
        let ends: Vec<usize> = members.iter().map(|m| m.value.end).collect();
        let (first, rest, close) = self.layout(n, &starts, &ends, indent);
        let (first, mut rest, close) = (first, rest, close);
        let colon = members
            .first()
            .map(|m| self.text[m.key_end..m.value.start].to_string())
            .unwrap_or_else(|| {
                if self.style.indent.is_some() {
                    ": ".into()
                } else {
                    ":".into()
                }
            });
        if members.len() == 1 && !rest.contains('\n') && colon.ends_with(' ') {
            // `{"a": 1}`: someone who spaces colons spaces commas too.
            rest = " ".into();
        }
        out.push('{');
        for (idx, (k, v)) in map.iter().enumerate() {
            let ws = if idx == 0 { &first } else { &rest };
            if idx > 0 {
                out.push(',');
            }
            out.push_str(ws);
            let inner_indent = line_indent(ws, indent);
            // The last original member with this key is the one that counts.
            match members.iter().rev().find(|m| &m.key == k) {
                Some(m) => {
                    out.push_str(&self.text[m.key_start..m.key_end]);
                    out.push_str(&self.text[m.key_end..m.value.start]);
                    self.render(out, v, Some(&m.value), &inner_indent);
                }
                None => {
                    out.push_str(&serde_json::to_string(k).expect("string serializes"));
                    out.push_str(&colon);
                    self.fresh(
                        out,
                        v,
                        &inner_indent,
                        !ws.contains('\n') && !members.is_empty(),
                    );
                }
            }
        }
        if !map.is_empty() {
            out.push_str(&close);
        }
        out.push('}');
    }

    fn array(&self, out: &mut String, items: &[Value], n: &Node, orig: &[Node], indent: &str) {
        let starts: Vec<usize> = orig.iter().map(|i| i.start).collect();
        let ends: Vec<usize> = orig.iter().map(|i| i.end).collect();
        let (first, rest, close) = self.layout(n, &starts, &ends, indent);
        let pairs = align(
            items,
            &orig.iter().map(|o| self.original(o)).collect::<Vec<_>>(),
        );
        out.push('[');
        for (idx, v) in items.iter().enumerate() {
            let ws = if idx == 0 { &first } else { &rest };
            if idx > 0 {
                out.push(',');
            }
            out.push_str(ws);
            let inner_indent = line_indent(ws, indent);
            match pairs[idx] {
                Some(j) => self.render(out, v, Some(&orig[j]), &inner_indent),
                None => self.fresh(
                    out,
                    v,
                    &inner_indent,
                    !ws.contains('\n') && !orig.is_empty(),
                ),
            }
        }
        if !items.is_empty() {
            out.push_str(&close);
        }
        out.push(']');
    }
}

/// The indentation a value gets when it follows whitespace `ws`.
fn line_indent(ws: &str, parent: &str) -> String {
    match ws.rfind('\n') {
        Some(nl) => ws[nl + 1..].to_string(),
        None => parent.to_string(),
    }
}

/// Pair each new item with an original one: equal items in order first
/// (anchors), then, between anchors, the remaining items in order (edited
/// in place). Unpaired new items are new; unpaired originals were removed.
fn align(new: &[Value], orig: &[Option<Value>]) -> Vec<Option<usize>> {
    let mut pairs = vec![None; new.len()];
    let mut p = 0;
    let mut anchors = Vec::new();
    for (i, v) in new.iter().enumerate() {
        if let Some(j) = (p..orig.len()).find(|&j| orig[j].as_ref().is_some_and(|o| same(o, v))) {
            pairs[i] = Some(j);
            anchors.push((i, j));
            p = j + 1;
        }
    }
    let mut prev = (0usize, 0usize);
    anchors.push((new.len(), orig.len()));
    for (ai, aj) in anchors {
        let gap_new = prev.0..ai;
        let mut gap_orig = prev.1..aj;
        for i in gap_new {
            if pairs[i].is_some() {
                continue;
            }
            let kind_matches = |j: usize| {
                matches!(
                    (&new[i], &orig[j]),
                    (Value::Object(_), Some(Value::Object(_)))
                        | (Value::Array(_), Some(Value::Array(_)))
                )
            };
            match gap_orig.next() {
                Some(j) if kind_matches(j) => pairs[i] = Some(j),
                _ => {}
            }
        }
        prev = (ai + 1, aj + 1);
    }
    pairs
}

/// `new` rendered against `original` (see the module doc); `None` when the
/// original cannot be used or the result would not be exactly `new`.
pub fn rerender(original: &str, new: &Value, style: &Style) -> Option<String> {
    let body = original.strip_prefix('\u{feff}').unwrap_or(original);
    let mut parser = Parser {
        s: body.as_bytes(),
        i: 0,
    };
    let root = parser.value(0)?;
    let renderer = Renderer {
        text: body,
        style,
        newline: if style.crlf { "\r\n" } else { "\n" },
    };
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str(&body[..root.start]);
    renderer.render(&mut out, new, Some(&root), "");
    out.push_str(&body[root.end..]);
    let check: Value = serde_json::from_str(&out).ok()?;
    same(&check, new).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edit(text: &str, f: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(text).unwrap();
        f(&mut v);
        let out = rerender(text, &v, &Style::detect(text)).expect("rerender");
        assert!(same(&serde_json::from_str(&out).unwrap(), &v));
        out
    }

    #[test]
    fn unchanged_documents_are_byte_identical() {
        for text in [
            "{}",
            " {\"a\" : [1,2 , 3], \"b\":{}}\n",
            "{\n    \"x\": [\"inline\", \"array\"],\n    \"y\": null\n}\n",
        ] {
            assert_eq!(edit(text, |_| {}), text);
        }
    }

    #[test]
    fn hand_formatting_outside_the_change_survives() {
        let text = "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\", \"Read(*)\"]},\n  \"model\":   \"opus\",\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"type\": \"command\", \"command\": \"say done\"}]}\n    ]\n  }\n}\n";
        let out = edit(text, |v| {
            v["hooks"]["Stop"].as_array_mut().unwrap().push(json!({"hooks": [{"type": "command", "command": "/bin/orch-hook stop", "timeout": 10}]}));
            v["hooks"]["SessionEnd"] =
                json!([{"hooks": [{"type": "command", "command": "/bin/orch-hook session_end"}]}]);
        });
        assert_eq!(
            out,
            "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\", \"Read(*)\"]},\n  \"model\":   \"opus\",\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"type\": \"command\", \"command\": \"say done\"}]},\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"/bin/orch-hook stop\",\n            \"timeout\": 10\n          }\n        ]\n      }\n    ],\n    \"SessionEnd\": [\n      {\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"/bin/orch-hook session_end\"\n          }\n        ]\n      }\n    ]\n  }\n}\n"
        );
    }

    #[test]
    fn new_key_in_an_empty_or_missing_container() {
        assert_eq!(
            edit("{}\n", |v| v["hooks"] = json!({"Stop": []})),
            "{\n  \"hooks\": {\n    \"Stop\": []\n  }\n}\n"
        );
        assert_eq!(
            edit("{\n  \"model\": \"opus\"\n}", |v| v["hooks"] = json!({})),
            "{\n  \"model\": \"opus\",\n  \"hooks\": {}\n}"
        );
    }

    #[test]
    fn removals_take_their_separator_along() {
        let text = "{\n  \"a\": 1,\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"command\": \"x\"}]},\n      {\"hooks\": [{\"command\": \"orch\"}]}\n    ]\n  },\n  \"z\": 2\n}\n";
        let out = edit(text, |v| {
            v["hooks"]["Stop"].as_array_mut().unwrap().pop();
        });
        assert_eq!(
            out,
            "{\n  \"a\": 1,\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"command\": \"x\"}]}\n    ]\n  },\n  \"z\": 2\n}\n"
        );
        let out = edit(text, |v| {
            v.as_object_mut().unwrap().shift_remove("hooks");
        });
        assert_eq!(out, "{\n  \"a\": 1,\n  \"z\": 2\n}\n");
    }

    #[test]
    fn in_place_string_edit() {
        let text = "{\"hooks\":{\"Stop\":[{\"hooks\":[{\"type\":\"command\",\"command\":\"/old/orch-hook stop\",\"timeout\":30}]}]}}";
        let out = edit(text, |v| {
            v["hooks"]["Stop"][0]["hooks"][0]["command"] = json!("/new/orch-hook stop")
        });
        assert_eq!(out, text.replace("/old/", "/new/"));
    }

    #[test]
    fn compact_files_stay_compact_and_crlf_stays_crlf() {
        let out = edit("{\"model\": \"opus\"}", |v| {
            v["hooks"] = json!({"Stop": [{"hooks": []}]})
        });
        assert_eq!(
            out,
            "{\"model\": \"opus\", \"hooks\": {\"Stop\":[{\"hooks\":[]}]}}"
        );
        let out = edit("{\r\n  \"a\": 1\r\n}\r\n", |v| v["b"] = json!([1]));
        assert_eq!(
            out,
            "{\r\n  \"a\": 1,\r\n  \"b\": [\r\n    1\r\n  ]\r\n}\r\n"
        );
    }

    #[test]
    fn escapes_and_unicode_in_untouched_parts_are_kept_verbatim() {
        let text = "{\n  \"k\": \"caf\\u00e9 \\ud83d\\ude00 \\/\",\n  \"n\": 1.50\n}\n";
        let out = edit(text, |v| v["x"] = json!(true));
        assert!(
            out.starts_with("{\n  \"k\": \"caf\\u00e9 \\ud83d\\ude00 \\/\",\n  \"n\": 1.50,\n"),
            "{out}"
        );
    }

    #[test]
    fn key_order_is_verified() {
        let a = json!({"a": 1, "b": 2});
        let mut b = serde_json::Map::new();
        b.insert("b".into(), json!(2));
        b.insert("a".into(), json!(1));
        assert_eq!(a, Value::Object(b.clone()), "serde_json ignores order");
        assert!(!same(&a, &Value::Object(b)));
    }
}

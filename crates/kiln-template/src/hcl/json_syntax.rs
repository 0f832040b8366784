//! HCL's JSON syntax (`.pkr.json`). The document is rewritten into native syntax following
//! Packer's schema (which keys are blocks, how many labels they take) and parsed like a
//! `.pkr.hcl` file. Every value is written on the line it has in the JSON text, so diagnostics
//! keep pointing at the right line of the `.pkr.json` file.

use std::sync::Arc;

use hcl_edit::structure::Body;

use kiln_config::diag::{Diagnostic, SourceFile, Span};
use kiln_config::node::{Node, NodeKind};

/// A JSON value with the byte offset where it starts.
#[derive(Debug)]
enum J {
    Null,
    Bool(bool),
    /// The number's text as written.
    Num(String),
    Str(String),
    Arr(Vec<(usize, J)>),
    /// Members in order (duplicates kept), each with the key's offset.
    Obj(Vec<(String, usize, (usize, J))>),
}

/// The rewritten file (named like the JSON file, with the same line numbers) and its body. The
/// JSON text is read by the template's JSON parser (`crate::json::parse_keeping_duplicates`).
pub(crate) fn parse(file: &Arc<SourceFile>) -> Result<(Arc<SourceFile>, Body), Diagnostic> {
    let text = &file.text;
    let node = crate::json::parse_keeping_duplicates(file)?;
    let (_, J::Obj(members)) = to_j(&node) else {
        return Err(Diagnostic::error("a .pkr.json file must hold one JSON object")
            .at_opt(node.span.clone())
            .with_help("write it as {\"source\": {...}, \"build\": {...}}"));
    };
    let mut w = Writer { out: String::new(), line: 1, src: text };
    w.top(&members);
    // The rewritten text is parsed with the JSON file's name: lines match the JSON text.
    let generated = SourceFile::new(&file.path, w.out);
    let body = hcl_edit::parser::parse_body(&generated.text).map_err(|e| {
        let (line, _) = Span::at_char(&generated, e.location().offset()).line_col();
        let message = e.message();
        if message.contains("redefined attribute") {
            if let Some(d) = duplicate_key(file, &members, line) {
                return d;
            }
        }
        let json_off = line_start(text, line);
        Diagnostic::error(format!("invalid expression in JSON syntax: {}", message.lines().next().unwrap_or("")))
            .at(Span::new(file, json_off, json_off + 1))
            .with_help("strings in .pkr.json files are HCL templates; check the `${ }` expressions on this line")
    })?;
    Ok((generated, body))
}

/// A key set twice in one object below the top level (an argument given twice in a block), for
/// the parser's "redefined attribute": the one whose second use is on `line`, else the first.
fn duplicate_key(file: &Arc<SourceFile>, top: &[(String, usize, (usize, J))], line: usize) -> Option<Diagnostic> {
    fn walk(members: &[(String, usize, (usize, J))], found: &mut Vec<(String, usize, usize)>) {
        for (i, (k, at, _)) in members.iter().enumerate() {
            if let Some((_, first, _)) = members[..i].iter().find(|(k2, _, _)| k2 == k) {
                found.push((k.clone(), *first, *at));
            }
        }
        for (_, _, (_, v)) in members {
            walk_value(v, found);
        }
    }
    fn walk_value(v: &J, found: &mut Vec<(String, usize, usize)>) {
        match v {
            J::Obj(m) => walk(m, found),
            J::Arr(a) => a.iter().for_each(|(_, v)| walk_value(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for (_, _, (_, v)) in top {
        walk_value(v, &mut found);
    }
    let line_of = |off: usize| file.text[..off.min(file.text.len())].matches('\n').count() + 1;
    let (key, first, second) =
        found.iter().find(|(_, _, second)| line_of(*second) == line).or_else(|| found.first())?.clone();
    let end = (second + key.len() + 2).min(file.text.len());
    Some(
        Diagnostic::error(format!("\"{key}\" is set twice in this block (first on line {})", line_of(first)))
            .at(Span::new(file, second, end))
            .with_help("each argument may be set only once in a block: remove one of them"),
    )
}

/// A parsed node as the writer's value, with the offset where it starts; a number keeps its
/// text as written.
fn to_j(n: &Node) -> (usize, J) {
    let at = n.span.as_ref().map_or(0, |s| s.start);
    let j = match &n.kind {
        NodeKind::Bool(b) => J::Bool(*b),
        NodeKind::Number(f) => J::Num(n.span.as_ref().map_or_else(|| f.to_string(), |s| s.text().to_string())),
        NodeKind::String(s) => J::Str(s.clone()),
        NodeKind::Array(a) => J::Arr(a.iter().map(to_j).collect()),
        NodeKind::Object(m) => {
            J::Obj(m.iter().map(|(k, v)| (k.name.clone(), k.span.as_ref().map_or(at, |s| s.start), to_j(v))).collect())
        }
        NodeKind::Null | NodeKind::Blocks(_) | NodeKind::Late(_) => J::Null,
    };
    (at, j)
}

fn line_start(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n').nth(line - 2).map_or(text.len(), |(i, _)| i + 1)
}

/// Writes native syntax, keeping each item on its JSON line.
struct Writer<'a> {
    out: String,
    line: usize,
    src: &'a str,
}

/// How a key inside a block body is written.
#[derive(Clone, Copy)]
enum Schema {
    /// Everything is an attribute (component configuration).
    Attrs,
    Variable,
    Build,
    Packer,
    Validation,
}

impl Writer<'_> {
    fn line_of(&self, off: usize) -> usize {
        self.src[..off.min(self.src.len())].matches('\n').count() + 1
    }

    /// Moves the output to `off`'s line (never backwards).
    fn goto(&mut self, off: usize) {
        let target = self.line_of(off);
        while self.line < target {
            self.out.push('\n');
            self.line += 1;
        }
    }

    fn push(&mut self, s: &str) {
        self.line += s.matches('\n').count();
        self.out.push_str(s);
    }

    fn newline(&mut self) {
        self.push("\n");
    }

    fn top(&mut self, members: &[(String, usize, (usize, J))]) {
        for (k, kat, (_, v)) in members {
            match (k.as_str(), v) {
                ("//", _) => {}
                ("variable", J::Obj(m)) => self.labelled(k, *kat, m, 1, Schema::Variable),
                ("source" | "data", J::Obj(m)) => self.labelled(k, *kat, m, 2, Schema::Attrs),
                ("local", J::Obj(m)) => self.labelled(k, *kat, m, 1, Schema::Attrs),
                ("locals" | "variables", _) => self.blocks(k, *kat, v, Schema::Attrs),
                ("build", _) => self.blocks(k, *kat, v, Schema::Build),
                ("packer", _) => self.blocks(k, *kat, v, Schema::Packer),
                // Unknown keys become blocks so that the loader reports them like native ones.
                (_, J::Obj(_)) => self.blocks(k, *kat, v, Schema::Attrs),
                _ => self.attr(k, *kat, v),
            }
        }
        self.newline();
    }

    /// `"kind": {"l1": {"l2": {body}}}` with `n` labels.
    fn labelled(&mut self, kind: &str, kat: usize, m: &[(String, usize, (usize, J))], n: usize, schema: Schema) {
        for (label, lat, (_, v)) in m {
            if label == "//" {
                continue;
            }
            if n == 2 {
                if let J::Obj(inner) = v {
                    for (l2, l2at, (_, body)) in inner {
                        if l2 == "//" {
                            continue;
                        }
                        self.goto(*l2at);
                        let head = format!("{kind} {} {}", quote(label), quote(l2));
                        self.block(&head, body, schema);
                    }
                    continue;
                }
            }
            self.goto(*lat);
            let _ = kat;
            let head = format!("{kind} {}", quote(label));
            self.block(&head, v, schema);
        }
    }

    /// An unlabelled block (`build`, `locals`, `packer`), given as an object or array of objects.
    fn blocks(&mut self, kind: &str, kat: usize, v: &J, schema: Schema) {
        match v {
            J::Arr(items) => {
                for (at, item) in items {
                    self.goto(*at);
                    self.block(kind, item, schema);
                }
            }
            other => {
                self.goto(kat);
                self.block(kind, other, schema);
            }
        }
    }

    fn block(&mut self, head: &str, body: &J, schema: Schema) {
        self.newline_if_needed();
        self.push(head);
        self.push(" {");
        self.newline();
        if let J::Obj(m) = body {
            self.body(m, schema);
        }
        self.newline_if_needed();
        self.push("}");
        self.newline();
    }

    fn newline_if_needed(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.newline();
        }
    }

    fn body(&mut self, m: &[(String, usize, (usize, J))], schema: Schema) {
        for (k, kat, (_, v)) in m {
            if k == "//" {
                continue;
            }
            self.newline_if_needed();
            match (schema, k.as_str(), v) {
                (Schema::Variable, "type", J::Str(t)) => {
                    self.goto(*kat);
                    // The type is an expression written as a string.
                    self.push(&format!("type = {t}"));
                }
                (Schema::Variable, "validation", _) => self.blocks("validation", *kat, v, Schema::Validation),
                (Schema::Build, "source", J::Obj(m)) => self.labelled("source", *kat, m, 1, Schema::Attrs),
                (
                    Schema::Build,
                    "provisioner" | "post-processor" | "error-cleanup-provisioner" | "hcp_packer_registry",
                    _,
                ) => self.typed_blocks(k, *kat, v),
                (Schema::Build, "post-processors", J::Arr(chains)) => {
                    for (at, chain) in chains {
                        self.goto(*at);
                        self.newline_if_needed();
                        self.push("post-processors {");
                        self.newline();
                        if let J::Obj(cm) = chain {
                            for (ck, ckat, (_, cv)) in cm {
                                if ck == "post-processor" {
                                    self.typed_blocks(ck, *ckat, cv);
                                }
                            }
                        }
                        self.newline_if_needed();
                        self.push("}");
                        self.newline();
                    }
                }
                (Schema::Packer, "required_plugins", _) => self.blocks("required_plugins", *kat, v, Schema::Attrs),
                _ => self.attr(k, *kat, v),
            }
        }
    }

    /// `"provisioner": {"shell": {…}}` or `[{"shell": {…}}, {"file": {…}}]`.
    fn typed_blocks(&mut self, kind: &str, kat: usize, v: &J) {
        match v {
            J::Obj(m) => self.labelled(kind, kat, m, 1, Schema::Attrs),
            J::Arr(items) => {
                for (_, item) in items {
                    if let J::Obj(m) = item {
                        self.labelled(kind, kat, m, 1, Schema::Attrs);
                    }
                }
            }
            _ => self.attr(kind, kat, v),
        }
    }

    fn attr(&mut self, k: &str, kat: usize, v: &J) {
        self.goto(kat);
        self.newline_if_needed();
        self.push(k);
        self.push(" = ");
        self.expr(v);
        self.newline();
    }

    fn expr(&mut self, v: &J) {
        match v {
            J::Null => self.push("null"),
            J::Bool(b) => self.push(if *b { "true" } else { "false" }),
            J::Num(n) => self.push(n),
            J::Str(s) => self.push(&quote(s)),
            J::Arr(items) => {
                self.push("[");
                for (i, (at, item)) in items.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.goto(*at);
                    self.expr(item);
                }
                self.push("]");
            }
            J::Obj(m) => {
                self.push("{");
                for (i, (k, kat, (_, item))) in m.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.goto(*kat);
                    self.push(&quote(k));
                    self.push(" = ");
                    self.expr(item);
                }
                self.push("}");
            }
        }
    }
}

/// A JSON string as an HCL quoted template: `${` and `%{` keep their meaning.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

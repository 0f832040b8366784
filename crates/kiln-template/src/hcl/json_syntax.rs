//! HCL's JSON syntax (`.pkr.json`). The document is rewritten into native syntax following
//! Packer's schema (which keys are blocks, how many labels they take) and parsed like a
//! `.pkr.hcl` file. Every value is written on the line it has in the JSON text, so diagnostics
//! keep pointing at the right line of the `.pkr.json` file.

use std::sync::Arc;

use hcl_edit::structure::Body;

use kiln_config::diag::{Diagnostic, SourceFile, Span};

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

/// The rewritten file (named like the JSON file, with the same line numbers) and its body.
pub(crate) fn parse(file: &Arc<SourceFile>) -> Result<(Arc<SourceFile>, Body), Diagnostic> {
    let text = &file.text;
    let mut p = Parser { s: text.as_bytes(), text, i: 0 };
    p.ws();
    let start = p.i;
    let root = p.value().map_err(|(off, msg)| json_error(file, off, &msg))?;
    p.ws();
    if p.i < text.len() {
        return Err(json_error(file, p.i, "unexpected text after the JSON document"));
    }
    let J::Obj(members) = root else {
        return Err(json_error(file, start, "a .pkr.json file must hold one JSON object"));
    };
    let mut w = Writer { out: String::new(), line: 1, src: text };
    w.top(&members);
    // The rewritten text is parsed with the JSON file's name: lines match the JSON text.
    let generated = SourceFile::new(&file.path, w.out);
    let body = hcl_edit::parser::parse_body(&generated.text).map_err(|e| {
        let (line, _) = Span::at_char(&generated, e.location().offset()).line_col();
        let json_off = line_start(text, line);
        Diagnostic::error(format!("invalid expression in JSON syntax: {}", e.message().lines().next().unwrap_or("")))
            .at(Span::new(file, json_off, json_off + 1))
            .with_help("strings in .pkr.json files are HCL templates; check the `${ }` expressions on this line")
    })?;
    Ok((generated, body))
}

fn json_error(file: &Arc<SourceFile>, off: usize, msg: &str) -> Diagnostic {
    Diagnostic::error(format!("invalid JSON: {msg}")).at(Span::new(file, off, off + 1))
}

fn line_start(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n').nth(line - 2).map_or(text.len(), |(i, _)| i + 1)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

type PResult<T> = Result<T, (usize, String)>;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn value(&mut self) -> PResult<J> {
        self.ws();
        match self.s.get(self.i) {
            None => Err((self.i, "unexpected end of file".into())),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(J::Str),
            Some(b't') => self.word("true", J::Bool(true)),
            Some(b'f') => self.word("false", J::Bool(false)),
            Some(b'n') => self.word("null", J::Null),
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    self.i += 1;
                }
                let t = &self.text[start..self.i];
                if t.parse::<f64>().is_err() {
                    return Err((start, format!("invalid number {t:?}")));
                }
                Ok(J::Num(t.to_string()))
            }
            Some(_) => Err((self.i, "expected a value (string, number, object, array, true, false or null)".into())),
        }
    }

    fn word(&mut self, w: &str, v: J) -> PResult<J> {
        if self.text[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            Err((self.i, "expected a value".into()))
        }
    }

    fn string(&mut self) -> PResult<String> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err((start, "unterminated string".into()));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let e = self.s.get(self.i + 1).copied();
                    self.i += 2;
                    match e {
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        Some(b'r') => out.push('\r'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'/') => out.push('/'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        Some(b'u') => {
                            let hex = self.text.get(self.i..self.i + 4).unwrap_or("");
                            let Ok(mut cp) = u32::from_str_radix(hex, 16) else {
                                return Err((self.i, "invalid \\u escape".into()));
                            };
                            self.i += 4;
                            // A surrogate pair encodes one character outside the BMP.
                            if (0xD800..0xDC00).contains(&cp) && self.text[self.i..].starts_with("\\u") {
                                if let Ok(lo) =
                                    u32::from_str_radix(self.text.get(self.i + 2..self.i + 6).unwrap_or(""), 16)
                                {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                                    self.i += 6;
                                }
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err((self.i - 1, "invalid escape in string".into())),
                    }
                }
                _ => {
                    // Copy one UTF-8 character.
                    let ch_len = self.text[self.i..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&self.text[self.i..self.i + ch_len]);
                    self.i += ch_len;
                }
            }
        }
    }

    fn array(&mut self) -> PResult<J> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(J::Arr(items));
        }
        loop {
            self.ws();
            let at = self.i;
            items.push((at, self.value()?));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(J::Arr(items));
                }
                _ => return Err((self.i, "expected `,` or `]` after an array element".into())),
            }
        }
    }

    fn object(&mut self) -> PResult<J> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(J::Obj(members));
        }
        loop {
            self.ws();
            let kat = self.i;
            if self.s.get(self.i) != Some(&b'"') {
                return Err((self.i, "expected a quoted key".into()));
            }
            let k = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err((self.i, "expected `:` after the key".into()));
            }
            self.i += 1;
            self.ws();
            let vat = self.i;
            let v = self.value()?;
            members.push((k, kat, (vat, v)));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(J::Obj(members));
                }
                _ => return Err((self.i, "expected `,` or `}` after an object member".into())),
            }
        }
    }
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

//! Test support: a small JSON reader that produces a spanned [`Node`] tree, so tests of
//! decoding and of the build engine can write configuration as text and still check
//! `file:line:col` in errors. It is not the template loader (no interpolation, no comments).

use std::sync::Arc;

use crate::diag::{SourceFile, Span};
use crate::node::{Key, Node, NodeKind};

/// Parses `text` (strict JSON) as file `path`. Errors are plain messages with a byte offset.
pub fn json_node(path: &str, text: &str) -> Result<Node, String> {
    let file = SourceFile::new(path, text);
    let mut p = Parser { file: &file, s: text.as_bytes(), i: 0 };
    let n = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing text at byte {}", p.i));
    }
    Ok(n)
}

struct Parser<'a> {
    file: &'a Arc<SourceFile>,
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn span(&self, start: usize) -> Option<Span> {
        Some(Span::new(self.file, start, self.i))
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        self.ws();
        let start = self.i;
        let kind = match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let kstart = self.i;
                        let name = self.string()?;
                        let key = Key { name, span: self.span(kstart) };
                        self.eat(b':')?;
                        members.push((key, self.value()?));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(format!("expected , or }} at byte {}", self.i)),
                        }
                    }
                }
                NodeKind::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(format!("expected , or ] at byte {}", self.i)),
                        }
                    }
                }
                NodeKind::Array(items)
            }
            Some(b'"') => NodeKind::String(self.string()?),
            _ => {
                let end = self.s[self.i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || b"+-.".contains(c)))
                    .map_or(self.s.len(), |p| self.i + p);
                let word = std::str::from_utf8(&self.s[self.i..end]).map_err(|e| e.to_string())?;
                self.i = end;
                match word {
                    "null" => NodeKind::Null,
                    "true" => NodeKind::Bool(true),
                    "false" => NodeKind::Bool(false),
                    w => NodeKind::Number(w.parse().map_err(|_| format!("bad value {w:?} at byte {start}"))?),
                }
            }
        };
        Ok(Node::new(kind, self.span(start)))
    }

    fn string(&mut self) -> Result<String, String> {
        self.ws();
        let start = self.i;
        self.eat(b'"')?;
        while self.i < self.s.len() && self.s[self.i] != b'"' {
            self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
        }
        self.i += 1;
        let raw =
            std::str::from_utf8(self.s.get(start..self.i).ok_or("unterminated string")?).map_err(|e| e.to_string())?;
        serde_json::from_str(raw).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values_and_keys() {
        let n = json_node("t.json", "{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": true}\n}").unwrap();
        let NodeKind::Object(m) = &n.kind else { panic!("not an object") };
        assert_eq!(m[1].0.span.as_ref().unwrap().line_col(), (3, 3));
        let c = n.get("b").and_then(|b| b.get("c")).unwrap();
        assert_eq!(c.span.as_ref().unwrap().line_col(), (3, 14));
        assert_eq!(c.kind, NodeKind::Bool(true));
        assert!(json_node("t", "{\"a\" 1}").is_err());
    }
}

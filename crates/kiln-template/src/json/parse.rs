//! A JSON parser that keeps a [`Span`] on every value and key.
//!
//! serde_json drops positions, and Go's decoder (Packer's) reports only a byte offset with a
//! terse message. This parser accepts exactly RFC 8259 JSON (plus a leading UTF-8 BOM) and, on
//! the mistakes people make in hand-written templates (comments, trailing commas, missing commas
//! or colons, single quotes), says what is wrong and how to fix it. The reported line is the one
//! Packer reports; for a missing comma the marker sits after the value that needs one.
//!
//! Duplicate keys are errors, as in Packer ("template has duplicate field").

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, SourceFile, Span};
use kiln_config::node::{Key, Node, NodeKind};

/// Nesting deeper than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 256;

/// Parses the whole file as one JSON value.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    parse_with(file, false)
}

/// Parses the whole file as one JSON value, keeping a key given twice in an object (HCL's JSON
/// syntax allows that: each is one more block, as with Packer 1.6.6). Its objects can hold
/// duplicate keys, unlike other nodes'.
pub fn parse_keeping_duplicates(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    parse_with(file, true)
}

/// What an empty file of this kind should hold.
fn empty_help(path: &str) -> &'static str {
    if path.ends_with(".pkrvars.json") {
        "a variable file holds one object of values, such as {\"region\": \"eu-west-1\"}"
    } else if path.ends_with(".pkr.json") {
        "an HCL2 template in JSON holds one object, such as {\"source\": {...}, \"build\": {...}}"
    } else {
        "a template starts with `{` and holds at least a \"builders\" list"
    }
}

fn parse_with(file: &Arc<SourceFile>, duplicates: bool) -> Result<Node, Diagnostic> {
    let mut p = Parser { file, src: file.text.as_bytes(), pos: 0, depth: 0, duplicates };
    if p.src.starts_with(b"\xEF\xBB\xBF") {
        p.pos = 3;
    }
    p.skip_ws()?;
    if p.pos >= p.src.len() {
        return Err(Diagnostic::error("the file is empty: expected a JSON object")
            .at(p.span(p.pos, p.pos))
            .with_help(empty_help(&file.path.to_string_lossy())));
    }
    let node = p.value()?;
    p.skip_ws()?;
    if p.pos < p.src.len() {
        let c = p.char_at(p.pos);
        let closing = matches!(c, '}' | ']');
        let mut d = Diagnostic::error(format!("unexpected `{c}` after the end of the JSON document"))
            .at(p.span(p.pos, p.pos + c.len_utf8()));
        d = if closing {
            d.with_help(format!("remove this `{c}`: it closes nothing (check the brackets above it)"))
        } else {
            d.with_help("a template is one JSON object; remove what follows its closing `}`")
        };
        return Err(d);
    }
    Ok(node)
}

struct Parser<'a> {
    file: &'a Arc<SourceFile>,
    src: &'a [u8],
    pos: usize,
    depth: usize,
    /// Keep duplicate keys instead of rejecting them.
    duplicates: bool,
}

impl Parser<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn char_at(&self, pos: usize) -> char {
        self.file.text.get(pos..).and_then(|s| s.chars().next()).unwrap_or('\u{fffd}')
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// Skips whitespace; a comment is an error (JSON has none) with advice.
    fn skip_ws(&mut self) -> Result<(), Diagnostic> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' | b'#' => return Err(self.comment_error()),
                _ => break,
            }
        }
        Ok(())
    }

    fn comment_error(&self) -> Diagnostic {
        let start = self.pos;
        let rest = &self.src[start..];
        let end = if rest.starts_with(b"/*") {
            find(rest, b"*/").map_or(self.src.len(), |i| start + i + 2)
        } else {
            rest.iter().position(|&b| b == b'\n').map_or(self.src.len(), |i| start + i)
        };
        let end = end.min(start + line_len(rest));
        Diagnostic::error("JSON does not allow comments")
            .at(self.span(start, end))
            .with_help("remove the comment, or put the note in a \"_comment\" key of the template or of a component")
    }

    fn value(&mut self) -> Result<Node, Diagnostic> {
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => {
                let s = self.string()?;
                Ok(Node::new(NodeKind::String(s), Some(self.span(start, self.pos))))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') if self.src[start..].starts_with(b"true") => self.literal(4, NodeKind::Bool(true)),
            Some(b'f') if self.src[start..].starts_with(b"false") => self.literal(5, NodeKind::Bool(false)),
            Some(b'n') if self.src[start..].starts_with(b"null") => self.literal(4, NodeKind::Null),
            Some(b'\'') => {
                let end = self.src[start + 1..].iter().position(|&b| b == b'\'' || b == b'\n');
                let end = end.map_or(start + 1, |i| start + i + 2);
                Err(Diagnostic::error("JSON strings must use double quotes")
                    .at(self.span(start, end))
                    .with_help("replace the single quotes `'` with double quotes `\"`"))
            }
            None => Err(Diagnostic::error("the file ends where a value was expected")
                .at(self.span(start, start))
                .with_help("complete the value and close every `{` and `[`")),
            Some(_) => {
                let word = self.word(start);
                let mut d = Diagnostic::error(format!("expected a value, found `{word}`"))
                    .at(self.span(start, start + word.len()));
                d = match word.to_ascii_lowercase().as_str() {
                    "true" | "false" | "null" => {
                        d.with_help(format!("JSON literals are lower case: `{}`", word.to_ascii_lowercase()))
                    }
                    _ if word.starts_with(|c: char| c.is_alphabetic()) => {
                        d.with_help(format!("strings must be quoted: \"{word}\""))
                    }
                    _ => d.with_help(
                        "a value is a string in double quotes, a number, true, false, null, an object or a list",
                    ),
                };
                Err(d)
            }
        }
    }

    /// The identifier-like word (or single character) at `start`, for messages.
    fn word(&self, start: usize) -> &str {
        let rest = &self.file.text[start.min(self.src.len())..];
        let n = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
        } else {
            &rest[..n]
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Node, Diagnostic>) -> Result<Node, Diagnostic> {
        if self.depth >= MAX_DEPTH {
            return Err(Diagnostic::error(format!("nesting deeper than {MAX_DEPTH} levels"))
                .at(self.span(self.pos, self.pos + 1)));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn literal(&mut self, len: usize, kind: NodeKind) -> Result<Node, Diagnostic> {
        let start = self.pos;
        self.pos += len;
        if self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let word = self.word(start).to_string();
            return Err(Diagnostic::error(format!("expected a value, found `{word}`"))
                .at(self.span(start, start + word.len()))
                .with_help(format!("strings must be quoted: \"{word}\"")));
        }
        Ok(Node::new(kind, Some(self.span(start, self.pos))))
    }

    fn number(&mut self) -> Result<Node, Diagnostic> {
        let start = self.pos;
        let s = self.src;
        let mut i = start;
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let from = *i;
            while s.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let int_start = i;
        let n = digits(&mut i);
        let mut ok = n > 0 && !(n > 1 && s[int_start] == b'0');
        if ok && s.get(i) == Some(&b'.') {
            i += 1;
            ok = digits(&mut i) > 0;
        }
        if ok && matches!(s.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            ok = digits(&mut i) > 0;
        }
        // A number glued to letters (`10s`, `0x1F`) is a bad number too.
        while s.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.') {
            ok = false;
            i += 1;
        }
        let text = &self.file.text[start..i];
        let value = if ok { text.parse::<f64>().ok() } else { None };
        if value.is_some_and(f64::is_infinite) {
            return Err(Diagnostic::error(format!("the number `{text}` is too large"))
                .at(self.span(start, i))
                .with_help("numbers must fit a 64-bit float; quote it if it is meant as text"));
        }
        let Some(v) = value else {
            return Err(Diagnostic::error(format!("invalid number `{text}`")).at(self.span(start, i)).with_help(
                format!("write numbers like 10, -1.5 or 2e3; other text must be a quoted string: \"{text}\""),
            ));
        };
        self.pos = i;
        Ok(Node::new(NodeKind::Number(v), Some(self.span(start, i))))
    }

    /// A string starting at the current `"`; returns its decoded text.
    fn string(&mut self) -> Result<String, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.unterminated(start));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => self.escape(&mut out)?,
                b'\n' | b'\r' => return Err(self.unterminated(start)),
                0..=0x1f => {
                    return Err(Diagnostic::error("control character inside a string")
                        .at(self.span(self.pos, self.pos + 1))
                        .with_help("write tabs as \\t and other control characters as \\u00XX"));
                }
                _ => {
                    let rest = &self.file.text[self.pos..];
                    let n = rest.find(['"', '\\', '\n', '\r']).unwrap_or(rest.len());
                    let chunk = &rest[..n];
                    if let Some(i) = chunk.bytes().position(|b| b < 0x20) {
                        out.push_str(&chunk[..i]);
                        self.pos += i;
                    } else {
                        out.push_str(chunk);
                        self.pos += n;
                    }
                }
            }
        }
    }

    fn unterminated(&self, start: usize) -> Diagnostic {
        let end = start + line_len(&self.src[start..]);
        Diagnostic::error("unterminated string: the line ends before the closing `\"`")
            .at(self.span(start, end))
            .with_help("close the string on the same line; write line breaks inside strings as \\n")
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Diagnostic> {
        let at = self.pos;
        let c = self.src.get(at + 1).copied();
        self.pos += 2;
        let simple = match c {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            return Ok(());
        }
        if c == Some(b'u') {
            let hi = self.hex4(at)?;
            if (0xD800..0xDC00).contains(&hi) && self.src[self.pos..].starts_with(b"\\u") {
                let save = self.pos;
                self.pos += 2;
                let lo = self.hex4(save)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                    return Ok(());
                }
                out.push('\u{fffd}');
                self.pos = save;
                return Ok(());
            }
            // Lone surrogates become U+FFFD, as Go's decoder does.
            out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
            return Ok(());
        }
        let shown = self.char_at(at + 1);
        Err(Diagnostic::error(format!("invalid escape `\\{shown}` in a string"))
            .at(self.span(at, at + 1 + shown.len_utf8()))
            .with_help("valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX; write a backslash as \\\\"))
    }

    /// Four hex digits after `\u` (self.pos is just past the `u`).
    fn hex4(&mut self, esc_start: usize) -> Result<u32, Diagnostic> {
        let hex = self.src.get(self.pos..self.pos + 4).and_then(|h| std::str::from_utf8(h).ok());
        match hex
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .filter(|_| hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
        {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(Diagnostic::error("invalid \\u escape: expected four hex digits")
                .at(self.span(esc_start, (esc_start + 6).min(self.src.len())))
                .with_help("write a backslash as \\\\")),
        }
    }

    fn object(&mut self) -> Result<Node, Diagnostic> {
        let open = self.pos;
        self.pos += 1;
        let mut members: Vec<(Key, Node)> = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::object(members, Some(self.span(open, self.pos))));
        }
        loop {
            // Key.
            self.skip_ws()?;
            let key_start = self.pos;
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.unclosed(open, '{', '}')),
                Some(_) => return Err(self.bad_key(key_start)),
            }
            let name = self.string()?;
            let key = Key { name, span: Some(self.span(key_start, self.pos)) };
            // Colon.
            self.skip_ws()?;
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.unclosed(open, '{', '}')),
                Some(_) => {
                    let at = self.pos;
                    // Show the value the user wrote, when it is a string on the same line.
                    let rest = &self.file.text[at..];
                    let line = &rest[..line_len(rest.as_bytes())];
                    let value = match line.strip_prefix('"').and_then(|l| l.find('"')) {
                        Some(end) => &line[..end + 2],
                        None => "value",
                    };
                    return Err(Diagnostic::error(format!("missing `:` after the key \"{}\"", key.name))
                        .at(self.span(at, at + 1))
                        .with_help(format!("write `\"{}\": {value}`", key.name)));
                }
            }
            self.skip_ws()?;
            if self.peek() == Some(b'}') {
                return Err(Diagnostic::error(format!("missing value for the key \"{}\"", key.name))
                    .at(self.span(self.pos, self.pos + 1))
                    .with_help(format!("give \"{}\" a value, or remove it", key.name)));
            }
            let value = self.value()?;
            if let Some((first, _)) = members.iter().find(|(k, _)| k.name == key.name && !self.duplicates) {
                let first_at =
                    first.span.as_ref().map(|s| format!(" (first at line {})", s.line_col().0)).unwrap_or_default();
                return Err(Diagnostic::error(format!("duplicate key \"{}\"", key.name))
                    .at_opt(key.span.clone())
                    .with_detail(format!("\"{}\" is set twice in this object{first_at}; Packer rejects this", key.name))
                    .with_help("remove one of the two"));
            }
            let value_end = self.pos;
            members.push((key, value));
            // Separator.
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_ws()?;
                    if self.peek() == Some(b'}') {
                        return Err(self.trailing_comma(comma, '}', "member"));
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::object(members, Some(self.span(open, self.pos))));
                }
                None => return Err(self.unclosed(open, '{', '}')),
                Some(b) => return Err(self.missing_comma(value_end, b, "between object members", '}')),
            }
        }
    }

    fn array(&mut self) -> Result<Node, Diagnostic> {
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::new(NodeKind::Array(items), Some(self.span(open, self.pos))));
        }
        loop {
            self.skip_ws()?;
            if self.peek().is_none() {
                return Err(self.unclosed(open, '[', ']'));
            }
            items.push(self.value()?);
            let value_end = self.pos;
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_ws()?;
                    if self.peek() == Some(b']') {
                        return Err(self.trailing_comma(comma, ']', "item"));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::new(NodeKind::Array(items), Some(self.span(open, self.pos))));
                }
                None => return Err(self.unclosed(open, '[', ']')),
                Some(b) => return Err(self.missing_comma(value_end, b, "between list items", ']')),
            }
        }
    }

    /// Marks the closing bracket (where Packer reports it) and says where the comma is.
    fn trailing_comma(&self, comma: usize, close: char, what: &str) -> Diagnostic {
        let (line, col) = self.file.line_col(comma);
        Diagnostic::error(format!("trailing comma before `{close}`"))
            .at(self.span(self.pos, self.pos + 1))
            .with_detail(format!("JSON allows no comma after the last {what}"))
            .with_help(format!("remove the `,` at line {line}, column {col}"))
    }

    /// `found` sits where a `,` or the closing bracket was expected.
    fn missing_comma(&self, value_end: usize, found: u8, what: &str, close: char) -> Diagnostic {
        let at = self.pos;
        let starts_value = matches!(found, b'"' | b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n');
        if !starts_value {
            let c = self.char_at(at);
            let wrong_close = if close == '}' { ']' } else { '}' };
            let help = if c == wrong_close {
                format!("this `{c}` does not match the open bracket: close it with `{close}`")
            } else {
                format!("expected `,` or `{close}` here")
            };
            return Diagnostic::error(format!("unexpected `{c}` after a value"))
                .at(self.span(at, at + c.len_utf8()))
                .with_help(help);
        }
        let (prev_line, _) = self.file.line_col(value_end);
        let prev_start = self.file.text[..value_end].rfind('\n').map_or(0, |i| i + 1);
        let prev = self.file.text[prev_start..value_end].trim();
        let (line, col) = self.file.line_col(at);
        let prev_shown: String = if prev.chars().count() > 40 {
            let tail: Vec<char> = prev.chars().rev().take(37).collect();
            format!("...{}", tail.into_iter().rev().collect::<String>())
        } else {
            prev.to_string()
        };
        Diagnostic::error(format!("missing comma {what}"))
            .at(self.span(value_end, value_end))
            .with_detail(format!(
                "the next {} starts at line {line}, column {col} without a `,` before it",
                if close == '}' { "member" } else { "item" }
            ))
            .with_help(format!("add a `,` after `{prev_shown}` on line {prev_line}"))
    }

    fn bad_key(&self, at: usize) -> Diagnostic {
        let c = self.char_at(at);
        let word = self.word(at).to_string();
        match c {
            '}' => Diagnostic::error("trailing comma before `}`")
                .at(self.span(at, at + 1))
                .with_help("remove the `,` before this `}`"),
            '\'' => Diagnostic::error("object keys must use double quotes")
                .at(self.span(at, at + 1))
                .with_help("replace the single quotes `'` with double quotes `\"`"),
            _ if c.is_alphabetic() || c == '_' => Diagnostic::error(format!("object key `{word}` is not quoted"))
                .at(self.span(at, at + word.len()))
                .with_help(format!("write the key in double quotes: \"{word}\"")),
            _ => Diagnostic::error(format!("expected an object key in double quotes, found `{c}`"))
                .at(self.span(at, at + c.len_utf8()))
                .with_help("each member is written `\"key\": value`"),
        }
    }

    fn unclosed(&self, open: usize, o: char, c: char) -> Diagnostic {
        let (line, col) = self.file.line_col(open);
        Diagnostic::error(format!("the file ends before this `{o}` is closed"))
            .at(self.span(open, open + 1))
            .with_detail(format!("the `{o}` at line {line}, column {col} has no matching `{c}`"))
            .with_help(format!("add the missing `{c}`"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn line_len(s: &[u8]) -> usize {
    s.iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(s.len())
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

//! Splits a template into text and actions, and an action into tokens.
//!
//! Offsets are byte offsets into the whole template so every error can point at the exact
//! token. Trim markers (`{{- `, ` -}}`) are applied here, as Go does, by trimming the
//! neighbouring text.

use super::RenderError;

/// One piece of the template at the top level.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Literal text (already trimmed by neighbouring trim markers).
    Text(String),
    /// An action `{{ … }}`: `start..end` covers the delimiters; `toks` its contents.
    Action { start: usize, end: usize, toks: Vec<Tok> },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokKind {
    Ident(String),
    /// One `.Name` segment.
    Field(String),
    Dot,
    /// `$name`, or `$` alone.
    Var(String),
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
    Str(String),
    Num(String),
    Char(char),
    Bool(bool),
    Nil,
}

#[derive(Debug, Clone)]
pub(crate) struct Tok {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
    /// Whether whitespace separates this token from the previous one (field chains such as
    /// `$x.Name` or `(pipe).Name` need the parts to touch).
    pub spaced: bool,
}

fn err(message: impl Into<String>, offset: usize) -> RenderError {
    RenderError { message: message.into(), offset }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into items.
pub(crate) fn split(src: &str) -> Result<Vec<Item>, RenderError> {
    let bytes = src.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    // Set when the previous action ended with ` -}}`: the next text loses its leading space.
    let mut trim_next = false;
    loop {
        let next = src[pos..].find("{{").map(|i| pos + i);
        let text_end = next.unwrap_or(src.len());
        let mut text = &src[pos..text_end];
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = next else {
            if !text.is_empty() {
                items.push(Item::Text(text.to_string()));
            }
            return Ok(items);
        };
        // `{{-` followed by a space is a left trim marker; `{{-3}}` is a number.
        let trim_left = bytes.get(open + 2) == Some(&b'-') && bytes.get(open + 3).is_some_and(|b| is_space(*b));
        if trim_left {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let inner = if trim_left { open + 4 } else { open + 2 };
        // A comment `{{/* … */}}` must close right at the delimiter.
        let after_ws = skip_ws(bytes, inner);
        if src[if trim_left { after_ws } else { inner }..].starts_with("/*") {
            let cstart = if trim_left { after_ws } else { inner };
            let Some(close) = src[cstart + 2..].find("*/").map(|i| cstart + 2 + i) else {
                return Err(err("unclosed comment: add `*/}}` to close it", open));
            };
            let rest = close + 2;
            let (end, trim_right) = if src[rest..].starts_with("}}") {
                (rest + 2, false)
            } else if bytes.get(rest).is_some_and(|b| is_space(*b)) && src[rest + 1..].starts_with("-}}") {
                (rest + 4, true)
            } else {
                return Err(err("comment ends before closing delimiter: write `*/}}` with nothing in between", close));
            };
            trim_next = trim_right;
            pos = end;
            continue;
        }
        let (toks, end, trim_right) = lex_action(src, open, inner)?;
        items.push(Item::Action { start: open, end, toks });
        trim_next = trim_right;
        pos = end;
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_space(bytes[i]) {
        i += 1;
    }
    i
}

/// Lexes the inside of an action starting at `pos`; returns the tokens, the offset after the
/// closing delimiter and whether it had a right trim marker.
fn lex_action(src: &str, open: usize, mut pos: usize) -> Result<(Vec<Tok>, usize, bool), RenderError> {
    let bytes = src.as_bytes();
    let mut toks: Vec<Tok> = Vec::new();
    let mut parens: Vec<usize> = Vec::new();
    let mut spaced = true;
    loop {
        // Right delimiter, with or without trim marker.
        if src[pos..].starts_with("}}") {
            if let Some(&p) = parens.last() {
                return Err(err("unclosed left paren: add `)` before `}}`", p));
            }
            return Ok((toks, pos + 2, false));
        }
        let Some(c) = src[pos..].chars().next() else {
            return Err(err("unclosed action: add `}}` to close it", open));
        };
        if is_space(c as u8) && c.is_ascii() {
            if src[pos + 1..].starts_with("-}}") {
                if let Some(&p) = parens.last() {
                    return Err(err("unclosed left paren: add `)` before `}}`", p));
                }
                return Ok((toks, pos + 4, true));
            }
            pos += 1;
            spaced = true;
            continue;
        }
        if src[pos..].starts_with("{{") {
            return Err(err("unclosed action: add `}}` before the next `{{`", open));
        }
        let start = pos;
        let kind = match c {
            '|' => {
                pos += 1;
                TokKind::Pipe
            }
            ',' => {
                pos += 1;
                TokKind::Comma
            }
            '(' => {
                parens.push(pos);
                pos += 1;
                TokKind::LParen
            }
            ')' => {
                if parens.pop().is_none() {
                    return Err(err("unexpected right paren `)`", pos));
                }
                pos += 1;
                TokKind::RParen
            }
            ':' => {
                if bytes.get(pos + 1) != Some(&b'=') {
                    return Err(err("expected `:=` after `:`", pos));
                }
                pos += 2;
                TokKind::Declare
            }
            '=' => {
                pos += 1;
                TokKind::Assign
            }
            '"' => {
                let (s, end) = lex_quoted(src, pos)?;
                pos = end;
                TokKind::Str(s)
            }
            '`' => {
                let Some(close) = src[pos + 1..].find('`') else {
                    return Err(err("unterminated raw quoted string: add the closing backquote", pos));
                };
                let s = src[pos + 1..pos + 1 + close].replace('\r', "");
                pos = pos + close + 2;
                TokKind::Str(s)
            }
            '\'' => {
                let (ch, end) = lex_char(src, pos)?;
                pos = end;
                TokKind::Char(ch)
            }
            '$' => {
                pos += 1;
                let n = ident_len(&src[pos..]);
                let name = format!("${}", &src[pos..pos + n]);
                pos += n;
                TokKind::Var(name)
            }
            '.' if !bytes.get(pos + 1).is_some_and(|b| b.is_ascii_digit()) => {
                let n = ident_len(&src[pos + 1..]);
                if n == 0 {
                    pos += 1;
                    TokKind::Dot
                } else {
                    let name = src[pos + 1..pos + 1 + n].to_string();
                    pos += 1 + n;
                    TokKind::Field(name)
                }
            }
            '.' | '+' | '-' | '0'..='9' => {
                let end = scan_number(src, pos);
                if end == pos || !src[pos..end].bytes().any(|b| b.is_ascii_digit()) {
                    return Err(err(format!("unexpected {c:?} in action"), pos));
                }
                if src[end..].chars().next().is_some_and(is_alnum) {
                    let bad_end = end + ident_len(&src[end..]);
                    return Err(err(format!("bad number syntax: {:?}", &src[pos..bad_end]), pos));
                }
                pos = end;
                TokKind::Num(src[start..end].to_string())
            }
            c if c == '_' || c.is_alphabetic() => {
                let n = ident_len(&src[pos..]);
                let word = &src[pos..pos + n];
                pos += n;
                match word {
                    "true" => TokKind::Bool(true),
                    "false" => TokKind::Bool(false),
                    "nil" => TokKind::Nil,
                    _ => TokKind::Ident(word.to_string()),
                }
            }
            '}' => return Err(err("unexpected `}` in action: close it with `}}`", pos)),
            other => return Err(err(format!("unexpected character {other:?} in action"), pos)),
        };
        toks.push(Tok { kind, start, end: pos, spaced });
        spaced = false;
    }
}

fn ident_len(s: &str) -> usize {
    s.char_indices().find(|(_, c)| !is_alnum(*c)).map(|(i, _)| i).unwrap_or(s.len())
}

/// Scans a Go number literal (sign, base prefix, digits, fraction, exponent, `i`).
fn scan_number(src: &str, mut pos: usize) -> usize {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    if matches!(at(pos), b'+' | b'-') {
        pos += 1;
    }
    let mut digits: &[u8] = b"0123456789_";
    let mut exp: &[u8] = b"eE";
    if at(pos) == b'0' && matches!(at(pos + 1), b'x' | b'X') {
        pos += 2;
        digits = b"0123456789abcdefABCDEF_";
        exp = b"pP";
    } else if at(pos) == b'0' && matches!(at(pos + 1), b'o' | b'O') {
        pos += 2;
        digits = b"01234567_";
    } else if at(pos) == b'0' && matches!(at(pos + 1), b'b' | b'B') {
        pos += 2;
        digits = b"01_";
    }
    while digits.contains(&at(pos)) && at(pos) != 0 {
        pos += 1;
    }
    if at(pos) == b'.' {
        pos += 1;
        while digits.contains(&at(pos)) && at(pos) != 0 {
            pos += 1;
        }
    }
    if exp.contains(&at(pos)) && at(pos) != 0 {
        pos += 1;
        if matches!(at(pos), b'+' | b'-') {
            pos += 1;
        }
        while at(pos).is_ascii_digit() || at(pos) == b'_' {
            pos += 1;
        }
    }
    if at(pos) == b'i' {
        pos += 1;
    }
    pos
}

/// Decodes a Go interpreted string literal starting at the opening quote.
fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), RenderError> {
    let mut out = String::new();
    let mut it = src[start + 1..].char_indices();
    while let Some((i, c)) = it.next() {
        let at = start + 1 + i;
        match c {
            '"' => return Ok((out, at + 1)),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = it.next() else { break };
                decode_escape(e, '"', &mut it, at, &mut out)?;
            }
            c => out.push(c),
        }
    }
    Err(err("unterminated quoted string: add the closing `\"`", start))
}

fn lex_char(src: &str, start: usize) -> Result<(char, usize), RenderError> {
    let mut it = src[start + 1..].char_indices();
    let mut out = String::new();
    while let Some((i, c)) = it.next() {
        let at = start + 1 + i;
        match c {
            '\'' => {
                let mut chars = out.chars();
                return match (chars.next(), chars.next()) {
                    (Some(ch), None) => Ok((ch, at + 1)),
                    _ => Err(err("malformed character constant: it must hold exactly one character", start)),
                };
            }
            '\n' => break,
            '\\' => {
                let Some((_, e)) = it.next() else { break };
                decode_escape(e, '\'', &mut it, at, &mut out)?;
            }
            c => out.push(c),
        }
    }
    Err(err("unterminated character constant: add the closing `'`", start))
}

fn decode_escape(
    e: char,
    quote: char,
    it: &mut std::str::CharIndices<'_>,
    at: usize,
    out: &mut String,
) -> Result<(), RenderError> {
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        _ => None,
    };
    if let Some(c) = simple {
        out.push(c);
        return Ok(());
    }
    let (len, radix) = match e {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return Err(err(format!("unknown escape sequence `\\{e}` in string"), at)),
    };
    let mut digits = String::new();
    if radix == 8 {
        digits.push(e);
    }
    for _ in 0..len {
        match it.next() {
            Some((_, d)) if d.is_digit(radix) => digits.push(d),
            _ => return Err(err(format!("invalid escape sequence `\\{e}` in string"), at)),
        }
    }
    let n = u32::from_str_radix(&digits, radix).map_err(|_| err("invalid escape sequence in string", at))?;
    if matches!(e, 'x' | '0'..='7') {
        // \x and octal escapes are bytes; as text they only make sense below 0x80.
        if n > 0xff {
            return Err(err("octal escape value above 255 in string", at));
        }
        out.push(char::from(n as u8));
    } else {
        let c = char::from_u32(n).ok_or_else(|| err("escape sequence is not a valid Unicode code point", at))?;
        out.push(c);
    }
    Ok(())
}

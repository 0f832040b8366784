//! An HCL native-syntax lexer that keeps every byte: comments, newlines, heredoc lines and
//! template pieces all become tokens, so the formatter can rewrite only the spaces between them.
//!
//! Token kinds and boundaries follow what HCL's own scanner produces, because the formatting
//! rules are written in terms of those tokens (a `#` comment owns its newline, a heredoc's lines
//! are string literals, `${` opens a template sequence that a `}` closes).

use kiln_config::diag::{Diagnostic, SourceFile, Span};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ident,
    Number,
    /// `#`/`//` comments (including their newline) and `/* */` comments.
    Comment,
    Newline,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Equal,
    Colon,
    Question,
    Comma,
    Dot,
    Ellipsis,
    FatArrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqualOp,
    NotEqual,
    Lt,
    Lte,
    Gt,
    Gte,
    And,
    Or,
    Bang,
    /// `"` opening a quoted template.
    OQuote,
    /// `"` closing a quoted template.
    CQuote,
    /// A literal piece of a quoted template.
    QuotedLit,
    /// `<<EOF` / `<<-EOF` with its newline.
    OHeredoc,
    /// The closing marker line of a heredoc, without its newline.
    CHeredoc,
    /// A literal piece of a heredoc.
    StringLit,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// `}` or `~}` closing a template sequence.
    TemplateSeqEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

enum Mode {
    /// Expression context; `braces` counts `{` opened inside a template sequence so that the
    /// matching `}` is told apart from the one ending the sequence.
    Main {
        braces: usize,
        in_template: bool,
    },
    Quoted,
    Heredoc {
        marker: String,
    },
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    file: &'a Arc<SourceFile>,
    modes: Vec<Mode>,
    tokens: Vec<Token>,
    errors: Vec<Diagnostic>,
    /// Start offsets of open quotes/heredocs, for "unterminated" errors.
    open_starts: Vec<usize>,
    /// Whether the heredoc scanner is at the start of a content line.
    line_start: bool,
}

/// Splits `src` into tokens. Errors (unterminated strings, invalid characters …) are collected;
/// the token list is still complete enough for the caller to decide what to do.
pub fn lex(src: &str, file: &Arc<SourceFile>) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        file,
        modes: vec![Mode::Main { braces: 0, in_template: false }],
        tokens: Vec::new(),
        errors: Vec::new(),
        open_starts: Vec::new(),
        line_start: true,
    };
    lx.run();
    (lx.tokens, lx.errors)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    // Unicode ID_Continue adds combining marks (which are not alphabetic) to letters and digits.
    c == '_'
        || c == '-'
        || c.is_alphanumeric()
        || matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}' | '\u{200C}' | '\u{200D}')
}

impl<'a> Lexer<'a> {
    fn push(&mut self, kind: Kind, start: usize, end: usize) {
        self.tokens.push(Token { kind, start, end });
        self.pos = end;
    }

    fn error(&mut self, summary: &str, start: usize, end: usize, help: Option<&str>) {
        let mut d = Diagnostic::error(summary).at(Span::new(self.file, start, end));
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.errors.push(d);
    }

    fn peek(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            match self.modes.last() {
                Some(Mode::Main { .. }) | None => self.main(),
                Some(Mode::Quoted) => self.quoted(),
                Some(Mode::Heredoc { .. }) => self.heredoc(),
            }
        }
        // Only the innermost construct still open at the end is reported, and only when no
        // error after its start already explains it (a newline in a string nested in `${`).
        let Some(mode) = self.modes.pop() else { return };
        let start = self.open_starts.pop().unwrap_or(self.src.len());
        if self.errors.iter().any(|e| e.span.as_ref().is_some_and(|s| s.start >= start)) {
            return;
        }
        match mode {
            Mode::Main { in_template: true, .. } => {
                self.error(
                    "unterminated template sequence",
                    start,
                    start + 2,
                    Some("close the interpolation with `}`"),
                );
            }
            Mode::Quoted => self.error("unterminated string", start, start + 1, Some("add the closing `\"`")),
            Mode::Heredoc { marker } => {
                let help = format!("end the heredoc with a line containing only `{marker}`");
                self.error("unterminated heredoc", start, start + 2, Some(&help));
            }
            Mode::Main { .. } => {}
        }
    }

    fn main(&mut self) {
        let start = self.pos;
        let b = self.bytes[start];
        match b {
            b' ' | b'\t' => {
                self.pos += 1;
            }
            b'\n' => self.push(Kind::Newline, start, start + 1),
            b'\r' if self.peek(1) == b'\n' => self.push(Kind::Newline, start, start + 2),
            b'#' => self.line_comment(start),
            b'/' if self.peek(1) == b'/' => self.line_comment(start),
            b'/' if self.peek(1) == b'*' => match self.src[start + 2..].find("*/") {
                Some(i) => self.push(Kind::Comment, start, start + 2 + i + 2),
                None => {
                    self.error("unterminated comment", start, start + 2, Some("close the comment with `*/`"));
                    self.push(Kind::Comment, start, self.bytes.len());
                }
            },
            b'"' => {
                self.push(Kind::OQuote, start, start + 1);
                self.open_starts.push(start);
                self.modes.push(Mode::Quoted);
            }
            b'<' if self.peek(1) == b'<' && self.try_heredoc(start) => {}
            b'{' => {
                if let Some(Mode::Main { braces, .. }) = self.modes.last_mut() {
                    *braces += 1;
                }
                self.push(Kind::OBrace, start, start + 1);
            }
            b'}' => self.close_brace(start, start + 1),
            b'~' if self.peek(1) == b'}' && self.in_template_top() => self.close_brace(start, start + 2),
            b'0'..=b'9' => self.number(start),
            _ => {
                if let Some((kind, len)) = operator(&self.bytes[start..]) {
                    self.push(kind, start, start + len);
                    return;
                }
                let Some(c) = self.src[start..].chars().next() else {
                    self.pos = self.bytes.len();
                    return;
                };
                if is_ident_start(c) {
                    let len: usize = self.src[start..]
                        .char_indices()
                        .find(|&(_, c)| !is_ident_continue(c))
                        .map_or(self.src.len() - start, |(i, _)| i);
                    self.push(Kind::Ident, start, start + len);
                } else {
                    let end = start + c.len_utf8();
                    let msg = format!("invalid character {c:?}");
                    let help = if c == '\r' { Some("use \\n or \\r\\n line endings") } else { None };
                    self.error(&msg, start, end, help);
                    self.pos = end;
                }
            }
        }
    }

    fn in_template_top(&self) -> bool {
        matches!(self.modes.last(), Some(Mode::Main { braces: 0, in_template: true }))
    }

    fn close_brace(&mut self, start: usize, end: usize) {
        match self.modes.last_mut() {
            Some(Mode::Main { braces, .. }) if *braces > 0 => {
                *braces -= 1;
                self.push(Kind::CBrace, start, end);
            }
            Some(Mode::Main { in_template: true, .. }) => {
                self.modes.pop();
                self.open_starts.pop();
                self.push(Kind::TemplateSeqEnd, start, end);
            }
            _ => {
                // An unbalanced `}` at top level: leave it to the parser to report in context.
                self.push(Kind::CBrace, start, end);
            }
        }
    }

    fn line_comment(&mut self, start: usize) {
        let end = match self.src[start..].find('\n') {
            Some(i) => start + i + 1,
            None => self.bytes.len(),
        };
        self.push(Kind::Comment, start, end);
    }

    fn number(&mut self, start: usize) {
        let b = self.bytes;
        let mut i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        self.push(Kind::Number, start, i);
    }

    /// `<<EOF` or `<<-EOF` followed by a newline opens a heredoc.
    fn try_heredoc(&mut self, start: usize) -> bool {
        let mut i = start + 2;
        if self.bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let rest = &self.src[i..];
        let Some(first) = rest.chars().next() else { return false };
        if !is_ident_start(first) {
            return false;
        }
        let len = rest.char_indices().find(|&(_, c)| !is_ident_continue(c)).map_or(rest.len(), |(j, _)| j);
        let marker = rest[..len].to_string();
        let after = i + len;
        let nl = if self.src[after..].starts_with("\r\n") {
            2
        } else if self.src[after..].starts_with('\n') {
            1
        } else {
            return false;
        };
        self.push(Kind::OHeredoc, start, after + nl);
        self.open_starts.push(start);
        self.modes.push(Mode::Heredoc { marker });
        self.line_start = true;
        true
    }

    /// Opens `${` / `%{` (with an optional `~`) if present at the current position.
    fn try_template_open(&mut self) -> bool {
        let kind = match (self.peek(0), self.peek(1)) {
            (b'$', b'{') => Kind::TemplateInterp,
            (b'%', b'{') => Kind::TemplateControl,
            _ => return false,
        };
        let start = self.pos;
        let len = if self.peek(2) == b'~' { 3 } else { 2 };
        self.push(kind, start, start + len);
        self.open_starts.push(start);
        self.modes.push(Mode::Main { braces: 0, in_template: true });
        true
    }

    /// Length of the literal run at the current position inside a template, stopping before
    /// `${`, `%{`, the end of the line, and (for quoted strings) the closing quote.
    fn literal_len(&self, quoted: bool) -> usize {
        let b = &self.bytes[self.pos..];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    break;
                }
                // `$${` and `%%{` are escapes for a literal `${` / `%{`.
                b'$' | b'%' if b.get(i + 1) == Some(&b[i]) && b.get(i + 2) == Some(&b'{') => i += 3,
                b'\\' if quoted && i + 1 < b.len() && b[i + 1] != b'\n' && b[i + 1] != b'\r' => i += 2,
                b'"' if quoted => break,
                b'\n' => {
                    if !quoted {
                        i += 1;
                    }
                    break;
                }
                b'\r' if quoted && b.get(i + 1) == Some(&b'\n') => break,
                _ => i += 1,
            }
        }
        i
    }

    fn quoted(&mut self) {
        let start = self.pos;
        if self.peek(0) == b'"' {
            self.modes.pop();
            self.open_starts.pop();
            self.push(Kind::CQuote, start, start + 1);
            return;
        }
        if self.try_template_open() {
            return;
        }
        if self.peek(0) == b'\n' || (self.peek(0) == b'\r' && self.peek(1) == b'\n') {
            // A newline cannot appear in a quoted string: report it and resume as an expression.
            let open = self.open_starts.pop().unwrap_or(start);
            self.modes.pop();
            if let (Some(Mode::Main { in_template: true, .. }), Some(&seq)) =
                (self.modes.last(), self.open_starts.last())
            {
                // The quote that "opened" this string was meant to close an outer one: the
                // real problem is the unclosed `${` before it.
                self.error(
                    "unterminated template sequence: `${` or `%{` is not closed before the end of the string",
                    seq,
                    seq + 2,
                    Some("close the interpolation with `}` before the closing quote"),
                );
                return;
            }
            self.error(
                "unterminated string: a quoted string cannot span lines",
                open,
                start,
                Some("close the string with `\"` on the same line, or use a heredoc (<<EOT) for multi-line text"),
            );
            return;
        }
        let len = self.literal_len(true).max(1);
        self.push(Kind::QuotedLit, start, start + len);
    }

    fn heredoc(&mut self) {
        let start = self.pos;
        if self.line_start {
            let Some(Mode::Heredoc { marker }) = self.modes.last() else { return };
            let line_end = self.src[start..].find('\n').map(|i| start + i);
            if let Some(nl) = line_end {
                let content_end = if nl > start && self.bytes[nl - 1] == b'\r' { nl - 1 } else { nl };
                let line = &self.src[start..content_end];
                if line.trim_matches(|c| c == ' ' || c == '\t') == marker.as_str() {
                    self.modes.pop();
                    self.open_starts.pop();
                    self.push(Kind::CHeredoc, start, content_end);
                    self.push(Kind::Newline, content_end, nl + 1);
                    return;
                }
            }
        }
        if self.try_template_open() {
            self.line_start = false;
            return;
        }
        let len = self.literal_len(false).max(1);
        self.line_start = self.bytes[start + len - 1] == b'\n';
        self.push(Kind::StringLit, start, start + len);
    }
}

/// A fixed operator at the start of `b`, longest match first.
fn operator(b: &[u8]) -> Option<(Kind, usize)> {
    let two = |k| Some((k, 2));
    match b {
        [b'.', b'.', b'.', ..] => Some((Kind::Ellipsis, 3)),
        [b'=', b'=', ..] => two(Kind::EqualOp),
        [b'!', b'=', ..] => two(Kind::NotEqual),
        [b'<', b'=', ..] => two(Kind::Lte),
        [b'>', b'=', ..] => two(Kind::Gte),
        [b'&', b'&', ..] => two(Kind::And),
        [b'|', b'|', ..] => two(Kind::Or),
        [b'=', b'>', ..] => two(Kind::FatArrow),
        [c, ..] => {
            let k = match c {
                b'[' => Kind::OBrack,
                b']' => Kind::CBrack,
                b'(' => Kind::OParen,
                b')' => Kind::CParen,
                b'=' => Kind::Equal,
                b':' => Kind::Colon,
                b'?' => Kind::Question,
                b',' => Kind::Comma,
                b'.' => Kind::Dot,
                b'+' => Kind::Plus,
                b'-' => Kind::Minus,
                b'*' => Kind::Star,
                b'/' => Kind::Slash,
                b'%' => Kind::Percent,
                b'<' => Kind::Lt,
                b'>' => Kind::Gt,
                b'!' => Kind::Bang,
                _ => return None,
            };
            Some((k, 1))
        }
        [] => None,
    }
}

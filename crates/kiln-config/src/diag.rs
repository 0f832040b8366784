//! Diagnostics: errors and warnings that point at `file:line:col`, show the offending line with
//! a marker, say what is wrong and, where possible, what to do.
//!
//! Every loader, evaluator and decoder reports through [`Diagnostic`]; the CLI prints them with
//! `Display`. A [`Span`] carries its [`SourceFile`], so a diagnostic can render its own snippet.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One loaded file: its path as the user named it and its full text.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<SourceFile> {
        Arc::new(SourceFile { path: path.into(), text: text.into() })
    }

    /// 1-based line and column (in characters) of a byte offset. Offsets past the end clamp.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = clamp_to_char_boundary(&self.text, offset);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The text of 1-based line `line`, without its line terminator.
    pub fn line_text(&self, line: usize) -> &str {
        self.text.split('\n').nth(line.saturating_sub(1)).unwrap_or("").trim_end_matches('\r')
    }
}

fn clamp_to_char_boundary(s: &str, mut offset: usize) -> usize {
    offset = offset.min(s.len());
    while !s.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A byte range in a source file.
#[derive(Clone, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<SourceFile>,
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The span of bytes `start..end` of `file`. This is the one way to make a span from byte
    /// offsets a parser reported: both ends are clamped to the file and moved back to a character
    /// boundary, so a span can always be sliced, whatever offset a parser gives.
    pub fn new(file: &Arc<SourceFile>, start: usize, end: usize) -> Span {
        let start = clamp_to_char_boundary(&file.text, start);
        let end = clamp_to_char_boundary(&file.text, end).max(start);
        Span { file: Arc::clone(file), start, end }
    }

    /// The span of the one character at byte `offset` (which may fall inside it), empty at the
    /// end of the file: where a parser stopped.
    pub fn at_char(file: &Arc<SourceFile>, offset: usize) -> Span {
        let start = clamp_to_char_boundary(&file.text, offset);
        let len = file.text[start..].chars().next().map_or(0, char::len_utf8);
        Span { file: Arc::clone(file), start, end: start + len }
    }

    /// 1-based line and column of the start.
    pub fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.start)
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The source text covered by the span.
    pub fn text(&self) -> &str {
        let s = clamp_to_char_boundary(&self.file.text, self.start);
        let e = clamp_to_char_boundary(&self.file.text, self.end);
        &self.file.text[s..e]
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (l, c) = self.line_col();
        write!(f, "{}:{}:{}", self.file.path.display(), l, c)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// An error or a warning about a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// One line: what is wrong ("missing comma between list items").
    pub summary: String,
    /// Optional longer explanation, printed under the snippet.
    pub detail: Option<String>,
    /// Where; `None` only when there is truly no place (a missing file, a flag).
    pub span: Option<Span>,
    /// What to do ("did you mean \"ssh_username\"?").
    pub help: Option<String>,
    /// The sensitive values known where the diagnostic was made: its rendering masks them
    /// (summary, snippet, detail and help alike).
    pub masker: Option<Arc<crate::mask::Masker>>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: None,
            span: None,
            help: None,
            masker: None,
        }
    }

    pub fn warning(summary: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(summary) }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn at_opt(mut self, span: Option<Span>) -> Diagnostic {
        if self.span.is_none() {
            self.span = span;
        }
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Diagnostic {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Masks `masker`'s values wherever this diagnostic is shown.
    pub fn masked(mut self, masker: &Arc<crate::mask::Masker>) -> Diagnostic {
        if !masker.is_empty() {
            self.masker = Some(Arc::clone(masker));
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Renders as
    ///
    /// ```text
    /// Error: missing comma between list items
    ///   --> nginx-ubuntu.broken.pkr.hcl:37:13
    ///    |
    /// 37 |             "sudo systemctl enable nginx",
    ///    |             ^
    ///    = help: add a comma after the previous item
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.render(&mut text)?;
        match &self.masker {
            Some(m) => f.write_str(&m.mask(&text)),
            None => f.write_str(&crate::mask::show_hidden(&text)),
        }
    }
}

impl Diagnostic {
    fn render(&self, f: &mut String) -> fmt::Result {
        use std::fmt::Write;
        let label = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        writeln!(f, "{label}: {}", message_text(&self.summary))?;
        if let Some(span) = &self.span {
            let (line, col) = span.line_col();
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            writeln!(f, "{pad}--> {}:{line}:{col}", span.path().display())?;
            writeln!(f, "{pad} |")?;
            let (end_line, end_col) = span.file.line_col(span.end);
            let width = if end_line == line && end_col > col { end_col - col } else { 1 };
            let (text, col, width) = snippet_window(span.file.line_text(line), col, width);
            writeln!(f, "{line} | {text}")?;
            // Keep tabs in the marker line so the caret lines up under tab-indented text.
            let lead: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            writeln!(f, "{pad} | {lead}{}", "^".repeat(width))?;
        }
        if let Some(detail) = &self.detail {
            for l in message_text(detail).lines() {
                writeln!(f, "  {l}")?;
            }
        }
        if let Some(help) = &self.help {
            writeln!(f, "  help: {}", message_text(help))?;
        }
        Ok(())
    }
}

/// How many characters of one line of a message are shown: a message that quotes a huge value
/// shows its start.
const MESSAGE_LINE_CHARS: usize = 1000;

/// A summary, detail or help as printed: each line with control and bidirectional characters
/// escaped (names and values quoted in it come from the template) and cut to
/// [`MESSAGE_LINE_CHARS`].
fn message_text(text: &str) -> String {
    let line = |l: &str| {
        let cut = l.char_indices().nth(MESSAGE_LINE_CHARS).map(|(i, _)| i);
        let shown = escape_controls(&l[..cut.unwrap_or(l.len())], true);
        if cut.is_some() {
            format!("{shown}…")
        } else {
            shown
        }
    };
    text.split('\n').map(|l| line(l.trim_end_matches('\r'))).collect::<Vec<_>>().join("\n")
}

/// How many characters of a source line a snippet shows at most: a minified file's one huge line
/// must not be printed whole.
const SNIPPET_CHARS: usize = 160;

/// The part of `line` a snippet shows: the whole line when it is short, else a window of
/// [`SNIPPET_CHARS`] characters around 1-based column `col`, with `…` where text was cut.
/// Returns the text, the column and the marker width within it. Control and bidirectional
/// characters are shown escaped, so a line cannot rewrite the terminal or reorder its text.
fn snippet_window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    // The marker is as wide as what is shown under it (a hidden secret shows as the mask,
    // whatever its length).
    let marked: String = line.chars().skip(col.saturating_sub(1)).take(width).collect();
    let width = if marked.is_empty() {
        width
    } else {
        escape_controls(&crate::mask::show_hidden(&marked), true).chars().count().max(1)
    };
    let total = line.chars().count();
    let (first, cut_left) = if total <= SNIPPET_CHARS {
        (0, false)
    } else {
        let first = col.saturating_sub(1 + SNIPPET_CHARS / 2).min(total - SNIPPET_CHARS);
        (first, first > 0)
    };
    let shown: String = line.chars().skip(first).take(SNIPPET_CHARS).collect();
    let cut_right = first + SNIPPET_CHARS < total;
    let mut out = String::new();
    let mut new_col = col - first;
    if cut_left {
        out.push('…');
        new_col += 1;
    }
    out.push_str(&escape_controls(&crate::mask::show_hidden(&shown), true));
    if cut_right {
        out.push('…');
    }
    // Escapes widen the text before the column: line the caret up with the escaped text.
    let before: String = line.chars().skip(first).take(col.saturating_sub(1 + first)).collect();
    let shown_before = escape_controls(&crate::mask::show_hidden(&before), true).chars().count();
    new_col = (new_col + shown_before).saturating_sub(before.chars().count()).max(1);
    let width = width.min(SNIPPET_CHARS);
    (out, new_col, width)
}

/// `text` with control characters (except tab, when `keep_tab`) and Unicode bidirectional
/// formatting characters written as `\u{…}` escapes: text from a template or a value, printed
/// in a message, cannot move the cursor or reorder what the terminal shows.
pub fn escape_controls(text: &str, keep_tab: bool) -> String {
    if !text.chars().any(|c| needs_escape(c, keep_tab)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c, keep_tab) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char, keep_tab: bool) -> bool {
    (c.is_control() && !(keep_tab && c == '\t'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Several diagnostics, in the order they were found. Loaders collect as many as they can in one
/// run instead of stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(self)` when any error is present, else `Ok(())`.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(())
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `name` when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lname = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lname, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance counting an adjacent transposition as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_and_caret() {
        let f = SourceFile::new("t.pkr.hcl", "a = 1\nbb = \"x\" oops\n");
        let d = Diagnostic::error("unexpected token").at(Span::new(&f, 15, 19)).with_help("remove it");
        let text = d.to_string();
        assert!(text.contains("--> t.pkr.hcl:2:10"), "{text}");
        assert!(text.contains("2 | bb = \"x\" oops"), "{text}");
        assert!(text.contains("  |          ^^^^"), "{text}");
        assert!(text.contains("help: remove it"), "{text}");
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile::new("u", "é = 1\n  ü");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(2), (1, 2));
        assert_eq!(f.line_col(9), (2, 3));
        assert_eq!(f.line_col(999), (2, 4));
    }

    #[test]
    fn spans_from_any_offset_are_safe() {
        // A parser offset inside a multi-byte character must never be sliced as is.
        let f = SourceFile::new("u", "b= --tt?-\u{490}");
        let inside = f.text.len() - 1;
        let s = Span::new(&f, inside, inside + 1);
        assert!(f.text.is_char_boundary(s.start) && f.text.is_char_boundary(s.end));
        assert_eq!(Span::at_char(&f, inside).text(), "\u{490}");
        assert_eq!(Span::at_char(&f, 999).text(), "");
        let d = Diagnostic::error("bad").at(Span::new(&f, inside, 999)).to_string();
        assert!(d.contains("1:10"), "{d}");
    }

    #[test]
    fn long_lines_show_a_window_around_the_column() {
        let mut line = "x".repeat(1_000_000);
        line.replace_range(500_000..500_001, "!");
        let f = SourceFile::new("big.json", line);
        let d = Diagnostic::error("bad").at(Span::new(&f, 500_000, 500_001)).to_string();
        assert!(d.len() < 1000, "snippet of {} bytes", d.len());
        assert!(d.contains("1:500001"), "{d}");
        assert_eq!(char_pos(&d, 2, '!'), char_pos(&d, 3, '^'), "{d}");
    }

    #[test]
    fn control_and_bidi_characters_are_escaped_in_snippets() {
        let f = SourceFile::new("t", "a\u{1b}[2J\u{202e}Z = 1");
        let d = Diagnostic::error("bad").at(Span::new(&f, 8, 9)).to_string();
        assert!(!d.contains('\u{1b}') && !d.contains('\u{202e}'), "{d:?}");
        assert!(d.contains("a\\u{1b}[2J\\u{202e}Z = 1"), "{d}");
        assert_eq!(char_pos(&d, 2, 'Z'), char_pos(&d, 3, '^'), "{d}");
    }

    #[test]
    fn messages_escape_controls_and_cut_huge_lines() {
        let d = Diagnostic::error(format!("unknown variable \"a\u{1b}[31m\u{202e}b\"\nsecond {}", "v".repeat(5000)))
            .with_help("x\u{7}");
        let text = d.to_string();
        assert!(text.contains("unknown variable \"a\\u{1b}[31m\\u{202e}b\""), "{text}");
        assert!(text.contains("help: x\\u{7}"), "{text}");
        assert!(text.len() < 1200, "{}", text.len());
    }

    fn char_pos(text: &str, line: usize, c: char) -> Option<usize> {
        text.lines().nth(line)?.chars().position(|x| x == c)
    }

    #[test]
    fn suggests_close_names_only() {
        let c = ["ssh_username", "ssh_password", "communicator"];
        assert_eq!(did_you_mean("ssh_usrname", c), Some("ssh_username"));
        assert_eq!(did_you_mean("ssh_user_name", c), Some("ssh_username"));
        assert_eq!(did_you_mean("flavour", c), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}

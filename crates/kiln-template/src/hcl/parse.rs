//! Parsing files with hcl-edit, and parse errors as diagnostics with a clearer wording.

use std::sync::Arc;

use hcl_edit::structure::Body;

use kiln_config::diag::{Diagnostic, SourceFile, Span};

/// Parses a native-syntax HCL file. hcl-edit stops at the first error, so one error per file.
pub(crate) fn parse_body(file: &Arc<SourceFile>) -> Result<Body, Diagnostic> {
    hcl_edit::parser::parse_body(&file.text).map_err(|e| parse_error(file, &e))
}

/// Parses like [`parse_body`], but after an error blanks out the top-level block holding it and
/// parses again, so that one run reports the errors of several blocks (up to 10 a file).
pub(crate) fn parse_body_all(file: &Arc<SourceFile>) -> Result<Body, Vec<Diagnostic>> {
    let first = match hcl_edit::parser::parse_body(&file.text) {
        Ok(b) => return Ok(b),
        Err(e) => e,
    };
    let mut diags = vec![parse_error(file, &first)];
    let mut text = file.text.clone();
    let mut last = first.location().offset();
    for _ in 0..9 {
        let Some((start, end)) = top_level_item(&text, last) else { break };
        if end >= text.len() {
            break;
        }
        // Spaces keep every offset (and so every line and column) where it was.
        let masked: String = text[start..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        text.replace_range(start..end, &masked);
        match hcl_edit::parser::parse_body(&text) {
            Ok(_) => break,
            Err(e) if e.location().offset() <= last => break,
            Err(e) => {
                last = e.location().offset();
                let scratch = SourceFile::new(&file.path, text.clone());
                let mut d = parse_error(&scratch, &e);
                d.span = d.span.map(|s| Span::new(file, s.start, s.end));
                diags.push(d);
            }
        }
    }
    Err(diags)
}

/// The byte range of the top-level item around `offset`: from the start of the last line
/// before it that starts in column 1, to the start of the next line that starts a new item.
fn top_level_item(text: &str, offset: usize) -> Option<(usize, usize)> {
    let offset = offset.min(text.len());
    let starts_item = |line: &str| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let mut start = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        if starts_item(line) {
            start = Some(pos);
        }
        pos += line.len();
    }
    let start = start?;
    let mut end = text.len();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset && starts_item(line) {
            end = pos;
            break;
        }
        pos += line.len();
    }
    Some((start, end))
}

fn parse_error(file: &Arc<SourceFile>, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = Span::at_char(file, e.location().offset()).start;
    let msg = first_line(e.message());
    let x = explain(&file.text, offset, msg);
    let at = x.at.unwrap_or(offset);
    let mut d = Diagnostic::error(x.summary).at(Span::new(file, at, at + 1));
    if x.at.is_some() {
        d = d.with_detail(format!("the parser stopped here: {msg}"));
    }
    if let Some(h) = x.help {
        d = d.with_help(h);
    }
    d
}

struct Explained {
    summary: String,
    help: Option<String>,
    /// A better place to point at than where the parser stopped.
    at: Option<usize>,
}

/// A human wording for common mistakes, found from the text around the error.
fn explain(text: &str, offset: usize, msg: &str) -> Explained {
    let plain = |summary: String, help: &str| Explained { summary, help: Some(help.to_string()), at: None };
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    if let Some(q) = unterminated_quote(&text[line_start..line_end]) {
        return Explained {
            summary: "unterminated string".to_string(),
            help: Some("add the closing `\"` (use a heredoc `<<EOT` for text over several lines)".to_string()),
            at: Some(line_start + q),
        };
    }
    let before = text[..offset].trim_end();
    let rest = &text[offset..];
    let opener = innermost_open_bracket(&text[..offset]);
    if rest.trim().is_empty()
        || rest.trim() == "}" && opener.is_some_and(|(c, _)| c == '{') && msg.contains("block body")
    {
        if let Some((c, at)) = opener {
            let close = match c {
                '[' => ']',
                '(' => ')',
                _ => '}',
            };
            return Explained {
                summary: format!("unclosed `{c}`"),
                help: Some(format!("add the matching `{close}`; the file ends before it is closed")),
                at: Some(at),
            };
        }
    }
    match opener {
        Some(('[', _)) if !before.ends_with(',') && !before.ends_with('[') && !rest.trim_start().starts_with(']') => {
            return plain("missing comma between list items".to_string(), "add a comma after the previous item");
        }
        Some(('{', _)) if msg.contains("object item") => {
            return plain(
                "missing comma between object items".to_string(),
                "separate object items with a comma or a newline",
            );
        }
        _ => {}
    }
    Explained { summary: format!("invalid HCL syntax: {msg}"), help: None, at: None }
}

/// Offset of an opening quote on `line` that is never closed (ignoring `${ }` contents roughly).
fn unterminated_quote(line: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut depth = 0usize;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (open, c) {
            (None, '#') => break,
            (None, '/') if chars.peek().map(|p| p.1) == Some('/') => break,
            (None, '"') => open = Some(i),
            (Some(_), '\\') if depth == 0 => {
                chars.next();
            }
            (Some(_), '$' | '%') if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
                depth += 1;
            }
            (Some(_), '}') if depth > 0 => depth -= 1,
            (Some(_), '"') if depth == 0 => open = None,
            _ => {}
        }
    }
    // A heredoc opener or an unfinished interpolation are other errors.
    open.filter(|_| depth == 0)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The innermost unclosed bracket before the end of `s` and its offset, skipping strings and
/// comments roughly.
fn innermost_open_bracket(s: &str) -> Option<(char, usize)> {
    let mut stack = Vec::new();
    let mut chars = s.char_indices().peekable();
    let mut in_str = false;
    while let Some((i, c)) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|p| p.1) == Some('/') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '[' | '{' | '(' => stack.push((c, i)),
            ']' | '}' | ')' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_for(src: &str) -> String {
        let f = SourceFile::new("t.pkr.hcl", src);
        match parse_body(&f) {
            Ok(_) => panic!("expected a parse error for {src:?}"),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn several_blocks_report_their_errors_in_one_run() {
        let f = SourceFile::new(
            "t.pkr.hcl",
            "locals {\n  a = [1 2]\n}\n\nsource \"null\" \"a\" {\n  x = \n}\n\nlocals {\n  b = { x = 1 y = 2 }\n}\n",
        );
        let Err(diags) = parse_body_all(&f) else { panic!("expected errors") };
        let at: Vec<(usize, usize)> = diags.iter().filter_map(|d| d.span.as_ref().map(Span::line_col)).collect();
        assert_eq!(at, [(2, 10), (6, 7), (10, 15)], "{diags:?}");
        assert!(diags[0].summary.contains("missing comma between list items"));
    }

    #[test]
    fn common_mistakes_are_named() {
        let e = error_for("locals {\n  a = [\n    \"x\"\n    \"y\"\n  ]\n}\n");
        assert!(e.contains("missing comma between list items") && e.contains("t.pkr.hcl:4:5"), "{e}");
        let e = error_for("source \"null\" \"a\" {\n  communicator = \"none\"\n\nbuild {\n}\n");
        assert!(e.contains("unclosed `{`") && e.contains("t.pkr.hcl:1:19"), "{e}");
        let e = error_for("locals {\n  a = \"abc\n}\n");
        assert!(e.contains("unterminated string") && e.contains("t.pkr.hcl:2:7"), "{e}");
        let e = error_for("locals {\n  a = { x = 1 y = 2 }\n}\n");
        assert!(e.contains("missing comma between object items") && e.contains("t.pkr.hcl:2:15"), "{e}");
        let e = error_for("locals {\n  a = 1 +\n}\n");
        assert!(e.contains("invalid HCL syntax") && e.contains("t.pkr.hcl:2:"), "{e}");
    }
}

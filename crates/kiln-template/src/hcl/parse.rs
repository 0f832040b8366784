//! Parsing files with hcl-edit, and parse errors as diagnostics with a clearer wording.

use std::sync::Arc;

use hcl_edit::structure::Body;

use crate::diag::{Diagnostic, SourceFile, Span};

/// Parses a native-syntax HCL file. hcl-edit stops at the first error, so one error per file.
pub(crate) fn parse_body(file: &Arc<SourceFile>) -> Result<Body, Diagnostic> {
    hcl_edit::parser::parse_body(&file.text).map_err(|e| parse_error(file, &e))
}

fn parse_error(file: &Arc<SourceFile>, e: &hcl_edit::parser::Error) -> Diagnostic {
    let mut offset = e.location().offset().min(file.text.len());
    while !file.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let msg = e.message();
    let (summary, help) = explain(&file.text, offset, msg);
    let mut d = Diagnostic::error(summary).at(Span::new(file, offset, offset + 1));
    if !msg.is_empty() {
        d = d.with_detail(format!("parser: {msg}"));
    }
    if let Some(h) = help {
        d = d.with_help(h);
    }
    d
}

/// A human wording for common mistakes, found from the text around the error.
fn explain(text: &str, offset: usize, msg: &str) -> (String, Option<String>) {
    let before = text[..offset].trim_end();
    let rest = &text[offset..];
    let opener = innermost_open_bracket(&text[..offset]);
    if opener == Some('[') && !before.ends_with(',') && !before.ends_with('[') && !rest.trim_start().starts_with(']') {
        return (
            "missing comma between list items".to_string(),
            Some("add a comma after the previous item".to_string()),
        );
    }
    if msg.contains("expected") {
        return (format!("invalid HCL syntax: {}", first_line(msg)), None);
    }
    ("invalid HCL syntax".to_string(), Some("check the brackets, quotes and commas around this place".to_string()))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The innermost unclosed bracket before the end of `s`, skipping strings and comments roughly.
fn innermost_open_bracket(s: &str) -> Option<char> {
    let mut stack = Vec::new();
    let mut chars = s.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
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
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '[' | '{' | '(' => stack.push(c),
            ']' | '}' | ')' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied()
}

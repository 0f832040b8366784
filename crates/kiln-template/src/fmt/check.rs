//! Syntax checks run before formatting. Unbalanced brackets are found on the tokens, where the
//! opening bracket can be named; everything else is left to the HCL parser.

use super::lexer::{Kind, Token};
use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use std::sync::Arc;

fn closer_of(k: Kind) -> Option<&'static str> {
    match k {
        Kind::OBrace | Kind::TemplateInterp | Kind::TemplateControl => Some("}"),
        Kind::OBrack => Some("]"),
        Kind::OParen => Some(")"),
        _ => None,
    }
}

fn matches(open: Kind, close: Kind) -> bool {
    matches!(
        (open, close),
        (Kind::OBrace, Kind::CBrace)
            | (Kind::OBrack, Kind::CBrack)
            | (Kind::OParen, Kind::CParen)
            | (Kind::TemplateInterp | Kind::TemplateControl, Kind::TemplateSeqEnd)
    )
}

/// Reports the first unbalanced bracket: a closer that matches nothing, or an opener never closed.
pub fn brackets(src: &str, tokens: &[Token], file: &Arc<SourceFile>) -> Result<(), Diagnostics> {
    let mut stack: Vec<&Token> = Vec::new();
    for t in tokens {
        if closer_of(t.kind).is_some() {
            stack.push(t);
            continue;
        }
        if !matches!(t.kind, Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd) {
            continue;
        }
        let text = &src[t.start..t.end];
        match stack.last() {
            Some(open) if matches(open.kind, t.kind) => {
                stack.pop();
            }
            Some(open) => {
                let (l, c) = file.line_col(open.start);
                let open_text = &src[open.start..open.end];
                let want = closer_of(open.kind).unwrap_or("?");
                let d = Diagnostic::error(format!(
                    "unexpected `{text}`: `{open_text}` opened at line {l}, column {c} is still open"
                ))
                .at(Span::new(file, t.start, t.end))
                .with_help(format!("close `{open_text}` with `{want}` first, or remove this `{text}`"));
                return Err(d.into());
            }
            None => {
                let d = Diagnostic::error(format!("unexpected `{text}`: there is no open bracket to close"))
                    .at(Span::new(file, t.start, t.end))
                    .with_help(format!("remove this `{text}`, or add the opening bracket it was meant to close"));
                return Err(d.into());
            }
        }
    }
    if let Some(open) = stack.last() {
        let open_text = &src[open.start..open.end];
        let want = closer_of(open.kind).unwrap_or("?");
        let d = Diagnostic::error(format!("unclosed `{open_text}`"))
            .at(Span::new(file, open.start, open.end))
            .with_help(format!("add the matching `{want}`"));
        return Err(d.into());
    }
    Ok(())
}

/// A hint for the parser's most common complaints.
pub fn help_for(message: &str) -> &'static str {
    if message.contains("redefined attribute") {
        "each argument may be set only once in a block: remove or rename one of them"
    } else if message.contains("expected `]`") {
        "separate list items with commas"
    } else if message.contains("expected `}`") || message.contains("expected `,`") {
        "separate object items with commas or newlines"
    } else if message.contains("expected `=`") || message.contains("expected `{`, `=`") {
        "set an argument with `name = value`, or open a block with `name {`; a nested block must start on a line of its own"
    } else if message.contains("expected newline") {
        "put each argument and block on a line of its own"
    } else {
        "fix the syntax error; files that do not parse are not formatted"
    }
}

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

/// Checks the block structure that the lexer can see: in a body, each item is an argument
/// (`name = value` ending its line) or a block (`name "label" … {`), and a `.` in an expression
/// is followed by a name. This catches what the HCL parser used for the remaining checks lets
/// through (a stray word after a heredoc, `var.` at the end of a line).
pub fn structure(src: &str, tokens: &[Token], file: &Arc<SourceFile>) -> Result<(), Diagnostics> {
    let toks: Vec<&Token> = tokens.iter().filter(|t| t.kind != Kind::Comment || ends_line(src, t)).collect();
    let mut i = 0;
    let err = |t: &Token, summary: String, help: &str| -> Diagnostics {
        Diagnostic::error(summary).at(Span::new(file, t.start, t.end)).with_help(help.to_string()).into()
    };
    // Each entry: true for a block body that ends with `}`.
    let mut depth = 0usize;
    while i < toks.len() {
        let t = toks[i];
        match t.kind {
            Kind::Newline | Kind::Comment => {
                i += 1;
            }
            Kind::CBrace if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            Kind::Ident => {
                i += 1;
                if toks.get(i).is_some_and(|t| t.kind == Kind::Equal) {
                    i = expression(src, &toks, i + 1, file)?;
                    continue;
                }
                // Labels, then `{`.
                while let Some(l) = toks.get(i) {
                    match l.kind {
                        Kind::Ident => i += 1,
                        Kind::OQuote => {
                            while toks.get(i).is_some_and(|x| x.kind != Kind::CQuote) {
                                i += 1;
                            }
                            i += 1;
                        }
                        _ => break,
                    }
                }
                match toks.get(i) {
                    Some(b) if b.kind == Kind::OBrace => {
                        depth += 1;
                        i += 1;
                    }
                    Some(other) => {
                        let name = &src[t.start..t.end];
                        return Err(err(
                            other,
                            format!("expected `=` or `{{` after {name:?}"),
                            "set an argument with `name = value`, or open a block with `name {`",
                        ));
                    }
                    None => {
                        let name = &src[t.start..t.end];
                        return Err(err(
                            t,
                            format!("{name:?} is not followed by `=` or a block"),
                            "set an argument with `name = value`, or open a block with `name {`",
                        ));
                    }
                }
            }
            _ => {
                let text = &src[t.start..t.end];
                return Err(err(
                    t,
                    format!("unexpected {text:?}: an argument or block definition is expected here"),
                    "each line of a body is `name = value` or a block `name \"label\" {`",
                ));
            }
        }
    }
    Ok(())
}

fn ends_line(src: &str, t: &Token) -> bool {
    src[t.start..t.end].ends_with('\n')
}

/// Skips an expression starting at `i`; returns the index after its end (the newline that ends
/// it at bracket depth zero, a `}` closing a one-line block, or the end of input). On the way it
/// checks that list items and call arguments are separated by commas.
fn expression(src: &str, toks: &[&Token], mut i: usize, file: &Arc<SourceFile>) -> Result<usize, Diagnostics> {
    let mut depth = 0i32;
    let (mut in_heredoc, mut in_quote) = (0i32, 0i32);
    // Open `[` / `(` / `{` at quote level zero; `true` for a `[` or `{` holding a for expression,
    // whose parts are not comma-separated.
    let mut open: Vec<(Kind, bool)> = Vec::new();
    let mut prev: Option<&Token> = None;
    while i < toks.len() {
        let t = toks[i];
        // Closing quotes and markers belong to the level they return to.
        match t.kind {
            Kind::CHeredoc => in_heredoc -= 1,
            Kind::CQuote if in_heredoc == 0 => in_quote -= 1,
            _ => {}
        }
        let top_level = in_heredoc == 0 && in_quote == 0;
        if top_level && !matches!(t.kind, Kind::Newline | Kind::Comment) {
            let starts_item =
                matches!(t.kind, Kind::OQuote | Kind::Number | Kind::Ident | Kind::OBrace | Kind::OHeredoc);
            let ended_item = prev.is_some_and(|p| {
                matches!(
                    p.kind,
                    Kind::CQuote
                        | Kind::Number
                        | Kind::Ident
                        | Kind::CBrack
                        | Kind::CBrace
                        | Kind::CParen
                        | Kind::CHeredoc
                )
            });
            if let (true, true, Some(&(kind @ (Kind::OBrack | Kind::OParen), false))) =
                (starts_item, ended_item, open.last())
            {
                let (what, help) = if kind == Kind::OBrack {
                    ("missing comma between list items", "add a comma after the previous item")
                } else {
                    ("missing comma between function arguments", "add a comma after the previous argument")
                };
                return Err(Diagnostic::error(what).at(Span::new(file, t.start, t.end)).with_help(help).into());
            }
            match t.kind {
                Kind::OBrack | Kind::OParen | Kind::OBrace => {
                    let next = toks[i + 1..].iter().find(|n| !matches!(n.kind, Kind::Newline | Kind::Comment));
                    let is_for = next.is_some_and(|n| n.kind == Kind::Ident && &src[n.start..n.end] == "for");
                    open.push((t.kind, is_for));
                }
                Kind::CBrack | Kind::CParen | Kind::CBrace => {
                    open.pop();
                }
                _ => {}
            }
            prev = Some(t);
        }
        match t.kind {
            Kind::OHeredoc => in_heredoc += 1,
            Kind::OQuote if in_heredoc == 0 => in_quote += 1,
            Kind::Dot if in_heredoc == 0 => {
                let next = toks.get(i + 1).map(|n| n.kind);
                if !matches!(next, Some(Kind::Ident | Kind::Number | Kind::Star)) {
                    return Err(Diagnostic::error("a name is required after `.`")
                        .at(Span::new(file, t.start, t.end))
                        .with_help("write the attribute to access, as in `var.name`")
                        .into());
                }
            }
            _ => {}
        }
        if in_heredoc == 0 {
            let change = match t.kind {
                Kind::OBrace | Kind::OBrack | Kind::OParen | Kind::TemplateInterp | Kind::TemplateControl => 1,
                Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
                _ => 0,
            };
            if depth == 0 && (t.kind == Kind::Newline || (t.kind == Kind::Comment && ends_line(src, t))) {
                return Ok(i + 1);
            }
            if depth == 0 && t.kind == Kind::CBrace {
                // The end of a one-line block: leave the `}` to the body.
                return Ok(i);
            }
            depth += change;
        }
        i += 1;
    }
    Ok(i)
}

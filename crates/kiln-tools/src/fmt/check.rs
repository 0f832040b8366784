//! Syntax checks run before formatting. Unbalanced brackets are found on the tokens, where the
//! opening bracket can be named; everything else is left to the HCL parser.

use super::lexer::{Kind, Token};
use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile, Span};
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
                    if is_for && t.kind != Kind::OParen {
                        let rest: Vec<&Token> = toks[i + 1..]
                            .iter()
                            .filter(|t| !matches!(t.kind, Kind::Newline | Kind::Comment))
                            .take(5)
                            .copied()
                            .collect();
                        if !for_names_ok(src, &rest) {
                            let kw = rest[0];
                            return Err(Diagnostic::error(
                                "invalid `for` expression: `in` is required after the names",
                            )
                            .at(Span::new(file, kw.start, kw.end))
                            .with_help("write [for item in list : …] or {for key, value in map : …}")
                            .into());
                        }
                    }
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
            Kind::Dot if in_heredoc == 0 && bad_exponent(src, toks, i) => {
                let n = toks[i - 1];
                return Err(Diagnostic::error("invalid number literal")
                    .at(Span::new(file, n.start, toks[i + 1].end))
                    .with_help("an exponent follows the digits directly, as in 1.5e10")
                    .into());
            }
            Kind::Dot if in_heredoc == 0 => {
                // Inside brackets and `${ }` line breaks are insignificant.
                let next = toks[i + 1..]
                    .iter()
                    .find(|n| depth == 0 || !matches!(n.kind, Kind::Newline | Kind::Comment))
                    .map(|n| n.kind);
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

/// Checks `%{ }` template directives: a known keyword, `for NAME[, NAME] in …`, and `if`/`for`
/// closed by `endif`/`endfor` within the same string or heredoc.
pub fn directives(src: &str, tokens: &[Token], file: &Arc<SourceFile>) -> Result<(), Diagnostics> {
    let text = |t: &Token| &src[t.start..t.end];
    let err = |t: &Token, summary: &str, help: &str| -> Diagnostics {
        Diagnostic::error(summary).at(Span::new(file, t.start, t.end)).with_help(help).into()
    };
    // One stack of open directives per template being read (templates nest through `${ "…" }`).
    let mut templates: Vec<Vec<(&str, &Token)>> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::OQuote | Kind::OHeredoc => templates.push(Vec::new()),
            Kind::CQuote | Kind::CHeredoc => {
                if let Some(open) = templates.pop() {
                    if let Some((kw, at)) = open.last() {
                        let end = if *kw == "for" { "endfor" } else { "endif" };
                        return Err(err(
                            at,
                            &format!("`{kw}` directive without `{end}`"),
                            &format!("close it with %{{ {end} }}"),
                        ));
                    }
                }
            }
            Kind::TemplateControl => {
                let rest: Vec<&Token> = tokens[i + 1..]
                    .iter()
                    .filter(|t| !matches!(t.kind, Kind::Newline | Kind::Comment))
                    .take(5)
                    .collect();
                let Some(kw) = rest.first().filter(|k| k.kind == Kind::Ident) else {
                    return Err(err(
                        t,
                        "a directive must start with if, else, endif, for or endfor",
                        "write %{ if cond }, %{ for x in list } …",
                    ));
                };
                let Some(open) = templates.last_mut() else { continue };
                match text(kw) {
                    "if" => open.push(("if", *kw)),
                    "for" => {
                        if !for_names_ok(src, &rest) {
                            return Err(err(
                                kw,
                                "invalid `for` directive: `in` is required after the names",
                                "write %{ for item in list } or %{ for key, value in map }",
                            ));
                        }
                        open.push(("for", *kw));
                    }
                    "else" => {
                        if !matches!(open.last(), Some(("if", _))) {
                            return Err(err(
                                kw,
                                "`else` directive without `if`",
                                "put %{ else } between %{ if cond } and %{ endif }",
                            ));
                        }
                    }
                    "endif" | "endfor" => {
                        let want = if text(kw) == "endif" { "if" } else { "for" };
                        match open.pop() {
                            Some((k, _)) if k == want => {}
                            _ => {
                                return Err(err(
                                    kw,
                                    &format!("`{}` directive without `{want}`", text(kw)),
                                    "remove it, or add the directive it closes",
                                ));
                            }
                        }
                    }
                    other => {
                        let kws = ["if", "else", "endif", "for", "endfor"];
                        let mut d = Diagnostic::error(format!("unknown template directive {other:?}"))
                            .at(Span::new(file, kw.start, kw.end));
                        if let Some(s) = kiln_config::diag::did_you_mean(other, kws) {
                            d = d.with_help(format!("did you mean {s:?}?"));
                        }
                        return Err(d.into());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether `toks` (starting at the `for` keyword) read `for NAME in` or `for NAME, NAME in`.
fn for_names_ok(src: &str, toks: &[&Token]) -> bool {
    let is_in = |t: &Token| t.kind == Kind::Ident && &src[t.start..t.end] == "in";
    match toks {
        [_, a, b, ..] if a.kind == Kind::Ident && is_in(b) => true,
        [_, a, c, b, d, ..] => a.kind == Kind::Ident && c.kind == Kind::Comma && b.kind == Kind::Ident && is_in(d),
        _ => false,
    }
}

/// `1.5.e10`: HCL reads a decimal number, a dot and an exponent-like name as one broken number.
fn bad_exponent(src: &str, toks: &[&Token], i: usize) -> bool {
    let (Some(n), Some(e)) = (i.checked_sub(1).and_then(|p| toks.get(p)), toks.get(i + 1)) else { return false };
    let dot = toks[i];
    let name = &src[e.start..e.end];
    let mut chars = name.chars();
    let exp_like = matches!(chars.next(), Some('e' | 'E'))
        && match chars.next() {
            Some(c) => c.is_ascii_digit(),
            None => matches!(src[e.end..].chars().next(), Some('+' | '-')),
        };
    n.kind == Kind::Number
        && src[n.start..n.end].contains('.')
        && n.end == dot.start
        && e.kind == Kind::Ident
        && dot.end == e.start
        && exp_like
}

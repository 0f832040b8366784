//! The HCL2 formatter: rewrites a configuration to the canonical layout, byte-identical to
//! `packer fmt` (which is HCL's own formatter).
//!
//! The work is token-based, as in HCL: [`lexer`] splits the text into tokens that keep every
//! byte, [`layout`] recomputes only the spaces between them (indentation by bracket nesting,
//! spacing rules between token kinds, alignment of `=` and trailing comments). Invalid input is
//! refused, as `packer fmt` refuses it, with diagnostics that point at the problem.

mod check;
mod layout;
mod lexer;

use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use std::sync::Arc;

/// Formats the HCL2 source in `file` (its path names it in diagnostics).
pub fn format(file: &Arc<SourceFile>) -> Result<String, Diagnostics> {
    let src = file.text.as_str();
    // A UTF-8 byte order mark is accepted and dropped, as `packer fmt` does. Spans stay right
    // because they index a file that starts after the mark.
    if let Some(rest) = src.strip_prefix('\u{feff}') {
        return format(&SourceFile::new(file.path.clone(), rest));
    }
    let (tokens, errors) = lexer::lex(src, file);
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    check::brackets(src, &tokens, file)?;
    check::structure(src, &tokens, file)?;
    check::directives(src, &tokens, file)?;
    check_syntax(&parser_view(src, &tokens), file)?;
    Ok(layout::layout(src, &tokens))
}

/// The text given to the parser: HCL ignores line breaks inside `(…)` and `[…]`, but the parser
/// used for the remaining checks does not everywhere (`[!\n true]`), so those line breaks become
/// spaces, and so does the text of every comment. Byte offsets are unchanged, so its errors still
/// point right.
fn parser_view(src: &str, tokens: &[lexer::Token]) -> String {
    use lexer::Kind;
    let mut bytes = src.as_bytes().to_vec();
    let mut open: Vec<Kind> = Vec::new();
    let mut after_heredoc = false;
    for t in tokens {
        let in_list = matches!(open.last(), Some(Kind::OBrack | Kind::OParen));
        match t.kind {
            Kind::OBrace | Kind::OBrack | Kind::OParen | Kind::TemplateInterp | Kind::TemplateControl => {
                open.push(t.kind)
            }
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => {
                open.pop();
            }
            // The line break after a heredoc's closing marker is part of the heredoc.
            Kind::Newline | Kind::Comment if in_list && !after_heredoc => bytes[t.start..t.end].fill(b' '),
            // Comment text is whitespace to HCL (the parser used here trips on a lone `\r` in
            // one); a line comment keeps the line break that ends it.
            Kind::Comment => {
                let body = src[t.start..t.end].trim_end_matches(['\n', '\r']).len();
                let keep_break = src[t.start..t.end].starts_with('#') || src[t.start..t.end].starts_with("//");
                let end = if keep_break { t.start + body } else { t.end };
                bytes[t.start..end].fill(b' ');
            }
            _ => {}
        }
        after_heredoc = t.kind == Kind::CHeredoc;
    }
    String::from_utf8(bytes).unwrap_or_else(|_| src.to_string())
}

/// Refuses input that is not valid HCL; the lexer alone cannot see a missing `=` or an
/// unbalanced bracket.
fn check_syntax(src: &str, file: &Arc<SourceFile>) -> Result<(), Diagnostics> {
    if let Err(e) = hcl_edit::parser::parse_body(src) {
        let message = e.message().trim();
        let summary = if message.is_empty() {
            "invalid HCL syntax".to_string()
        } else {
            format!("invalid HCL syntax: {message}")
        };
        let d = Diagnostic::error(summary)
            .at(Span::at_char(file, e.location().offset()))
            .with_help(check::help_for(message));
        return Err(d.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! The HCL2 formatter: rewrites a configuration to the canonical layout, byte-identical to
//! `packer fmt` (which is HCL's own formatter).
//!
//! The work is token-based, as in HCL: [`lexer`] splits the text into tokens that keep every
//! byte, [`layout`] recomputes only the spaces between them (indentation by bracket nesting,
//! spacing rules between token kinds, alignment of `=` and trailing comments). Invalid input is
//! refused, as `packer fmt` refuses it, with diagnostics that point at the problem.

mod check;
pub mod layout;
pub mod lexer;

use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use std::sync::Arc;

/// Formats HCL2 source `src`, read from `file` (used for diagnostics' spans).
pub fn format(src: &str, file: &Arc<SourceFile>) -> Result<String, Diagnostics> {
    // A UTF-8 byte order mark is accepted and dropped, as `packer fmt` does. Spans stay right
    // because they index a file that starts after the mark.
    if let Some(rest) = src.strip_prefix('\u{feff}') {
        let inner = SourceFile::new(file.path.clone(), rest);
        return format(rest, &inner);
    }
    let (tokens, errors) = lexer::lex(src, file);
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    check::brackets(src, &tokens, file)?;
    check::structure(src, &tokens, file)?;
    check_syntax(src, file)?;
    Ok(layout::layout(src, &tokens))
}

/// Whether `src` is already in canonical form. Errors as for [`format`].
pub fn is_formatted(src: &str, file: &Arc<SourceFile>) -> Result<bool, Diagnostics> {
    format(src, file).map(|out| out == src)
}

/// Refuses input that is not valid HCL; the lexer alone cannot see a missing `=` or an
/// unbalanced bracket.
fn check_syntax(src: &str, file: &Arc<SourceFile>) -> Result<(), Diagnostics> {
    if let Err(e) = hcl_edit::parser::parse_body(src) {
        let loc = e.location();
        let start = loc.offset().min(src.len());
        let end = src[start..].chars().next().map_or(start, |c| start + c.len_utf8());
        let message = e.message().trim();
        let summary = if message.is_empty() {
            "invalid HCL syntax".to_string()
        } else {
            format!("invalid HCL syntax: {message}")
        };
        let d = Diagnostic::error(summary).at(Span::new(file, start, end)).with_help(check::help_for(message));
        return Err(d.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

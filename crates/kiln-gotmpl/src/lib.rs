//! kiln-gotmpl is Packer's Go-template language: a small interpreter for the subset Packer
//! templates use (`{{user `x`}}`, `{{ .HTTPIP }}`, pipelines, `if`/`range`/`with`, trim
//! markers), with Packer's functions. The JSON loader renders templates with it, and the runtime
//! (kiln-core) renders the late values (`{{ .Path }}`) components get once a build knows them.
//! It depends only on kiln-config: no template syntax, no HCL2.
//!
//! CONTRACT (other modules code against this; keep the signatures): [`Context`], [`render`],
//! [`RenderError`]. Also: [`Template`] (parse once, render many times; its calls, fields and
//! user variables), [`check`] (every syntax error at once), [`action_spans`] (where each action
//! is, for tools that rewrite actions) and [`raw_offset`] (decoded JSON
//! string offset → raw file text offset, for error positions).
//!
//! Go's semantics are followed (text/template as of Go 1.15, which Packer 1.6.6 uses, plus
//! later additions such as newlines inside actions and `break`/`continue`). Values that are
//! only known later (`.Field`s missing from the context, `build_name` without a build) are
//! "late": the action or structure holding them is copied to the output (a late action with
//! its parts known now replaced by their values, see `fold.rs`; known `$variables` it uses are
//! declared just before it), so rendering the output again with the component's data
//! (`strict_fields`) finishes it. An `if` whose condition is known becomes its chosen branch;
//! a `range`/`with`, or an `if` whose condition is late, is copied as written, so for those the
//! later render should get the same user variables, environment and clock as the first.

mod clean;
mod exec;
mod fold;
mod funcs;
mod jsonpos;
mod lexer;
mod parse;
mod printf;
mod refs;
pub mod strings;
pub mod time;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

pub use jsonpos::raw_offset;
pub use printf::quote;
pub use refs::{FieldRef, FuncCall};
pub use value::shortest_digits;

/// Everything a template may refer to.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// User variables (`{{user `name`}}`), already resolved.
    pub user: BTreeMap<String, String>,
    /// Environment for `{{env `X`}}`.
    pub env: BTreeMap<String, String>,
    /// Packer allows `env` only in the `variables` section; elsewhere it is an error.
    pub allow_env: bool,
    /// `{{build_name}}` / `{{build_type}}`; `None` leaves the action as it is (rendered later).
    pub build_name: Option<String>,
    pub build_type: Option<String>,
    /// `{{template_dir}}`: the folder of the template file, absolute.
    pub template_dir: Option<PathBuf>,
    /// The run's clock for `{{timestamp}}` / `{{isotime}}`.
    pub now: Option<SystemTime>,
    /// `.Field` values (`{{ .HTTPIP }}`, `{{ .Path }}`). Fields not present are late values:
    /// the action is left in the output unchanged, to be rendered by the component later.
    pub data: BTreeMap<String, String>,
    /// Generated data for `{{ build `Name` }}`; when `None`, such actions are left as they are.
    pub build_data: Option<BTreeMap<String, String>>,
    /// When true, a `.Field` missing from `data` is an error instead of a late value
    /// (components rendering at run time set this).
    pub strict_fields: bool,
    /// What reads secrets for `{{aws_secretsmanager}}`; without it the function is an error.
    pub secrets: Option<std::sync::Arc<dyn SecretReader>>,
}

/// Reads secrets from a secret store for the template functions that fetch them. The loader
/// provides it (this crate knows no store) and marks every value it returns as sensitive.
pub trait SecretReader: Send + Sync + std::fmt::Debug {
    /// `{{aws_secretsmanager `name` `key`}}`: the value of `key` in the AWS Secrets Manager
    /// secret `name` (the first value when `key` is `None`).
    fn aws_secretsmanager(&self, name: &str, key: Option<&str>) -> Result<String, String>;
}

/// A template error, with the byte offset in the rendered string where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub message: String,
    /// Byte offset into the template text; the caller maps it to a file position.
    pub offset: usize,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Renders `src` with `ctx`: parse, then execute. Text without `{{` is returned as it is.
pub fn render(src: &str, ctx: &Context) -> Result<String, RenderError> {
    if !src.contains("{{") {
        return Ok(src.to_string());
    }
    let tmpl = Template::parse(src).map_err(first_error)?;
    tmpl.render(ctx)
}

/// Every problem `src` has that can be found without rendering it (syntax, unknown functions,
/// undefined variables), in source order, so one run can report them all.
pub fn check(src: &str) -> Vec<RenderError> {
    match Template::parse(src) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

/// Where one action `{{ … }}` is in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpan {
    /// `start..end` covers the action with its delimiters (and trim markers).
    pub start: usize,
    pub end: usize,
    /// The text between the delimiters, without the trim markers `{{- ` / ` -}}`.
    pub inner: std::ops::Range<usize>,
}

/// The actions of `src` in order, as the template lexer finds them (so a `}}` inside a quoted
/// or raw string does not end an action); comments are not actions. The one scanner for
/// tools that rewrite actions in place (fix, hcl2_upgrade, boot command checks). An error is
/// the first syntax error the lexer meets, with its offset.
pub fn action_spans(src: &str) -> Result<Vec<ActionSpan>, RenderError> {
    if !src.contains("{{") {
        return Ok(Vec::new());
    }
    let bytes = src.as_bytes();
    let space = |i: usize| bytes.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    Ok(lexer::split(src)?
        .into_iter()
        .filter_map(|item| match item {
            lexer::Item::Action { start, end, .. } => {
                let mut from = start + 2;
                if bytes.get(from) == Some(&b'-') && space(from + 1) {
                    from += 1;
                }
                let mut to = end - 2;
                if to > from && bytes[to - 1] == b'-' && space(to - 2) {
                    to -= 1;
                }
                Some(ActionSpan { start, end, inner: from..to })
            }
            lexer::Item::Text(_) => None,
        })
        .collect())
}

fn first_error(mut errors: Vec<RenderError>) -> RenderError {
    errors.sort_by_key(|e| e.offset);
    errors.into_iter().next().unwrap_or(RenderError { message: "invalid template".into(), offset: 0 })
}

/// When the output will be rendered again (it has late parts), `{{` that is plain text in it
/// (from a variable's value, or a `{{"{{"}}` action) must stay text: it is written as
/// `{{"{{"}}`. `late` holds the output ranges that are template text; `copies` offsets are
/// moved accordingly.
fn escape_rendered(text: &str, late: &[(usize, usize)], copies: &mut [(usize, usize, usize)]) -> String {
    const ESCAPED: &str = "{{\"{{\"}}";
    let mut out = String::with_capacity(text.len());
    // (old offset, growth so far) at each late range start, to move the copies.
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    for &(start, end) in late {
        out.push_str(&text.get(pos..start).unwrap_or_default().replace("{{", ESCAPED));
        shifts.push((start, out.len() - start));
        out.push_str(text.get(start..end).unwrap_or_default());
        pos = end;
    }
    out.push_str(&text.get(pos..).unwrap_or_default().replace("{{", ESCAPED));
    for c in copies.iter_mut() {
        if let Some((_, grow)) = shifts.iter().rev().find(|(start, _)| *start <= c.0) {
            c.0 += grow;
        }
    }
    out
}

/// A parsed template, to render many times with different contexts (parse once).
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<parse::Node>,
}

/// The result of [`Template::render_full`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Things that render but are probably mistakes (an undefined ``{{user `x`}}``).
    pub warnings: Vec<RenderError>,
    /// Whether some actions were left as they are, to be rendered later.
    pub late: bool,
    /// Where the actions left as they are sit: (offset in `text`, offset in the source,
    /// length), for [`Rendered::source_offset`].
    pub late_copies: Vec<(usize, usize, usize)>,
}

impl Rendered {
    /// Maps an offset in `text` that falls inside an action left for later (an error found
    /// when rendering `text` again) back to the offset in the original source.
    pub fn source_offset(&self, text_offset: usize) -> Option<usize> {
        self.late_copies
            .iter()
            .find(|(out, _, len)| (*out..*out + *len).contains(&text_offset))
            .map(|(out, src, _)| src + (text_offset - out))
    }
}

impl Template {
    /// Parses `src`; on failure returns every error found, in source order.
    pub fn parse(src: &str) -> Result<Template, Vec<RenderError>> {
        let items = lexer::split(src).map_err(|e| vec![e])?;
        let nodes = parse::parse(items, src.len())?;
        Ok(Template { src: src.to_string(), nodes })
    }

    /// Every function call, in source order (``{{user `x`}}`` → `user` with `[Some("x")]`).
    pub fn calls(&self) -> Vec<FuncCall> {
        refs::collect(&self.nodes).calls
    }

    /// Every `.Field` of the template's data it refers to, in source order.
    pub fn fields(&self) -> Vec<FieldRef> {
        refs::collect(&self.nodes).fields
    }

    /// The user variables referred to with a constant name, with their offsets (for ordering
    /// variables that use each other, and for "undefined variable" checks).
    pub fn user_vars(&self) -> Vec<(String, usize)> {
        self.calls()
            .into_iter()
            .filter(|c| c.name == "user")
            .filter_map(|c| match c.args.first() {
                Some(Some(name)) => Some((name.clone(), c.offset)),
                _ => None,
            })
            .collect()
    }

    pub fn render(&self, ctx: &Context) -> Result<String, RenderError> {
        self.render_full(ctx).map(|r| r.text)
    }

    /// Renders and also returns warnings and whether late values were left in place.
    pub fn render_full(&self, ctx: &Context) -> Result<Rendered, RenderError> {
        let mut ex = exec::Exec::new(ctx, &self.src);
        let mut text = String::with_capacity(self.src.len());
        ex.run(&self.nodes, &mut text)?;
        // Folding late copies evaluates some calls twice; report each warning once.
        let mut warnings = ex.notes.warnings;
        warnings.sort_by(|a, b| (a.offset, &a.message).cmp(&(b.offset, &b.message)));
        warnings.dedup();
        let mut copies = ex.notes.copies;
        let text = if ex.notes.late { escape_rendered(&text, &ex.notes.late_ranges, &mut copies) } else { text };
        Ok(Rendered { text, warnings, late: ex.notes.late, late_copies: copies })
    }
}

//! `console`: evaluates expressions typed one a line against a template, as `packer console`
//! does. HCL2 templates (or none) take HCL expressions; legacy JSON templates take Go-template
//! text such as ``{{user `region`}}``.

use std::path::Path;

use crate::hcl::{display_value, Loaded};
use crate::load::{detect_format, Format, LoadOptions, Stage};
use kiln_config::diag::{Diagnostic, Diagnostics};

/// What expressions are evaluated against.
pub enum Session {
    Hcl(Box<Loaded>),
    Json(Box<kiln_gotmpl::Context>),
}

/// Opens a session for `template` (a file or folder), or an empty HCL2 scope when `None`.
/// The template is loaded at the syntax stage so that unset variables do not stop the console;
/// they evaluate to `<unknown>`.
pub fn open(template: Option<&Path>, opts: &LoadOptions) -> Result<Session, Diagnostics> {
    let mut opts = opts.clone();
    opts.stage = Stage::Syntax;
    let Some(path) = template else {
        return Ok(Session::Hcl(Box::new(crate::hcl::empty(&opts))));
    };
    match detect_format(path)? {
        Format::Hcl => Ok(Session::Hcl(Box::new(crate::hcl::load_with_scope(path, &opts)?))),
        Format::Json => {
            // Variable values need the full stage; when that fails (a required variable unset,
            // say), the console still works with the defaults as written.
            let full = LoadOptions { stage: Stage::Full, ..opts.clone() };
            let t = match crate::json::load(path, &full) {
                Ok(t) => t,
                Err(_) => crate::json::load(path, &opts)?,
            };
            let mut ctx = kiln_gotmpl::Context { env: opts.env.clone(), now: opts.now, ..Default::default() };
            for v in &t.variables {
                let value = v.value.as_ref().and_then(crate::value::Value::to_template_string);
                if let Some(s) = value.or_else(|| v.default_display.clone()) {
                    ctx.user.insert(v.name.clone(), s);
                }
            }
            ctx.template_dir = path.parent().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
            Ok(Session::Json(Box::new(ctx)))
        }
    }
}

impl Session {
    /// The value of one input line, as `packer console` prints it (no trailing newline).
    pub fn eval_line(&self, line: &str) -> Result<String, Diagnostic> {
        match self {
            Session::Hcl(l) => l.eval_str(line).map(|v| display_value(&v)),
            Session::Json(ctx) => kiln_gotmpl::render(line, ctx).map_err(|e| {
                let file = kiln_config::diag::SourceFile::new("<console>", line);
                let at = e.offset.min(line.len());
                Diagnostic::error(e.message).at(kiln_config::diag::Span::new(&file, at, at + 1))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_without_a_template() {
        let s = open(None, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.eval_line("1 + 2").unwrap(), "3");
        assert_eq!(s.eval_line("\"a${1}\"").unwrap(), "a1");
        assert_eq!(s.eval_line("[1, 2]").unwrap(), "[\n  1,\n  2,\n]");
        let e = s.eval_line("var.nope").unwrap_err().to_string();
        assert!(e.contains("<console>:1:1") && e.contains("var.nope"), "{e}");
        let e = s.eval_line("1 +").unwrap_err().to_string();
        assert!(e.contains("invalid expression"), "{e}");
    }
}

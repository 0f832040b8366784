//! Credentials written as literal strings in an HCL2 configuration (`secret_key = "wJalr…"`).
//!
//! Each gets a warning that names the place and the option, never the value; the values go
//! into the template's sensitive values, and the file that diagnostics quote is replaced by a
//! copy with those values masked, so no snippet can print them.

use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{BlockLabel, Body, Structure};
use hcl_edit::Span as _;

use crate::secrets::{is_credential_name, mask_file};
use kiln_config::diag::{Diagnostic, SourceFile, Span};

/// One literal credential: the option's key span and the value's span and text.
struct Found {
    option: String,
    key: Span,
    value: Span,
    text: String,
}

fn walk(file: &Arc<SourceFile>, body: &Body, var_name: Option<&str>, out: &mut Vec<Found>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let name = a.key.value().as_str();
                // `variable "secret_key" { default = "..." }` hard-codes it just the same.
                let option = match var_name {
                    Some(v) if name == "default" => v,
                    _ => name,
                };
                if let Expression::String(v) = &a.value {
                    let text = v.value().as_str();
                    if is_credential_name(option) && !text.trim().is_empty() {
                        let key = a.key.span().map_or(Span::new(file, 0, 0), |r| Span::new(file, r.start, r.end));
                        let value = a.value.span().map_or(key.clone(), |r| Span::new(file, r.start, r.end));
                        out.push(Found { option: option.to_string(), key, value, text: text.to_string() });
                    }
                }
            }
            Structure::Block(b) => {
                let var = (b.ident.value().as_str() == "variable").then(|| b.labels.first()).flatten();
                let var = var.map(BlockLabel::as_str);
                walk(file, &b.body, var, out)
            }
        }
    }
}

/// Scans `body`; returns the file to quote in diagnostics (masked when needed), the warnings
/// and the secret values.
pub(crate) fn scan(file: Arc<SourceFile>, body: &Body) -> (Arc<SourceFile>, Vec<Diagnostic>, Vec<String>) {
    let mut found = Vec::new();
    walk(&file, body, None, &mut found);
    if found.is_empty() {
        return (file, Vec::new(), Vec::new());
    }
    let spans: Vec<Span> = found.iter().map(|f| f.value.clone()).collect();
    let masked = mask_file(&file, &spans);
    let warnings = found
        .iter()
        .map(|f| {
            Diagnostic::warning(format!("hard-coded credential in option \"{}\"", f.option))
                .at(Span::new(&masked, f.key.start, f.key.end))
                .with_detail("anyone who can read the template or its history can read this credential")
                .with_help(
                    "declare a variable with `sensitive = true` and set it from the environment (PKR_VAR_name) or a var file kept out of version control",
                )
        })
        .collect();
    (masked, warnings, found.into_iter().map(|f| f.text).collect())
}

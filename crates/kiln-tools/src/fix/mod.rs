//! `fix`: Packer's JSON fixers (renamed and moved options), output as Packer prints it.
//!
//! The template is read with kiln's spanned parser (so a broken file gets a precise error),
//! rewritten by each fixer of [`FIXERS`] in Packer's order, and printed in Packer's layout.

mod fixers;
mod output;

use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile};

pub use fixers::{Fixer, FIXERS};
use output::to_packer_json;

/// Reads and fixes the template at `path`; returns the text `fix` prints.
pub fn fix_file(path: &Path) -> Result<String, Diagnostics> {
    if kiln_template::load::detect_format(path).ok() == Some(kiln_template::load::Format::Hcl) {
        return Err(Diagnostic::error(format!(
            "{} is an HCL2 configuration; fix works on legacy JSON templates",
            path.display()
        ))
        .with_help("HCL2 needs no fixing; to turn a JSON template into HCL2 use hcl2_upgrade")
        .into());
    }
    fix_source(&SourceFile::new(path, kiln_template::json::read_text(path)?))
}

/// Fixes a template already read.
pub fn fix_source(file: &Arc<SourceFile>) -> Result<String, Diagnostics> {
    let root = kiln_template::json::parse(file)?;
    let serde_json::Value::Object(mut t) = to_json_f64(&root) else {
        return Err(Diagnostic::error(format!("a template must be a JSON object, found {}", root.kind_name()))
            .at_opt(root.span.clone())
            .with_help("`fix` works on legacy JSON templates: { \"builders\": [ ... ] }")
            .into());
    };
    for f in FIXERS {
        if let Err(msg) = (f.run)(&mut t) {
            let span = root.span_of("builders");
            return Err(Diagnostic::error(format!("cannot fix the template ({}): {msg}", f.name))
                .at_opt(span)
                .with_help("correct the option by hand, then run fix again")
                .into());
        }
    }
    // Packer decodes the template into a structure whose builder list always prints.
    t.entry("builders").or_insert(serde_json::Value::Null);
    let mut out = to_packer_json(&serde_json::Value::Object(t));
    out.push_str("\n\n");
    Ok(out)
}

/// Like [`kiln_config::node::Node::to_json`] but every number stays a float, as in Go (so `-0`
/// survives).
fn to_json_f64(n: &kiln_config::node::Node) -> serde_json::Value {
    use kiln_config::node::NodeKind;
    use serde_json::Value as J;
    match &n.kind {
        NodeKind::Number(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        NodeKind::Array(items) | NodeKind::Blocks(items) => J::Array(items.iter().map(to_json_f64).collect()),
        NodeKind::Object(m) => J::Object(m.iter().map(|(k, v)| (k.name.clone(), to_json_f64(v))).collect()),
        _ => n.to_json(),
    }
}

/// What `fix -validate` reports about the fixed text (positions refer to the printed output).
pub fn validate_fixed(path: &Path, fixed: &str) -> Diagnostics {
    let name = format!("{} (fixed)", path.display());
    let mut d = kiln_template::json::check(&SourceFile::new(name, fixed));
    d.0.retain(Diagnostic::is_error);
    d
}

#[cfg(test)]
mod tests;

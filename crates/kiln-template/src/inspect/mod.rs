//! `inspect`: a template's variables, sources and builds as Packer prints them, byte for byte
//! (Packer 1.6.6's layout), for both legacy JSON ("JSON mode") and HCL2 ("HCL2 mode"), as text
//! or as Packer's `-machine-readable` events.

mod hcl;

use crate::plan::{Template, TemplateKind, Variable};

pub use hcl::printable;

/// One thing `inspect` says: Packer's machine-readable type and data. Human output is the
/// text of every `("ui", ["say", text])` followed by a newline.
pub type Event = (&'static str, Vec<String>);

/// The full text `inspect` prints on standard output.
pub fn render(t: &Template) -> String {
    let mut out = String::new();
    for (kind, data) in events(t) {
        if let ("ui", [_, text]) = (kind, data.as_slice()) {
            out.push_str(text);
            out.push('\n');
        }
    }
    out
}

/// What `inspect -machine-readable` prints, in order (target is always empty): e.g.
/// `("template-variable", ["name", "default", "1"])` for a required variable.
pub fn events(t: &Template) -> Vec<Event> {
    match t.kind {
        TemplateKind::Json => json_events(t),
        TemplateKind::Hcl => hcl::says(t).into_iter().map(say).collect(),
    }
}

fn say(text: impl Into<String>) -> Event {
    ("ui", vec!["say".to_string(), text.into()])
}

const JSON_NOTE: &str = "\nNote: If your build names contain user variables or template\n\
functions such as 'timestamp', these are processed at build time,\n\
and therefore only show in their raw form here.";

/// `name` padded with spaces to `width` bytes, as Go's `strings.Repeat` padding does.
fn pad(name: &str, width: usize) -> String {
    format!("{name}{}", " ".repeat(width.saturating_sub(name.len())))
}

fn json_events(t: &Template) -> Vec<Event> {
    let mut ev = vec![say("Packer Inspect: JSON mode")];
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        ev.push(say(format!("Description:\n\n{d}\n")));
    }
    if t.variables.is_empty() {
        ev.push(say("Variables:\n"));
        ev.push(say("  <No variables>"));
    } else {
        // Packer hides every default equal to a sensitive variable's default.
        let hidden: Vec<&str> =
            t.variables.iter().filter(|v| v.sensitive).map(|v| v.default_display.as_deref().unwrap_or("")).collect();
        let mut required: Vec<&Variable> = t.variables.iter().filter(|v| v.required).collect();
        required.sort_by(|a, b| a.name.cmp(&b.name));
        if !required.is_empty() {
            ev.push(say("Required variables:\n"));
            for v in &required {
                ev.push(("template-variable", vec![v.name.clone(), String::new(), "1".into()]));
                ev.push(say(format!("  {}", v.name)));
            }
            ev.push(say(""));
        }
        ev.push(say("Optional variables and their defaults:\n"));
        let width = t.variables.iter().map(|v| v.name.len()).max().unwrap_or(0);
        let mut optional: Vec<&Variable> = t.variables.iter().filter(|v| !v.required).collect();
        optional.sort_by(|a, b| a.name.cmp(&b.name));
        for v in optional {
            let default = v.default_display.as_deref().unwrap_or("");
            // Hard-coded credentials are hidden too (Packer prints them).
            let secret = t.sensitive_values.iter().any(|s| s == default);
            let shown = if hidden.contains(&default) || secret { "<sensitive>" } else { default };
            ev.push(("template-variable", vec![v.name.clone(), shown.to_string(), "0".into()]));
            ev.push(say(format!("  {} = {shown}", pad(&v.name, width))));
        }
    }
    ev.push(say(""));
    ev.push(say("Builders:\n"));
    if t.sources.is_empty() {
        ev.push(say("  <No builders>"));
    }
    let width = t.sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut sources: Vec<_> = t.sources.iter().collect();
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    for s in sources {
        ev.push(("template-builder", vec![s.name.clone(), s.builder_type.clone()]));
        if s.name == s.builder_type {
            ev.push(say(format!("  {}", pad(&s.name, width))));
        } else {
            ev.push(say(format!("  {} ({})", pad(&s.name, width), s.builder_type)));
        }
    }
    ev.push(say(""));
    ev.push(say("Provisioners:\n"));
    let provisioners: Vec<&String> = t.build_blocks.iter().flat_map(|b| &b.provisioners).collect();
    if provisioners.is_empty() {
        ev.push(say("  <No provisioners>"));
    }
    for p in provisioners {
        ev.push(("template-provisioner", vec![p.clone()]));
        ev.push(say(format!("  {p}")));
    }
    ev.push(say(JSON_NOTE));
    ev
}

#[cfg(test)]
mod tests;

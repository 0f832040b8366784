//! HCL2 mode: Packer prints three blocks of text (variables, locals, builds).

use std::fmt::Write;

use kiln_gotmpl::quote;

use crate::hcl::collect_strings;
use crate::plan::{Template, Variable};
use crate::secrets::is_credential_name;
use crate::value::Value;

/// The three texts Packer "says" in HCL2 mode (the header, variables with locals, builds);
/// each is printed followed by a newline. Like Packer, every string of a sensitive variable's
/// value is then replaced by `<sensitive>` wherever it shows (an empty string is left alone).
pub(super) fn says(t: &Template) -> Vec<String> {
    let (full, vars_at, builds_at) = render_parts(t);
    let secrets = secrets(t);
    let part = |a: usize, b: usize| mask(full.get(a..b.saturating_sub(1)).unwrap_or(""), &secrets);
    vec![part(0, vars_at), part(vars_at, builds_at), part(builds_at, full.len())]
}

/// The value Packer holds for a variable: the one set (var files, `-var`, environment), else
/// its default; `None` when neither is known.
fn variable_value(v: &Variable) -> Option<Value> {
    if let Some(value) = &v.value {
        return Some(value.clone());
    }
    // A default with unknown parts is unknown as a whole, as Packer shows it.
    v.default.clone().filter(|d| !v.required && d.is_known())
}

/// The strings to hide: every known, non-empty string in the values of sensitive variables
/// and locals, longest first so that a secret containing another is hidden whole.
fn secrets(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for v in t.variables.iter().filter(|v| v.sensitive) {
        if let Some(value) = variable_value(v) {
            collect_strings(&value, &mut out);
        }
    }
    for l in t.locals.iter().filter(|l| l.sensitive) {
        collect_strings(&l.value, &mut out);
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// A credential written into the configuration (`variable "db_password" { default = "x" }`):
/// kiln hides it, where Packer prints it.
fn hardcoded(t: &Template, name: &str, value: &Value) -> bool {
    matches!(value, Value::String(s) if is_credential_name(name) && t.sensitive_values.contains(s))
}

/// Replaces each secret by `<sensitive>` in one pass, longest first, so that a short secret
/// never rewrites a marker already put in (Packer's replacements run one secret after the
/// other, in random order).
fn mask(text: &str, secrets: &[String]) -> String {
    if secrets.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        // An empty secret would match everywhere without moving on.
        if let Some(s) = secrets.iter().find(|s| !s.is_empty() && rest.starts_with(s.as_str())) {
            out.push_str("<sensitive>");
            rest = &rest[s.len()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The text, and where the variables and the builds parts start.
fn render_parts(t: &Template) -> (String, usize, usize) {
    let mut out = String::from("Packer Inspect: HCL2 mode\n\n");
    let vars_at = out.len();
    out.push_str("> input-variables:\n\n");
    let mut vars: Vec<&Variable> = t.variables.iter().collect();
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    for v in vars {
        let value = variable_value(v);
        let shown = match &value {
            Some(value) if hardcoded(t, &v.name, value) => "<sensitive>".to_string(),
            Some(value) => printable(value),
            None => "<unknown>".to_string(),
        };
        let _ = writeln!(out, "var.{}: {}", v.name, quote(&shown, false, false));
    }
    out.push_str("\n> local-variables:\n\n");
    let mut locals: Vec<_> = t.locals.iter().collect();
    locals.sort_by(|a, b| a.name.cmp(&b.name));
    for l in locals {
        let shown = if hardcoded(t, &l.name, &l.value) { "<sensitive>".to_string() } else { printable(&l.value) };
        let _ = writeln!(out, "local.{}: {}", l.name, quote(&shown, false, false));
    }
    out.push('\n');
    let builds_at = out.len();
    out.push_str("> builds:\n");
    for (i, b) in t.build_blocks.iter().enumerate() {
        match &b.name {
            Some(n) if !n.is_empty() => {
                let _ = writeln!(out, "\n  > {n}:");
            }
            _ => {
                let _ = writeln!(out, "\n  > <unnamed build {i}>:");
            }
        }
        if let Some(d) = b.description.as_deref().filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "\n  > Description: {d}");
        }
        out.push_str("\n    sources:\n");
        if b.sources.is_empty() {
            out.push_str("\n      <no source>\n");
        }
        for s in &b.sources {
            let _ = writeln!(out, "\n      {s}");
        }
        out.push_str("\n    provisioners:\n\n");
        if b.provisioners.is_empty() {
            out.push_str("      <no provisioner>\n");
        }
        for p in &b.provisioners {
            let _ = writeln!(out, "      {p}");
        }
        out.push_str("\n    post-processors:\n");
        if b.post_processors.is_empty() {
            out.push_str("\n      <no post-processor>\n");
        }
        for (j, chain) in b.post_processors.iter().enumerate() {
            let _ = writeln!(out, "\n      {j}:");
            for pp in chain {
                let _ = writeln!(out, "        {pp}");
            }
        }
    }
    out.push('\n');
    (out, vars_at, builds_at)
}

/// A value as Packer's inspect shows it: strings bare, everything else in HCL syntax with
/// quoted strings, lists with a trailing comma on each item; `<unknown>` when any part of it
/// is not known.
pub fn printable(v: &Value) -> String {
    if !v.is_known() {
        return "<unknown>".to_string();
    }
    match v {
        Value::String(s) => s.clone(),
        _ => hcl_literal(v, 0),
    }
}

fn hcl_literal(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match v {
        Value::Null => "null".to_string(),
        Value::Unknown => "<unknown>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.console_text(),
        Value::String(s) => quote(s, false, false),
        Value::List(items) if items.is_empty() => "[]".to_string(),
        Value::List(items) => {
            let mut s = String::from("[\n");
            for item in items {
                let _ = writeln!(s, "{pad}{},", hcl_literal(item, indent + 1));
            }
            s.push_str(&close);
            s.push(']');
            s
        }
        Value::Object(m) if m.is_empty() => "{}".to_string(),
        Value::Object(m) => {
            let mut s = String::from("{\n");
            for (k, item) in m {
                let _ = writeln!(s, "{pad}{} = {}", quote(k, false, false), hcl_literal(item, indent + 1));
            }
            s.push_str(&close);
            s.push('}');
            s
        }
    }
}

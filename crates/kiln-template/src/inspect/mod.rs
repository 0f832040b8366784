//! `inspect`: a template's variables, sources and builds as Packer prints them, byte for byte
//! (Packer 1.6.6's layout), for both legacy JSON ("JSON mode") and HCL2 ("HCL2 mode").

use std::fmt::Write;

use crate::plan::{Template, TemplateKind, Variable};
use crate::value::{format_number, Value};

/// The full text `inspect` prints on standard output.
pub fn render(t: &Template) -> String {
    match t.kind {
        TemplateKind::Json => render_json(t),
        TemplateKind::Hcl => render_hcl(t),
    }
}

const JSON_NOTE: &str = "\nNote: If your build names contain user variables or template\n\
functions such as 'timestamp', these are processed at build time,\n\
and therefore only show in their raw form here.\n";

fn render_json(t: &Template) -> String {
    let mut out = String::from("Packer Inspect: JSON mode\n");
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(out, "Description:\n\n{d}\n\n");
    }
    if t.variables.is_empty() {
        out.push_str("Variables:\n\n  <No variables>\n");
    } else {
        // Packer hides every default equal to a sensitive variable's default.
        let hidden: Vec<&str> =
            t.variables.iter().filter(|v| v.sensitive).map(|v| v.default_display.as_deref().unwrap_or("")).collect();
        let mut required: Vec<&Variable> = t.variables.iter().filter(|v| v.required).collect();
        required.sort_by(|a, b| a.name.cmp(&b.name));
        if !required.is_empty() {
            out.push_str("Required variables:\n\n");
            for v in &required {
                let _ = writeln!(out, "  {}", v.name);
            }
            out.push('\n');
        }
        out.push_str("Optional variables and their defaults:\n\n");
        let width = t.variables.iter().map(|v| v.name.len()).max().unwrap_or(0);
        let mut optional: Vec<&Variable> = t.variables.iter().filter(|v| !v.required).collect();
        optional.sort_by(|a, b| a.name.cmp(&b.name));
        for v in optional {
            let default = v.default_display.as_deref().unwrap_or("");
            // Hard-coded credentials are hidden too (Packer prints them).
            let secret = t.sensitive_values.iter().any(|s| s == default);
            let shown = if hidden.contains(&default) || secret { "<sensitive>" } else { default };
            let _ = writeln!(out, "  {:<width$} = {shown}", v.name);
        }
    }
    out.push_str("\nBuilders:\n\n");
    if t.sources.is_empty() {
        out.push_str("  <No builders>\n");
    } else {
        let width = t.sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let mut sources: Vec<_> = t.sources.iter().collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        for s in sources {
            if s.name == s.builder_type {
                let _ = writeln!(out, "  {:<width$}", s.name);
            } else {
                let _ = writeln!(out, "  {:<width$} ({})", s.name, s.builder_type);
            }
        }
    }
    out.push_str("\nProvisioners:\n\n");
    let provisioners: Vec<&String> = t.build_blocks.iter().flat_map(|b| &b.provisioners).collect();
    if provisioners.is_empty() {
        out.push_str("  <No provisioners>\n");
    }
    for p in provisioners {
        let _ = writeln!(out, "  {p}");
    }
    out.push_str(JSON_NOTE);
    out
}

fn render_hcl(t: &Template) -> String {
    let mut out = String::from("Packer Inspect: HCL2 mode\n\n> input-variables:\n\n");
    let mut vars: Vec<&Variable> = t.variables.iter().collect();
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    for v in vars {
        let shown = if v.sensitive {
            "<sensitive>".to_string()
        } else if let Some(value) = &v.value {
            printable(value)
        } else {
            match &v.default_display {
                // default_display holds the evaluated value as JSON.
                Some(d) => match serde_json::from_str::<serde_json::Value>(d) {
                    Ok(j) => printable(&Value::from_json(&j)),
                    Err(_) => d.clone(),
                },
                None => "<unknown>".to_string(),
            }
        };
        let _ = writeln!(out, "var.{}: {}", v.name, go_quote(&shown));
    }
    out.push_str("\n> local-variables:\n\n");
    let mut locals: Vec<_> = t.locals.iter().collect();
    locals.sort_by(|a, b| a.name.cmp(&b.name));
    for l in locals {
        let shown = if l.sensitive { "<sensitive>".to_string() } else { printable(&l.value) };
        let _ = writeln!(out, "local.{}: {}", l.name, go_quote(&shown));
    }
    out.push_str("\n> builds:\n");
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
    out
}

/// A value as Packer's inspect shows it: strings bare, everything else in HCL syntax with
/// quoted strings, lists with a trailing comma on each item.
pub fn printable(v: &Value) -> String {
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
        Value::Number(n) => format_number(*n),
        Value::String(s) => go_quote(s),
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
                let _ = writeln!(s, "{pad}{} = {}", go_quote(k), hcl_literal(item, indent + 1));
            }
            s.push_str(&close);
            s.push('}');
            s
        }
    }
}

/// Go's `%q` for a string: double quotes, `\"`, `\\`, `\n`, `\t`, `\r`, other control
/// characters as `\x..`/`\u....`; printable Unicode kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;

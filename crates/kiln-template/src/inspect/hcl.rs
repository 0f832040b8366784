//! HCL2 mode: Packer prints three blocks of text (variables, locals, builds).

use std::fmt::Write;

use crate::plan::{Template, Variable};
use crate::value::{format_number, Value};

/// The three texts Packer "says" in HCL2 mode (the header, variables with locals, builds);
/// each is printed followed by a newline.
pub(super) fn says(t: &Template) -> Vec<String> {
    let (full, vars_at, builds_at) = render_parts(t);
    let part = |a: usize, b: usize| full.get(a..b.saturating_sub(1)).unwrap_or("").to_string();
    vec![part(0, vars_at), part(vars_at, builds_at), part(builds_at, full.len())]
}

/// The text, and where the variables and the builds parts start.
fn render_parts(t: &Template) -> (String, usize, usize) {
    let mut out = String::from("Packer Inspect: HCL2 mode\n\n");
    let vars_at = out.len();
    out.push_str("> input-variables:\n\n");
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

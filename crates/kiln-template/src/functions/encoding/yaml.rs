//! `yamldecode` (through serde_yaml) and `yamlencode` (written here, to match the block style
//! cty's encoder produces: quoted keys and strings, `- ` list items, two-space nesting).

use std::collections::BTreeMap;

use crate::value::{Number, Value};

pub(crate) fn decode(src: &str) -> Result<Value, String> {
    if src.trim().is_empty() {
        return Err("on line 1, column 1: missing start of document".into());
    }
    let y: serde_yaml::Value = serde_yaml::from_str(src).map_err(|e| e.to_string())?;
    from_yaml(&y)
}

fn from_yaml(y: &serde_yaml::Value) -> Result<Value, String> {
    use serde_yaml::Value as Y;
    Ok(match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        // serde_yaml keeps an f64: its shortest text read back at 512 bits (`.inf` as infinity).
        Y::Number(n) => {
            Number::parse(&n.to_string()).map_or_else(|| Value::float(n.as_f64().unwrap_or(f64::NAN)), Value::Number)
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => Value::List(items.iter().map(from_yaml).collect::<Result<_, _>>()?),
        Y::Mapping(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let key = match from_yaml(k)? {
                    Value::Null => "null".to_string(),
                    other => other.to_template_string().ok_or("mapping keys must be strings, numbers or bools")?,
                };
                out.insert(key, from_yaml(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => from_yaml(&t.value)?,
    })
}

pub(crate) fn encode(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::List(items) if !items.is_empty() => list(items, 0, &mut out),
        Value::Object(m) if !m.is_empty() => map(m, 0, &mut out),
        Value::String(s) => {
            out.push_str(&string(s, 0));
            out.push('\n');
        }
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
            // go-yaml closes a document made of one plain scalar with an end marker.
            if !matches!(other, Value::List(_) | Value::Object(_)) {
                out.push_str("...\n");
            }
        }
    }
    out
}

/// A string as go-yaml writes it: double-quoted, or a literal block when it has line breaks
/// (`indent` is the indentation of the line holding it).
fn string(s: &str, indent: usize) -> String {
    if !s.contains('\n') || s.trim_start_matches('\n').starts_with(' ') {
        return quote(s);
    }
    let (chomp, body) = if s.ends_with("\n\n") {
        ("+", &s[..s.len() - 1])
    } else if let Some(b) = s.strip_suffix('\n') {
        ("", b)
    } else {
        ("-", s)
    };
    let pad = " ".repeat(indent + 2);
    let lines: Vec<String> =
        body.split('\n').map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") }).collect();
    format!("|{chomp}\n{}", lines.join("\n"))
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null | Value::Unknown => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, indent),
        Value::List(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::List(items) => !items.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

fn list(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for v in items {
        out.push_str(&pad);
        out.push_str("- ");
        match v {
            // A list item that is a map starts on the dash's line.
            Value::Object(m) if !m.is_empty() => {
                let mut inner = String::new();
                map(m, indent + 2, &mut inner);
                out.push_str(inner.trim_start());
            }
            Value::List(l) if !l.is_empty() => {
                let mut inner = String::new();
                list(l, indent + 2, &mut inner);
                out.push_str(inner.trim_start());
            }
            other => {
                out.push_str(&scalar(other, indent));
                out.push('\n');
            }
        }
    }
}

fn map(m: &BTreeMap<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        out.push_str(&pad);
        out.push_str(&quote(k));
        out.push(':');
        if is_block(v) {
            out.push('\n');
            match v {
                // Lists under a key are not indented further, as go-yaml writes them.
                Value::List(items) => list(items, indent, out),
                Value::Object(inner) => map(inner, indent + 2, out),
                _ => {}
            }
        } else {
            out.push(' ');
            out.push_str(&scalar(v, indent));
            out.push('\n');
        }
    }
}

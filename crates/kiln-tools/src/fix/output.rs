//! JSON text exactly as Packer's `fix` prints it: Go's `json.MarshalIndent` with two spaces,
//! keys sorted, numbers as Go formats float64, `&` escaped as `\u0026` (Packer turns Go's
//! `\u003c`/`\u003e` back into `<`/`>`).

use std::fmt::Write;

use serde_json::Value;

pub(crate) fn to_packer_json(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out
}

fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 1);
                write_value(out, item, indent + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                pad(out, indent + 1);
                write_string(out, k);
                out.push_str(": ");
                if let Some(item) = m.get(k.as_str()) {
                    write_value(out, item, indent + 1);
                }
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's encoding/json float64 format: shortest digits that round-trip, plain decimal between
/// 1e-6 and 1e21, exponent form (`1e+21`, `1e-7`) outside.
pub(crate) fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    let (digits, exp) = kiln_gotmpl::shortest_digits(f);
    let sign = if f < 0.0 { "-" } else { "" };
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let frac = &digits[1..];
        let m = if frac.is_empty() { digits[..1].to_string() } else { format!("{}.{}", &digits[..1], frac) };
        let e = if exp < 0 { format!("-{}", -exp) } else { format!("+{exp}") };
        format!("{sign}{m}e{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e20), "100000000000000000000");
        assert_eq!(go_float(0.000001), "0.000001");
        assert_eq!(go_float(0.0000001), "1e-7");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(123_456_789.123_456_79), "123456789.12345679");
        assert_eq!(go_float(12345678901234567890.0), "12345678901234567000");
        assert_eq!(go_float(-1.5), "-1.5");
    }

    #[test]
    fn layout_and_escapes_match_packer() {
        let v: Value = serde_json::from_str(
            r#"{"b": {"z": [], "a": {}}, "a": ["<x>&", "\u2028\b\u0001é\\/", 1, true, null], "c": [{"k": 1}]}"#,
        )
        .unwrap();
        let expected = "{\n  \"a\": [\n    \"<x>\\u0026\",\n    \"\\u2028\\u0008\\u0001é\\\\/\",\n    1,\n    true,\n    null\n  ],\n  \"b\": {\n    \"a\": {},\n    \"z\": []\n  },\n  \"c\": [\n    {\n      \"k\": 1\n    }\n  ]\n}";
        assert_eq!(to_packer_json(&v), expected);
    }
}

//! Encoding functions: base64decode base64encode base64gzip csvdecode jsondecode jsonencode
//! textdecodebase64 textencodebase64 urlencode yamldecode yamlencode.

use std::collections::BTreeMap;
use std::io::Write;

use super::{func, nullable, Args, Func};
use crate::value::Value;

mod base64;
mod json;
mod yaml;

pub(super) const FUNCS: &[Func] = &[
    func("base64decode", &["str"], |a| {
        let bytes = base64::decode(&a.string(0)?).map_err(|e| a.err(0, e))?;
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| a.err(0, "the result of decoding the provided string is not valid UTF-8"))
    }),
    func("base64encode", &["str"], |a| Ok(Value::String(base64::encode(a.string(0)?.as_bytes())))),
    func("base64gzip", &["str"], |a| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(a.string(0)?.as_bytes()).map_err(|e| format!("failed to compress: {e}"))?;
        let bytes = gz.finish().map_err(|e| format!("failed to compress: {e}"))?;
        Ok(Value::String(base64::encode(&bytes)))
    }),
    func("csvdecode", &["str"], csvdecode),
    func("jsondecode", &["str"], |a| {
        let s = a.string(0)?;
        json::decode(&s).map_err(|e| a.err(0, e))
    }),
    nullable(func("jsonencode", &["val"], |a| {
        if has_infinity(a.get(0)) {
            return Err(a.err(0, "cannot serialize infinity as JSON"));
        }
        Ok(Value::String(json_string(a.get(0))))
    })),
    func("textdecodebase64", &["source", "encoding"], textdecodebase64),
    func("textencodebase64", &["string", "encoding"], textencodebase64),
    func("urlencode", &["str"], |a| Ok(Value::String(kiln_gotmpl::strings::escape_query(&a.string(0)?)))),
    func("yamldecode", &["src"], |a| yaml::decode(&a.string(0)?).map_err(|e| a.err(0, e))),
    nullable(func("yamlencode", &["value"], |a| Ok(Value::String(yaml::encode(a.get(0)))))),
];

fn has_infinity(v: &Value) -> bool {
    match v {
        Value::Number(n) => !n.is_finite(),
        Value::List(items) => items.iter().any(has_infinity),
        Value::Object(m) => m.values().any(has_infinity),
        _ => false,
    }
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

/// JSON as Go's encoding/json writes it: compact, keys sorted, `<`, `>`, `&`, U+2028 and U+2029
/// escaped.
pub(crate) fn json_string(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null | Value::Unknown => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // All the digits, as cty writes them; an infinity has no JSON form (jsonencode refuses it).
        Value::Number(n) => out.push_str(n.to_json_text().as_deref().unwrap_or("null")),
        Value::String(s) => write_json_str(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 4180 CSV: the first row names the attributes of every following row's object.
fn csvdecode(a: &Args) -> Result<Value, String> {
    let s = a.string(0)?;
    let rows = parse_csv(&s).map_err(|e| a.err(0, e))?;
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err(a.err(0, "missing header line"));
    };
    let mut out = Vec::new();
    for (n, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(a.err(
                0,
                format!(
                    "record on line {}: wrong number of fields (expected {}, got {})",
                    n + 2,
                    header.len(),
                    row.len()
                ),
            ));
        }
        let obj: BTreeMap<String, Value> = header.iter().cloned().zip(row.into_iter().map(Value::String)).collect();
        out.push(Value::Object(obj));
    }
    Ok(Value::List(out))
}

fn parse_csv(s: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut line = 1;
    let mut at_field_start = true;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match c {
            '"' if at_field_start => {
                let start_line = line;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                        None => return Err(format!("line {start_line}: extraneous or missing \" in quoted-field")),
                    }
                }
                if !matches!(chars.peek(), None | Some(',') | Some('\n') | Some('\r')) {
                    return Err(format!("line {line}: extraneous or missing \" in quoted-field"));
                }
                at_field_start = false;
            }
            '"' => return Err(format!("line {line}: bare \" in non-quoted-field")),
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
                any = false;
                line += 1;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    // Go's csv reader skips empty lines.
    rows.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    Ok(rows)
}

fn encoding_name(a: &Args, i: usize) -> Result<&'static str, String> {
    let e = a.string(i)?;
    match e.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok("UTF-8"),
        "UTF-16LE" => Ok("UTF-16LE"),
        "UTF-16BE" => Ok("UTF-16BE"),
        "ISO-8859-1" | "LATIN1" | "LATIN-1" => Ok("ISO-8859-1"),
        "US-ASCII" | "ASCII" => Ok("US-ASCII"),
        _ => Err(a.err(
            i,
            format!("{e:?} is not a supported IANA encoding name (kiln supports UTF-8, UTF-16LE, UTF-16BE, ISO-8859-1, US-ASCII)"),
        )),
    }
}

fn textencodebase64(a: &Args) -> Result<Value, String> {
    let s = a.string(0)?;
    let bytes: Vec<u8> = match encoding_name(a, 1)? {
        "UTF-8" => s.into_bytes(),
        "UTF-16LE" => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
        "UTF-16BE" => s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        enc => {
            let max = if enc == "US-ASCII" { 0x7f } else { 0xff };
            s.chars()
                .map(|c| {
                    if (c as u32) <= max {
                        Ok(c as u32 as u8)
                    } else {
                        Err(a.err(
                            0,
                            format!("the given string contains characters that cannot be represented in {enc}"),
                        ))
                    }
                })
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Value::String(base64::encode(&bytes)))
}

fn textdecodebase64(a: &Args) -> Result<Value, String> {
    let bytes = base64::decode(&a.string(0)?).map_err(|e| a.err(0, e))?;
    let bad = |enc: &str| a.err(0, format!("the given value is has an invalid base64 symbol or is not valid {enc}"));
    let s = match encoding_name(a, 1)? {
        "UTF-8" => String::from_utf8(bytes).map_err(|_| bad("UTF-8"))?,
        enc @ ("UTF-16LE" | "UTF-16BE") => {
            if bytes.len() % 2 != 0 {
                return Err(bad(enc));
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| {
                    if enc == "UTF-16LE" {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            String::from_utf16(&units).map_err(|_| bad(enc))?
        }
        _ => bytes.iter().map(|b| *b as char).collect(),
    };
    Ok(Value::String(s))
}

#[cfg(test)]
mod tests;

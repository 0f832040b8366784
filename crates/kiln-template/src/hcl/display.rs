//! Values as `packer inspect` and `packer console` show them: strings bare at the top level,
//! everything else in HCL syntax, lists and objects one element a line.

use crate::value::{format_number, Value};

/// The text Packer shows for a value (`cidata`, `2`, `null`, `[\n  "a",\n]`).
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Unknown => "<unknown>".to_string(),
        other => {
            let mut out = String::new();
            write_hcl(other, 0, &mut out);
            out
        }
    }
}

fn write_hcl(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    match v {
        Value::Null => out.push_str("null"),
        Value::Unknown => out.push_str("<unknown>"),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Number(n) => out.push_str(&format_number(*n)),
        Value::String(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::List(items) => {
            out.push_str("[\n");
            for i in items {
                out.push_str(&pad);
                write_hcl(i, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(indent));
            out.push(']');
        }
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            out.push_str("{\n");
            for (k, v) in m {
                out.push_str(&pad);
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push_str(" = ");
                write_hcl(v, indent + 1, out);
                out.push('\n');
            }
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn shows_values_like_packer_inspect() {
        assert_eq!(display_value(&Value::string("cidata")), "cidata");
        assert_eq!(display_value(&Value::Number(2.0)), "2");
        assert_eq!(display_value(&Value::Null), "null");
        let l = Value::List(vec![Value::string("A"), Value::string("B")]);
        assert_eq!(display_value(&l), "[\n  \"A\",\n  \"B\",\n]");
        let mut m = BTreeMap::new();
        m.insert("key".to_string(), Value::string("value"));
        let mut inner = BTreeMap::new();
        inner.insert("foo".to_string(), Value::string("bar"));
        m.insert("something".to_string(), Value::Object(inner));
        assert_eq!(
            display_value(&Value::Object(m)),
            "{\n  \"key\" = \"value\"\n  \"something\" = {\n    \"foo\" = \"bar\"\n  }\n}"
        );
        assert_eq!(display_value(&Value::List(vec![])), "[]");
    }
}

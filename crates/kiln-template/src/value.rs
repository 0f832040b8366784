//! Values of HCL2 expressions (cty's values, simplified): what variables, locals, functions and
//! expressions evaluate to before they become [`kiln_config::node::Node`] configuration.
//!
//! Lists, tuples and sets are all `List`; maps and objects are both `Object`, whose keys iterate
//! in lexical order as cty's do. `Unknown` stands for a value known only at build time (such as
//! `build.ID` outside a provisioner); operations on it yield `Unknown`.

use std::collections::BTreeMap;
use std::fmt;

pub use kiln_config::number::Number;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A number from a count or index (64-bit precision, as cty's `NumberIntVal`).
    pub fn int(v: i64) -> Value {
        Value::Number(Number::from_i64(v))
    }

    /// A number from an `f64` (53-bit precision, as cty's `NumberFloatVal`); NaN is null.
    pub fn float(v: f64) -> Value {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }

    /// cty's friendly type name, for error messages: "string", "number", "bool", "list", "object", "null".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// About how many bytes the value holds (its strings, keys and a word per scalar): what the
    /// size cap ([`kiln_config::limits`]) is checked against.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::String(s) => s.len(),
            Value::List(items) => items.iter().map(|v| v.approx_size() + 8).sum(),
            Value::Object(m) => m.iter().map(|(k, v)| k.len() + v.approx_size() + 8).sum(),
            _ => 8,
        }
    }

    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Object(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }

    /// The string form used by string templates (`"${x}"`) and `tostring`: numbers without a
    /// trailing `.0`, bools as `true`/`false`. `None` for values that have no string form.
    pub fn to_template_string(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A parsed JSON node (`crate::json::parse`) as a value: each number read from its text,
    /// as cty reads JSON numbers; a repeated key keeps its last value.
    pub fn from_json_node(n: &kiln_config::node::Node) -> Value {
        use kiln_config::node::NodeKind;
        match &n.kind {
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Number(f) => {
                n.span.as_ref().and_then(|s| Number::parse(s.text())).map_or_else(|| Value::float(*f), Value::Number)
            }
            NodeKind::String(s) => Value::String(s.clone()),
            NodeKind::Array(a) => Value::List(a.iter().map(Value::from_json_node).collect()),
            NodeKind::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.name.clone(), Value::from_json_node(v))).collect())
            }
            NodeKind::Null | NodeKind::Blocks(_) | NodeKind::Late(_) => Value::Null,
        }
    }

    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            // serde_json prints an f64 in its shortest form, which reads back at 512 bits as cty
            // reads the number's text.
            J::Number(n) => Number::parse(&n.to_string()).map_or(Value::Null, Value::Number),
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// JSON form (as `jsonencode` prints it). `Unknown` becomes null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::Unknown => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => kiln_config::number::to_json(n.to_f64()),
            Value::String(s) => J::String(s.clone()),
            Value::List(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(o) => J::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Numbers as cty prints them (kiln-config owns it: decode errors print numbers the same way).
pub use kiln_config::number::format_number;

/// A number literal of an HCL expression, from its text as written (`0.1` at 512 bits, as
/// HCL reads it), or its parsed value when the text is not kept. `None` when out of range.
pub fn number_literal(n: &hcl_edit::expr::Expression) -> Option<Number> {
    let hcl_edit::expr::Expression::Number(n) = n else { return None };
    let text: String = n.as_repr().map(|r| r.chars().filter(|c| !c.is_whitespace()).collect()).unwrap_or_default();
    Number::parse(&text).or_else(|| Number::from_f64(n.value().as_f64()?).filter(Number::is_finite))
}

impl fmt::Display for Value {
    /// HCL-like literal syntax, as `kiln console` prints values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Unknown => write!(f, "(known after build)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Object(m) => {
                write!(f, "{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_cty() {
        assert_eq!(format_number(5.0), "5");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(Value::int(3).to_template_string().as_deref(), Some("3"));
        let third = Number::parse("1").and_then(|one| one.div(&Number::parse("3")?));
        let s = third.map(Value::Number).and_then(|v| v.to_template_string()).unwrap_or_default();
        assert!(s.starts_with("0.333333333333333333333") && s.ends_with('5'), "{s}");
    }

    #[test]
    fn json_round_trip_keeps_structure() {
        let j: serde_json::Value = serde_json::from_str(r#"{"b":[1,2.5,"x",null,true],"a":{}}"#).unwrap();
        assert_eq!(Value::from_json(&j).to_json(), j);
    }
}

//! HCL2 type constraints of `variable` blocks (`string`, `number`, `bool`, `any`,
//! `list(T)`, `set(T)`, `map(T)`, `object({...})`, `tuple([...])`, `optional(T)`), and value
//! conversion to them, as cty converts (`"5"` → 5 for a number, tuple → list …).
//!
//! CONTRACT (the HCL loader codes against this; keep the signatures): [`Type`],
//! [`Type::parse`], [`convert`].

use std::collections::BTreeMap;
use std::fmt;

use hcl_edit::expr::{Expression, ObjectKey};

use crate::value::{Number, Value};

mod defaults;

pub use defaults::{apply as apply_defaults, Defaults};

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// Attributes in order; `optional(T)` attributes are marked `true`.
    Object(Vec<(String, Type, bool)>),
    Tuple(Vec<Type>),
}

const KEYWORDS: &[&str] = &["any", "bool", "list", "map", "number", "object", "set", "string", "tuple"];

impl Type {
    /// Parses a type expression as written in a `variable` block's `type` attribute.
    /// `Err` carries a message; the caller attaches the expression's span.
    pub fn parse(expr: &Expression) -> Result<Type, String> {
        parse_expr(expr, false)
    }

    /// Parses a type expression and the defaults of its `optional(T, default)` attributes.
    /// Convert a value with [`convert`], then fill its defaults with [`apply_defaults`].
    pub fn parse_with_defaults(expr: &Expression) -> Result<(Type, Defaults), String> {
        let t = Type::parse(expr)?;
        Ok((t, defaults::collect(expr)?))
    }

    /// Parses a type expression from text (`"list(string)"`), as the `convert` function gets it.
    pub fn parse_str(src: &str) -> Result<Type, String> {
        let expr: Expression = src.trim().parse().map_err(|e| format!("invalid type expression {src:?}: {e}"))?;
        Type::parse(&expr)
    }
}

fn parse_expr(expr: &Expression, in_object: bool) -> Result<Type, String> {
    match expr {
        Expression::Variable(v) => keyword(v.as_str()),
        // Packer 1.x (HCL 0.11 style) quoted forms: `type = "string"`, `"list"`, `"map"`.
        Expression::String(s) => match s.as_str() {
            "string" => Ok(Type::String),
            "list" => Ok(Type::List(Box::new(Type::String))),
            "map" => Ok(Type::Map(Box::new(Type::String))),
            other => Err(format!(
                "invalid legacy type {other:?}: use an unquoted type such as string, list(string) or map(string)"
            )),
        },
        Expression::Parenthesis(p) => parse_expr(p.inner(), in_object),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one = |what: &str| -> Result<&Expression, String> {
                match args.as_slice() {
                    [a] => Ok(*a),
                    _ => Err(format!("{name}() takes exactly one argument: the {what}")),
                }
            };
            match name {
                "list" => Ok(Type::List(Box::new(parse_expr(one("element type")?, false)?))),
                "set" => Ok(Type::Set(Box::new(parse_expr(one("element type")?, false)?))),
                "map" => Ok(Type::Map(Box::new(parse_expr(one("element type")?, false)?))),
                "tuple" => match one("list of element types")? {
                    Expression::Array(items) => {
                        Ok(Type::Tuple(items.iter().map(|e| parse_expr(e, false)).collect::<Result<_, _>>()?))
                    }
                    _ => Err("tuple() requires a list of element types, such as tuple([string, number])".into()),
                },
                "object" => match one("object of attribute types")? {
                    Expression::Object(obj) => {
                        let mut attrs = Vec::new();
                        for (key, value) in obj.iter() {
                            let key = match key {
                                ObjectKey::Ident(id) => id.as_str().to_string(),
                                ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                                ObjectKey::Expression(e) => {
                                    return Err(format!("object attribute names must be identifiers, not {e}"))
                                }
                            };
                            let (t, optional) = match value.expr() {
                                Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                    let a: Vec<&Expression> = c.args.iter().collect();
                                    match a.as_slice() {
                                        // The default lives beside the type: see Type::parse_with_defaults.
                                        [t] | [t, _] => (parse_expr(t, true)?, true),
                                        _ => return Err("optional() takes a type and an optional default".into()),
                                    }
                                }
                                e => (parse_expr(e, true)?, false),
                            };
                            attrs.push((key, t, optional));
                        }
                        Ok(Type::Object(attrs))
                    }
                    _ => {
                        Err("object() requires an object of attribute types, such as object({ name = string })".into())
                    }
                },
                "optional" if in_object => Err("optional() may only wrap an attribute's type directly".into()),
                "optional" => Err("optional() is only allowed for attributes inside object({ ... })".into()),
                other => Err(unknown_keyword(other)),
            }
        }
        other => Err(format!(
            "{} is not a type: expected a type such as string, number, bool, any, list(string) or object({{...}})",
            other.to_string().trim()
        )),
    }
}

fn keyword(name: &str) -> Result<Type, String> {
    match name {
        "any" => Ok(Type::Any),
        "string" => Ok(Type::String),
        "number" => Ok(Type::Number),
        "bool" => Ok(Type::Bool),
        "list" | "set" | "map" => Err(format!(
            "the {name} type constructor requires one argument specifying the element type, such as {name}(string)"
        )),
        "object" => Err("the object type constructor requires one argument specifying the attribute types, such as object({ name = string })".into()),
        "tuple" => Err("the tuple type constructor requires one argument specifying the element types, such as tuple([string, number])".into()),
        other => Err(unknown_keyword(other)),
    }
}

fn unknown_keyword(name: &str) -> String {
    let mut msg = format!("{name:?} is not a valid type");
    let alias = match name {
        "int" | "integer" | "float" | "double" | "decimal" => Some("number"),
        "boolean" => Some("bool"),
        "str" | "text" => Some("string"),
        "array" => Some("list"),
        "dict" | "hash" => Some("map"),
        _ => None,
    };
    if let Some(s) = alias.or_else(|| kiln_config::diag::did_you_mean(name, KEYWORDS.iter().copied())) {
        msg.push_str(&format!("; did you mean {s:?}?"));
    } else {
        msg.push_str(
            "; valid types are string, number, bool, any, list(T), set(T), map(T), object({...}) and tuple([...])",
        );
    }
    msg
}

impl fmt::Display for Type {
    /// cty's friendly names, as used in "list of string required".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => write!(f, "any single type"),
            Type::String => write!(f, "string"),
            Type::Number => write!(f, "number"),
            Type::Bool => write!(f, "bool"),
            Type::List(t) => write!(f, "list of {t}"),
            Type::Set(t) => write!(f, "set of {t}"),
            Type::Map(t) => write!(f, "map of {t}"),
            Type::Object(_) => write!(f, "object"),
            Type::Tuple(_) => write!(f, "tuple"),
        }
    }
}

/// Converts `v` to type `t`. `Err` carries a message such as
/// `a number is required` or `attribute "name" is required`.
pub fn convert(v: &Value, t: &Type) -> Result<Value, String> {
    if matches!(v, Value::Null | Value::Unknown) {
        return Ok(v.clone());
    }
    match t {
        Type::Any => Ok(v.clone()),
        Type::String => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("string required".into()),
        },
        Type::Number => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => {
                parse_number(s).map(Value::Number).ok_or_else(|| format!("a number is required (cannot convert {s:?})"))
            }
            // cty words it differently for a string that does not parse and for other kinds.
            _ => Err("number required".into()),
        },
        Type::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            // cty also reads "1" and "0" as bools.
            Value::String(s) if s == "true" || s == "1" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" || s == "0" => Ok(Value::Bool(false)),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                Err(format!("a bool is required; to convert from string, use lowercase \"{}\"", s.to_ascii_lowercase()))
            }
            Value::String(s) => Err(format!("a bool is required (cannot convert {s:?}; use \"true\" or \"false\")")),
            _ => Err("bool required".into()),
        },
        Type::List(elem) | Type::Set(elem) => {
            let Value::List(items) = v else {
                return Err(format!("{t} required"));
            };
            let mut out = items
                .iter()
                .enumerate()
                .map(|(i, x)| convert(x, elem).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            if **elem == Type::Any {
                out = unify(out).map_err(|_| format!("{t} required: all elements must have the same type"))?;
            }
            if matches!(t, Type::Set(_)) {
                out = set_normalize(out);
            }
            Ok(Value::List(out))
        }
        Type::Map(elem) => {
            let Value::Object(m) = v else {
                return Err(format!("{t} required"));
            };
            let out = m
                .iter()
                .map(|(k, x)| convert(x, elem).map(|c| (k.clone(), c)).map_err(|e| format!("element {k:?}: {e}")))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            if **elem == Type::Any {
                let (keys, vals): (Vec<String>, Vec<Value>) = out.into_iter().unzip();
                let vals = unify(vals).map_err(|_| format!("{t} required: all elements must have the same type"))?;
                return Ok(Value::Object(keys.into_iter().zip(vals).collect()));
            }
            Ok(Value::Object(out))
        }
        Type::Object(attrs) => {
            let Value::Object(m) = v else {
                return Err("object required".into());
            };
            let mut out = BTreeMap::new();
            for (name, at, optional) in attrs {
                match m.get(name) {
                    Some(x) => {
                        let c = convert(x, at).map_err(|e| format!("attribute {name:?}: {e}"))?;
                        out.insert(name.clone(), c);
                    }
                    None if *optional => {
                        out.insert(name.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute {name:?} is required")),
                }
            }
            // Attributes the type does not declare are dropped, as cty does.
            Ok(Value::Object(out))
        }
        Type::Tuple(elems) => {
            let Value::List(items) = v else {
                return Err("tuple required".into());
            };
            if items.len() != elems.len() {
                return Err(format!("tuple required with exactly {} elements, got {}", elems.len(), items.len()));
            }
            let out = items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (x, et))| convert(x, et).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::List(out))
        }
    }
}

/// Parses a string as cty does when converting it to a number.
pub fn parse_number(s: &str) -> Option<Number> {
    // cty accepts decimal and exponent forms only: no hex, no "inf"/"nan", no surrounding spaces.
    let ok = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return None;
    }
    Number::parse(s)
}

/// cty's unification for `list(any)`/`map(any)`: elements of mixed primitive types become strings
/// when they all can; other mixes are an error.
pub fn unify(items: Vec<Value>) -> Result<Vec<Value>, String> {
    let kinds: Vec<&'static str> =
        items.iter().filter(|v| !matches!(v, Value::Null | Value::Unknown)).map(Value::type_name).collect();
    let first = match kinds.first() {
        Some(k) => *k,
        None => return Ok(items),
    };
    if kinds.iter().all(|k| *k == first) {
        return Ok(items);
    }
    if kinds.iter().all(|k| matches!(*k, "string" | "number" | "bool")) {
        return items.iter().map(|v| convert(v, &Type::String)).collect();
    }
    Err("all elements must have the same type".into())
}

/// Orders and deduplicates a set's elements. cty orders sets of strings lexically and numbers
/// numerically; other element kinds keep first-seen order.
pub fn set_normalize(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for v in items {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort_by(|a, b| match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    out
}

#[cfg(test)]
mod tests;

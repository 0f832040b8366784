//! Defaults of optional object attributes, `optional(T, default)`: collected from the type
//! expression beside [`Type`] (whose shape is a contract), and applied after conversion.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};

use super::{convert, Type};
use crate::value::Value;

/// The defaults a type expression declares, mirroring its structure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    /// Default values of this object's optional attributes.
    pub attrs: BTreeMap<String, Value>,
    /// Defaults inside this object's attributes.
    pub nested: BTreeMap<String, Defaults>,
    /// Defaults inside the elements of a list, set or map.
    pub elem: Option<Box<Defaults>>,
}

impl Defaults {
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
            && self.nested.values().all(Defaults::is_empty)
            && self.elem.as_ref().is_none_or(|e| e.is_empty())
    }
}

/// Collects the defaults of a type expression that [`Type::parse`] accepted.
pub fn collect(expr: &Expression) -> Result<Defaults, String> {
    let mut d = Defaults::default();
    match expr {
        Expression::Parenthesis(p) => return collect(p.inner()),
        Expression::FuncCall(call) => {
            let args: Vec<&Expression> = call.args.iter().collect();
            match (call.name.name.as_str(), args.as_slice()) {
                ("list" | "set" | "map", [inner]) => {
                    let e = collect(inner)?;
                    if !e.is_empty() {
                        d.elem = Some(Box::new(e));
                    }
                }
                ("object", [Expression::Object(obj)]) => {
                    for (key, value) in obj.iter() {
                        let name = match key {
                            ObjectKey::Ident(id) => id.as_str().to_string(),
                            ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                            ObjectKey::Expression(_) => continue,
                        };
                        let (ty, default) = match value.expr() {
                            Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                let a: Vec<&Expression> = c.args.iter().collect();
                                match a.as_slice() {
                                    [t] => (*t, None),
                                    [t, def] => (*t, Some(*def)),
                                    _ => continue,
                                }
                            }
                            e => (e, None),
                        };
                        if let Some(def) = default {
                            let v = literal(def).map_err(|e| format!("default of optional attribute {name:?}: {e}"))?;
                            let t = Type::parse(ty)?;
                            let v = convert(&v, &t).map_err(|e| {
                                format!("default of optional attribute {name:?} does not match its type: {e}")
                            })?;
                            d.attrs.insert(name.clone(), v);
                        }
                        let inner = collect(ty)?;
                        if !inner.is_empty() {
                            d.nested.insert(name, inner);
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(d)
}

/// A constant written as a default: literals, lists and objects of them.
fn literal(e: &Expression) -> Result<Value, String> {
    Ok(match e {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(_) => Value::Number(crate::value::number_literal(e).ok_or("the number is out of range")?),
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::Parenthesis(p) => literal(p.inner())?,
        Expression::UnaryOp(u) if *u.operator.value() == UnaryOperator::Neg => match literal(&u.expr)? {
            Value::Number(n) => Value::Number(n.neg()),
            _ => return Err("only a number can be negated".into()),
        },
        Expression::Array(a) => Value::List(a.iter().map(literal).collect::<Result<_, _>>()?),
        Expression::Object(o) => {
            let mut m = BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(id) => id.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                    ObjectKey::Expression(_) => return Err("object keys in a default must be names or strings".into()),
                };
                m.insert(key, literal(v.expr())?);
            }
            Value::Object(m)
        }
        other => {
            return Err(format!("{} is not a constant; defaults must be literal values", other.to_string().trim()))
        }
    })
}

/// Fills null optional attributes of an already converted value with their defaults, at every
/// depth, as Terraform and Packer do after type conversion.
pub fn apply(v: &Value, t: &Type, d: &Defaults) -> Value {
    match (v, t) {
        (Value::Object(m), Type::Object(attrs)) => {
            let mut out = m.clone();
            for (name, at, _) in attrs {
                let current = out.get(name).cloned().unwrap_or(Value::Null);
                let filled = match (&current, d.attrs.get(name)) {
                    (Value::Null, Some(def)) => def.clone(),
                    _ => current,
                };
                let filled = match d.nested.get(name) {
                    Some(nd) => apply(&filled, at, nd),
                    None => filled,
                };
                out.insert(name.clone(), filled);
            }
            Value::Object(out)
        }
        (Value::List(items), Type::List(et) | Type::Set(et)) => match &d.elem {
            Some(ed) => Value::List(items.iter().map(|x| apply(x, et, ed)).collect()),
            None => v.clone(),
        },
        (Value::Object(m), Type::Map(et)) => match &d.elem {
            Some(ed) => Value::Object(m.iter().map(|(k, x)| (k.clone(), apply(x, et, ed))).collect()),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

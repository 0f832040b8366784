//! Argument access with cty's automatic conversion to each parameter's type, and errors that
//! name the parameter.

use std::collections::BTreeMap;

use super::{Func, FuncContext};
use crate::types::{self, Type};
use crate::value::{Number, Value};

pub(crate) struct Args<'a> {
    pub(super) f: &'static Func,
    pub(super) vals: &'a [Value],
    pub(super) ctx: &'a FuncContext<'a>,
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.vals.len()
    }

    pub fn get(&self, i: usize) -> &'a Value {
        self.vals.get(i).unwrap_or(&Value::Null)
    }

    pub fn all(&self) -> &'a [Value] {
        self.vals
    }

    pub fn ctx(&self) -> &'a FuncContext<'a> {
        self.ctx
    }

    /// The message for a bad argument `i`.
    pub fn err(&self, i: usize, msg: impl std::fmt::Display) -> String {
        format!("invalid value for {:?} parameter: {msg}", super::param_name(self.f, i))
    }

    pub fn convert(&self, i: usize, t: &Type) -> Result<Value, String> {
        types::convert(self.get(i), t).map_err(|e| self.err(i, e))
    }

    pub fn string(&self, i: usize) -> Result<String, String> {
        match self.convert(i, &Type::String)? {
            Value::String(s) => Ok(s),
            _ => Err(self.err(i, "argument must not be null")),
        }
    }

    pub fn number(&self, i: usize) -> Result<Number, String> {
        match self.convert(i, &Type::Number)? {
            Value::Number(n) => Ok(n),
            _ => Err(self.err(i, "argument must not be null")),
        }
    }

    /// A number as the nearest `f64`, for functions cty computes in float64.
    pub fn float(&self, i: usize) -> Result<f64, String> {
        self.number(i).map(|n| n.to_f64())
    }

    /// A number that must be whole and fit 64 bits (indexes, counts, sizes).
    pub fn int(&self, i: usize) -> Result<i64, String> {
        self.number(i)?.to_i64().ok_or_else(|| self.err(i, "value must be a whole number"))
    }

    /// A list, tuple or set argument.
    pub fn list(&self, i: usize) -> Result<&'a Vec<Value>, String> {
        match self.get(i) {
            Value::List(items) => Ok(items),
            other => Err(self.err(i, format!("a list, set or tuple is required, not {}", kind(other)))),
        }
    }

    /// A list whose elements convert to `elem` (such as `list(string)` parameters).
    pub fn list_of(&self, i: usize, elem: &Type) -> Result<Vec<Value>, String> {
        match self.convert(i, &Type::List(Box::new(elem.clone())))? {
            Value::List(items) => Ok(items),
            _ => Err(self.err(i, "argument must not be null")),
        }
    }

    /// A list of strings (nulls rejected).
    pub fn strings(&self, i: usize) -> Result<Vec<String>, String> {
        self.list_of(i, &Type::String)?
            .into_iter()
            .enumerate()
            .map(|(n, v)| match v {
                Value::String(s) => Ok(s),
                _ => Err(self.err(i, format!("element {n}: argument must not be null"))),
            })
            .collect()
    }

    /// A map or object argument.
    pub fn object(&self, i: usize) -> Result<&'a BTreeMap<String, Value>, String> {
        match self.get(i) {
            Value::Object(m) => Ok(m),
            other => Err(self.err(i, format!("must have map or object type, not {}", kind(other)))),
        }
    }
}

/// A value's kind for messages; lists and objects are already what the caller rejected.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a bool",
        Value::Null => "null",
        Value::Unknown => "an unknown value",
    }
}

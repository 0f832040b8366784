//! Conversion functions: tobool tolist tomap tonumber toset tostring convert.

use super::{func, nullable, Args, Func};
use crate::types::{self, Type};
use crate::value::Value;

fn any() -> Box<Type> {
    Box::new(Type::Any)
}

pub(super) const FUNCS: &[Func] = &[
    nullable(func("tobool", &["v"], |a| to(a, Type::Bool))),
    nullable(func("tonumber", &["v"], |a| to(a, Type::Number))),
    nullable(func("tostring", &["v"], |a| to(a, Type::String))),
    nullable(func("tolist", &["v"], |a| to(a, Type::List(any())))),
    nullable(func("toset", &["v"], |a| to(a, Type::Set(any())))),
    nullable(func("tomap", &["v"], |a| to(a, Type::Map(any())))),
    nullable(func("convert", &["value", "type"], convert)),
];

fn to(a: &Args, t: Type) -> Result<Value, String> {
    types::convert(a.get(0), &t)
        .map_err(|e| format!("invalid value for \"v\" parameter: cannot convert {} to {t}: {e}", a.get(0).type_name()))
}

/// `convert(value, type)`: the evaluator passes the type expression's text as a string.
fn convert(a: &Args) -> Result<Value, String> {
    let src = match a.get(1) {
        Value::String(s) => s.clone(),
        _ => return Err(a.err(1, "a type expression such as list(string) is required")),
    };
    let t = Type::parse_str(&src).map_err(|e| a.err(1, e))?;
    types::convert(a.get(0), &t).map_err(|e| a.err(0, e))
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    #[test]
    fn primitive_conversions() {
        assert_eq!(call("tostring", &[Value::float(1.5)]), Ok(Value::string("1.5")));
        assert_eq!(call("tostring", &[Value::Bool(true)]), Ok(Value::string("true")));
        assert_eq!(call("tonumber", &[Value::string("5")]), Ok(Value::int(5)));
        assert_eq!(call("tobool", &[Value::string("false")]), Ok(Value::Bool(false)));
        assert_eq!(call("tostring", &[Value::Null]), Ok(Value::Null));
        let e = call("tonumber", &[Value::string("x")]).unwrap_err();
        assert!(e.contains("a number is required"), "{e}");
        assert!(call("tostring", &[Value::List(vec![])]).unwrap_err().contains("string required"));
    }

    #[test]
    fn collection_conversions() {
        let mixed = Value::List(vec![Value::string("b"), Value::int(1), Value::string("b")]);
        assert_eq!(call("toset", std::slice::from_ref(&mixed)).unwrap().to_string(), r#"["1", "b"]"#);
        assert_eq!(call("tolist", &[mixed]).unwrap().to_string(), r#"["b", "1", "b"]"#);
        let obj = Value::Object([("a".into(), Value::int(1)), ("b".into(), Value::string("x"))].into());
        assert_eq!(call("tomap", std::slice::from_ref(&obj)).unwrap().to_string(), r#"{a = "1", b = "x"}"#);
        let bad = Value::Object([("a".into(), Value::List(vec![])), ("b".into(), Value::string("x"))].into());
        assert!(call("tomap", &[bad]).is_err());
        assert_eq!(
            call("convert", &[obj, Value::string("object({a=number, c=optional(string)})")]).unwrap().to_string(),
            "{a = 1, c = null}"
        );
    }
}

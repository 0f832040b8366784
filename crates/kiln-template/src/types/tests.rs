use super::*;

fn ty(src: &str) -> Result<Type, String> {
    Type::parse_str(src)
}
fn s(x: &str) -> Value {
    Value::string(x)
}
fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

#[test]
fn parses_every_form() {
    assert_eq!(ty("string"), Ok(Type::String));
    assert_eq!(ty("any"), Ok(Type::Any));
    assert_eq!(ty("list(number)"), Ok(Type::List(Box::new(Type::Number))));
    assert_eq!(ty("set(bool)"), Ok(Type::Set(Box::new(Type::Bool))));
    assert_eq!(ty("map(list(string))"), Ok(Type::Map(Box::new(Type::List(Box::new(Type::String))))));
    assert_eq!(ty("tuple([string, number])"), Ok(Type::Tuple(vec![Type::String, Type::Number])));
    assert_eq!(
        ty("object({ name = string, size = optional(number) })"),
        Ok(Type::Object(vec![("name".into(), Type::String, false), ("size".into(), Type::Number, true)]))
    );
    assert!(ty("optional_default = 1").is_err());
    // Packer 1.x quoted forms.
    assert_eq!(ty("\"string\""), Ok(Type::String));
    assert_eq!(ty("\"list\""), Ok(Type::List(Box::new(Type::String))));
    assert_eq!(ty("\"map\""), Ok(Type::Map(Box::new(Type::String))));
}

#[test]
fn parse_errors_explain() {
    let e = ty("strng").unwrap_err();
    assert!(e.contains("did you mean \"string\""), "{e}");
    assert!(ty("list").unwrap_err().contains("list(string)"));
    assert!(ty("int").unwrap_err().contains("did you mean \"number\""));
    assert!(ty("list(string, number)").unwrap_err().contains("exactly one argument"));
    assert!(ty("optional(string)").unwrap_err().contains("only allowed"));
    assert!(ty("\"number\"").unwrap_err().contains("legacy"));
    assert!(ty("1 + 2").unwrap_err().contains("is not a type"));
    assert!(ty("tuple(string)").unwrap_err().contains("tuple([string, number])"));
}

#[test]
fn converts_primitives_like_cty() {
    assert_eq!(convert(&s("5"), &Type::Number), Ok(Value::int(5)));
    assert_eq!(convert(&s("true"), &Type::Bool), Ok(Value::Bool(true)));
    assert_eq!(convert(&Value::int(5), &Type::String), Ok(s("5")));
    assert_eq!(convert(&Value::float(1.5), &Type::String), Ok(s("1.5")));
    assert_eq!(convert(&Value::Bool(false), &Type::String), Ok(s("false")));
    assert_eq!(convert(&Value::Null, &Type::Number), Ok(Value::Null));
    assert!(convert(&s("five"), &Type::Number).unwrap_err().starts_with("a number is required"));
    assert!(convert(&s("yes"), &Type::Bool).unwrap_err().starts_with("a bool is required"));
    assert_eq!(convert(&Value::Bool(true), &Type::Number), Err("number required".into()));
    assert_eq!(convert(&Value::int(1), &Type::Bool), Err("bool required".into()));
    assert_eq!(convert(&Value::List(vec![]), &Type::String), Err("string required".into()));
}

#[test]
fn converts_collections() {
    let tuple = Value::List(vec![s("a"), Value::int(2), s("x")]);
    assert_eq!(convert(&tuple, &ty("list(string)").unwrap()), Ok(Value::List(vec![s("a"), s("2"), s("x")])));
    assert_eq!(
        convert(&tuple, &ty("list(number)").unwrap()).unwrap_err(),
        "element 0: a number is required (cannot convert \"a\")"
    );
    let e = convert(&Value::List(vec![s("a"), s("b"), Value::List(vec![])]), &ty("list(string)").unwrap()).unwrap_err();
    assert_eq!(e, "element 2: string required");
    let set = convert(&Value::List(vec![s("b"), s("a"), s("b")]), &ty("set(string)").unwrap()).unwrap();
    assert_eq!(set, Value::List(vec![s("a"), s("b")]));
    assert_eq!(convert(&s("x"), &ty("list(string)").unwrap()), Err("list of string required".into()));
    let m = obj(&[("a", Value::int(1)), ("b", s("2"))]);
    assert_eq!(convert(&m, &ty("map(number)").unwrap()), Ok(obj(&[("a", Value::int(1)), ("b", Value::int(2))])));
    assert!(convert(&m, &ty("map(bool)").unwrap()).unwrap_err().starts_with("element \"a\": bool required"));
    assert_eq!(convert(&m, &ty("map(any)").unwrap()), Ok(obj(&[("a", s("1")), ("b", s("2"))])));
    let t = ty("tuple([string, bool])").unwrap();
    assert_eq!(
        convert(&Value::List(vec![Value::int(1), s("true")]), &t),
        Ok(Value::List(vec![s("1"), Value::Bool(true)]))
    );
    assert!(convert(&Value::List(vec![]), &t).unwrap_err().contains("exactly 2 elements"));
}

#[test]
fn converts_objects_with_optional_attributes() {
    let t = ty("object({ name = string, size = optional(number), tags = optional(map(string)) })").unwrap();
    let v = obj(&[("name", s("web")), ("size", s("10")), ("extra", Value::Bool(true))]);
    assert_eq!(convert(&v, &t), Ok(obj(&[("name", s("web")), ("size", Value::int(10)), ("tags", Value::Null)])));
    assert_eq!(convert(&obj(&[("size", Value::int(1))]), &t), Err("attribute \"name\" is required".into()));
    assert_eq!(
        convert(&obj(&[("name", s("x")), ("size", s("big"))]), &t),
        Err("attribute \"size\": a number is required (cannot convert \"big\")".into())
    );
    assert_eq!(convert(&s("x"), &t), Err("object required".into()));
    // Nested structures report the whole path.
    let nested = ty("list(object({ port = number }))").unwrap();
    let v = Value::List(vec![obj(&[("port", Value::int(22))]), obj(&[("port", s("ssh"))])]);
    assert_eq!(
        convert(&v, &nested),
        Err("element 1: attribute \"port\": a number is required (cannot convert \"ssh\")".into())
    );
}

#[test]
fn any_passes_and_unknown_stays_unknown() {
    let v = obj(&[("a", Value::List(vec![Value::int(1)]))]);
    assert_eq!(convert(&v, &Type::Any), Ok(v.clone()));
    assert_eq!(convert(&Value::Unknown, &Type::String), Ok(Value::Unknown));
}

#[test]
fn number_parsing_is_strict() {
    assert_eq!(parse_number("1e3"), Number::from_f64(1000.0));
    assert_eq!(parse_number("-2.5"), Number::from_f64(-2.5));
    assert_eq!(parse_number(" 5"), None);
    assert_eq!(parse_number("0x10"), None);
    assert_eq!(parse_number("inf"), None);
    assert_eq!(parse_number(""), None);
}

#[test]
fn optional_defaults_fill_nulls_at_every_depth() {
    let src = r#"object({
        name = string
        size = optional(number, 10)
        tags = optional(map(string), { team = "infra" })
        disks = optional(list(object({ kind = optional(string, "ssd"), gb = number })), [])
    })"#;
    let expr: hcl_edit::expr::Expression = src.parse().unwrap();
    let (t, d) = Type::parse_with_defaults(&expr).unwrap();
    let v = obj(&[("name", s("web")), ("disks", Value::List(vec![obj(&[("gb", s("20"))])]))]);
    let converted = convert(&v, &t).unwrap();
    let filled = apply_defaults(&converted, &t, &d);
    assert_eq!(
        filled.to_string(),
        r#"{disks = [{gb = 20, kind = "ssd"}], name = "web", size = 10, tags = {team = "infra"}}"#
    );
    // An explicit value wins over the default; a missing list gets its default.
    let v = obj(&[("name", s("db")), ("size", Value::int(1))]);
    let filled = apply_defaults(&convert(&v, &t).unwrap(), &t, &d);
    assert_eq!(filled.to_string(), r#"{disks = [], name = "db", size = 1, tags = {team = "infra"}}"#);
}

#[test]
fn bad_defaults_are_reported() {
    let expr: hcl_edit::expr::Expression = "object({ size = optional(number, \"big\") })".parse().unwrap();
    let e = Type::parse_with_defaults(&expr).unwrap_err();
    assert!(e.contains("\"size\"") && e.contains("a number is required"), "{e}");
    let expr: hcl_edit::expr::Expression = "object({ size = optional(number, var.x) })".parse().unwrap();
    assert!(Type::parse_with_defaults(&expr).unwrap_err().contains("literal"));
    let expr: hcl_edit::expr::Expression = "list(string)".parse().unwrap();
    assert!(Type::parse_with_defaults(&expr).unwrap().1.is_empty());
}

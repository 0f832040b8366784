use crate::functions::tests::ctx_call as call;
use crate::value::Value;

fn s(x: &str) -> Value {
    Value::string(x)
}

#[test]
fn base64_round_trip() {
    for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "héllo wörld"] {
        let enc = call("base64encode", &[s(text)]).unwrap();
        assert_eq!(call("base64decode", &[enc]), Ok(s(text)));
    }
    assert_eq!(call("base64encode", &[s("Hello World")]), Ok(s("SGVsbG8gV29ybGQ=")));
    assert!(call("base64decode", &[s("abc")]).unwrap_err().contains("\"str\""));
    assert!(call("base64decode", &[s("a=bc")]).is_err());
    let gz = call("base64gzip", &[s("test")]).unwrap();
    assert!(gz.as_str().unwrap().starts_with("H4sI"), "{gz}");
}

#[test]
fn jsonencode_is_go_compatible() {
    let v = Value::Object(
        [("b".into(), s("<>&\n\u{1}")), ("a".into(), Value::List(vec![Value::int(1), Value::float(2.5)]))].into(),
    );
    assert_eq!(call("jsonencode", &[v]), Ok(s(r#"{"a":[1,2.5],"b":"\u003c\u003e\u0026\n\u0001"}"#)));
    assert_eq!(call("jsonencode", &[Value::Null]), Ok(s("null")));
    let back = call("jsondecode", &[s(r#"{"x":[true,null,"y",1e3]}"#)]).unwrap();
    assert_eq!(back.to_string(), r#"{x = [true, null, "y", 1000]}"#);
    assert!(call("jsondecode", &[s("{")]).unwrap_err().contains("invalid JSON"));
}

#[test]
fn csvdecode_objects() {
    let v = call("csvdecode", &[s("a,b\n1,\"x,\"\"y\"\n3,4\n")]).unwrap();
    assert_eq!(v.to_string(), r#"[{a = "1", b = "x,\"y"}, {a = "3", b = "4"}]"#);
    let e = call("csvdecode", &[s("a,b\n1\n")]).unwrap_err();
    assert!(e.contains("wrong number of fields"), "{e}");
}

#[test]
fn urlencode_like_go() {
    assert_eq!(call("urlencode", &[s("Hello World?&=é")]), Ok(s("Hello+World%3F%26%3D%C3%A9")));
}

#[test]
fn yaml_both_ways() {
    let v = call("yamldecode", &[s("a: 1\nb: [x, true]\nc:\n  d: ~\n")]).unwrap();
    assert_eq!(v.to_string(), r#"{a = 1, b = ["x", true], c = {d = null}}"#);
    let enc = call("yamlencode", &[v]).unwrap();
    assert_eq!(enc, s("\"a\": 1\n\"b\":\n- \"x\"\n- true\n\"c\":\n  \"d\": null\n"));
    let list_of_maps = Value::List(vec![Value::Object([("k".into(), s("v")), ("l".into(), s("w"))].into())]);
    assert_eq!(call("yamlencode", &[list_of_maps]), Ok(s("- \"k\": \"v\"\n  \"l\": \"w\"\n")));
    assert!(call("yamldecode", &[s("a: [")]).is_err());
}

#[test]
fn text_encodings() {
    assert_eq!(call("textencodebase64", &[s("Hello"), s("UTF-16LE")]), Ok(s("SABlAGwAbABvAA==")));
    assert_eq!(call("textdecodebase64", &[s("SABlAGwAbABvAA=="), s("UTF-16LE")]), Ok(s("Hello")));
    assert!(call("textencodebase64", &[s("x"), s("EBCDIC")]).unwrap_err().contains("\"encoding\""));
}

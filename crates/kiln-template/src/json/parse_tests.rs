//! Parser tests: positions and advice for the mistakes people make.

use super::*;

fn p(text: &str) -> Result<Node, Diagnostic> {
    parse(&SourceFile::new("t.json", text))
}

fn err(text: &str) -> (Diagnostic, (usize, usize)) {
    let d = p(text).expect_err("should fail");
    let lc = d.span.as_ref().map(Span::line_col).unwrap_or((0, 0));
    (d, lc)
}

#[test]
fn values_keys_and_spans() {
    let n = p("{\n  \"a\": [1, -2.5e1, true, null, \"x\\n\\u00e9\\ud83d\\ude00\"],\n  \"b\": {}\n}").unwrap();
    let NodeKind::Object(m) = &n.kind else { panic!("not an object") };
    assert_eq!(m[0].0.name, "a");
    assert_eq!(m[0].0.span.as_ref().unwrap().line_col(), (2, 3));
    let a = n.get("a").unwrap();
    let NodeKind::Array(items) = &a.kind else { panic!("not a list") };
    assert_eq!(items[1].kind, NodeKind::Number(-25.0));
    assert_eq!(items[4].as_str(), Some("x\né😀"));
    assert_eq!(items[4].span.as_ref().unwrap().line_col(), (2, 32));
    assert_eq!(n.get("b").unwrap().span.as_ref().unwrap().text(), "{}");
    assert_eq!(n.to_json(), serde_json::json!({"a":[1,-25,true,null,"x\né😀"],"b":{}}));
}

#[test]
fn comment_lines_point_at_the_comment() {
    let (d, lc) = err("{\n//// notes\n  \"a\": 1\n}");
    assert_eq!(d.summary, "JSON does not allow comments");
    assert_eq!(lc, (2, 1));
    assert!(d.help.unwrap().contains("\"_comment\""));
    let (_, lc) = err("{\"a\": 1 /* x */}");
    assert_eq!(lc, (1, 9));
}

#[test]
fn trailing_commas() {
    let (d, lc) = err("{\n  \"a\": 1,\n}");
    assert_eq!(d.summary, "trailing comma before `}`");
    assert_eq!(lc, (3, 1));
    assert_eq!(d.help.as_deref(), Some("remove the `,` at line 2, column 9"));
    let (d, lc) = err("[1,\n 2,\n]");
    assert_eq!(d.summary, "trailing comma before `]`");
    assert_eq!(lc, (3, 1));
}

#[test]
fn missing_comma_points_after_previous_value() {
    let (d, lc) = err("{\n  \"name\": \"es\"\n  \"version\": \"1\"\n}");
    assert_eq!(d.summary, "missing comma between object members");
    assert_eq!(lc, (2, 15));
    assert_eq!(d.help.as_deref(), Some("add a `,` after `\"name\": \"es\"` on line 2"));
    assert!(d.detail.unwrap().contains("line 3, column 3"));
    let (d, lc) = err("[\"a\"\n \"b\"]");
    assert_eq!(d.summary, "missing comma between list items");
    assert_eq!(lc, (1, 5));
}

#[test]
fn missing_colon() {
    let (d, lc) = err("{\n  \"instance_type\" \"t2.micro\"\n}");
    assert_eq!(d.summary, "missing `:` after the key \"instance_type\"");
    assert_eq!(lc, (2, 19));
    assert_eq!(d.help.as_deref(), Some("write `\"instance_type\": \"t2.micro\"`"));
}

#[test]
fn common_mistakes_have_advice() {
    assert_eq!(err("{'a': 1}").0.summary, "object keys must use double quotes");
    assert_eq!(err("{a: 1}").0.summary, "object key `a` is not quoted");
    assert_eq!(err("{\"a\": 'x'}").0.summary, "JSON strings must use double quotes");
    assert!(err("{\"a\": True}").0.help.unwrap().contains("`true`"));
    assert_eq!(err("{\"a\": 10s}").0.summary, "invalid number `10s`");
    assert_eq!(err("{\"a\": 01}").0.summary, "invalid number `01`");
    assert_eq!(err("{\"a\": 1e400}").0.summary, "the number `1e400` is too large");
    assert_eq!(err("{\"a\": \"x\ny\"}").1, (1, 7));
    assert_eq!(err("{\"a\": \"\\q\"}").0.summary, "invalid escape `\\q` in a string");
    assert_eq!(err("{\"a\": 1").0.summary, "the file ends before this `{` is closed");
    assert_eq!(err("{\"a\": 1}}").0.summary, "unexpected `}` after the end of the JSON document");
    assert_eq!(err("  \n").0.summary, "the file is empty: expected a JSON object");
    assert_eq!(err("{\"a\": [1}").0.summary, "unexpected `}` after a value");
    assert_eq!(err("{\"a\":}").0.summary, "missing value for the key \"a\"");
}

#[test]
fn duplicate_keys_are_errors() {
    let (d, lc) = err("{\"a\": 1,\n \"a\": 2}");
    assert_eq!(d.summary, "duplicate key \"a\"");
    assert_eq!(lc, (2, 2));
}

#[test]
fn never_panics_on_odd_input() {
    for s in
        ["\u{feff}{}", "[", "\"", "\"\\u12", "\"\\ud800\"", "-", "1e", "{\"\\", "[[[[", "\u{e9}", "{\"a\"", "{\"a\":"]
    {
        let _ = p(s);
    }
    assert!(p("\u{feff}{}").is_ok());
    assert!(p(&"[".repeat(10_000)).is_err());
}

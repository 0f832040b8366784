//! Expression evaluation through the loader (locals are the simplest place to put one).

mod hcl_util;
use hcl_util::*;
use kiln_template::Value;

#[test]
fn literals_and_arithmetic_follow_cty() {
    assert_eq!(eval("1 + 2 * 3"), n(7.0));
    assert_eq!(eval("(1 + 2) * 3"), n(9.0));
    assert_eq!(eval("7 % 3"), n(1.0));
    assert_eq!(eval("-7 % 3"), n(-1.0));
    assert_eq!(eval("10 / 4"), n(2.5));
    assert_eq!(eval("\"5\" + 1"), n(6.0));
    assert_eq!(eval("1 == \"1\""), Value::Bool(false));
    assert_eq!(eval("[1, \"a\"] == [1, \"a\"]"), Value::Bool(true));
    assert_eq!(eval("3 >= 3 && !false"), Value::Bool(true));
    assert_eq!(eval("false || \"true\""), Value::Bool(true));
    assert_eq!(eval("null"), Value::Null);
}

#[test]
fn conditionals_and_collections() {
    assert_eq!(eval("1 > 2 ? \"a\" : \"b\""), s("b"));
    assert_eq!(eval("[1, 2, 3][1]"), n(2.0));
    assert_eq!(eval("{ a = 1, \"b\" = 2 }.b"), n(2.0));
    assert_eq!(eval("{ a = { b = [10, 20] } }.a.b.1"), n(20.0));
    assert_eq!(eval("{ a = 1 }[\"a\"]"), n(1.0));
}

#[test]
fn string_templates_interpolate_and_direct() {
    assert_eq!(eval("\"a-${1 + 1}-${true}\""), s("a-2-true"));
    assert_eq!(eval("\"%{ if 1 < 2 }yes%{ else }no%{ endif }\""), s("yes"));
    assert_eq!(eval("\"%{ for x in [1, 2, 3] }${x},%{ endfor }\""), s("1,2,3,"));
    assert_eq!(eval("\"%{ for k, v in { a = 1, b = 2 } }${k}=${v} %{ endfor }\""), s("a=1 b=2 "));
    // `~` strips the whitespace next to the marker.
    assert_eq!(eval("\"a   ${~ \"b\" ~}   c\""), s("abc"));
    assert_eq!(eval("\"x $${literal} %%{y}\""), s("x ${literal} %{y}"));
    // A lone interpolation keeps the value's type.
    assert_eq!(eval("\"${[1, 2]}\""), list(vec![n(1.0), n(2.0)]));
}

#[test]
fn heredocs_keep_or_strip_indentation() {
    let t = load_ok("locals {\n  a = <<EOT\n  one\n    two\nEOT\n  b = <<-EOT\n    one\n      two ${1}\n    EOT\n}\n");
    assert_eq!(local(&t, "a"), s("  one\n    two\n"));
    assert_eq!(local(&t, "b"), s("one\n  two 1\n"));
}

#[test]
fn for_expressions_filter_and_group() {
    assert_eq!(eval("[for x in [1, 2, 3, 4] : x * 10 if x % 2 == 0]"), list(vec![n(20.0), n(40.0)]));
    assert_eq!(eval("[for i, x in [\"a\", \"b\"] : \"${i}${x}\"]"), list(vec![s("0a"), s("1b")]));
    let v = eval(
        "{for x in [\"ab\", \"ac\", \"b\"] : substr_key(x) => x...}"
            .replace("substr_key(x)", "x == \"b\" ? \"b\" : \"a\"")
            .as_str(),
    );
    let Value::Object(m) = v else { panic!("object expected") };
    assert_eq!(m["a"], list(vec![s("ab"), s("ac")]));
    assert_eq!(m["b"], list(vec![s("b")]));
    assert_eq!(eval("{for k, v in { a = 1, b = 2 } : v => k}"), eval("{ \"1\" = \"a\", \"2\" = \"b\" }"));
}

#[test]
fn splats_apply_to_each_element() {
    assert_eq!(eval("[{ n = 1 }, { n = 2 }][*].n"), list(vec![n(1.0), n(2.0)]));
    assert_eq!(eval("[{ n = 1 }, { n = 2 }].*.n"), list(vec![n(1.0), n(2.0)]));
    assert_eq!(eval("null[*]"), list(vec![]));
}

#[test]
fn can_and_try_catch_errors_lazily() {
    assert_eq!(eval("can({ a = 1 }.b)"), Value::Bool(false));
    assert_eq!(eval("can({ a = 1 }.a)"), Value::Bool(true));
    assert_eq!(eval("try({ a = 1 }.b, \"fallback\")"), s("fallback"));
    assert_eq!(eval("try([5][0], 0)"), n(5.0));
}

#[test]
fn path_and_packer_references() {
    let t = load_ok("locals {\n  v = packer.version\n  r = path.root\n  c = path.cwd\n}\n");
    assert_eq!(local(&t, "v"), s(kiln_template::PACKER_COMPAT_VERSION));
    let root = local(&t, "r");
    assert!(root.as_str().is_some_and(|r| r.contains("kiln-hcl-test-")), "{root:?}");
    assert!(local(&t, "c").as_str().is_some_and(|c| !c.is_empty()));
}

#[test]
fn data_references_are_unknown_and_propagate() {
    let t = load_ok("data \"amazon-ami\" \"base\" {\n}\nlocals {\n  id = data.amazon-ami.base.id\n  s = \"ami-${data.amazon-ami.base.id}\"\n}\n");
    assert_eq!(local(&t, "id"), Value::Unknown);
    assert_eq!(local(&t, "s"), Value::Unknown);
}

#[test]
fn errors_point_at_the_expression_with_a_suggestion() {
    let d = load_err("variable \"region\" {\n  default = \"eu\"\n}\nlocals {\n  x = var.regoin\n}\n");
    let text = d.to_string();
    assert!(text.contains("t.pkr.hcl:5:7"), "{text}");
    assert!(text.contains("did you mean `var.region`?"), "{text}");

    let d = load_err("locals {\n  a = 1\n  b = local.aa + 1\n}\n");
    assert!(d.to_string().contains("did you mean `local.a`?"), "{d}");

    let d = load_err("locals {\n  x = \"a\" * 2\n}\n");
    let text = d.to_string();
    assert!(text.contains("a number is required"), "{text}");
    assert!(text.contains("t.pkr.hcl:2:7"), "{text}");

    let d = load_err("locals {\n  x = [1, 2][5]\n}\n");
    assert!(d.to_string().contains("out of range"), "{d}");

    let d = load_err("locals {\n  x = \"a${[1]}\"\n}\n");
    assert!(d.to_string().contains("cannot include a list"), "{d}");
}

#[test]
fn unknown_functions_are_reported_at_the_name() {
    let d = load_err("locals {\n  x = no_such_function(1)\n}\n");
    let text = d.to_string();
    assert!(text.contains("call to unknown function \"no_such_function\""), "{text}");
    assert!(text.contains("t.pkr.hcl:2:7"), "{text}");
}

#[test]
fn function_calls_go_through_the_library() {
    assert_eq!(eval("upper(\"abc\")"), s("ABC"));
    assert_eq!(eval("max([1, 5, 3]...)"), n(5.0));
    assert_eq!(eval("join(\",\", [for x in [1, 2] : tostring(x)])"), s("1,2"));
}

#[test]
fn convert_takes_a_type_argument() {
    assert_eq!(eval("convert(5, string)"), s("5"));
    assert_eq!(eval("convert([\"1\"], list(number))"), list(vec![n(1.0)]));
}

#[test]
fn provisioner_filters_accept_null() {
    let t = load_ok(
        "source \"null\" \"a\" {}\nbuild {\n  sources = [\"source.null.a\"]\n  provisioner \"shell\" {\n    except = false ? [\"null.a\"] : null\n  }\n}\n",
    );
    assert_eq!(t.builds[0].provisioners.len(), 1);
}

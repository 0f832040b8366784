use super::*;

fn fmt(src: &str) -> String {
    let f = SourceFile::new("t.pkr.hcl", src);
    match format(&f) {
        Ok(s) => s,
        Err(d) => panic!("format failed: {d}"),
    }
}

#[test]
fn aligns_equals_and_comments() {
    assert_eq!(
        fmt("a=1\nbbb = \"x\"   # c\nc {\n d = [ 1,2 ]\n}\n"),
        "a   = 1\nbbb = \"x\" # c\nc {\n  d = [1, 2]\n}\n"
    );
}

fn err(src: &str) -> (String, (usize, usize), String) {
    let f = SourceFile::new("t.pkr.hcl", src);
    let Err(d) = format(&f) else { panic!("expected an error for {src:?}") };
    let first = &d.0[0];
    let span = first.span.as_ref().expect("a span");
    (first.summary.clone(), span.line_col(), first.help.clone().unwrap_or_default())
}

#[test]
fn unclosed_bracket_points_at_the_opener() {
    let (summary, at, help) = err("a = 1\nb = {\n  c = [1,\n}\n");
    assert_eq!(summary, "unexpected `}`: `[` opened at line 3, column 7 is still open");
    assert_eq!(at, (4, 1));
    assert!(help.contains("`]`"), "{help}");
    let (summary, at, _) = err("x {\n  y = 1\n");
    assert_eq!((summary.as_str(), at), ("unclosed `{`", (1, 3)));
}

#[test]
fn unterminated_strings_and_heredocs() {
    assert_eq!(err("a = \"abc\nb = 1\n").1, (1, 5));
    let (summary, at, help) = err("a = 1\nb = <<EOT\nxx\n");
    assert_eq!((summary.as_str(), at), ("unterminated heredoc", (2, 5)));
    assert!(help.contains("`EOT`"), "{help}");
    let (summary, at, _) = err("a = \"${foo\"\n");
    assert!(summary.starts_with("unterminated template sequence"), "{summary}");
    assert_eq!(at, (1, 6));
}

#[test]
fn parser_errors_have_a_place_and_a_hint() {
    let (summary, at, help) = err("a = 1\na = 2\n");
    assert!(summary.starts_with("invalid HCL syntax"), "{summary}");
    assert_eq!(at, (2, 1));
    assert!(help.contains("only once"), "{help}");
    let (summary, at, _) = err("a = [1,\n  2 +\n]\n");
    assert!(summary.starts_with("invalid HCL syntax"), "{summary}");
    assert_eq!(at.0, 3, "{summary}");
}

#[test]
fn invalid_characters_are_reported_not_dropped() {
    let (summary, at, _) = err("a = 1\nb = @\n");
    assert_eq!((summary.as_str(), at), ("invalid character '@'", (2, 5)));
}

#[test]
fn heredoc_lines_keep_their_bytes_and_the_line_after_aligns() {
    let src = "x {\ncontent = <<-EOT\n    keep   this\n  EOT\ndestination = \"/tmp\"\n}\n";
    let want = "x {\n  content     = <<-EOT\n    keep   this\n  EOT\n  destination = \"/tmp\"\n}\n";
    assert_eq!(fmt(src), want);
}

#[test]
fn no_panic_on_odd_input() {
    for src in ["\"", "${", "<<", "<<EOF", "a = \"${\"", "}}}", "/*", "a = \"\\", "\r", "\u{feff}a = 1", "a = 1 ~}"] {
        let f = SourceFile::new("t", src);
        let _ = format(&f);
    }
}

#[test]
fn byte_order_mark_is_dropped() {
    assert_eq!(fmt("\u{feff}a=1\n"), "a = 1\n");
    let (summary, at, _) = err("\u{feff}a = [\n");
    assert_eq!((summary.as_str(), at), ("unclosed `[`", (1, 5)));
}

#[test]
fn missing_commas_are_named() {
    let (summary, at, help) = err("x {\n  inline = [\n    \"a\"\n    \"b\",\n  ]\n}\n");
    assert_eq!((summary.as_str(), at), ("missing comma between list items", (4, 5)));
    assert_eq!(help, "add a comma after the previous item");
    let (summary, at, _) = err("a = foo(1 2)\n");
    assert_eq!((summary.as_str(), at), ("missing comma between function arguments", (1, 11)));
    // Not lists of items: for expressions, indexes, operators, strings with interpolations.
    for ok in [
        "a = [for x in [1, 2] : x if x > 1]\n",
        "a = [var.l [0], \"${x} y\" , (1 + 2)]\n",
        "a = [\"${\"q\"}\" , 1]\n",
        "a = [<<EOF\nx\nEOF\n  , \"y\"]\n",
    ] {
        let f = SourceFile::new("t.pkr.hcl", ok);
        assert!(format(&f).is_ok(), "{ok:?}: {:?}", format(&f).err().map(|d| d.to_string()));
    }
}

#[test]
fn template_directives_are_checked() {
    let (summary, at, _) = err("a = \"%{ for x inn y }${x}%{ endfor }\"\n");
    assert_eq!((summary.as_str(), at), ("invalid `for` directive: `in` is required after the names", (1, 9)));
    let (summary, _, help) = err("a = \"%{ iff x }y%{ endif }\"\n");
    assert_eq!((summary.as_str(), help.as_str()), ("unknown template directive \"iff\"", "did you mean \"if\"?"));
    assert_eq!(err("a = \"%{ if x }y\"\n").0, "`if` directive without `endif`");
    assert_eq!(err("a = <<EOT\n%{ endfor }\nEOT\n").0, "`endfor` directive without `for`");
    assert_eq!(err("a = <<EOT\n%{ for k, v in m }${k}%{ else }%{ endfor }\nEOT\n").0, "`else` directive without `if`");
    let ok = "a = <<EOT\n%{ for k, v in m }%{ if v }${k}%{ else }-%{ endif }%{ endfor }\nEOT\n";
    assert_eq!(fmt(ok), "a = <<EOT\n%{for k, v in m}%{if v}${k}%{else}-%{endif}%{endfor}\nEOT\n");
}

#[test]
fn decimal_followed_by_exponent_name_is_a_bad_number() {
    let (summary, at, _) = err("a = 1.5.e10\n");
    assert_eq!((summary.as_str(), at), ("invalid number literal", (1, 5)));
    for ok in ["a = 1.e10\n", "a = 1.5.e\n", "a = x.e10\n", "a = 1.x.e1\n"] {
        let f = SourceFile::new("t.pkr.hcl", ok);
        assert!(format(&f).is_ok(), "{ok:?}");
    }
}

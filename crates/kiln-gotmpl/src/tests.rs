//! Behaviour of the interpreter, construct by construct and function by function. Expected
//! values were checked against Packer 1.6.6 (`packer console`) where Packer has the feature.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn ctx() -> Context {
    Context {
        user: BTreeMap::from([("name".into(), "Hello World".into()), ("region".into(), "us-east-1".into())]),
        env: BTreeMap::from([("HOME".into(), "/home/me".into())]),
        // 2026-11-21 10:59:19.937 UTC
        now: Some(UNIX_EPOCH + Duration::from_millis(1_795_258_759_937)),
        template_dir: Some("/tmp/tpl".into()),
        ..Context::default()
    }
}

fn r(src: &str) -> String {
    match render(src, &ctx()) {
        Ok(s) => s,
        Err(e) => panic!("render {src:?} failed at {}: {}", e.offset, e.message),
    }
}

fn e(src: &str) -> RenderError {
    match render(src, &ctx()) {
        Ok(s) => panic!("render {src:?} should fail, got {s:?}"),
        Err(e) => e,
    }
}

fn e_ctx(src: &str, c: &Context) -> RenderError {
    match render(src, c) {
        Ok(s) => panic!("render {src:?} should fail, got {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn text_and_simple_actions() {
    assert_eq!(r("plain"), "plain");
    assert_eq!(r("a {{user `name`}} b"), "a Hello World b");
    assert_eq!(r("{{ user \"region\" }}"), "us-east-1");
    assert_eq!(r("{{`raw\\n`}}|{{\"in\\tterp\"}}"), "raw\\n|in\tterp");
    assert_eq!(r("{{ 3 }} {{ -3 }} {{ 1.5 }} {{ 1e3 }} {{ 0x1F }} {{ 'a' }} {{ true }}"), "3 -3 1.5 1000 31 97 true");
    assert_eq!(
        r("{{ -9223372036854775808 }}|{{ 0b101 }}|{{ 0o17 }}|{{ 017 }}|{{ 1_000 }}"),
        "-9223372036854775808|5|15|15|1000"
    );
    assert!(e("{{ 9223372036854775808 }}").message.contains("too large"));
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(r("a  \n {{- user `region` -}} \n  b"), "aus-east-1b");
    assert_eq!(r("a {{/* a comment */}}b"), "a b");
    assert_eq!(r("a \n{{- /* trimmed */ -}}\n b"), "ab");
    assert_eq!(r("{{-3}}"), "-3");
    // Go trims spaces, tabs and line breaks only (not a form feed).
    assert_eq!(r("a\u{c} \t\r\n{{- 1 -}}\n\u{c}b"), "a\u{c}1\u{c}b");
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(r("{{ user `name` | upper }}"), "HELLO WORLD");
    assert_eq!(r("{{ `a.b.c` | replace_all `.` `_` }}"), "a_b_c");
    assert_eq!(r("{{ printf \"%s-%s\" (user `region`) (upper \"x\") }}"), "us-east-1-X");
    assert_eq!(r("{{ \"a\" | printf \"%s|%s\" \"b\" }}"), "b|a");
}

#[test]
fn variables() {
    assert_eq!(r("{{ $r := user `region` }}[{{ $r }}]"), "[us-east-1]");
    assert_eq!(r("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}"), "2");
    assert_eq!(r("{{ with $x := \"v\" }}{{ $x }}{{ . }}{{ end }}"), "vv");
    let err = e("{{ $nope }}");
    assert_eq!(err.offset, 3);
    assert!(err.message.contains("undefined variable \"$nope\""), "{}", err.message);
    // A variable declared inside `if` is gone after `end`.
    assert!(e("{{ if true }}{{ $v := 1 }}{{ end }}{{ $v }}").message.contains("$v"));
}

#[test]
fn conditionals() {
    assert_eq!(r("{{ if eq (user `region`) \"us-east-1\" }}east{{ else }}other{{ end }}"), "east");
    assert_eq!(r("{{ if user `missing` }}x{{ else if user `name` }}y{{ else }}z{{ end }}"), "y");
    assert_eq!(r("{{ if 0 }}x{{ else if \"\" }}y{{ else }}z{{ end }}"), "z");
    assert_eq!(
        r("{{ if and 1 \"\" }}x{{ else }}y{{ end }}|{{ or 0 \"\" \"z\" }}|{{ and 1 2 }}|{{ not 0 }}"),
        "y|z|2|true"
    );
    assert_eq!(
        r("{{ with user `name` }}<{{ . }}>{{ end }}{{ with \"\" }}no{{ else }}empty{{ end }}"),
        "<Hello World>empty"
    );
}

#[test]
fn range_over_data() {
    let mut c = ctx();
    c.data = BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]);
    assert_eq!(render("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", &c).unwrap(), "A=1;B=2;");
    assert_eq!(render("{{ range . }}{{ . }}{{ end }}", &c).unwrap(), "12");
    assert_eq!(
        render("{{ range $i, $e := 3 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $e }}{{ end }}", &c).unwrap(),
        "02"
    );
    assert_eq!(render("{{ range 5 }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}", &c).unwrap(), "01");
    assert_eq!(render("{{ range 0 }}x{{ else }}none{{ end }}", &c).unwrap(), "none");
    assert!(e("{{ range \"abc\" }}{{ end }}").message.contains("range can't iterate over string"));
}

#[test]
fn builtins() {
    assert_eq!(r("{{ len \"héllo\" }}|{{ index \"abc\" 1 }}|{{ slice \"abcd\" 1 3 }}"), "6|98|bc");
    assert_eq!(r("{{ print 1 2 \"a\" \"b\" 3 }}"), "1 2ab3");
    assert_eq!(r("{{ println 1 \"a\" }}"), "1 a\n");
    assert_eq!(r("{{ printf \"%5.2f|%-4d|%q|%x|%v\" 3.14159 7 \"hi\" \"hi\" 1.5 }}"), " 3.14|7   |\"hi\"|6869|1.5");
    assert_eq!(r("{{ printf \"%d %s\" \"x\" }}"), "%!d(string=x) %!s(MISSING)");
    assert_eq!(r("{{ html \"<a>\" }}|{{ js \"a'b\" }}|{{ urlquery \"a b&\" }}"), "&lt;a&gt;|a\\'b|a+b%26");
    assert_eq!(
        r("{{ eq 1 2 1 }}|{{ ne \"a\" \"b\" }}|{{ lt 1 2 }}|{{ le 2 2 }}|{{ gt 1.5 2.5 }}|{{ ge \"b\" \"a\" }}"),
        "true|true|true|true|false|true"
    );
    let err = e("{{ eq 1 1.0 }}");
    assert!(err.message.contains("incompatible types for comparison"), "{}", err.message);
    assert_eq!(err.offset, 8);
}

#[test]
fn packer_functions() {
    assert_eq!(r("{{ timestamp }}"), "1795258759");
    assert_eq!(r("{{ isotime }}"), "2026-11-21T10:59:19Z");
    assert_eq!(r("{{ isotime \"2006-01-02\" }}|{{ isotime `20060102150405` }}"), "2026-11-21|20261121105919");
    assert_eq!(r("{{ isotime \"Jan _2 Mon 2006 .000 Z07:00 MST\" }}"), "Nov 21 Sat 2026 .937 Z UTC");
    assert_eq!(r("{{ strftime \"%Y-%m-%d\" }}"), "2026-11-21");
    assert_eq!(r("{{ upper \"ab\" }}|{{ lower \"My Image\" }}"), "AB|my image");
    assert_eq!(r("{{ split \"a,b,c\" \",\" 1 }}"), "b");
    assert_eq!(r("{{ replace \"a\" \"b\" 1 \"aaa\" }}|{{ replace_all \"a\" \"b\" \"aaa\" }}|{{ replace \"a\" \"b\" -1 \"aaa\" }}"), "baa|bbb|bbb");
    assert_eq!(r("{{ clean_resource_name \"a b:c@d(é)\" }}"), "a b-c@d(--)");
    assert_eq!(r("{{ clean_ami_name \"x/y=z[1]'\" }}"), "x/y-z[1]'");
    assert_eq!(r("{{ packer_version }}"), kiln_config::PACKER_COMPAT_VERSION);
    assert_eq!(r("{{ template_dir }}"), "/tmp/tpl");
    assert!(!r("{{ pwd }}").is_empty());
    let u = r("{{ uuid }}");
    assert_eq!(u.len(), 36);
    assert!(u.starts_with(&format!("{:08x}-", 1_795_258_759u32)), "{u}");
}

#[test]
fn user_variables() {
    let out = Template::parse("[{{ user `nmae` }}]").unwrap().render_full(&ctx()).unwrap();
    assert_eq!(out.text, "[]");
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings[0].offset, 9);
    assert!(out.warnings[0].message.contains("did you mean \"name\""), "{}", out.warnings[0].message);
    let mut c = ctx();
    c.allow_env = true;
    assert!(e_ctx("{{ user `nope` }}", &c).message.contains("variable \"nope\" is not set"));
}

#[test]
fn warnings_for_likely_mistakes() {
    let warn = |src: &str| Template::parse(src).unwrap().render_full(&ctx()).unwrap();
    let out = warn("{{ isotime \"%Y-%m-%d\" }}");
    assert_eq!(out.text, "%Y-%m-%d");
    assert!(out.warnings[0].message.contains("use strftime"), "{:?}", out.warnings);
    let out = warn("{{ isotime \"YYYY-MM-DD\" }}");
    assert!(out.warnings[0].message.contains("reference time"), "{:?}", out.warnings);
    assert!(warn("{{ isotime \"2006\" }}{{ isotime }}{{ isotime `20060102150405` }}").warnings.is_empty());
    let out = warn("{{ isotime \"202205111847\" }}");
    assert!(out.warnings[0].message.contains("looks like a date"), "{:?}", out.warnings);
    let out = warn("{{ clean_ami_name `a` }}");
    assert_eq!((out.warnings[0].offset, out.warnings[0].message.contains("use clean_resource_name")), (3, true));
    assert!(warn("{{ clean_resource_name `a` }}").warnings.is_empty());
}

#[test]
fn env_only_in_variables() {
    let err = e("x {{ env `HOME` }}");
    assert_eq!(err.offset, 5);
    assert!(err.message.contains("env is only allowed in the variables section"), "{}", err.message);
    let mut c = ctx();
    c.allow_env = true;
    assert_eq!(render("{{ env `HOME` }}|{{ env `UNSET_X` }}|", &c).unwrap(), "/home/me||");
}

#[test]
fn function_errors() {
    let err = e("{{ split \"a,b\" \",\" 5 }}");
    assert!(
        err.message.contains("the substring 5 was unavailable using the separator value, ,, only 2 values were found"),
        "{}",
        err.message
    );
    let err = e("{{ split \"a\" \",\" \"x\" }}");
    assert!(
        err.message.contains("wrong type for argument 3 of split: expected int, got string \"x\""),
        "{}",
        err.message
    );
    assert_eq!(err.offset, 17);
    let err = e("{{ upper }}");
    assert!(err.message.contains("wrong number of args for upper: want 1 got 0"), "{}", err.message);
    assert!(e("{{ sed \"a\" \"b\" }}").message.contains("`sed` is deprecated"));
    for f in ["vault \"a\" \"b\"", "consul_key \"a\"", "aws_secretsmanager \"a\" \"b\""] {
        assert!(e(&format!("{{{{ {f} }}}}")).message.contains("not supported by kiln"), "{f}");
    }
    let mut c = ctx();
    c.template_dir = None;
    assert!(e_ctx("{{ template_dir }}", &c).message.contains("template path not available"));
    assert!(e("{{ isotime \"a\" \"b\" }}").message.contains("too many values"));
}

#[test]
fn unknown_function_suggests() {
    let err = e("ab {{ uper `x` }}");
    assert_eq!(err.offset, 6);
    assert_eq!(err.message, "function \"uper\" not defined; did you mean \"upper\"?");
    let errs = check("{{ nope1 }} {{ isotim }} {{ $u }}");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs[0].offset, 3);
    assert!(errs[1].message.contains("did you mean \"isotime\""));
    assert!(errs[2].message.contains("$u"));
}

#[test]
fn syntax_errors_point_at_the_token() {
    let cases: &[(&str, usize, &str)] = &[
        ("ab {{ user `x` ", 3, "unclosed action"),
        ("{{ user `x` }", 12, "unexpected `}`"),
        ("{{ end }}", 0, "unexpected {{end}}"),
        ("x{{ else }}", 1, "unexpected {{else}}"),
        ("{{ if true }}x", 0, "has no {{end}}"),
        ("{{ }}", 0, "missing value for command"),
        ("{{ if }}{{ end }}", 3, "missing value for if"),
        ("{{ \"abc }}", 3, "unterminated quoted string"),
        ("{{ `abc }}", 3, "unterminated raw quoted string"),
        ("{{ | user }}", 3, "missing command"),
        ("{{ upper | | upper }}", 9, "missing command"),
        ("{{ (upper \"a\" }}", 3, "unclosed left paren"),
        ("{{ upper \"a\") }}", 12, "unexpected right paren"),
        ("{{ 12ab }}", 3, "bad number syntax"),
        ("{{ nil }}", 3, "nil is not a command"),
        ("{{/* x }}", 0, "unclosed comment"),
        ("{{ break }}", 0, "outside {{range}}"),
        ("{{ define \"x\" }}{{ end }}", 0, "not supported"),
        ("{{ \"a\\q\" }}", 5, "unknown escape"),
        ("{{ 1 2 }}", 5, "can't give argument to non-function"),
        ("{{user`name`}}", 6, "missing space before string \"name\""),
        ("{{ upper(`a`) }}", 8, "missing space before `(`"),
        ("{{ \"a\" | \"b\" }}", 9, "can't give argument to non-function \"b\""),
    ];
    for (src, offset, text) in cases {
        let err = e(src);
        assert!(err.message.contains(text), "{src:?}: {:?} does not contain {text:?}", err.message);
        assert_eq!(err.offset, *offset, "{src:?}: {}", err.message);
    }
}

#[test]
fn late_fields_are_kept_verbatim() {
    let c = ctx();
    let src = "boot {{ .HTTPIP }}:{{.HTTPPort}}/{{ user `region` }} {{ .Vars }}";
    assert_eq!(render(src, &c).unwrap(), "boot {{ .HTTPIP }}:{{.HTTPPort}}/us-east-1 {{ .Vars }}");
    // A second render with the values finishes the job.
    let mut run = ctx();
    run.data = BTreeMap::from([
        ("HTTPIP".into(), "10.0.2.2".into()),
        ("HTTPPort".into(), "8080".into()),
        ("Vars".into(), "A=1".into()),
    ]);
    run.strict_fields = true;
    let later = render(&render(src, &c).unwrap(), &run).unwrap();
    assert_eq!(later, "boot 10.0.2.2:8080/us-east-1 A=1");
    // Whole structures whose condition is late are kept too, trim markers and all.
    let src = "a {{ if .Flag }}x{{ user `region` }}{{ end }} {{- printf \"%s\" .Path }}";
    let out = Template::parse(src).unwrap().render_full(&c).unwrap();
    assert_eq!(out.text, "a {{ if .Flag }}x{{ user `region` }}{{ end }}{{- printf \"%s\" .Path }}");
    assert!(out.late);
    // An `if` with a known condition becomes its branch, rendered node by node.
    let src = "{{ if eq (user `region`) `us-east-1` }}east {{ .Path }} {{ user `name` }}{{ else }}west{{ end }}!";
    assert_eq!(render(src, &c).unwrap(), "east {{ .Path }} Hello World!");
    let src = "{{ if $r := user `nope` }}{{ $r }}{{ else if $s := user `name` }}{{ .P }}{{ $s }}{{ end }}";
    assert_eq!(render(src, &c).unwrap(), "{{ .P }}Hello World");
    let src = "{{ $a := 1 }}{{ if true }}{{ $a = .P }}{{ end }}{{ $a }}";
    assert_eq!(render(src, &c).unwrap(), "{{ $a := 1 }}{{ $a = .P }}{{ $a }}");
    assert_eq!(render("{{ . }}|{{ $ }}|{{ index . `Path` }}", &c).unwrap(), "{{ . }}|{{ $ }}|{{ index . `Path` }}");
    let mut strict = ctx();
    strict.strict_fields = true;
    strict.data = BTreeMap::from([("A".into(), "1".into())]);
    assert_eq!(render("{{ . }}", &strict).unwrap(), "map[A:1]");
    // A variable assigned from a late value, even inside a late structure, is late after it;
    // known variables a late copy uses are declared before it, so the copy renders alone.
    assert_eq!(render("{{ $a := 1 }}{{ $a = .P }}{{ $a }}", &c).unwrap(), "{{ $a := 1 }}{{ $a = .P }}{{ $a }}");
    let src = "{{ $a := 1 }}{{ $u := user `region` }}{{ if .F }}{{ $a = 2 }}{{ $u }}{{ end }}[{{ $a }}]{{ $u }}";
    let first = render(src, &c).unwrap();
    assert_eq!(
        first,
        "{{ $a := 1 }}{{ $u := \"us-east-1\" }}{{ if .F }}{{ $a = 2 }}{{ $u }}{{ end }}[{{ $a }}]us-east-1"
    );
    let later = Context { strict_fields: true, data: BTreeMap::from([("F".into(), "y".into())]), ..Context::default() };
    assert_eq!(render(&first, &later).unwrap(), "us-east-1[2]us-east-1");
    // A variable declared from a late value is late where it is used.
    assert_eq!(render("{{ $p := .Path }}[{{ $p }}]{{ 1 }}", &c).unwrap(), "{{ $p := .Path }}[{{ $p }}]1");
}

#[test]
fn errors_in_late_copies_map_back_to_the_source() {
    let src = "{{ user `region` }}/{{ .HTTPIp }}";
    let first = Template::parse(src).unwrap().render_full(&ctx()).unwrap();
    assert_eq!(first.text, "us-east-1/{{ .HTTPIp }}");
    let run = Context { strict_fields: true, data: BTreeMap::from([("HTTPIP".into(), "h".into())]), ..ctx() };
    let err = e_ctx(&first.text, &run);
    assert_eq!(first.source_offset(err.offset), Some(src.find(".HTTPIp").unwrap_or(0)));
    assert_eq!(first.source_offset(0), None);
}

#[test]
fn late_build_functions() {
    let c = ctx();
    assert_eq!(
        render("{{ build_name }}-{{build_type}}-{{ build `ID` }}", &c).unwrap(),
        "{{ build_name }}-{{build_type}}-{{ build `ID` }}"
    );
    let mut b = ctx();
    b.build_name = Some("web".into());
    b.build_type = Some("qemu".into());
    b.build_data = Some(BTreeMap::from([("ID".into(), "i-123".into()), ("Host".into(), "h".into())]));
    assert_eq!(render("{{ build_name }}-{{build_type}}-{{ build `ID` }}", &b).unwrap(), "web-qemu-i-123");
    let err = e_ctx("{{ build `Hots` }}", &b);
    assert!(err.message.contains("did you mean \"Host\""), "{}", err.message);
    let mut s = ctx();
    s.strict_fields = true;
    assert!(e_ctx("{{ build_name }}", &s).message.contains("build_name not available"));
}

#[test]
fn strict_fields_report_unknown_fields() {
    let mut c = ctx();
    c.strict_fields = true;
    c.data = BTreeMap::from([("HTTPIP".into(), "1".into()), ("HTTPPort".into(), "2".into())]);
    let err = e_ctx("x {{ .HTTPIp }}", &c);
    assert_eq!(err.offset, 5);
    assert!(err.message.contains("unknown field .HTTPIp; did you mean .HTTPIP?"), "{}", err.message);
    assert!(e_ctx("{{ .HTTPIP.X }}", &c).message.contains("can't evaluate field .X"));
    c.data.insert("SourceAMITags.Name".into(), "base".into());
    assert_eq!(render("{{ .SourceAMITags.Name }}", &c).unwrap(), "base");
    assert!(e_ctx("{{ .SourceAMITags.Nmae }}", &c)
        .message
        .contains("unknown field .SourceAMITags.Nmae; did you mean .SourceAMITags.Name?"));
}

#[test]
fn no_panic_on_odd_input() {
    let odd = [
        "{{",
        "}}",
        "{{{{",
        "{{}}}}",
        "{{-",
        "{{- }}",
        "{{ -}}",
        "{{/*",
        "{{/**/",
        "{{ ( }}",
        "{{ ) }}",
        "{{ $ }}",
        "{{ . }}",
        "{{ .. }}",
        "{{ 'ab' }}",
        "{{ '' }}",
        "{{ \"\\xZZ\" }}",
        "{{ \"é",
        "{{ é }}",
        "{{ 1e999 }}",
        "{{ 99999999999999999999 }}",
        "{{ printf }}",
        "{{ printf \"%*d\" 1e9 1 }}",
        "{{ index \"a\" 5 }}",
        "{{ slice \"é\" 0 1 }}",
        "{{ range $a, $b, $c := 1 }}{{ end }}",
        "{{ else if }}",
        "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
        "{{ $x := }}",
        "{{ := 1 }}",
        "{{ with }}{{ end }}",
        "{{ `a` | }}",
        "{{ | }}",
        "\u{0}{{ \u{0} }}",
    ];
    for src in odd {
        let _ = render(src, &ctx());
        let _ = check(src);
    }
}

#[test]
fn parse_once_render_fast() {
    let t = Template::parse("ami-{{ user `name` | clean_resource_name }}-{{ timestamp }}").unwrap();
    let c = ctx();
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        assert_eq!(t.render(&c).unwrap(), "ami-Hello World-1795258759");
    }
    // Debug builds on a shared machine: generous bound, still catches accidental quadratic work.
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(5_000), ")".repeat(5_000));
    assert!(e(&parens).message.contains("nested more than"));
    let ifs = "{{ if 1 }}".repeat(5_000);
    assert!(e(&ifs).message.contains("nested more than"));
    let ok = format!("{{{{ {}1{} }}}}", "(".repeat(50), ")".repeat(50));
    assert_eq!(r(&ok), "1");
}

#[test]
fn no_panic_on_generated_input() {
    // Deterministic pseudo-random templates built from template fragments: every one must
    // render or fail cleanly, and errors must point inside the text.
    const PARTS: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        "{{/*",
        "*/}}",
        " ",
        "x",
        "é",
        "\"",
        "`",
        "'",
        "\\",
        "(",
        ")",
        "|",
        "$",
        "$x",
        ":=",
        "=",
        ",",
        ".",
        ".A",
        ".A.B",
        "user",
        "`name`",
        "if",
        "else",
        "end",
        "range",
        "with",
        "break",
        "printf",
        "\"%5.2f %d %s %q %x %v %\"",
        "1",
        "-1",
        "1.5",
        "0x",
        "1e",
        "nil",
        "true",
        "split",
        "replace",
        "index",
        "slice",
        "len",
        "eq",
        "and",
        "not",
        "isotime",
        "\"2006 .000 Z07:00\"",
        "timestamp",
        "build_name",
        "\n",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let c = ctx();
    for _ in 0..20_000 {
        let n = (next() % 14) as usize;
        let src: String = (0..n).map(|_| PARTS[(next() % PARTS.len() as u64) as usize]).collect();
        if let Err(err) = render(&src, &c) {
            assert!(err.offset <= src.len(), "{src:?}: offset {} past the end", err.offset);
            assert!(src.is_char_boundary(err.offset), "{src:?}: offset {} inside a character", err.offset);
        }
        for err in check(&src) {
            assert!(err.offset <= src.len(), "{src:?}: offset {} past the end", err.offset);
        }
    }
}

#[test]
fn references_without_rendering() {
    let src = "{{ user `a` }}{{ if .Flag }}{{ env `HOME` | upper }}{{ end }}{{ with .X }}{{ .Y }}{{ end }}{{ $.Z.W }}{{ split (user `b`) \",\" 0 | lower }}{{ printf \"%s\" timestamp }}";
    let t = Template::parse(src).unwrap();
    let calls: Vec<(String, Vec<Option<String>>)> = t.calls().into_iter().map(|c| (c.name, c.args)).collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        calls,
        vec![
            ("user".to_string(), vec![s("a")]),
            ("env".to_string(), vec![s("HOME")]),
            ("upper".to_string(), vec![]),
            ("split".to_string(), vec![None, s(","), None]),
            ("user".to_string(), vec![s("b")]),
            ("lower".to_string(), vec![]),
            ("printf".to_string(), vec![s("%s"), None]),
            ("timestamp".to_string(), vec![]),
        ]
    );
    let fields: Vec<String> = t.fields().into_iter().map(|f| f.path).collect();
    assert_eq!(fields, ["Flag", "X", "Z.W"]);
    let b_at = src.find("user `b`").unwrap_or(0);
    assert_eq!(t.user_vars(), vec![("a".to_string(), 3), ("b".to_string(), b_at)]);
}

#[test]
fn late_actions_carry_the_values_known_now() {
    let c = ctx();
    let cases = [
        ("{{ printf \"%s:%s\" .HTTPIP (user `region`) }}", "{{ printf \"%s:%s\" .HTTPIP \"us-east-1\" }}"),
        ("{{ user `region` | printf \"%s-%s\" .Path }}", "{{ \"us-east-1\" | printf \"%s-%s\" .Path }}"),
        ("{{ printf \"%s %s\" .Path timestamp }}", "{{ printf \"%s %s\" .Path \"1795258759\" }}"),
        ("{{printf \"%s\" (printf \"%s/%s\" .Path (upper `a`))}}", "{{printf \"%s\" (printf \"%s/%s\" .Path \"A\")}}"),
        ("{{ $p := len (user `name`) | printf \"%d%s\" .X }}", "{{ $p := 11 | printf \"%d%s\" .X }}"),
        ("{{ .HTTPIP }}", "{{ .HTTPIP }}"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, &c).unwrap(), want, "{src}");
    }
    // The copy renders later without user variables or a clock.
    let later = Context {
        strict_fields: true,
        data: BTreeMap::from([("HTTPIP".into(), "10.0.2.2".into()), ("Path".into(), "/p".into())]),
        ..Context::default()
    };
    let first =
        render("{{ printf \"%s:%s\" .HTTPIP (user `region`) }} {{ user `region` | printf \"%s-%s\" .Path }}", &c)
            .unwrap();
    assert_eq!(render(&first, &later).unwrap(), "10.0.2.2:us-east-1 /p-us-east-1");
    // A warning found while folding is reported once.
    let out = Template::parse("{{ printf \"%s%s\" .P (user `nope`) }}").unwrap().render_full(&c).unwrap();
    assert_eq!(out.text, "{{ printf \"%s%s\" .P \"\" }}");
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
}

#[test]
fn plain_braces_survive_a_second_render() {
    let mut c = ctx();
    c.user.insert("pw".into(), "a{{b".into());
    // Final text is left alone.
    assert_eq!(render("{{ user `pw` }}|{{ \"{{\" }}", &c).unwrap(), "a{{b|{{");
    // Text that will be rendered again keeps its braces as text.
    let src = "{{ user `pw` }} {{ .Path }} {{ \"{{\" }}";
    let first = Template::parse(src).unwrap().render_full(&c).unwrap();
    assert_eq!(first.text, "a{{\"{{\"}}b {{ .Path }} {{\"{{\"}}");
    assert_eq!(first.source_offset(first.text.find(".Path").unwrap_or(0)), src.find(".Path"));
    let later =
        Context { strict_fields: true, data: BTreeMap::from([("Path".into(), "/p".into())]), ..Context::default() };
    assert_eq!(render(&first.text, &later).unwrap(), "a{{b /p {{");
}

#[test]
fn action_spans_follow_the_lexer() {
    let src = "a {{ user `x}}` }} b {{- .Name -}} {{/* c */}}{{ \"}}\" }}";
    let spans = action_spans(src).unwrap();
    let parts: Vec<(&str, &str)> = spans.iter().map(|s| (&src[s.start..s.end], &src[s.inner.clone()])).collect();
    assert_eq!(
        parts,
        [("{{ user `x}}` }}", " user `x}}` "), ("{{- .Name -}}", " .Name "), ("{{ \"}}\" }}", " \"}}\" ")]
    );
    assert_eq!(action_spans("no actions").unwrap(), []);
    assert_eq!(action_spans("x {{ user `a`").unwrap_err().offset, 2);
}

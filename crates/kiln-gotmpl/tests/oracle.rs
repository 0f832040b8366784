//! Compares kiln's Go-template interpreter with Packer 1.6.6's (`packer console`) on many
//! expressions: same output for the ones Packer renders, an error for the ones it rejects.
//!
//! Needs the `packer` binary; skipped with a notice when it is absent, unless
//! KILN_REQUIRE_TOOLS=1.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use kiln_gotmpl::{render, Context};

const TEMPLATE: &str = r#"{"variables":{"name":"Hello World","region":"us-east-1","csv":"a,b,,c","img":"My Image: v1.2 (test) é"},"builders":[{"type":"null","communicator":"none"}]}"#;

/// Expressions Packer and kiln must render identically.
const SAME: &[&str] = &[
    "{{user `name`}}",
    "{{ user \"region\" | upper }}",
    "{{ upper \"héllo\" }}",
    "{{ split (user `csv`) \",\" 2 }}|{{ split (user `csv`) \",\" 3 }}",
    "{{ split \"abc\" \"\" 1 }}",
    "{{ split \"a\" \",\" 0 }}",
    "{{ replace \"a\" \"b\" 2 \"aaaa\" }}",
    "{{ replace \"\" \"x\" -1 \"ab\" }}",
    "{{ replace \"a\" \"b\" 0 \"aaa\" }}",
    "{{ replace_all \".\" \"_\" \"1.2.3\" }}",
    "{{ user `name` | replace_all \" \" \"-\" }}",
    "{{ printf \"%T %T %T %T %T\" 1 \"a\" 1.5 true nil }}",
    "{{ print 1 2 \"a\" \"b\" 3 true nil }}",
    "{{ println 1 \"a\" 2.5 }}",
    "{{ printf \"%05s|%x|% x|%#x|%8.3e|%-8q|%+.2f|%U\" \"ab\" 255 \"hi\" \"hi\" 1234.5678 \"x\" 2.0 97 }}",
    "{{ printf \"%v %d %s\" true 1.5 }}",
    "{{ printf \"%s\" 1 2 }}",
    "{{ printf \"%5.1f|%-6.2f|%06.2f|%g|%G|%e\" 3.14159 2.5 -1.5 0.000012 1e21 123456.789 }}",
    "{{ printf \"%3c|%-3c|%q|%#q|%+q\" 65 66 \"a\\tb\" \"raw\" \"é\" }}",
    "{{ printf \"%x|%X|%o|%#o|%b|%08b|%+d|% d|%.3d\" -255 255 8 8 5 5 5 5 7 }}",
    "{{ printf \"%*d|%-*d|%.*f\" 5 1 4 2 2 3.14159 }}",
    "{{ printf \"%t %v %s\" false nil nil }}",
    "{{ printf \"%d%%\" 50 }}",
    "{{ 1e6 }} {{ 1.0 }} {{ 0.000001 }} {{ 1e-7 }} {{ 123456789.0 }} {{ 0x10 }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 'x' }}",
    "{{ len \"héllo\" }}|{{ index \"abc\" 1 }}|{{ slice \"abcd\" 1 3 }}|{{ slice \"abcd\" 2 }}",
    "{{ html \"<a href='x'>&\\\"\" }}|{{ js \"a'b<>&=\\\"\\\\\" }}|{{ urlquery \"a b&c=d/é\" }}",
    "{{ eq 1 2 1 }}|{{ ne \"a\" \"b\" }}|{{ lt 1 2 }}|{{ le 2 2 }}|{{ gt 1.5 2.5 }}|{{ ge \"b\" \"a\" }}|{{ eq true true }}",
    "{{ and 1 0 }}|{{ or 0 \"\" \"x\" }}|{{ not 0 }}|{{ and \"a\" \"b\" }}|{{ or 0 false }}",
    "{{ if eq (user `region`) \"us-east-1\" }}east{{ else }}other{{ end }}",
    "{{ if user `nope` }}x{{ else if user `name` }}y{{ else }}z{{ end }}",
    "{{ with user `name` }}<{{ . }}>{{ end }}{{ with \"\" }}no{{ else }}empty{{ end }}",
    "{{ $r := user `region` }}[{{ $r }}]{{ $r = \"x\" }}{{ $r }}",
    "a  {{- user `region` -}}  b",
    "a {{/* comment */}} b {{- /* trimmed */ -}} c",
    "{{-3}}|{{ -3 }}|{{ +3 }}",
    "{{ `raw\\n` }}|{{ \"tab\\there\\x41\\u00e9\\101\" }}",
    "{{ (user `name`) }}|{{ printf \"%s-%s\" (user `region`) (upper \"x\") }}",
    "{{ \"a\" | printf \"%s|%s\" \"b\" }}",
    "{{ isotime \"2006\" | printf \"%s!\" }}",
    "{{ user `img` | upper }}",
    "{{ user `undefined_one` }}",
    "{{ template_dir | len | lt 0 }}",
    "{{ printf \"%v|%.0f|%.0f|%6.2v|%s|%d|%q|%c\" 1e21 2.5 3.5 3.14159 true true 0x1F600 -1 }}",
    "{{ printf \"%08.3f|%+q|%-08d|%#v|%#v|%#v|%5t|%.2s\" -3.14159 \"é\" 5 \"a\" 1.0 nil true \"héllo\" }}",
    "{{ printf \"%x|%10.4e|%g|%g|%.3g|%G|%e|%v|%d|%v\" \"héllo\" 123.456 100000.0 1000000.0 1234.0 1e-7 0.0 -0.0 'a' 0.1 }}",
    "{{ print 1.0 'a' -0.0 }}|{{ eq \"a\" \"a\" \"b\" }}|{{ len \"\" }}|{{ slice \"abc\" }}|{{ not \"\" }}|{{ or 0 }}",
    "{{ urlquery \"é~-_.!*'()\" }}|{{ js \"\\u2028 \\x01 é\" }}|{{ html \"\\x00\" }}",
    "{{ upper \"ßaé\" }}|{{ lower \"İSTANBUL ÀÉ\" }}",
    // Decided by this oracle when kiln's copies of %q and of case mapping became one each.
    "{{ printf \"%q|%+q|%#q\" \"a\\u0085\\u00a0\\u00ad\\u2028\\x01\\x7fé\" \"\\u00a0é\" \"\\u0085x\" }}",
    "{{ upper \"ᾀ ǰ ΐ ﬀ ᾳ ῳ ᾈ\" }}|{{ lower \"ᾈ ᾼ İ K Ω\" }}",
    "{{ printf \"%s|%v|%d\" 'a' 'a' 1.5 }}",
    "{{ printf \"%3.1s|%-5.3q|%05q|%x|%X|% X\" \"abc\" \"abcdef\" \"a\" -1 \"hi\" \"hi\" }}",
    "{{ printf \"%.3x|%#X|%#o|%#b|%O\" \"abcdef\" 255 0 5 8 }}",
    "{{ printf \"%[1]s %[1]s\" \"a\" }}",
    "{{ printf \"%!\" }}|{{ printf \"%z\" 1 }}|{{ printf \"%\" }}",
    "{{ print \"a\" 1 2 \"b\" nil 3 }}",
    "{{ html \"a\" \"b\" 1 }}|{{ urlquery 1 2 }}",
    "{{ range $i, $c := . }}{{ $i }}{{ end }}none",
    "{{ with $x := \"a\" }}{{ $x }}{{ $x := \"b\" }}{{ $x }}{{ end }}",
    "{{ if 1 }}{{ if 0 }}a{{ else }}b{{ end }}{{ end }}",
    "{{ if 0 }}a{{ else if $v := \"q\" }}{{ $v }}{{ end }}",
    "{{ $a := 1 }}{{ if true }}{{ $a = 2 }}{{ end }}{{ $a }}",
    "{{ $x := 1 }}{{ $x := 2 }}{{ $x }}|{{ printf \"%d\" (len \"abc\") }}|{{ user \"name\" | len }}|{{ print }}",
    "{{ if and (eq 1 1) (ne 2 3) }}y{{ end }}|{{ true | not }}|{{ user (`name`) }}|{{ isotime \"\" }}|{{ split \"\" \",\" 0 }}",
    "{{ user `name` | }}|{{ user `name` | upper | }}",
    "{{ replace_all \"\" \"x\" \"ab\" }}|{{ replace \"ab\" \"\" -1 \"abab\" }}|{{ split \"a--b\" \"--\" 1 }}",
];

/// Expressions that depend on the clock: kiln's render just before or just after Packer's
/// must match it.
const TIMED: &[&str] = &[
    "{{ timestamp }}",
    "{{ isotime }}",
    "{{ isotime \"20060102150405\" }}",
    "{{ isotime \"Mon Monday Jan January 1 01 2 02 _2 __2 002 3 03 15 4 04 5 05 06 2006 PM pm MST -0700 -07:00 -07 Z07:00 Z0700 Z07\" }}",
    "{{ isotime \"2006-01-02T15:04:05.000Z07:00\" | len }}",
    "{{ isotime \"Janet Monty _2006 2006-01-02\" }}",
    "{{ strftime \"%Y-%m-%d %H:%M:%S %a %A %b %B %j %y %e %I %p %z %Z %c %%\" }}",
    "{{ uuid | len }}",
    "{{ isotime \"Mon, 02 Jan 2006 15:04:05 MST\" }}|{{ isotime \"3:04PM\" }}|{{ isotime \"Jan 2, 2006 at 3:04pm (MST)\" }}",
    "{{ isotime \"2006-01-02T15:04:05-0700\" }}|{{ isotime \"02 Jan 06 15:04 -07\" }}|{{ isotime \"Z070000 -070000 Z07:00:00\" }}",
    "{{ isotime \"Month: January, Day: Monday, 2006_01_02\" }}|{{ isotime \"1_2_3_4_5_6\" }}|{{ isotime \"0102030405\" }}",
    "{{ isotime \"202205111847\" }}|{{ isotime \"2019102650405\" }}",
];

/// Expressions Packer rejects; kiln must reject them too.
const ERRORS: &[&str] = &[
    "{{ nope }}",
    "{{ env `HOME` }}",
    "{{ sed \"a\" \"b\" }}",
    "{{ split \"a,b\" \",\" 5 }}",
    "{{ split \"a\" \",\" \"x\" }}",
    "{{ upper }}",
    "{{ upper \"a\" \"b\" }}",
    "{{ eq 1 1.0 }}",
    "{{ lt true false }}",
    "{{ user `x` \"y\" }}",
    "{{ isotime \"a\" \"b\" }}",
    "{{ index \"abc\" 5 }}",
    "{{ slice \"abc\" 2 1 }}",
    "{{ len 3 }}",
    "{{ end }}",
    "{{ else }}",
    "{{ if 1 }}x",
    "{{ user `x` ",
    "{{ }}",
    "{{ $x }}",
    "{{ 1 2 }}",
    "{{ \"a\" | \"b\" }}",
    "{{ nil }}",
    "{{ (upper \"a\" }}",
    "{{ \"abc }}",
    "{{ 12ab }}",
    "{{/* x }}",
    "{{ range \"abc\" }}{{ end }}",
    "{{ with \"\" }}a{{ else if 1 }}b{{ end }}",
    "{{ range . }}a{{ else if 1 }}b{{ end }}",
    "{{ (print \"a\").Foo }}",
    "{{/* c */ }}",
    "{{ eq \"a\" 1 }}",
    "{{ lt 1 }}",
    "{{ not 1 2 }}",
    "{{ printf }}",
    "{{ printf 1 }}",
    "{{ slice \"abc\" 1 2 3 }}",
    "{{ len nil }}",
    "{{ 'ab' }}",
    "{{ \"\\z\" }}",
    "{{ if }}{{ end }}",
    "{{ range }}{{ end }}",
    "{{ with 1 }}{{ end }}{{ end }}",
    "{{ 0x }}",
    "{{ | user }}",
    "{{ ( ) }}",
    "{{ $x := 1 }}{{ $x.Foo }}",
    "{{ upper 1 }}",
    "{{ user 1 }}",
    "{{ timestamp 1 }}",
    "{{ \"a\" \"b\" }}",
    "{{user`name`}}",
    "{{ upper(`a`) }}",
    "{{ printf \"%s\"(upper `a`) }}",
];

/// Runs `packer console` on one expression: Ok(output) or Err(error text).
fn packer(dir: &std::path::Path, expr: &str) -> Result<String, String> {
    let mut child = Command::new("packer")
        .arg("console")
        .arg("t.json")
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(expr.as_bytes()).map_err(|e| e.to_string())?;
        stdin.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if stderr.contains("Interpolation error") || stdout.contains("Interpolation error") {
        return Err(stderr + &stdout);
    }
    Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_string())
}

fn kiln(dir: &std::path::Path, expr: &str, now: SystemTime) -> Result<String, String> {
    let ctx = Context {
        user: BTreeMap::from([
            ("name".into(), "Hello World".into()),
            ("region".into(), "us-east-1".into()),
            ("csv".into(), "a,b,,c".into()),
            ("img".into(), "My Image: v1.2 (test) é".into()),
        ]),
        template_dir: Some(dir.to_path_buf()),
        now: Some(now),
        ..Context::default()
    };
    render(expr, &ctx).map_err(|e| format!("at {}: {}", e.offset, e.message))
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-gotmpl-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    std::fs::write(dir.join("t.json"), TEMPLATE).expect("write template");
    dir
}

#[test]
fn gotmpl_renders_like_packer() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let dir = temp_dir();
    let mut failures = Vec::new();
    for expr in SAME {
        let want = packer(&dir, expr);
        let got = kiln(&dir, expr, SystemTime::now());
        if want != got {
            failures.push(format!("{expr}\n  packer: {want:?}\n  kiln:   {got:?}"));
        }
    }
    for expr in TIMED {
        let before = SystemTime::now();
        let want = packer(&dir, expr);
        let after = SystemTime::now();
        // The second must match; sub-second digits cannot, so no layout here prints them.
        let got: Vec<_> =
            [before, after, after + Duration::from_millis(1)].iter().map(|t| kiln(&dir, expr, *t)).collect();
        if !got.contains(&want) {
            failures.push(format!("{expr}\n  packer: {want:?}\n  kiln:   {:?}", got[0]));
        }
    }
    for expr in ERRORS {
        if let Ok(out) = packer(&dir, expr) {
            failures.push(format!("{expr}\n  packer unexpectedly rendered {out:?} (fix the test list)"));
        }
        if let Ok(out) = kiln(&dir, expr, SystemTime::now()) {
            failures.push(format!("{expr}\n  packer rejects it, kiln rendered {out:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

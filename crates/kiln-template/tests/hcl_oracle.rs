//! `packer console` as an oracle: the values kiln's evaluator prints for expressions without
//! function calls must be exactly what Packer prints. Needs the `packer` binary on PATH.

use std::io::Write;
use std::process::{Command, Stdio};

const TEMPLATE: &str = "variable \"x\" {\n  default = \"abc\"\n}\nlocals {\n  m = { k = [1, 2] }\n}\n";

const EXPRESSIONS: &[&str] = &[
    "1.5",
    "1e3",
    "10 / 3",
    "-7 % 3",
    "\"a\\\"b\"",
    "[\"a\\\"b\", 1, true, null]",
    "{ b = 1, a = [2] }",
    "[for x in [3, 1, 2] : x * 2 if x > 1]",
    "{for k, v in { a = 1, b = 2 } : v => k}",
    "{for x in [\"ab\", \"ac\", \"b\"] : (x == \"b\" ? \"b\" : \"a\") => x...}",
    "[{ n = 1 }, { n = 2 }][*].n",
    "\"%{ for x in [1, 2] }<${x}>%{ endfor }\"",
    "\"%{ if var.x == \"abc\" }yes%{ else }no%{ endif }\"",
    "\"a   ${~ \"b\" ~}   c\"",
    "1 == \"1\"",
    "\"${1 + 1}\"",
    "true ? 1 : \"a\"",
    "{}",
    "[]",
    "\"5\" + 1",
    "1 < 2 && 2 < 3",
    "var.x",
    "local.m",
    "local.m.k[1]",
    "{ a = { b = [1, { c = \"d\" }] } }",
    "[[1, 2], []]",
    "null",
    "{ \"a b\" = 1 }",
    "[1, 2][*]",
];

fn packer_console(dir: &std::path::Path, expr: &str) -> Option<String> {
    let mut child = Command::new("packer")
        .args(["console", "t.pkr.hcl"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(format!("{expr}\n").as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

#[test]
fn values_print_like_packer_console() {
    let dir = kiln_testing::TempDir::new("hcl-oracle");
    std::fs::write(dir.join("t.pkr.hcl"), TEMPLATE).expect("write template");
    if packer_console(&dir, "1").as_deref() != Some("1") {
        return kiln_testing::skip("`packer console` is not available");
    }
    let session = kiln_template::console::open(Some(&dir.join("t.pkr.hcl")), &kiln_template::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut diffs = Vec::new();
    for e in EXPRESSIONS {
        let want = packer_console(&dir, e).unwrap_or_default();
        let got = session.eval_line(e).unwrap_or_else(|d| format!("error: {d}"));
        if want != got {
            diffs.push(format!("{e}\n  packer: {want}\n  kiln:   {got}"));
        }
    }
    assert!(diffs.is_empty(), "{} of {} differ:\n{}", diffs.len(), EXPRESSIONS.len(), diffs.join("\n"));
}

//! The seed templates (KILN_SHARED/seed-templates): broken ones are rejected at the place
//! Packer reports, with advice; correct ones load; hard-coded keys warn without echoing.

use std::path::PathBuf;

use kiln_template::{json, LoadOptions, Stage};

fn seeds() -> Option<PathBuf> {
    let dir = std::env::var_os("KILN_SHARED").map(|s| PathBuf::from(s).join("seed-templates")).or_else(|| {
        std::env::var_os("KILN_CORPUS").and_then(|c| PathBuf::from(c).parent().map(|p| p.join("seed-templates")))
    });
    match dir {
        Some(d) if d.is_dir() => Some(d),
        _ => {
            kiln_testing::skip("KILN_SHARED does not name the shared folder (seed-templates)");
            None
        }
    }
}

fn syntax() -> LoadOptions {
    LoadOptions { stage: Stage::Syntax, ..LoadOptions::default() }
}

#[test]
fn broken_seeds_fail_where_packer_says_with_advice() {
    let Some(dir) = seeds() else { return };
    // file, summary, line (Packer's line), column, words the help must contain
    let cases = [
        ("apache-build.broken.json", "trailing comma before `}`", 5, 1, "remove the `,` at line 4, column 50"),
        (
            "bk-ami.broken.json",
            "missing `:` after the key \"instance_type\"",
            10,
            29,
            "\"instance_type\": \"t2.micro\"",
        ),
        (
            "elasticsearch.broken.json",
            "missing comma between object members",
            4,
            28,
            "add a `,` after `\"name\": \"elasticsearch\"`",
        ),
        ("iter2-annotated.broken.json", "JSON does not allow comments", 2, 1, "\"_comment\""),
    ];
    for (file, summary, line, col, help) in cases {
        let err = json::load(&dir.join(file), &syntax()).expect_err(file);
        let d = &err.0[0];
        assert_eq!(d.summary, summary, "{file}");
        let (l, c) = d.span.as_ref().map(|s| s.line_col()).unwrap_or_default();
        assert_eq!((l, c), (line, col), "{file}:\n{d}");
        assert!(d.help.as_deref().unwrap_or("").contains(help), "{file}:\n{d}");
        assert!(d.to_string().contains(&format!("{file}:{line}:{col}")), "{d}");
    }
}

#[test]
fn correct_seeds_load() {
    let Some(dir) = seeds() else { return };
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("seed dir readable").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.contains(".broken.") {
            n += 1;
            if let Err(e) = json::load(&entry.path(), &syntax()) {
                panic!("{name} should load:\n{e}");
            }
        }
    }
    assert!(n >= 10, "only {n} seed templates");
}

#[test]
fn hardcoded_keys_warn_without_the_secret() {
    let Some(dir) = seeds() else { return };
    let t = json::load(&dir.join("hardcoded-keys.json"), &syntax()).expect("loads");
    let shown: String = t.warnings.iter().map(|w| format!("{w}\n")).collect();
    assert!(shown.contains("hard-coded credential in option \"aws_secret_key\""), "{shown}");
    assert!(shown.contains("hard-coded credential in option \"aws_access_key\""), "{shown}");
    assert!(!shown.contains("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "{shown}");
    assert!(t.sensitive_values.iter().any(|v| v == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    eprintln!("{shown}");
}

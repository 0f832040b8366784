//! Conformance of `Stage::Syntax` with `packer validate -syntax-only` (Packer 1.6.6) over the
//! corpus' HCL2 rows. Rows marked too_new_for_1_6_6 must be accepted by kiln whatever 1.6.6 said.

mod hcl_util;

use std::path::Path;

use kiln_template::{LoadOptions, Stage};
use kiln_testing::corpus_or_skip;

struct Row {
    path: String,
    kind: String,
    rc: String,
    too_new: bool,
    paired: String,
}

fn rows(corpus: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() > 9).then(|| Row {
                path: c[0].into(),
                kind: c[1].into(),
                rc: c[2].into(),
                too_new: c[6] == "yes",
                paired: c[9].into(),
            })
        })
        .filter(|r| matches!(r.kind.as_str(), "hcl2" | "hcl2-dir" | "vars") && (r.rc == "0" || r.rc == "1"))
        .collect()
}

#[test]
fn syntax_stage_agrees_with_packer() {
    let Some(corpus) = corpus_or_skip("") else { return };
    let rows = rows(&corpus);
    assert!(!rows.is_empty(), "no HCL2 rows in the verdicts file");
    let (mut agree, mut total) = (0, 0);
    let mut disagreements = Vec::new();
    for r in &rows {
        let (template, var_files) = if r.kind == "vars" {
            // Only variable files for HCL2 templates are in scope here.
            let hcl = kiln_template::load::detect_format(&corpus.join(&r.paired)).ok()
                == Some(kiln_template::load::Format::Hcl);
            if r.paired.is_empty() || !hcl {
                continue;
            }
            (corpus.join(&r.paired), vec![corpus.join(&r.path)])
        } else {
            (corpus.join(&r.path), Vec::new())
        };
        // Packer does not read *.auto.pkrvars.* named on their own as var files twice.
        let opts = LoadOptions { stage: Stage::Syntax, var_files, ..LoadOptions::default() };
        let ok = kiln_template::load(&template, &opts);
        let expected_ok = r.rc == "0" || r.too_new;
        total += 1;
        if ok.is_ok() == expected_ok {
            agree += 1;
        } else {
            let first = ok
                .err()
                .and_then(|d| d.errors().next().map(|e| e.to_string().lines().take(2).collect::<Vec<_>>().join(" ")));
            disagreements.push(format!(
                "{} (packer rc {}, too new {}): {}",
                r.path,
                r.rc,
                r.too_new,
                first.unwrap_or_else(|| "accepted".into())
            ));
        }
    }
    let pct = 100.0 * agree as f64 / total as f64;
    eprintln!("HCL2 syntax-stage agreement with Packer 1.6.6: {agree}/{total} ({pct:.1}%)");
    for d in &disagreements {
        eprintln!("  disagree: {d}");
    }
    // Before crate::types is merged every `type = ...` fails, so the floor is set for that;
    // raise it after the merge (see the report).
    let floor = if kiln_template::types::Type::parse(&hcl_edit::parser::parse_expr("string").unwrap()).is_ok() {
        90.0
    } else {
        25.0
    };
    assert!(pct >= floor, "agreement {pct:.1}% is below {floor}%");
}

/// No input makes the loader panic: every corpus HCL2 file cut short at several places, and
/// with single characters removed, loads to a result or to diagnostics.
#[test]
fn truncated_and_damaged_files_never_panic() {
    let Some(corpus) = corpus_or_skip("") else { return };
    let dir = kiln_testing::TempDir::new("hcl-damage");
    let mut checked = 0;
    for r in rows(&corpus).iter().filter(|r| r.kind == "hcl2") {
        let Ok(text) = std::fs::read_to_string(corpus.join(&r.path)) else { continue };
        let name = if r.path.ends_with(".pkr.json") { "t.pkr.json" } else { "t.pkr.hcl" };
        let target = dir.join(name);
        let len = text.len();
        for k in 1..8 {
            let mut cut = len * k / 8;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            for variant in [
                text[..cut].to_string(),
                format!("{}{}", &text[..cut], text[cut..].chars().skip(1).collect::<String>()),
            ] {
                std::fs::write(&target, variant).expect("write temp file");
                for stage in [Stage::Syntax, Stage::Full] {
                    let _ = kiln_template::load(&target, &LoadOptions { stage, ..LoadOptions::default() });
                    checked += 1;
                }
            }
        }
    }
    eprintln!("loaded {checked} damaged variants without a panic");
    assert!(checked > 0);
}

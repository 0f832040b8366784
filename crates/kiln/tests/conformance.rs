//! Conformance with Packer 1.6.6 on the shared corpus of real templates.
//!
//! Reads `KILN_CORPUS` (CI points it at `shared/corpus`). For every row of
//! `packer-1.6.6-verdicts.tsv` it runs `kiln validate -syntax-only` and `kiln fmt -check` the way
//! Packer was run (in the file's folder, file passed by name) and compares exit codes:
//! - templates Packer 1.6.6 understands: kiln agrees on at least 99% of them;
//! - templates marked too new for 1.6.6: kiln accepts every one;
//! - `fmt -check`: kiln agrees on every file.
//!
//! Disagreements that are Packer 1.6.6 bugs are listed in `conformance/allow.tsv` with a reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Row {
    path: String,
    kind: String,
    validate_rc: Option<i32>,
    fmt_rc: Option<i32>,
    too_new: bool,
    paired_with: String,
}

fn corpus() -> Option<PathBuf> {
    kiln_testing::corpus_or_skip("packer-1.6.6-verdicts.tsv")
}

fn rc(s: &str) -> Option<i32> {
    s.parse().ok()
}

fn rows(corpus: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).expect("verdicts file");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 10).then(|| Row {
                path: f[0].to_string(),
                kind: f[1].to_string(),
                validate_rc: rc(f[2]),
                fmt_rc: rc(f[4]),
                too_new: f[6] == "yes",
                paired_with: f[9].to_string(),
            })
        })
        .collect()
}

/// `check\tpath\treason` lines; `#` comments.
fn allow_list() -> HashMap<(String, String), String> {
    let text = include_str!("conformance/allow.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some(((f.next()?.to_string(), f.next()?.to_string()), f.next()?.to_string()))
        })
        .collect()
}

/// Runs kiln in the folder of `target` with the target passed by name, as Packer was run.
fn kiln_in(corpus: &Path, target: &str, args: &[&str], extra: &[String]) -> (i32, String) {
    let full = corpus.join(target);
    let (dir, name) = if full.is_dir() {
        (full.clone(), ".".to_string())
    } else {
        (full.parent().unwrap_or(corpus).to_path_buf(), full.file_name().unwrap_or_default().to_string_lossy().into())
    };
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .args(extra)
        .arg(&name)
        .current_dir(&dir)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("kiln runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn corpus_validate_syntax_only_and_fmt_agree_with_packer() {
    let Some(corpus) = corpus() else { return };
    let allow = allow_list();
    let (mut agree, mut total, mut new_ok, mut new_total, mut fmt_agree, mut fmt_total) = (0, 0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    let (mut allowed, mut new_allowed, mut fmt_allowed) = (0, 0, 0);
    for row in rows(&corpus) {
        if let Some(expected) = row.validate_rc {
            // A vars row is checked as `-var-file=FILE TEMPLATE` with its paired template.
            let (target, extra) = if row.kind == "vars" {
                if row.paired_with.is_empty() {
                    continue;
                }
                let var_file = corpus.join(&row.path);
                (row.paired_with.clone(), vec![format!("-var-file={}", var_file.display())])
            } else {
                (row.path.clone(), Vec::new())
            };
            let (got, out) = kiln_in(&corpus, &target, &["validate", "-syntax-only"], &extra);
            let want = if row.too_new { 0 } else { expected };
            let ok = got == want;
            if row.too_new {
                new_total += 1;
                new_ok += usize::from(ok);
            } else {
                total += 1;
                agree += usize::from(ok);
            }
            if !ok {
                if allow.contains_key(&("validate".to_string(), row.path.clone())) {
                    allowed += 1;
                    new_allowed += usize::from(row.too_new);
                } else {
                    failures.push(format!(
                        "validate {} ({}): packer {expected}{} kiln {got}\n{}",
                        row.path,
                        row.kind,
                        if row.too_new { " (too new: kiln must accept)" } else { "" },
                        indent(&out)
                    ));
                }
            }
        }
        if let Some(expected) = row.fmt_rc {
            fmt_total += 1;
            let (got, out) = kiln_in(&corpus, &row.path, &["fmt", "-check"], &[]);
            if got == expected {
                fmt_agree += 1;
            } else if allow.contains_key(&("fmt".to_string(), row.path.clone())) {
                allowed += 1;
                fmt_allowed += 1;
            } else {
                failures.push(format!("fmt -check {}: packer {expected} kiln {got}\n{}", row.path, indent(&out)));
            }
        }
    }
    let pct = |a: usize, t: usize| if t == 0 { 100.0 } else { 100.0 * a as f64 / t as f64 };
    eprintln!(
        "conformance: validate -syntax-only agrees on {agree}/{total} ({:.1}%) templates Packer 1.6.6 understands; \
         accepts {new_ok}/{new_total} too-new templates; fmt -check agrees on {fmt_agree}/{fmt_total}; {allowed} allow-listed",
        pct(agree, total)
    );
    for f in &failures {
        eprintln!("--- {f}");
    }
    let validate_misses = total - agree;
    assert!(pct(agree, total) >= 99.0, "validate agreement below 99% ({validate_misses} disagreements)");
    assert_eq!(new_ok + new_allowed, new_total, "too-new templates rejected");
    assert_eq!(fmt_agree + fmt_allowed, fmt_total, "fmt -check disagreements");
}

fn indent(s: &str) -> String {
    s.lines().take(12).map(|l| format!("    {l}\n")).collect()
}

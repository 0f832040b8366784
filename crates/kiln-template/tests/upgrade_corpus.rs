//! Corpus-wide test of `hcl2_upgrade`: every legacy JSON template of $KILN_CORPUS is upgraded;
//! the output must be canonically formatted HCL2 and, when `packer` is installed, pass
//! `packer validate -syntax-only` (Packer 1.6.6).

use kiln_template::upgrade::{upgrade, UpgradeOptions};
use kiln_template::SourceFile;
use std::path::{Path, PathBuf};
use std::process::Command;

fn require_tools() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(c) = std::env::var("KILN_CORPUS") {
        return Some(PathBuf::from(c));
    }
    std::env::var("KILN_SHARED").ok().map(|s| Path::new(&s).join("corpus"))
}

/// Paths of the JSON templates (not variable files) per the verdicts file.
fn json_templates(corpus: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.get(1) == Some(&"json") && cols.get(2) == Some(&"0")).then(|| corpus.join(cols[0]))
        })
        .collect()
}

#[test]
fn corpus_templates_upgrade_to_valid_hcl2() {
    let Some(corpus) = corpus_dir() else {
        assert!(!require_tools(), "KILN_REQUIRE_TOOLS=1 but KILN_CORPUS / KILN_SHARED is not set");
        eprintln!("notice: KILN_CORPUS / KILN_SHARED not set; skipping");
        return;
    };
    let files = json_templates(&corpus);
    assert!(files.len() > 50, "only {} JSON templates found", files.len());
    let packer = Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success());
    if !packer {
        assert!(!require_tools(), "KILN_REQUIRE_TOOLS=1 but packer is missing");
        eprintln!("notice: packer not found; checking kiln's side only");
    }
    let dir = std::env::temp_dir().join(format!("kiln-upgrade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (mut upgraded, mut packer_ok) = (0, 0);
    let mut failures = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let Ok(src) = std::fs::read_to_string(path) else { continue };
        let file = SourceFile::new(path.clone(), src.clone());
        for ann in [false, true] {
            let out = match upgrade(&src, &file, &UpgradeOptions { with_annotations: ann }) {
                Ok(o) => o,
                Err(d) => {
                    failures.push(format!("{}: kiln refused a template packer accepts:\n{d}", path.display()));
                    break;
                }
            };
            let f = SourceFile::new("out.pkr.hcl", out.clone());
            if kiln_template::fmt::format(&out, &f).as_deref() != Ok(out.as_str()) {
                failures.push(format!("{}: output is not canonically formatted", path.display()));
            }
            if ann {
                continue;
            }
            upgraded += 1;
            if packer {
                let p = dir.join(format!("t{i}.pkr.hcl"));
                std::fs::write(&p, &out).expect("write");
                let o = Command::new("packer").args(["validate", "-syntax-only"]).arg(&p).output().expect("packer");
                let said = String::from_utf8_lossy(&o.stdout);
                // A template that asks for a newer Packer keeps asking in HCL2: that is faithful.
                if o.status.success() || said.contains("Unsupported Packer Core version") {
                    packer_ok += 1;
                } else {
                    failures.push(format!(
                        "{}: packer validate -syntax-only rejects the output:\n{}",
                        path.display(),
                        String::from_utf8_lossy(&o.stdout).lines().take(6).collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("hcl2_upgrade corpus: {upgraded}/{} templates upgraded, {packer_ok} accepted by packer", files.len());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
}

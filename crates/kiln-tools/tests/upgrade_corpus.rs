//! Corpus-wide test of `hcl2_upgrade`: every legacy JSON template of $KILN_CORPUS is upgraded;
//! the output must be canonically formatted HCL2 and, when `packer` is installed, pass
//! `packer validate -syntax-only` (Packer 1.6.6).

use kiln_template::SourceFile;
use kiln_tools::upgrade::{upgrade, UpgradeOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

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
    let Some(corpus) = kiln_testing::corpus_or_skip("") else { return };
    let files = json_templates(&corpus);
    assert!(files.len() > 50, "only {} JSON templates found", files.len());
    let packer = kiln_testing::packer_runs();
    if !packer {
        kiln_testing::skip("packer not found: checking kiln's side only");
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
            if kiln_tools::fmt::format(&f).as_deref() != Ok(out.as_str()) {
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

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

fn validates(dir: &Path, file: &str) -> bool {
    Command::new("packer").args(["validate", file]).current_dir(dir).output().is_ok_and(|o| o.status.success())
}

/// Full `packer validate` (which decodes every component's options) on the upgraded form of each
/// JSON template that Packer fully validates: wherever Packer's own `hcl2_upgrade` output
/// validates, kiln's must too.
#[test]
fn upgraded_templates_validate_wherever_packers_own_upgrade_does() {
    let Some(corpus) = kiln_testing::corpus_or_skip("") else { return };
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).unwrap_or_default();
    let templates: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.get(1) == Some(&"json") && cols.get(7) == Some(&"0")).then(|| cols[0].to_string())
        })
        .collect();
    assert!(!templates.is_empty(), "no fully valid JSON templates in the verdicts");
    // Relative paths in templates (scripts, http folders) must resolve: work on a copy.
    let work = std::env::temp_dir().join(format!("kiln-upgrade-validate-{}", std::process::id()));
    copy_tree(&corpus, &work).expect("copy corpus");
    let (mut ours_ok, mut theirs_ok) = (0, 0);
    let mut failures = Vec::new();
    for rel in &templates {
        let path = work.join(rel);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else { continue };
        let Ok(src) = std::fs::read_to_string(&path) else { continue };
        let file = SourceFile::new(path.clone(), src.clone());
        let Ok(out) = upgrade(&src, &file, &UpgradeOptions::default()) else {
            failures.push(format!("{rel}: kiln refused it"));
            continue;
        };
        let ours = format!("{name}.kiln.pkr.hcl");
        std::fs::write(dir.join(&ours), out).expect("write");
        let ours_valid = validates(dir, &ours);
        let _ = Command::new("packer").args(["hcl2_upgrade", name]).current_dir(dir).output();
        let theirs_valid = validates(dir, &format!("{name}.pkr.hcl"));
        ours_ok += usize::from(ours_valid);
        theirs_ok += usize::from(theirs_valid);
        // Packer 1.6.6 has no `error-cleanup-provisioner` block in HCL2 (later versions do); its
        // own upgrade drops the cleanup provisioner, kiln keeps it.
        let cleanup = src.contains("\"error-cleanup-provisioner\"");
        if theirs_valid && !ours_valid && !cleanup {
            failures.push(format!("{rel}: packer's own upgrade validates, kiln's does not"));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!(
        "hcl2_upgrade + packer validate: kiln {ours_ok}/{n}, packer's own upgrade {theirs_ok}/{n}",
        n = templates.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Corpus-wide oracle test of the HCL2 formatter: every HCL file under $KILN_CORPUS (and the seed
//! templates under $KILN_SHARED) is formatted by kiln and compared with `packer fmt`'s output when
//! the `packer` binary is present, else with Packer's recorded `fmt -check` verdicts.

use kiln_template::SourceFile;
use kiln_testing::{corpus_or_skip, packer_runs, skip};
use kiln_tools::fmt::format;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.to_string_lossy().ends_with(".hcl") {
            out.push(p);
        }
    }
}

/// `fmt_rc` per corpus-relative path from the verdicts file.
fn verdicts(corpus: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(4)?.to_string()))
        })
        .collect()
}

/// Runs `packer fmt` once over copies of all `files`; returns per file its formatted text, or
/// None when packer refused it.
fn packer_outputs(files: &[PathBuf]) -> Vec<Option<String>> {
    let dir = std::env::temp_dir().join(format!("kiln-fmt-oracle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(f, dir.join(format!("f{i:04}.pkr.hcl"))).expect("copy");
    }
    let out = Command::new("packer").arg("fmt").arg(&dir).output().expect("run packer");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let res = (0..files.len())
        .map(|i| {
            let name = format!("f{i:04}.pkr.hcl");
            if text.contains(&format!("failed to parse HCL {}", dir.join(&name).display())) {
                None
            } else {
                std::fs::read_to_string(dir.join(&name)).ok()
            }
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    res
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.split('\n').zip(b.split('\n')).enumerate() {
        if x != y {
            return format!("line {}: kiln {:?} / packer {:?}", i + 1, x, y);
        }
    }
    format!("lengths differ: kiln {} lines / packer {} lines", a.split('\n').count(), b.split('\n').count())
}

#[test]
fn corpus_matches_packer_fmt() {
    let Some(corpus) = corpus_or_skip("") else { return };
    let mut files = Vec::new();
    walk(&corpus, &mut files);
    if let Ok(shared) = std::env::var("KILN_SHARED") {
        walk(&Path::new(&shared).join("seed-templates"), &mut files);
    }
    assert!(!files.is_empty(), "no HCL files under {}", corpus.display());
    let verdicts = verdicts(&corpus);
    let oracle = if packer_runs() {
        Some(packer_outputs(&files))
    } else {
        skip("packer not found: comparing with recorded verdicts only");
        None
    };

    let (mut compared, mut matched, mut refused, mut rewritten) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let src = std::fs::read_to_string(path).expect("read");
        let file = SourceFile::new(path.clone(), src.clone());
        let ours = format(&file).ok();
        let rel = path.strip_prefix(&corpus).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let expected: Option<Option<String>> = match &oracle {
            Some(outs) => Some(outs[i].clone()),
            None => match verdicts.get(&rel).map(String::as_str) {
                Some("0") => Some(Some(src.clone())),
                Some("1") => Some(None),
                Some("3") => {
                    compared += 1;
                    match &ours {
                        Some(o) if *o != src => matched += 1,
                        _ => failures.push(format!("{}: packer says unformatted; kiln disagrees", path.display())),
                    }
                    None
                }
                _ => None,
            },
        };
        let Some(expected) = expected else { continue };
        compared += 1;
        refused += usize::from(expected.is_none());
        rewritten += usize::from(expected.as_ref().is_some_and(|e| *e != src));
        match (&ours, &expected) {
            (Some(a), Some(b)) if a == b => matched += 1,
            (None, None) => matched += 1,
            (Some(a), Some(b)) => failures.push(format!("{}: {}", path.display(), first_diff(a, b))),
            (None, Some(_)) => {
                let err = format(&file).err().map(|d| d.to_string()).unwrap_or_default();
                failures.push(format!("{}: kiln refused, packer formatted:\n{err}", path.display()))
            }
            (Some(_), None) => failures.push(format!("{}: kiln formatted, packer refused", path.display())),
        }
    }
    eprintln!(
        "fmt corpus: {matched}/{compared} files match packer fmt ({rewritten} rewritten by packer, {refused} refused)"
    );
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

//! `fix` on every legacy JSON template of the corpus, compared with the output of the real
//! `packer fix` (needs KILN_CORPUS and a `packer` binary; skipped with a notice otherwise).

use std::process::Command;

/// Broken templates where Packer's `fix` does something kiln deliberately does not.
const KNOWN: &[(&str, &str)] = &[
    // Go's decoder stops after the first value; kiln reports the stray `]`.
    ("packer-plugin-sdk/template/test-fixtures/malformed.json", "trailing data"),
    // Packer 1.6.6 crashes on a builder without "type".
    ("packer-plugin-sdk/template/test-fixtures/parse-builder-no-type.json", "packer crash"),
    // Packer wraps a string "provisioners" into a list; kiln leaves it for validation to report.
    ("packer/command/test-fixtures/validate-invalid/broken.json", "provisioners not a list"),
];

#[test]
fn fix_output_matches_packer_on_the_corpus() {
    let Some(dir) = kiln_testing::corpus_or_skip("packer-1.6.6-verdicts.tsv") else { return };
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let verdicts = std::fs::read_to_string(dir.join("packer-1.6.6-verdicts.tsv")).expect("verdicts");
    let (mut total, mut same) = (0, 0);
    let mut differ = Vec::new();
    for line in verdicts.lines() {
        let mut cols = line.split('\t');
        let (Some(path), Some("json")) = (cols.next(), cols.next()) else { continue };
        let file = dir.join(path);
        if KNOWN.iter().any(|(p, _)| *p == path) {
            continue;
        }
        // Packer writes crash.log into its working directory.
        let Ok(out) = Command::new("packer")
            .args(["fix", "-validate=false"])
            .arg(&file)
            .current_dir(std::env::temp_dir())
            .output()
        else {
            continue;
        };
        let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
        let ours = kiln_tools::fix::fix_file(&file);
        total += 1;
        match (out.status.success(), ours) {
            (true, Ok(o)) if o == theirs => same += 1,
            (false, Err(_)) => same += 1,
            (_, o) => differ.push(format!("{path}: packer rc {:?}\n{theirs}\nkiln: {o:?}", out.status.code())),
        }
    }
    eprintln!(
        "fix: kiln's output equals packer fix's on {same} of {total} JSON templates ({} known differences skipped)",
        KNOWN.len()
    );
    for d in differ.iter().take(3) {
        eprintln!("{d}\n");
    }
    assert!(total > 200, "only {total} templates");
    assert_eq!(same, total);
}

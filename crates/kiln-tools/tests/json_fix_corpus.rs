//! `fix` on every legacy JSON template of the corpus, compared with the output of the real
//! `packer fix` (needs KILN_CORPUS and a `packer` binary; skipped with a notice otherwise).

use std::path::PathBuf;
use std::process::Command;

fn require() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").as_deref() == Ok("1")
}

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KILN_CORPUS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("KILN_SHARED").map(|s| PathBuf::from(s).join("corpus")));
    match dir {
        Some(d) if d.join("packer-1.6.6-verdicts.tsv").is_file() => Some(d),
        _ => {
            assert!(!require(), "KILN_REQUIRE_TOOLS=1 but KILN_CORPUS does not name the corpus");
            eprintln!("notice: KILN_CORPUS not set; skipping the fix corpus test");
            None
        }
    }
}

fn packer_available() -> bool {
    let ok = Command::new("packer").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(!require(), "KILN_REQUIRE_TOOLS=1 but `packer` cannot be run");
        eprintln!("notice: no `packer` binary; skipping the fix corpus test");
    }
    ok
}

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
    let Some(dir) = corpus() else { return };
    if !packer_available() {
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

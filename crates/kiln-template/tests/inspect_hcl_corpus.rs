//! `inspect` of HCL2 configurations against Packer 1.6.6's recorded output, byte for byte, for
//! every corpus case Packer inspected successfully (rc 0, "HCL2 mode"), except the allow-listed
//! ones, where kiln differs on purpose. Run as Packer was: from the file's own folder, naming
//! the file by its base name (`.` for folders).

mod hcl_util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_template::{LoadOptions, Stage};
use kiln_testing::corpus_or_skip;

// Packer 1.6.6's `inspect` silently leaves out a build block it cannot decode. kiln shows it:
// it accepts what newer Packer accepts, and `validate` reports what is really wrong.
const HCP: &str = "hcp_packer_registry (newer than 1.6.6) makes 1.6.6 drop the build; kiln ignores the block";
const CLEANUP: &str = "error-cleanup-provisioner (newer than 1.6.6) makes 1.6.6 drop the build";
const BUILD_REF: &str = "build.name in a provisioner's or post-processor's name (newer) makes 1.6.6 drop the build";
const UNKNOWN_TYPE: &str = "1.6.6 drops a build using an unknown component type; kiln shows it, validate reports it";
const SECRET: &str = "kiln hides a credential written into the configuration (and warns); Packer prints it";
const INVALID: &str = "invalid configuration: kiln rejects it with an error, 1.6.6's inspect ignores the problem";

/// Cases where kiln's output differs from Packer 1.6.6's on purpose, each with why.
const ALLOWED: &[(&str, &str)] = &[
    ("bento/packer_templates/pkr-builder.pkr.hcl", "`sources = var.x` (newer) makes 1.6.6 drop the build"),
    ("bento/packer_templates/pkr-variables.pkr.hcl", SECRET),
    ("packer-v1.6.6/examples/hcl/linux", SECRET),
    ("packer-v1.6.6/examples/hcl/linux/variables.alpine.pkr.hcl", SECRET),
    ("packer-v1.6.6/hcl2template/testdata/variables/basic.pkr.hcl", SECRET),
    ("packer/examples/hcl/linux", SECRET),
    ("packer/examples/hcl/linux/variables.alpine.pkr.hcl", SECRET),
    ("packer-v1.6.6/hcl2template/testdata/build/post-processor_inexistent.pkr.hcl", UNKNOWN_TYPE),
    ("packer-v1.6.6/hcl2template/testdata/build/provisioner_inexistent.pkr.hcl", UNKNOWN_TYPE),
    ("packer/hcl2template/testdata/build/post-processor_nonexistent.pkr.hcl", UNKNOWN_TYPE),
    ("packer/hcl2template/testdata/build/provisioner_nonexistent.pkr.hcl", UNKNOWN_TYPE),
    (
        "packer/command/test-fixtures/hcl/vars-in-build-block.pkr.hcl",
        "variables in a build's name (newer) make 1.6.6 drop the build",
    ),
    (
        "packer/command/test-fixtures/hcl2_upgrade/complete-variables-with-template-engine/expected.pkr.hcl",
        "uuidv4() is random; legacy_isotime() is newer than 1.6.6, which leaves that local out",
    ),
    ("packer/command/test-fixtures/hcl2_upgrade/error-cleanup-provisioner/expected.pkr.hcl", CLEANUP),
    ("packer/hcl2template/testdata/build/two-error-cleanup-provisioner.pkr.hcl", CLEANUP),
    ("packer/hcl2template/testdata/complete/build.pkr.hcl", CLEANUP),
    ("packer/command/test-fixtures/hcp/build-description.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/deprecated_labels.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/dup_build_blocks.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/duplicate.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/multiple_sources.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/override-build-description.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/slug.pkr.hcl", HCP),
    ("packer/command/test-fixtures/hcp/variable-for-bucket_name.pkr.hcl", HCP),
    ("packer/hcl2template/testdata/hcp_par/invalid.pkr.hcl", HCP),
    ("packer/hcl2template/testdata/hcp_par/long-description.pkr.hcl", HCP),
    ("packer/hcl2template/testdata/hcp_par/variable-for-bucket_name.pkr.hcl", HCP),
    ("packer/hcl2template/testdata/hcp_par/variables-for-labels.pkr.hcl", HCP),
    ("packer/hcl2template/testdata/build/post-processor_build_name_interpolation.pkr.hcl", BUILD_REF),
    ("packer/hcl2template/testdata/build/provisioner_build_name_interpolation.pkr.hcl", BUILD_REF),
    ("packer/hcl2template/testdata/build/post-processor_untyped.pkr.hcl", INVALID),
    ("packer/hcl2template/testdata/communicator/basic.pkr.hcl", INVALID),
    ("packer/hcl2template/testdata/sources/duplicate.pkr.hcl", INVALID),
];

/// Packer's recorded HCL2 `inspect` outputs that succeeded: path → output.
fn cases(corpus: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(corpus.join("packer-1.6.6-raw-outputs.jsonl")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let field = |k: &str| j.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let output = field("output");
        if field("command") != "inspect" || j.get("rc").and_then(|v| v.as_i64()) != Some(0) {
            continue;
        }
        // The recording mixes in standard error: Packer's warnings come before the text.
        if let Some(at) = output.find("Packer Inspect: HCL2 mode") {
            out.insert(field("path"), output[at..].to_string());
        }
    }
    out
}

/// Clock readings (`20261121093212`) differ from run to run; trailing blank lines do not count.
fn normalise(s: &str) -> String {
    let digits = regex::Regex::new(r"\d{14}").map(|r| r.replace_all(s, "TS").into_owned());
    digits.unwrap_or_else(|_| s.to_string()).trim_end().to_string()
}

/// kiln's `inspect` output for `path` (relative to the corpus), run from its folder.
fn kiln_inspect(corpus: &Path, path: &str) -> String {
    let full = corpus.join(path);
    let (dir, name) = if full.is_dir() {
        (full.clone(), PathBuf::from("."))
    } else {
        (full.parent().map(Path::to_path_buf).unwrap_or_default(), PathBuf::from(full.file_name().unwrap_or_default()))
    };
    if std::env::set_current_dir(&dir).is_err() {
        return format!("cannot enter {}", dir.display());
    }
    let opts = LoadOptions { stage: Stage::Syntax, ..LoadOptions::default() };
    let text = match kiln_template::load(&name, &opts) {
        Ok(t) => kiln_template::inspect::render(&t),
        Err(d) => format!("load failed: {}", d.0.first().map(|d| d.summary.clone()).unwrap_or_default()),
    };
    // The recording names paths relative to the corpus (`path.cwd`).
    let root = format!("{}/", corpus.display());
    text.replace(&root, "")
}

fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    format!(
        "line {}:\n    packer: {:?}\n    kiln:   {:?}",
        i + 1,
        w.get(i).copied().unwrap_or("<end>"),
        g.get(i).copied().unwrap_or("<end>")
    )
}

// One test: it changes the working directory, as Packer was run from each file's folder.
#[test]
fn hcl_inspect_matches_packer() {
    let Some(corpus) = corpus_or_skip("") else { return };
    let corpus = corpus.canonicalize().unwrap_or(corpus);
    let cases = cases(&corpus);
    assert!(cases.len() > 100, "expected the corpus' HCL2 inspect outputs, found {}", cases.len());
    let allowed: BTreeMap<&str, &str> = ALLOWED.iter().copied().collect();
    let (mut same, mut failures, mut stale) = (0, Vec::new(), Vec::new());
    for (path, want) in &cases {
        let got = kiln_inspect(&corpus, path);
        let equal = normalise(want) == normalise(&got);
        match (equal, allowed.contains_key(path.as_str())) {
            (true, false) => same += 1,
            (true, true) => stale.push(path.clone()),
            (false, false) => {
                failures.push(format!("{path}: {}", first_difference(&normalise(want), &normalise(&got))))
            }
            (false, true) => {}
        }
    }
    eprintln!(
        "inspect (HCL2): {same} of {} cases byte-equal to Packer 1.6.6, {} allow-listed, {} different",
        cases.len(),
        allowed.len(),
        failures.len()
    );
    assert!(stale.is_empty(), "allow-listed but now equal to Packer (remove them from ALLOWED): {stale:#?}");
    assert!(failures.is_empty(), "{} cases differ from Packer:\n{}", failures.len(), failures.join("\n"));
}

//! Golden tests of the HCL2 formatter: each `tests/fmt-data/NAME.in.hcl` must format to
//! `NAME.out.hcl`, or be refused when `NAME.err` exists. The outputs were recorded from
//! `packer fmt` 1.6.6 by `tests/fmt-data/regen.sh`, so these run without packer.

use kiln_template::SourceFile;
use kiln_tools::fmt::format;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fmt-data")
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir())
        .expect("fmt-data")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".in.hcl").map(String::from))
        .collect();
    names.sort();
    names
}

#[test]
fn golden_outputs_match_packer() {
    let dir = data_dir();
    let names = cases();
    assert!(names.len() >= 20, "expected the golden cases, found {}", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let src = std::fs::read_to_string(dir.join(format!("{name}.in.hcl"))).expect("read input");
        let file = SourceFile::new(format!("{name}.pkr.hcl"), src.clone());
        let got = format(&file);
        if dir.join(format!("{name}.err")).exists() {
            match got {
                Ok(out) => failures.push(format!("{name}: packer refuses it, kiln formatted it as:\n{out}")),
                Err(d) => {
                    // Every refusal must point at a place in the file.
                    if d.0.is_empty() || d.0.iter().any(|d| d.span.is_none()) {
                        failures.push(format!("{name}: refusal without a location: {d}"));
                    }
                }
            }
            continue;
        }
        let want = std::fs::read_to_string(dir.join(format!("{name}.out.hcl"))).expect("read golden output");
        match got {
            Ok(out) if out == want => {
                // Formatting is idempotent.
                let again = format(&SourceFile::new(format!("{name}.pkr.hcl"), out.clone())).map_err(|d| d.to_string());
                if again.as_deref() != Ok(out.as_str()) {
                    failures.push(format!("{name}: not idempotent"));
                }
            }
            Ok(out) => failures.push(format!("{name}:\n--- kiln\n{out}\n--- packer\n{want}")),
            Err(d) => failures.push(format!("{name}: kiln refused a file packer formats:\n{d}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), names.len(), failures.join("\n"));
}

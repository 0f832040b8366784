//! Golden tests: each `testdata/NAME.json` fixed by Packer 1.6.6 gave `testdata/NAME.fixed`.

use super::*;

fn fix_text(text: &str) -> Result<String, Diagnostics> {
    fix_source(&SourceFile::new("t.json", text))
}

#[test]
fn output_matches_packer_for_every_golden_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fix/testdata");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata").flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("fixed")).expect("golden output");
        let input = std::fs::read_to_string(&path).expect("input");
        let ours = fix_text(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(ours, expected, "{}", path.display());
        n += 1;
    }
    assert!(n >= 30, "only {n} golden cases");
}

#[test]
fn vagrant_provider_sections_merge_into_override() {
    let out = fix_text(
        r#"{"builders": [{"type": "null"}], "post-processors": [{"type": "vagrant", "aws": {"a": 1}, "libvirt": {},
            "override": {"aws": {"b": 2}, "x": {}}}]}"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pp = &v["post-processors"][0];
    assert_eq!(pp["override"], serde_json::json!({"aws": {"a": 1}, "x": {}}));
    assert_eq!(pp["libvirt"], serde_json::json!({}));
}

#[test]
fn errors_name_the_place_and_the_problem() {
    let e = fix_text("{\"builders\": {\"type\": \"x\"}}").unwrap_err();
    assert!(e.0[0].summary.contains("\"builders\" must be a list of objects"), "{e}");
    let e = fix_text("{\"builders\": [{\"type\": \"amazon-ebs\", \"ssh_private_ip\": \"zz\"}]}").unwrap_err();
    assert!(e.0[0].summary.contains("ssh_private_ip is not a boolean"), "{e}");
    let e = fix_text("[1]").unwrap_err();
    assert!(e.0[0].summary.contains("must be a JSON object"), "{e}");
    let e = fix_text("{\"builders\": [],}").unwrap_err();
    assert_eq!(e.0[0].summary, "trailing comma before `}`");
}

#[test]
fn validation_of_the_fixed_template() {
    let fixed =
        fix_text(r#"{"builders": [{"type": "null"}], "provisioners": [{"type": "shell", "only": ["zz"]}]}"#).unwrap();
    let d = validate_fixed(Path::new("t.json"), &fixed);
    assert_eq!(d.0.len(), 1);
    assert!(d.0[0].summary.contains("\"only\" names the builder \"zz\""), "{d}");
    assert!(d.to_string().contains("t.json (fixed):"), "{d}");
    let ok = fix_text(r#"{"builders": [{"type": "virtualbox"}], "push": {}}"#).unwrap();
    assert!(validate_fixed(Path::new("t.json"), &ok).is_empty());
}

#[test]
fn every_fixer_has_a_unique_name() {
    let mut names: Vec<&str> = FIXERS.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), 34);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 34);
}

#[test]
fn hcl2_files_are_refused_with_advice() {
    let e = fix_file(Path::new("does-not-matter.pkr.hcl")).unwrap_err();
    assert!(e.0[0].summary.contains("is an HCL2 configuration"), "{e}");
    assert!(e.0[0].help.as_deref().unwrap_or("").contains("hcl2_upgrade"));
}

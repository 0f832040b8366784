//! `kiln validate` on every corpus template whose components kiln implements, against Packer
//! 1.6.6's verdict (validate_full_rc in packer-1.6.6-verdicts.tsv). Run from the corpus folder,
//! as Packer was. Needs KILN_CORPUS; templates whose loader is not in this tree yet are skipped.

use std::process::Command;

use kiln_core::registry::ComponentKind;

/// Whether every component in a `components` cell (`b:null;p:shell-local;pp:manifest`) is one
/// kiln implements (by the component table).
fn all_implemented(components: &str) -> bool {
    let registry = kiln_components::registry();
    components.split(';').filter(|s| !s.is_empty()).all(|part| {
        let Some((kind, names)) = part.split_once(':') else { return false };
        let kind = match kind {
            "b" => ComponentKind::Builder,
            "p" => ComponentKind::Provisioner,
            "pp" => ComponentKind::PostProcessor,
            _ => return false,
        };
        names.split(',').all(|n| registry.names(kind).contains(&n))
    })
}

#[test]
fn validate_agrees_with_packer_on_implemented_components() {
    let Some(corpus) = kiln_testing::corpus_or_skip("packer-1.6.6-verdicts.tsv") else { return };
    let tsv = std::fs::read_to_string(corpus.join("packer-1.6.6-verdicts.tsv")).unwrap();
    // Deliberate differences, shared with the syntax conformance suite (check `validate-full`).
    let allowed: Vec<&str> = include_str!("conformance/allow.tsv")
        .lines()
        .filter_map(|l| l.strip_prefix("validate-full\t"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    let (mut agree, mut skipped) = (0, 0);
    let mut disagree = Vec::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 11 || f[6] == "yes" || !f[9].is_empty() || !all_implemented(f[10]) || !["0", "1"].contains(&f[7]) {
            continue;
        }
        let (path, expected) = (f[0], f[7]);
        if allowed.contains(&path) {
            skipped += 1;
            continue;
        }
        let o =
            Command::new(env!("CARGO_BIN_EXE_kiln")).args(["validate", path]).current_dir(&corpus).output().unwrap();
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        let got = o.status.code().map_or("signal".to_string(), |c| c.to_string());
        if got == expected {
            agree += 1;
        } else {
            disagree.push(format!("{path}: packer {expected}, kiln {got}\n{out}"));
        }
    }
    eprintln!("corpus validate: {agree} agree, {} disagree, {skipped} skipped (allow-listed)", disagree.len());
    assert!(disagree.is_empty(), "kiln validate disagrees with Packer on:\n{}", disagree.join("\n"));
}

#[test]
fn component_filter() {
    assert!(all_implemented("b:null;p:shell-local;pp:manifest"));
    assert!(!all_implemented("b:null;d:amazon-ami"));
    assert!(!all_implemented("b:azure-arm;p:shell"));
}

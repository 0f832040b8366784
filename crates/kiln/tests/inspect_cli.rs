//! `kiln inspect` on legacy JSON templates, driven through the binary.

use std::path::Path;

use kiln_testing::TempDir;

/// Runs kiln with `args` in `dir`: (exit code, stdout, stderr).
fn kiln(dir: &Path, args: &[&str]) -> (i32, String, String) {
    kiln_testing::cli::run_text(env!("CARGO_BIN_EXE_kiln"), dir, args)
}

/// The template and Packer's output are shared with kiln-template's inspect unit tests.
const TEMPLATE: &str = include_str!("../../kiln-template/tests/data/inspect/template.json");

/// `packer inspect` (1.6.6) on TEMPLATE.
const PACKER_OUTPUT: &str = include_str!("../../kiln-template/tests/data/inspect/packer-1.6.6-inspect.txt");

#[test]
fn prints_what_packer_prints() {
    let dir = TempDir::new("inspect-json");
    std::fs::write(dir.join("t.json"), TEMPLATE).unwrap();
    let (code, out, err) = kiln(&dir, &["inspect", "t.json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, PACKER_OUTPUT);
    let (code, out, _) = kiln(&dir, &["inspect", "-var", "req=x", "t.json"]);
    assert_eq!((code, out.as_str()), (0, PACKER_OUTPUT));
}

#[test]
fn never_prints_hard_coded_secrets() {
    let dir = TempDir::new("inspect-secret");
    let t = r#"{
  "variables": {"aws_secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
  "builders": [{"type": "amazon-ebs", "secret_key": "{{user `aws_secret_key`}}", "password": "hunter2"}]
}"#;
    std::fs::write(dir.join("keys.json"), t).unwrap();
    let (code, out, err) = kiln(&dir, &["inspect", "keys.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("aws_secret_key = <sensitive>"), "{out}");
    assert!(err.contains("hard-coded credential in option \"aws_secret_key\""), "{err}");
    assert!(err.contains("keys.json:2:17"), "{err}");
    assert!(err.contains("hard-coded credential in option \"password\" of builder \"amazon-ebs\""), "{err}");
    for secret in ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "hunter2"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
}

#[test]
fn broken_templates_fail_with_a_place() {
    let dir = TempDir::new("inspect-broken");
    std::fs::write(
        dir.join("b.json"),
        "{\n  \"builders\": [\n    {\"type\": \"null\"}\n    {\"type\": \"file\"}\n  ]\n}\n",
    )
    .unwrap();
    let (code, out, err) = kiln(&dir, &["inspect", "b.json"]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("Error: missing comma between list items"), "{err}");
    assert!(err.contains("b.json:3:21"), "{err}");
    assert!(err.contains("help: add a `,` after `{\"type\": \"null\"}` on line 3"), "{err}");
}

#[test]
fn machine_readable_inspect_is_packer_csv() {
    let d = TempDir::new("inspect-mr");
    std::fs::write(d.join("t.json"), TEMPLATE).unwrap();
    let (code, out, _) = kiln(&d, &["inspect", "-machine-readable", "t.json"]);
    assert_eq!(code, 0);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.splitn(4, ',').collect()).collect();
    assert!(lines.iter().all(|f| f.len() == 4 && f[0].parse::<u64>().is_ok() && f[1].is_empty()), "{out}");
    assert_eq!(lines[0][2..], ["ui", "say,Packer Inspect: JSON mode"]);
    // Required variables are flagged "1"; sensitive values never appear.
    assert!(out.contains(",template-variable,req,,1\n"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
}

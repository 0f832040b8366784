//! `kiln fix` through the binary: output, `-validate`, exit codes.

use std::path::Path;

use kiln_testing::TempDir;

/// Runs kiln with `args` in `dir`: (exit code, stdout, stderr).
fn kiln(dir: &Path, args: &[&str]) -> (i32, String, String) {
    kiln_testing::cli::run_text(env!("CARGO_BIN_EXE_kiln"), dir, args)
}

const OLD: &str = r##"{
  "variables": {"b": "<x>&", "a": "1"},
  "builders": [{"type": "virtualbox", "iso_md5": "abc", "ssh_wait_timeout": "5m", "ssh_disable_agent": true, "ami_name": "x {{ clean_ami_name `y` }}", "n": 1.50, "big": 12345678901234567890, "e": [], "o": {}}],
  "post-processors": [{"type": "manifest", "filename": "m.json"}],
  "_comment": "hi"
}
"##;

/// `packer fix` (1.6.6) on OLD.
const PACKER_OUTPUT: &str = r##"{
  "_comment": "hi",
  "builders": [
    {
      "ami_name": "x {{ clean_resource_name `y` }}",
      "big": 12345678901234567000,
      "e": [],
      "iso_checksum": "md5:abc",
      "n": 1.5,
      "o": {},
      "ssh_disable_agent_forwarding": true,
      "ssh_timeout": "5m",
      "type": "virtualbox-iso"
    }
  ],
  "post-processors": [
    {
      "output": "m.json",
      "type": "manifest"
    }
  ],
  "variables": {
    "a": "1",
    "b": "<x>\u0026"
  }
}

"##;

#[test]
fn prints_the_fixed_template_like_packer() {
    let dir = TempDir::new("fix-ok");
    std::fs::write(dir.join("old.json"), OLD).unwrap();
    let (code, out, err) = kiln(&dir, &["fix", "old.json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, PACKER_OUTPUT);
    assert!(err.is_empty(), "{err}");
}

#[test]
fn validates_the_fixed_template_unless_told_not_to() {
    let dir = TempDir::new("fix-validate");
    let t = r#"{"builders": [{"type": "vmware", "ssh_wait_timeout": "5m"}], "provisioners": [{"type": "shell", "only": ["vmwar"]}]}"#;
    std::fs::write(dir.join("t.json"), t).unwrap();
    let (code, out, err) = kiln(&dir, &["fix", "t.json"]);
    assert_eq!(code, 1);
    assert!(out.contains("\"ssh_timeout\": \"5m\"") && out.contains("\"vmware-iso\""), "{out}");
    assert!(err.contains("failed to validate"), "{err}");
    assert!(err.contains("\"only\" names the builder \"vmwar\""), "{err}");
    let (code, out2, err) = kiln(&dir, &["fix", "-validate=false", "t.json"]);
    assert_eq!((code, out2), (0, out), "{err}");
}

#[test]
fn errors_exit_1() {
    let dir = TempDir::new("fix-errors");
    let (code, _, err) = kiln(&dir, &["fix", "missing.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read the template missing.json"), "{err}");
    let (code, _, err) = kiln(&dir, &["fix"]);
    assert_eq!(code, 1);
    assert!(err.contains("Usage:"), "{err}");
    std::fs::write(dir.join("c.json"), "{\n  // old\n  \"builders\": []\n}").unwrap();
    let (code, out, err) = kiln(&dir, &["fix", "c.json"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("JSON does not allow comments") && err.contains("c.json:2:3"), "{err}");
}

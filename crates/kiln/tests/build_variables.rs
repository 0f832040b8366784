//! Build variables (Packer's generated data: HCL2 `build.X`, JSON ``{{ build `X` }}``) are
//! values of their own, resolved when the component runs: functions around them see the real
//! value, a typo is a validation error, and post-processors get them too.

mod common;

use std::process::{Command, Output};

use common::TempDir;

fn kiln(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln")).args(args).current_dir(dir).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The value printed after `marker` on a line of `out`.
fn after<'a>(out: &'a str, marker: &str) -> &'a str {
    out.lines().find_map(|l| l.split_once(marker).map(|(_, v)| v.trim())).unwrap_or_else(|| panic!("{marker} in {out}"))
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().enumerate().all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'))
}

const HCL: &str = r#"
source "null" "n" {
  communicator = "none"
}

build {
  name    = "b"
  sources = ["source.null.n"]

  provisioner "shell-local" {
    environment_vars = ["LEN=${length(build.PackerRunUUID)}", "RUN=${build.PackerRunUUID}"]
    inline = [
      "echo upper=${upper(build.PackerRunUUID)}",
      "echo len=$LEN",
      "echo run=$RUN",
      "echo name=${build.name}",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    custom_data = {
      run = build.PackerRunUUID
      len = "${length(build.PackerRunUUID)}"
    }
  }
}
"#;

#[test]
fn hcl2_functions_around_build_variables_see_the_real_value() {
    let d = TempDir::new("build-vars-hcl");
    std::fs::write(d.0.join("t.pkr.hcl"), HCL).unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.pkr.hcl"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let run = after(&out, "run=");
    assert!(is_uuid(run), "{out}");
    assert_eq!(after(&out, "upper="), run.to_uppercase(), "{out}");
    assert_eq!(after(&out, "len="), "36", "{out}");
    assert_eq!(after(&out, "name="), "b", "{out}");
    // The manifest's custom data holds the same run id, not a placeholder.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.0.join("manifest.json")).unwrap()).unwrap();
    let build = &manifest["builds"][0];
    assert_eq!(build["custom_data"]["run"], run, "{manifest}");
    assert_eq!(build["custom_data"]["len"], "36", "{manifest}");
    assert_eq!(manifest["last_run_uuid"], run, "{manifest}");
}

#[test]
fn a_misspelt_build_variable_is_a_validation_error() {
    let d = TempDir::new("build-vars-typo");
    let src = HCL.replace("\"echo name=${build.name}\",", "\"echo ${build.PackerRunUUDI}\",");
    std::fs::write(d.0.join("t.pkr.hcl"), &src).unwrap();
    for args in [&["validate", "t.pkr.hcl"][..], &["build", "-color=false", "t.pkr.hcl"]] {
        let cmd = args[0];
        let o = kiln(&d.0, args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {out}");
        assert!(out.contains("unknown build variable \"PackerRunUUDI\""), "{cmd}: {out}");
        assert!(out.contains("did you mean \"PackerRunUUID\"?"), "{cmd}: {out}");
        let line = src.lines().position(|l| l.contains("PackerRunUUDI")).unwrap() + 1;
        assert!(out.contains(&format!("t.pkr.hcl:{line}:")), "{cmd}: {out}");
        assert!(!d.0.join("manifest.json").exists(), "{cmd}: nothing ran");
    }
}

#[test]
fn json_build_function_is_resolved_for_provisioners_and_post_processors() {
    let d = TempDir::new("build-vars-json");
    let src = r#"{
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "shell-local", "inline": ["echo run={{ build `PackerRunUUID` }}", "echo type={{ build `ConnType` }}"]}],
  "post-processors": [{"type": "manifest", "output": "m.json", "custom_data": {"run": "{{ build `PackerRunUUID` }}"}}]
}"#;
    std::fs::write(d.0.join("t.json"), src).unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let run = after(&out, "run=");
    assert!(is_uuid(run), "{out}");
    assert_eq!(after(&out, "type="), "none", "{out}");
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.0.join("m.json")).unwrap()).unwrap();
    assert_eq!(m["builds"][0]["custom_data"]["run"], run, "{m}");

    let typo = src.replace("`ConnType`", "`ConnTyp`");
    std::fs::write(d.0.join("t.json"), typo).unwrap();
    let o = kiln(&d.0, &["validate", "t.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("unknown build variable \"ConnTyp\"") && out.contains("did you mean \"ConnType\"?"), "{out}");
    assert!(out.contains("t.json:3:"), "{out}");
}

#[test]
fn prepare_time_checks_apply_to_the_resolved_value() {
    // Before the build runs, build.ID is "<unknown>" (as in Packer), so the provisioner's
    // checks pass; when it runs, the null builder's ID is empty and the command is checked
    // again with the real value.
    let d = TempDir::new("build-vars-reprepare");
    let src = r#"
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["echo id=[${build.ID}] host=[${build.Host}]"]
  }
}
"#;
    std::fs::write(d.0.join("t.pkr.hcl"), src).unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.pkr.hcl"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("id=[] host=[]"), "{out}");
    assert!(!out.contains("<unknown>"), "{out}");
}

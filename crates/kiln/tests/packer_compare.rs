//! The same template through Packer 1.6.6 and through kiln's engine: the same output lines
//! (durations and temporary names aside), the same checksum files, the same manifest shape.
//! Needs `packer` on PATH: skipped with a notice when absent, unless KILN_REQUIRE_TOOLS=1.

mod common;

use std::process::Command;

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;

/// Lines with durations and temporary script names made comparable.
fn normalize(out: &str) -> Vec<String> {
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| {
            let l = match l.find(" after ") {
                Some(i) => format!("{} after D", &l[..i]),
                None => l.to_string(),
            };
            match l.find("/packer-shell") {
                Some(i) => format!("{}/packer-shellN", &l[..i].rsplit_once(' ').map_or("", |(a, _)| a)),
                None => l,
            }
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn file_build_with_shell_local_checksum_manifest_matches_packer() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let text = r#"{
  "builders": [{"type":"file","name":"f","content":"hello","target":"out.txt"}],
  "provisioners": [{"type":"shell-local","inline":["echo hi"]}],
  "post-processors": [[{"type":"checksum","checksum_types":["md5","sha256"]}, {"type":"manifest","custom_data":{"a":"b"}}]]
}"#;
    let pk = TempDir::new("packer");
    std::fs::write(pk.0.join("t.json"), text).unwrap();
    let o = Command::new("packer")
        .args(["build", "-color=false", "t.json"])
        .current_dir(&pk.0)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let packer_out = String::from_utf8_lossy(&o.stdout).into_owned();

    // kiln with every path in a folder of its own (the engine runs in this process, whose
    // working directory tests must not change): same names, rooted in `kd`.
    let kd = TempDir::new("kiln");
    let rooted = text
        .replace("\"out.txt\"", &format!("{:?}", kd.path("out.txt")))
        .replace(
            "\"checksum_types\":[\"md5\",\"sha256\"]",
            &format!(
                "\"checksum_types\":[\"md5\",\"sha256\"],\"output\":{:?}",
                kd.path("packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum")
            ),
        )
        .replace("\"custom_data\"", &format!("\"output\":{:?},\"custom_data\"", kd.path("packer-manifest.json")));
    let (code, kiln_out) = run(&template(&rooted), &RunSettings::default(), plain());
    assert_eq!(code, 0, "{kiln_out}");
    let kiln_out = kiln_out.replace(&format!("{}/", kd.0.display()), "");
    assert_eq!(normalize(&kiln_out), normalize(&packer_out), "kiln:\n{kiln_out}\npacker:\n{packer_out}");

    for f in ["packer_f_file_md5.checksum", "packer_f_file_sha256.checksum"] {
        assert_eq!(
            std::fs::read_to_string(kd.0.join(f)).unwrap(),
            std::fs::read_to_string(pk.0.join(f)).unwrap(),
            "{f}"
        );
    }
    let strip = |v: serde_json::Value| {
        let mut v = v;
        for b in v["builds"].as_array_mut().unwrap() {
            b["build_time"] = 0.into();
            b["packer_run_uuid"] = "".into();
            for f in b["files"].as_array_mut().into_iter().flatten() {
                let name = f["name"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
                f["name"] = name.into();
            }
        }
        v["last_run_uuid"] = "".into();
        v
    };
    let read = |p: std::path::PathBuf| strip(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap());
    assert_eq!(read(kd.0.join("packer-manifest.json")), read(pk.0.join("packer-manifest.json")));
}

fn tar_names(path: &std::path::Path) -> Vec<String> {
    let o = Command::new("tar").arg("tzf").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
}

fn zip_names(path: &std::path::Path) -> Vec<String> {
    let o = Command::new("unzip").arg("-Z1").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
}

#[test]
fn compress_matches_packer_entries_and_artifacts() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let text = r#"{"builders":[{"type":"file","content":"hello","target":"sub/out.txt"}],
 "post-processors":[{"type":"compress","output":"x.tar.gz"}, {"type":"compress","output":"y.zip","keep_input_artifact":true}]}"#;
    let pk = TempDir::new("packer-compress");
    std::fs::write(pk.0.join("t.json"), text).unwrap();
    let o = Command::new("packer").args(["build", "-color=false", "t.json"]).current_dir(&pk.0).output().unwrap();
    let packer_out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{packer_out}");

    let kd = TempDir::new("kiln-compress");
    let rooted = text
        .replace("\"sub/out.txt\"", &format!("{:?}", kd.path("sub/out.txt")))
        .replace("\"x.tar.gz\"", &format!("{:?}", kd.path("x.tar.gz")))
        .replace("\"y.zip\"", &format!("{:?}", kd.path("y.zip")));
    let (code, kiln_out) = run(&template(&rooted), &RunSettings::default(), plain());
    assert_eq!(code, 0, "{kiln_out}");
    let kiln_out = kiln_out.replace(&format!("{}/", kd.0.display()), "");
    let summary =
        |out: &str| -> Vec<String> { out.lines().filter(|l| l.starts_with("--> ")).map(String::from).collect() };
    assert_eq!(summary(&kiln_out), summary(&packer_out), "kiln:\n{kiln_out}\npacker:\n{packer_out}");
    assert_eq!(tar_names(&kd.0.join("x.tar.gz")), tar_names(&pk.0.join("x.tar.gz")));
    let strip = |v: Vec<String>, root: &str| -> Vec<String> {
        v.into_iter().map(|n| n.trim_start_matches(root).to_string()).collect()
    };
    let kroot = format!("{}/", kd.0.display()).trim_start_matches('/').to_string();
    assert_eq!(strip(zip_names(&kd.0.join("y.zip")), &kroot), zip_names(&pk.0.join("y.zip")));
    // The first chain does not keep its input, the second does: the file survives in both.
    assert!(kd.0.join("sub/out.txt").exists() && pk.0.join("sub/out.txt").exists());
}

//! `kiln build` as users run it: the real binary in a temporary folder.

mod common;

use std::process::{Command, Output, Stdio};

use common::TempDir;

fn kiln(dir: &std::path::Path, args: &[&str]) -> Output {
    kiln_testing::cli::run_in(env!("CARGO_BIN_EXE_kiln"), dir, args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let d = TempDir::new("cli-flags");
    let o = kiln(&d.0, &["build", "-parallel-builds=many", "t.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("invalid value \"many\" for flag -parallel-builds"), "{}", text(&o));
    let o = kiln(&d.0, &["build", "-on-error=explode", "t.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("use cleanup, abort, ask or run-cleanup-provisioner"), "{}", text(&o));
}

#[test]
fn build_and_validate_a_json_template() {
    let d = TempDir::new("cli-build");
    std::fs::write(
        d.0.join("t.json"),
        r#"{
  "builders": [{"type":"file","name":"f","content":"hello","target":"out.txt"}],
  "provisioners": [{"type":"shell-local","inline":["echo hi"]}],
  "post-processors": [{"type":"checksum","checksum_types":["md5"]}]
}"#,
    )
    .unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("    f: hi\n"), "{out}");
    assert!(out.contains("--> f: Stored file: out.txt\n"), "{out}");
    assert_eq!(
        std::fs::read_to_string(d.0.join("packer_f_file_md5.checksum")).unwrap(),
        "5d41402abc4b2a76b9719d911017c592\tout.txt\n"
    );
    // The artifact exists now: a second build refuses to replace it without -force.
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("output file out.txt already exists; delete it or run with -force"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(d.0.join("out.txt")).unwrap(), "hello");
    let o = kiln(&d.0, &["-machine-readable", "build", "-force", "t.json"]);
    assert!(text(&o).contains(",f,artifact,0,builder-id,packer.file\n"), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["build", "-json", "-force", "t.json"])
        .current_dir(&d.0)
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    std::fs::write(d.0.join("bad.json"), "{\n  \"builders\": [{\"type\":\"file\", \"targt\": \"x\"}]\n}\n").unwrap();
    let o = kiln(&d.0, &["validate", "bad.json"]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(out.contains("unknown option \"targt\""), "{out}");
    assert!(out.contains("bad.json:2:"), "{out}");
    assert!(out.contains("did you mean \"target\"?"), "{out}");
}

#[test]
fn sigint_to_the_binary_cancels_and_cleans_up() {
    let d = TempDir::new("cli-int");
    std::fs::write(
        d.0.join("t.json"),
        r#"{
  "builders": [{"type":"file","content":"x","target":"made.txt"}],
  "provisioners": [{"type":"shell-local","inline":["echo started", "sleep 30"]}]
}"#,
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["build", "-color=false", "t.json"])
        .current_dir(&d.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if d.0.join("made.txt").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("Cancelling build after receiving interrupt"), "{out}");
    assert!(out.contains("==> file: Cleaning up: deleting target file made.txt"), "{out}");
    assert!(out.contains("Cleanly cancelled builds after being interrupted."), "{out}");
    assert!(!d.0.join("made.txt").exists());
}

/// `kiln validate` of an HCL2 template points at the item of a list literal that is wrong, and
/// into its string, as for JSON templates; and at a nested block's unknown option, naming the
/// block's options.
#[test]
fn validate_points_at_the_item_in_hcl2_lists_and_nested_blocks() {
    let d = TempDir::new("cli-hcl-items");
    std::fs::write(d.0.join("base.qcow2"), b"").unwrap();
    std::fs::write(d.0.join("Dockerfile"), "FROM x\n").unwrap();
    std::fs::write(
        d.0.join("t.pkr.hcl"),
        r#"source "qemu" "q" {
  iso_url      = "base.qcow2"
  iso_checksum = "none"
  disk_image   = true
  ssh_username = "kiln"
  boot_command = [
    "<esc><wait>",
    "café<enter>",
  ]
  qemuargs = [["-m", "1G"], []]
}
source "docker" "d" {
  commit = true
  build {
    path = "Dockerfile"
    pul  = false
  }
}
build { sources = ["source.qemu.q", "source.docker.d"] }
"#,
    )
    .unwrap();
    let o = kiln(&d.0, &["validate", "t.pkr.hcl"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("boot_command entry 2, column 4: 'é' cannot be typed"), "{out}");
    assert!(out.contains(" --> t.pkr.hcl:8:9\n"), "not at the é: {out}");
    assert!(out.contains("qemuargs entry 2 is empty\n  --> t.pkr.hcl:10:29\n"), "{out}");
    assert!(out.contains("unknown option \"pul\"\n  --> t.pkr.hcl:16:5\n"), "{out}");
    assert!(out.contains("the options of \"build\" are: path, build_dir, arguments, pull, compress"), "{out}");
}

/// The `sleep` provisioner between two others, in an HCL2 template: the build waits, says so,
/// and runs on.
#[test]
fn sleep_waits_between_provisioners() {
    let d = TempDir::new("cli-sleep");
    std::fs::write(
        d.0.join("t.pkr.hcl"),
        r#"source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" { inline = ["date +%s%N > before"] }
  provisioner "sleep" { duration = "1500ms" }
  provisioner "shell-local" { inline = ["date +%s%N > after"] }
}
"#,
    )
    .unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.pkr.hcl"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("==> null.n: Sleeping for 1.5s...\n"), "{out}");
    let at = |f: &str| std::fs::read_to_string(d.0.join(f)).unwrap().trim().parse::<u128>().unwrap();
    let waited = (at("after") - at("before")) / 1_000_000;
    assert!((1500..10_000).contains(&waited), "waited {waited} ms");
}

//! `kiln init`: reports built-in components for required_plugins, never downloads.

use std::process::Command;

fn init(dir: &std::path::Path, file: &str) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_kiln")).arg("init").arg(file).current_dir(dir).output().expect("run kiln");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn no_required_plugins_is_fine() {
    let d = temp_dir("none");
    std::fs::write(d.join("t.pkr.hcl"), "source \"null\" \"a\" {\n  communicator = \"none\"\n}\n").expect("write");
    let (rc, out, err) = init(&d, "t.pkr.hcl");
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("No required_plugins found"), "{out}");
}

#[test]
fn unknown_plugins_fail() {
    let d = temp_dir("unknown");
    std::fs::write(
        d.join("t.pkr.hcl"),
        "packer {\n  required_plugins {\n    zzz = {\n      source  = \"github.com/example/zzz\"\n      version = \">= 1.0\"\n    }\n  }\n}\n",
    )
    .expect("write");
    let (rc, _out, err) = init(&d, "t.pkr.hcl");
    assert_eq!(rc, 1);
    assert!(err.contains("github.com/example/zzz") && err.contains("unknown to kiln"), "{err}");
}

#[test]
fn used_components_missing_from_kiln_fail_and_are_named() {
    let d = temp_dir("amazon");
    std::fs::write(
        d.join("t.pkr.hcl"),
        "packer {\n  required_plugins {\n    amazon = {\n      source  = \"github.com/hashicorp/amazon\"\n      version = \">= 1.0\"\n    }\n  }\n}\nsource \"amazon-ebs\" \"a\" {\n}\nbuild {\n  sources = [\"source.amazon-ebs.a\"]\n}\n",
    )
    .expect("write");
    let (rc, out, err) = init(&d, "t.pkr.hcl");
    let implemented =
        kiln_core::registry::implemented(kiln_core::registry::ComponentKind::Builder).contains(&"amazon-ebs");
    assert!(out.contains("github.com/hashicorp/amazon"), "{out}");
    if implemented {
        assert_eq!(rc, 0, "{err}");
        assert!(out.contains("builder amazon-ebs"), "{out}");
    } else {
        assert_eq!(rc, 1);
        assert!(err.contains("builder amazon-ebs"), "{err}");
    }
}

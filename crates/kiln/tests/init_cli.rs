//! `kiln init`: reports built-in components for required_plugins, never downloads.

use kiln_testing::TempDir;

fn init(dir: &std::path::Path, file: &str) -> (i32, String, String) {
    kiln_testing::cli::run_text(env!("CARGO_BIN_EXE_kiln"), dir, &["init", file])
}

#[test]
fn no_required_plugins_is_fine() {
    let d = TempDir::new("none");
    std::fs::write(d.join("t.pkr.hcl"), "source \"null\" \"a\" {\n  communicator = \"none\"\n}\n").expect("write");
    let (rc, out, err) = init(&d, "t.pkr.hcl");
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("No required_plugins found"), "{out}");
}

#[test]
fn unknown_plugins_fail() {
    let d = TempDir::new("unknown");
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
    let d = TempDir::new("amazon");
    std::fs::write(
        d.join("t.pkr.hcl"),
        "packer {\n  required_plugins {\n    amazon = {\n      source  = \"github.com/hashicorp/amazon\"\n      version = \">= 1.0\"\n    }\n  }\n}\nsource \"amazon-ebs\" \"a\" {\n}\nbuild {\n  sources = [\"source.amazon-ebs.a\"]\n}\n",
    )
    .expect("write");
    let (rc, out, err) = init(&d, "t.pkr.hcl");
    let implemented =
        kiln_components::registry().names(kiln_core::registry::ComponentKind::Builder).contains(&"amazon-ebs");
    assert!(out.contains("github.com/hashicorp/amazon"), "{out}");
    if implemented {
        assert_eq!(rc, 0, "{err}");
        assert!(out.contains("builder amazon-ebs"), "{out}");
    } else {
        assert_eq!(rc, 1);
        assert!(err.contains("builder amazon-ebs"), "{err}");
    }
}

//! A packer-plugin-sdk style plugin (the fake one kiln-plugin's tests build with Debian's Go)
//! through the `kiln` binary: `kiln init -from` a mirror folder into Packer's layout with its
//! checksum, discovery by `describe`, the 4-field handshake and `--protobuf` specs for an HCL2
//! build, a tampered binary skipped, a crash and a hang reported with the plugin's name.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_testing::TempDir;

fn kiln(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(args).current_dir(&dir.0).env_remove("PACKER_PLUGIN_PATH").env_remove("KILN_USE_PLUGINS");
    cmd.env("PACKER_CONFIG_DIR", dir.0.join("config"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    kiln_testing::cli::text(cmd.output().expect("running kiln"))
}

fn fake() -> Option<PathBuf> {
    kiln_testing::plugins::fake_plugin_or_skip(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

const CONFIG: &str = r#"packer {
  required_plugins {
    fake = {
      source  = "github.com/kiln-test/fake"
      version = "< 0.0.2"
    }
  }
}

source "fake-ok" "one" {
  greeting = "hello"
  tags     = { team = "kiln" }
}

build {
  sources = ["source.fake-ok.one"]
}
"#;

/// A mirror folder holding two releases of the fake plugin; `kiln init` installs the one the
/// constraint allows.
fn mirror(d: &TempDir, bin: &Path) {
    let m = d.0.join("mirror/releases");
    std::fs::create_dir_all(&m).unwrap();
    for v in ["0.0.1", "0.0.2"] {
        let name = format!("packer-plugin-fake_v{v}_x5.0_{}_{}", std::env::consts::OS, go_arch());
        std::fs::copy(bin, m.join(name)).unwrap();
    }
}

#[test]
fn init_installs_from_a_mirror_and_the_build_runs_the_plugin() {
    let Some(bin) = fake() else { return };
    let d = TempDir::new("sdk-init");
    mirror(&d, &bin);
    std::fs::write(d.0.join("t.pkr.hcl"), CONFIG).unwrap();
    let (code, out, err) = kiln(&d, &[], &["init", "-from=mirror", "t.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    let dir = d.0.join("config/plugins/github.com/kiln-test/fake");
    let installed = dir.join(format!("packer-plugin-fake_v0.0.1_x5.0_{}_{}", std::env::consts::OS, go_arch()));
    assert!(installed.is_file(), "{out}");
    let sum = std::fs::read_to_string(format!("{}_SHA256SUM", installed.display())).unwrap();
    assert_eq!(sum.trim().len(), 64);
    assert!(out.contains("Installed plugin github.com/kiln-test/fake v0.0.1"), "{out}");
    assert!(out.contains("through the plugin: builder fake-ok"), "{out}");
    // A second init finds it installed.
    let (code, out, _) = kiln(&d, &[], &["init", "-from=mirror", "t.pkr.hcl"]);
    assert_eq!(code, 0);
    assert!(out.contains("Plugin github.com/kiln-test/fake is installed"), "{out}");

    let (code, out, err) = kiln(&d, &[], &["build", "-color=false", "t.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("==> fake-ok.one: hello from the fake builder"), "{out}");
    assert!(out.contains("--> fake-ok.one: a fake artifact"), "{out}");
    // The body went as a cty value decoded against the plugin's protobuf spec (the fake plugin
    // echoes what it received as a warning).
    assert!(err.contains(r#""greeting":"hello""#) && err.contains(r#""tags":{"team":"kiln"}"#), "{err}");
}

#[test]
fn hcl2_errors_against_the_plugins_spec_and_a_tampered_binary() {
    let Some(bin) = fake() else { return };
    let d = TempDir::new("sdk-spec");
    mirror(&d, &bin);
    let bad = CONFIG.replace("  greeting = \"hello\"\n", "  greting = \"hello\"\n  ports = [\"eighty\"]\n");
    std::fs::write(d.0.join("t.pkr.hcl"), bad).unwrap();
    let (code, out, err) = kiln(&d, &[], &["init", "-from=mirror", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kiln(&d, &[], &["validate", "t.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(err.contains("t.pkr.hcl:11:3") && err.contains("did you mean \"greeting\""), "{err}");
    // At the item that is not a number, not at its list.
    assert!(err.contains("t.pkr.hcl:12:12") && err.contains("expected number"), "{err}");
    assert!(err.contains("missing required option \"greeting\"") && err.contains("t.pkr.hcl:10:1"), "{err}");

    // A binary that no longer matches its checksum is not run.
    let dir = d.0.join("config/plugins/github.com/kiln-test/fake");
    let installed = dir.join(format!("packer-plugin-fake_v0.0.1_x5.0_{}_{}", std::env::consts::OS, go_arch()));
    let mut bytes = std::fs::read(&installed).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&installed, bytes).unwrap();
    let (code, out, err) = kiln(&d, &[], &["validate", "t.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(err.contains("Warning: skipped plugin") && err.contains("SHA-256"), "{err}");
    assert!(err.contains("unknown builder type \"fake-ok\""), "{err}");
}

#[test]
fn a_crash_and_a_hang_name_the_plugin_and_its_log() {
    let Some(bin) = fake() else { return };
    let d = TempDir::new("sdk-crash");
    let plugins = d.0.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(&bin, plugins.join("packer-plugin-fake")).unwrap();
    let path = plugins.display().to_string();
    let env = [("PACKER_PLUGIN_PATH", path.as_str()), ("KILN_PLUGIN_TIMEOUT", "3")];
    std::fs::write(d.0.join("crash.json"), r#"{"builders":[{"type":"fake-crash"}]}"#).unwrap();
    let (code, out, err) = kiln(&d, &env, &["build", "crash.json"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(err.contains("packer-plugin-fake start builder crash"), "{err}");
    assert!(err.contains("panic: the fake plugin crashes on purpose"), "{err}");

    std::fs::write(
        d.0.join("hang.pkr.hcl"),
        "source \"fake-hang\" \"h\" {\n  greeting = \"x\"\n}\nbuild {\n  sources = [\"source.fake-hang.h\"]\n}\n",
    )
    .unwrap();
    let t = std::time::Instant::now();
    let (code, out, err) = kiln(&d, &env, &["validate", "hang.pkr.hcl"]);
    println!("{out}{err}");
    assert_eq!(code, 1);
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
    assert!(err.contains("got no answer within 3s") && err.contains("hanging on purpose"), "{err}");
}

#[test]
fn a_plugin_data_source_feeds_the_build() {
    let Some(bin) = fake() else { return };
    let d = TempDir::new("sdk-datasource");
    mirror(&d, &bin);
    let config = r#"packer {
  required_plugins {
    fake = {
      source  = "github.com/kiln-test/fake"
      version = "< 0.0.2"
    }
  }
}

data "fake-ok" "x" {
  greeting = "hi"
}

locals {
  id = data.fake-ok.x.id
}

source "null" "n" {
  communicator = "none"
}

build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["echo data says ${local.id}"]
  }
}
"#;
    std::fs::write(d.0.join("t.pkr.hcl"), config).unwrap();
    let (code, out, err) = kiln(&d, &[], &["init", "-from=mirror", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}{err}");
    let log = d.0.join("plugin-runs.log");
    let (code, out, err) = kiln(&d, &[("KILN_FAKE_PLUGIN_LOG", log.to_str().unwrap())], &["build", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("data says ds-42"), "{out}{err}");
    // Plugins are discovered once per command: the data source (while loading) and the build
    // use the same discovery, so the plugin is described once and started once for its data source.
    let runs = std::fs::read_to_string(&log).expect("the plugin ran");
    assert_eq!(runs.lines().filter(|l| l.contains("describe")).count(), 1, "plugin runs:\n{runs}");
    assert_eq!(runs.lines().filter(|l| l.contains("datasource")).count(), 1, "plugin runs:\n{runs}");
    // An output the plugin does not declare is an error at the reference.
    std::fs::write(d.0.join("t.pkr.hcl"), config.replace("data.fake-ok.x.id", "data.fake-ok.x.idd")).unwrap();
    let (code, out, err) = kiln(&d, &[], &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("idd") && err.contains("t.pkr.hcl:"), "{err}");
}

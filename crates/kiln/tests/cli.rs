//! The command line itself: help, version, exit codes, flag errors and the `packer` drop-in mode.

use std::process::Command;

use kiln_testing::TempDir;

fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    kiln_testing::cli::text(cmd.output().expect("kiln binary runs"))
}

#[test]
fn no_command_prints_usage_and_exits_127() {
    let (code, out, err) = run(&mut kiln());
    assert_eq!(code, 127);
    assert!(out.is_empty());
    assert!(err.starts_with("Usage: kiln [--version] [--help] <command> [<args>]"), "{err}");
    for c in ["build", "console", "fix", "fmt", "hcl2_upgrade", "init", "inspect", "validate", "version"] {
        assert!(err.contains(&format!("\n    {c} ")), "missing {c} in {err}");
    }
}

#[test]
fn help_flag_exits_0_on_stdout() {
    let (code, out, _) = run(kiln().arg("--help"));
    assert_eq!(code, 0);
    assert!(out.contains("Available commands are:"));
}

#[test]
fn unknown_command_suggests_the_closest() {
    let (code, _, err) = run(kiln().arg("biuld"));
    assert_eq!(code, 127);
    assert!(err.contains("unknown command \"biuld\""), "{err}");
    assert!(err.contains("did you mean \"build\"?"), "{err}");
}

#[test]
fn version_in_all_its_forms() {
    for args in [&["version"][..], &["-v"], &["--version"], &["-version"]] {
        let (code, out, _) = run(kiln().args(args));
        assert_eq!(code, 0, "{args:?}");
        assert!(out.starts_with("kiln ") && out.contains("compatible with Packer v1."), "{args:?}: {out}");
    }
}

#[test]
fn machine_readable_version() {
    let (code, out, _) = run(kiln().args(["-machine-readable", "version"]));
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap_or("");
    let fields: Vec<&str> = first.split(',').collect();
    assert_eq!(fields.len(), 4, "{first}");
    assert!(fields[0].parse::<u64>().is_ok(), "{first}");
    assert_eq!(&fields[1..3], ["", "version"]);
    assert!(fields[3].starts_with("1."), "{first}");
}

#[test]
fn command_help_lists_flags_and_exits_0() {
    for (cmd, flag) in [("build", "-parallel-builds"), ("validate", "-syntax-only"), ("fmt", "-recursive")] {
        let (code, out, _) = run(kiln().args([cmd, "-h"]));
        assert_eq!(code, 0, "{cmd}");
        assert!(out.starts_with(&format!("Usage: kiln {cmd} ")), "{out}");
        assert!(out.contains(flag), "{cmd} help lacks {flag}: {out}");
    }
}

#[test]
fn undefined_flag_is_an_error_with_usage() {
    let (code, out, err) = run(kiln().args(["validate", "-nope", "t.json"]));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.starts_with("flag provided but not defined: -nope\n"), "{err}");
    assert!(err.contains("Usage: kiln validate"), "{err}");
}

#[test]
fn malformed_var_flag_is_explained() {
    let (code, _, err) = run(kiln().args(["validate", "-var", "novalue", "t.json"]));
    assert_eq!(code, 1);
    assert!(err.contains("expected key=value"), "{err}");
}

#[test]
fn missing_template_argument() {
    let (code, _, err) = run(kiln().arg("validate"));
    assert_eq!(code, 1);
    assert!(err.contains("validate requires a template"), "{err}");
}

#[test]
fn unrecognised_template_extension_is_explained() {
    let dir = TempDir::new("ext");
    let f = dir.0.join("apple.hcl");
    std::fs::write(&f, "a = 1\n").unwrap();
    let (code, _, err) = run(kiln().args(["validate", "-syntax-only"]).arg(&f));
    assert_eq!(code, 1);
    assert!(err.contains("cannot tell whether") && err.contains("*.pkr.hcl"), "{err}");
}

#[cfg(unix)]
#[test]
fn invoked_as_packer_it_answers_as_packer() {
    let dir = TempDir::new("packer");
    let link = dir.0.join("packer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kiln"), &link).unwrap();
    let (code, out, _) = run(Command::new(&link).arg("version"));
    assert_eq!(code, 0);
    assert!(out.starts_with("Packer v1."), "{out}");
    let (code, _, err) = run(&mut Command::new(&link));
    assert_eq!(code, 127);
    assert!(err.starts_with("Usage: packer [--version]"), "{err}");
}

#[test]
fn validate_never_prints_sensitive_values() {
    let dir = TempDir::new("sensitive");
    let f = dir.0.join("t.json");
    std::fs::write(
        &f,
        r#"{
  "variables": {"code": "hunter2secret"},
  "sensitive-variables": ["code"],
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "shell-local", "inline": ["echo"], "valid_exit_codes": ["{{user `code`}}"]}]
}"#,
    )
    .unwrap();
    let (code, out, err) = run(kiln().arg("validate").arg(&f));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("expected a number, found the string \"<sensitive>\""), "{err}");
    assert!(err.contains("t.json:5:"), "{err}");
    assert!(!out.contains("hunter2secret") && !err.contains("hunter2secret"), "{err}");
}

//! Hostile input, driven through the binary: no panic, no stack overflow, no unbounded read, and
//! a located error for each (issue 9's findings, one test each).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln_testing::TempDir;

/// Runs kiln in `dir` with `env` set and `stdin` fed; (code, stdout, stderr). A signal is -1.
fn kiln_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn kiln");
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    kiln_testing::cli::text(child.wait_with_output().expect("wait"))
}

fn kiln(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    kiln_env(dir, args, &[], "")
}

#[test]
fn fmt_error_before_a_multibyte_character_is_located_not_a_panic() {
    let d = TempDir::new("fmt-utf8");
    d.file("b.pkr.hcl", "b= --tt?-\u{490}".as_bytes());
    d.file("c.pkr.hcl", "b = x?\u{490}".as_bytes());
    for f in ["b.pkr.hcl", "c.pkr.hcl"] {
        let (code, _, err) = kiln(&d, &["fmt", f]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("{f}:1:")) && !err.contains("panicked"), "{err}");
    }
    let (code, _, err) = kiln_env(&d, &["fmt", "-"], &[], "b= --tt?-\u{490}");
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = kiln(&d, &["validate", "c.pkr.hcl"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

const TEMPLATEFILE: &str = r#"
locals { x = templatefile("a.tpl", {}) }
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }
"#;

#[test]
fn templatefile_that_includes_itself_names_the_chain() {
    let d = TempDir::new("tplloop");
    d.file("t.pkr.hcl", TEMPLATEFILE.as_bytes());
    d.file("a.tpl", b"A${templatefile(\"b.tpl\", {})}");
    d.file("b.tpl", b"B${templatefile(\"a.tpl\", {})}");
    // inspect lists what it can and leaves out a local that fails; it must not crash.
    let (code, _, err) = kiln(&d, &["inspect", "t.pkr.hcl"]);
    assert!(code == 0 || code == 1, "{code}: {err}");
    for cmd in ["validate", "build"] {
        let (code, _, err) = kiln(&d, &[cmd, "t.pkr.hcl"]);
        assert_eq!(code, 1, "{cmd}: {err}");
        assert!(err.contains("includes itself: a.tpl -> b.tpl -> a.tpl"), "{cmd}: {err}");
        assert!(err.contains("t.pkr.hcl:2:"), "{cmd}: {err}");
    }
    let (code, out, err) = kiln_env(&d, &["console", "t.pkr.hcl"], &[], "templatefile(\"b.tpl\", {})\n");
    assert!(code <= 1 && (out + &err).contains("includes itself: b.tpl -> a.tpl -> b.tpl"), "{code} {err}");
    // Directly, and a template that nests others without a loop still renders.
    d.file("a.tpl", b"A${templatefile(\"a.tpl\", {})}");
    let (_, _, err) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert!(err.contains("includes itself: a.tpl -> a.tpl"), "{err}");
    d.file("a.tpl", b"A${templatefile(\"b.tpl\", {})}${templatefile(\"b.tpl\", {})}");
    d.file("b.tpl", b"B");
    let (code, _, err) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn devices_and_huge_inputs_are_refused() {
    let d = TempDir::new("bounded");
    let started = Instant::now();
    for path in ["/dev/zero", "/dev/urandom"] {
        let (code, _, err) = kiln(&d, &["validate", path]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("not a regular file"), "{err}");
        let (code, _, err) = kiln(&d, &["validate", &format!("-var-file={path}"), "t.pkr.hcl"]);
        assert_eq!(code, 1, "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // file() of a file over the cap: an error at the call, before the whole file is read.
    d.file("big.txt", &vec![b'x'; 5000]);
    d.file(
        "f.pkr.hcl",
        b"locals { x = file(\"big.txt\") }\nsource \"null\" \"n\" { communicator = \"none\" }\nbuild { sources = [\"source.null.n\"] }\n",
    );
    let (code, _, err) = kiln_env(&d, &["validate", "f.pkr.hcl"], &[("KILN_MAX_VALUE_BYTES", "1000")], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("f.pkr.hcl:1:") && err.contains("KILN_MAX_VALUE_BYTES"), "{err}");
    let (code, _, err) = kiln(&d, &["validate", "f.pkr.hcl"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn doubling_locals_stop_at_the_size_cap() {
    let d = TempDir::new("doubling");
    let mut t = String::from("locals {\n  l0 = \"0123456789\"\n");
    for i in 1..34 {
        t.push_str(&format!("  l{i} = \"${{local.l{}}}${{local.l{}}}\"\n", i - 1, i - 1));
    }
    t.push_str("}\nsource \"null\" \"n\" { communicator = \"none\" }\nbuild {\n  sources = [\"source.null.n\"]\n");
    t.push_str("  provisioner \"shell-local\" { inline = [\"echo ${local.l33}\"] }\n}\n");
    d.file("t.pkr.hcl", t.as_bytes());
    let started = Instant::now();
    let (code, _, err) = kiln_env(&d, &["validate", "t.pkr.hcl"], &[("KILN_MAX_VALUE_BYTES", "1000000")], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("too large") && err.contains("t.pkr.hcl:"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn invalid_utf8_and_empty_templates_are_located() {
    let d = TempDir::new("utf8");
    d.file("t.pkr.hcl", b"# a comment caf\xe9\nsource \"null\" \"n\" { communicator = \"none\" }\n");
    let (code, _, err) = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("t.pkr.hcl:1:16") && err.contains("not valid UTF-8"), "{err}");
    d.file("v.pkrvars.hcl", b"x = \"\xff\"\n");
    d.file("u.pkr.hcl", b"variable \"x\" { default = \"\" }\n");
    let (code, _, err) = kiln(&d, &["validate", "-var-file=v.pkrvars.hcl", "u.pkr.hcl"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("v.pkrvars.hcl:1:6"), "{err}");
    d.file("e.json", b"{\n  \"variables\": {}\n}\n");
    let (code, _, err) = kiln(&d, &["validate", "e.json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the template defines no builders") && err.contains("e.json:1:1"), "{err}");
}

#[test]
fn an_error_on_a_huge_line_shows_a_window_around_the_column() {
    let d = TempDir::new("longline");
    let mut line = String::from("{\"builders\": [{\"type\": \"null\", \"communicator\": \"none\", \"x\": \"");
    line.push_str(&"y".repeat(5_000_000));
    line.push_str("\"}], oops}");
    d.file("t.json", line.as_bytes());
    let (code, _, err) = kiln(&d, &["validate", "t.json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.len() < 20_000, "{} bytes on stderr", err.len());
    assert!(err.contains("t.json:1:"), "{err}");
}

#[test]
fn file_builder_never_destroys_its_source_nor_writes_through_a_symlink() {
    let d = TempDir::new("filebuilder");
    d.file("src.txt", b"precious");
    std::os::unix::fs::symlink(d.0.join("src.txt"), d.0.join("link.txt")).expect("symlink");
    for target in ["src.txt", "link.txt"] {
        let t = format!(r#"{{"builders": [{{"type": "file", "source": "src.txt", "target": "{target}"}}]}}"#);
        d.file("t.json", t.as_bytes());
        let (code, out, err) = kiln(&d, &["build", "-force", "t.json"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!((out.clone() + &err).contains("destroy its own input"), "{out}{err}");
        assert_eq!(std::fs::read_to_string(d.0.join("src.txt")).expect("read"), "precious");
    }
    // A symlink to anything else is replaced by the output, not written through.
    d.file("other.txt", b"other");
    std::os::unix::fs::symlink(d.0.join("other.txt"), d.0.join("out.txt")).expect("symlink");
    d.file("t.json", br#"{"builders": [{"type": "file", "content": "new", "target": "out.txt"}]}"#);
    let (code, out, err) = kiln(&d, &["build", "-force", "t.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(std::fs::read_to_string(d.0.join("other.txt")).expect("read"), "other");
    assert!(!std::fs::symlink_metadata(d.0.join("out.txt")).expect("stat").file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(d.0.join("out.txt")).expect("read"), "new");
}

#[test]
fn checksum_output_replaces_a_symlink_instead_of_appending_through_it() {
    let d = TempDir::new("checksum");
    d.file("victim", b"keep me\n");
    std::os::unix::fs::symlink(d.0.join("victim"), d.0.join("sums")).expect("symlink");
    d.file(
        "t.json",
        br#"{"builders": [{"type": "file", "content": "x", "target": "a.txt"}],
             "post-processors": [{"type": "checksum", "checksum_types": ["md5"], "output": "sums"}]}"#,
    );
    let (code, out, err) = kiln(&d, &["build", "t.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(std::fs::read_to_string(d.0.join("victim")).expect("read"), "keep me\n");
    let sums = std::fs::read_to_string(d.0.join("sums")).expect("read");
    assert!(sums.contains("a.txt") && !sums.contains("keep me"), "{sums}");
}

#[test]
fn parallel_runs_appending_to_one_manifest_lose_no_entry() {
    let d = TempDir::new("manifest");
    let n = 12;
    let mut children = Vec::new();
    for i in 0..n {
        let t = format!(
            r#"{{"builders": [{{"type": "file", "name": "b{i}", "content": "x", "target": "out{i}.txt"}}],
                "post-processors": [{{"type": "manifest", "output": "m.json"}}]}}"#
        );
        d.file(&format!("t{i}.json"), t.as_bytes());
        let child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(["build", &format!("t{i}.json")])
            .current_dir(&d.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        children.push(child);
    }
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.0.join("m.json")).expect("read")).expect("json");
    let builds = m["builds"].as_array().map_or(0, Vec::len);
    assert_eq!(builds, n, "{m}");
    let stray: Vec<_> = std::fs::read_dir(&d.0)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn inline_scripts_are_private_and_leave_nothing_behind() {
    let d = TempDir::new("private");
    let tmp = d.0.join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    d.file(
        "t.json",
        br#"{"builders": [{"type": "null", "communicator": "none"}],
             "provisioners": [{"type": "shell-local",
               "inline": ["stat -c 'modes %a' \"$0\"", "stat -c 'modes %a' \"$(dirname \"$0\")\"", "echo \"dir $(dirname \"$0\")\""]}]}"#,
    );
    let tmp_s = tmp.to_string_lossy().into_owned();
    let (code, out, err) = kiln_env(&d, &["build", "t.json"], &[("TMPDIR", &tmp_s)], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("modes 700").count(), 2, "{out}");
    // Not a predictable name directly in the shared temporary folder.
    assert!(!out.contains(&format!("dir {tmp_s}\n")), "{out}");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("ls").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn multi_line_and_short_secrets_are_masked_without_mangling_output() {
    let d = TempDir::new("mask");
    d.file(
        "t.pkr.hcl",
        br#"
variable "key" {
  sensitive = true
  default   = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEAfirst\nsecondLINEofTheKey42\n-----END KEY-----\n"
}
variable "pw" {
  sensitive = true
  default   = "a"
}
source "null" "n" { communicator = "none" }
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["printf '%s' '${var.key}'", "echo password is ${var.pw}"]
  }
}
"#,
    );
    for extra in [&[][..], &["-machine-readable"][..]] {
        let mut args = extra.to_vec();
        args.extend(["build", "t.pkr.hcl"]);
        let (code, out, err) = kiln(&d, &args);
        assert_eq!(code, 0, "{out}{err}");
        assert!(!out.contains("MIIEowIBAAKCAQEAfirst") && !out.contains("secondLINEofTheKey42"), "{out}");
        assert!(out.contains("password is <sensitive>"), "{out}");
        // The letter `a` is kept in kiln's own words.
        assert!(out.contains("finished after") || out.contains("finished"), "{out}");
        assert!(out.contains("artifact") || out.contains("Artifacts") || out.contains("null"), "{out}");
    }
}

#[test]
fn function_errors_do_not_quote_sensitive_values() {
    let d = TempDir::new("maskerr");
    d.file(
        "t.pkr.hcl",
        br#"
variable "pw" {
  sensitive = true
  default   = "hunter2hunter2"
}
locals {
  n = tonumber(var.pw)
  f = file(var.pw)
}
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }
"#,
    );
    for cmd in ["validate", "build"] {
        let (code, out, err) = kiln(&d, &[cmd, "t.pkr.hcl"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(!err.contains("hunter2") && !out.contains("hunter2"), "{cmd}: {err}");
        assert!(err.contains("<sensitive>"), "{cmd}: {err}");
    }
    // A value given on the command line that fails to convert is masked too.
    d.file(
        "u.pkr.hcl",
        br#"
variable "port" {
  type      = number
  sensitive = true
}
source "null" "n" { communicator = "none" }
build { sources = ["source.null.n"] }
"#,
    );
    let (code, _, err) = kiln(&d, &["validate", "-var", "port=opensesame99", "u.pkr.hcl"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("opensesame99"), "{err}");
}

#[test]
fn hard_coded_credential_warning_does_not_reveal_the_length() {
    let d = TempDir::new("hardcoded");
    d.file(
        "t.json",
        br#"{"builders": [{"type": "null", "communicator": "ssh", "ssh_host": "h", "ssh_username": "u", "ssh_password": "abc"}]}"#,
    );
    let (_, out, err) = kiln(&d, &["validate", "t.json"]);
    let all = out + &err;
    assert!(all.contains("hard-coded credential"), "{all}");
    assert!(!all.contains("\"***\"") && !all.contains("\"abc\""), "{all}");
    assert!(all.contains("<sensitive>"), "{all}");
}

#[test]
fn only_and_except_that_match_nothing_say_so() {
    let d = TempDir::new("only");
    d.file("t.json", br#"{"builders": [{"type": "null", "name": "web", "communicator": "none"}]}"#);
    let (code, out, err) = kiln(&d, &["build", "-only=wbe", "t.json"]);
    assert_eq!(code, 0, "{out}{err}");
    let all = out + &err;
    assert!(all.contains("-only=wbe matches no build; the builds are: web"), "{all}");
    assert!(all.contains("did you mean -only=web?"), "{all}");
    let (_, out, err) = kiln(&d, &["validate", "-except=nope", "t.json"]);
    assert!((out + &err).contains("-except=nope matches no build"));
}

#[test]
fn compress_after_artifice_keeps_the_users_files_unless_told() {
    let d = TempDir::new("artifice");
    d.file("mine.txt", b"the user's own file");
    let t = |keep: &str| {
        format!(
            r#"{{"builders": [{{"type": "file", "content": "x", "target": "out.txt"}}],
                "post-processors": [[{{"type": "artifice", "files": ["mine.txt"]}},
                                     {{"type": "compress", "output": "mine.tar.gz"{keep}}}]]}}"#
        )
    };
    d.file("t.json", t("").as_bytes());
    let (code, out, err) = kiln(&d, &["build", "t.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(d.0.join("mine.txt").exists(), "artifice's input was deleted: {out}");
    assert!(d.0.join("mine.tar.gz").exists());
    std::fs::remove_file(d.0.join("mine.tar.gz")).expect("rm");
    d.file("t.json", t(r#", "keep_input_artifact": false"#).as_bytes());
    let (code, out, err) = kiln(&d, &["build", "-force", "t.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!d.0.join("mine.txt").exists());
    assert!(out.contains("Deleting the input artifact of") && out.contains("mine.txt"), "{out}");
}

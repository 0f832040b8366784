//! `kiln fmt` driven as a user would: the built binary in a temporary folder.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn kiln(dir: &Path, args: &[&str]) -> Output {
    kiln_testing::cli::run_in(env!("CARGO_BIN_EXE_kiln"), dir, args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, text).expect("write");
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("read")
}

/// The folder Packer 1.6.6 was run on for the expected outputs below.
fn sample(dir: &Path) {
    write(dir, "sub/s.pkr.hcl", "a=1\nb = 2");
    write(dir, "sub/a.pkrvars.hcl", "x {\ny=1\n}\n");
    write(dir, "sub/z.pkr.json", "a=1\n");
    write(dir, "sub/ok.pkr.hcl", "a = 1\n");
}

const SAMPLE_DIFF: &str = "sub/s.pkr.hcl
--- old/sub/s.pkr.hcl
+++ new/sub/s.pkr.hcl
@@ -1,2 +1,2 @@
-a=1
+a = 1
 b = 2
\\ No newline at end of file
sub/a.pkrvars.hcl
--- old/sub/a.pkrvars.hcl
+++ new/sub/a.pkrvars.hcl
@@ -1,3 +1,3 @@
 x {
-y=1
+  y = 1
 }
";

#[test]
fn folder_is_rewritten_and_names_printed_in_packer_order() {
    let t = kiln_testing::TempDir::new("fmt");
    sample(&t.0);
    let o = kiln(&t.0, &["fmt", "sub/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "sub/s.pkr.hcl\nsub/a.pkrvars.hcl\n");
    assert_eq!(read(&t.0, "sub/s.pkr.hcl"), "a = 1\nb = 2");
    assert_eq!(read(&t.0, "sub/a.pkrvars.hcl"), "x {\n  y = 1\n}\n");
    assert_eq!(read(&t.0, "sub/z.pkr.json"), "a=1\n", "JSON files are left alone");
    let again = kiln(&t.0, &["fmt", "sub"]);
    assert_eq!((again.status.code(), stdout(&again)), (Some(0), String::new()));
}

#[test]
fn check_lists_unformatted_files_exits_3_and_writes_nothing() {
    let t = kiln_testing::TempDir::new("fmt");
    sample(&t.0);
    let o = kiln(&t.0, &["fmt", "-check", "sub"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "sub/s.pkr.hcl\nsub/a.pkrvars.hcl\n");
    assert_eq!(read(&t.0, "sub/s.pkr.hcl"), "a=1\nb = 2");
    let ok = kiln(&t.0, &["fmt", "-check", "sub/ok.pkr.hcl"]);
    assert_eq!((ok.status.code(), stdout(&ok)), (Some(0), String::new()));
}

#[test]
fn diff_output_is_packers() {
    let t = kiln_testing::TempDir::new("fmt");
    sample(&t.0);
    let o = kiln(&t.0, &["fmt", "-diff", "-write=false", "sub"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), SAMPLE_DIFF);
    assert_eq!(read(&t.0, "sub/s.pkr.hcl"), "a=1\nb = 2", "-write=false must not write");
    let c = kiln(&t.0, &["fmt", "-check", "-diff", "sub"]);
    assert_eq!((c.status.code(), stdout(&c)), (Some(3), SAMPLE_DIFF.to_string()));
}

#[test]
fn invalid_file_is_refused_with_its_location_and_others_still_formatted() {
    let t = kiln_testing::TempDir::new("fmt");
    write(&t.0, "a.pkr.hcl", "x = {\n  y = [1,\n}\n");
    write(&t.0, "b.pkr.hcl", "z=1\n");
    let o = kiln(&t.0, &["fmt", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "b.pkr.hcl\n");
    let err = stderr(&o);
    assert!(err.contains("a.pkr.hcl:3:1"), "{err}");
    assert!(err.contains("`[` opened at line 2, column 7"), "{err}");
    assert_eq!(read(&t.0, "a.pkr.hcl"), "x = {\n  y = [1,\n}\n");
    assert_eq!(read(&t.0, "b.pkr.hcl"), "z = 1\n");
}

#[test]
fn bad_arguments() {
    let t = kiln_testing::TempDir::new("fmt");
    write(&t.0, "x.hcl", "a=1\n");
    let o = kiln(&t.0, &["fmt", "x.hcl"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("Error: Cannot tell whether x.hcl contains HCL2 configuration data"),
        "{}",
        stderr(&o)
    );
    let o = kiln(&t.0, &["fmt", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("stat nope: no such file or directory"), "{}", stderr(&o));
    let o = kiln(&t.0, &["fmt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Usage:"), "{}", stderr(&o));
}

#[test]
fn recursive_descends_into_subfolders() {
    let t = kiln_testing::TempDir::new("fmt");
    write(&t.0, "top.pkr.hcl", "a=1\n");
    write(&t.0, "d/e/deep.pkr.hcl", "b=1\n");
    let flat = kiln(&t.0, &["fmt", "-check", "."]);
    assert_eq!(stdout(&flat), "top.pkr.hcl\n");
    let o = kiln(&t.0, &["fmt", "-recursive", "."]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "top.pkr.hcl\nd/e/deep.pkr.hcl\n");
    assert_eq!(read(&t.0, "d/e/deep.pkr.hcl"), "b = 1\n");
}

#[test]
fn stdin_to_stdout() {
    let t = kiln_testing::TempDir::new("fmt");
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .current_dir(&t.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait")
    };
    let o = run(&["fmt", "-"], "a=1\nbb=2\n");
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), "a  = 1\nbb = 2\n".to_string()));
    let o = run(&["fmt", "-check", "-"], "a=1\n");
    assert_eq!((o.status.code(), stdout(&o)), (Some(3), String::new()));
    let o = run(&["fmt", "-"], "a = [\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("<stdin>:1:5"), "{}", stderr(&o));
}

/// With `packer` installed: `kiln fmt -check -diff` prints exactly what `packer fmt` prints on a
/// folder of every golden input (invalid ones excluded: their error texts differ on purpose).
#[test]
fn check_diff_matches_packer_on_golden_inputs() {
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kiln-tools/tests/fmt-data");
    let t = kiln_testing::TempDir::new("fmt");
    let mut n = 0;
    for e in std::fs::read_dir(&data).expect("fmt-data") {
        let p = e.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if let Some(stem) = name.strip_suffix(".in.hcl") {
            if !data.join(format!("{stem}.err")).exists() {
                write(&t.0, &format!("d/{stem}.pkr.hcl"), &std::fs::read_to_string(&p).expect("read"));
                n += 1;
            }
        }
    }
    assert!(n > 10);
    let ours = kiln(&t.0, &["fmt", "-check", "-diff", "d"]);
    let theirs =
        Command::new("packer").args(["fmt", "-check", "-diff", "d"]).current_dir(&t.0).output().expect("packer");
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(stdout(&ours), stdout(&theirs));
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.to_string_lossy().ends_with(".hcl") {
            out.push(p);
        }
    }
}

/// With the corpus and `packer`: the diffs of every valid corpus HCL file are Packer's, byte for
/// byte (this exercises the diff algorithm against `diff -u`, which Packer runs).
#[test]
fn corpus_diffs_match_packer() {
    let Some(corpus) = kiln_testing::corpus_or_skip("") else { return };
    if !kiln_testing::packer_or_skip() {
        return;
    }
    let mut files = Vec::new();
    walk(&corpus, &mut files);
    let t = kiln_testing::TempDir::new("fmt");
    let mut n = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap_or_default();
        let sf = kiln_template::SourceFile::new(f.clone(), src.clone());
        if kiln_tools::fmt::format(&sf).is_ok() {
            write(&t.0, &format!("d/f{n:04}.pkr.hcl"), &src);
            n += 1;
        }
    }
    assert!(n > 100, "only {n} valid corpus files");
    let ours = kiln(&t.0, &["fmt", "-check", "-diff", "d"]);
    let theirs =
        Command::new("packer").args(["fmt", "-check", "-diff", "d"]).current_dir(&t.0).output().expect("packer");
    assert_eq!(ours.status.code(), theirs.status.code());
    let (a, b) = (stdout(&ours), stdout(&theirs));
    if a != b {
        let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
        panic!(
            "diff output differs from packer's at line {}: {:?} vs {:?}",
            line + 1,
            a.lines().nth(line),
            b.lines().nth(line)
        );
    }
    eprintln!("fmt -check -diff: {n} corpus files, output identical to packer ({} lines)", a.lines().count());
}

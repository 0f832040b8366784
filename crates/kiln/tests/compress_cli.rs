//! `kiln build` with the compress post-processor: the real binary on a `file` build in a
//! temporary folder.

mod common;

use std::process::{Command, Output};

use common::TempDir;

fn kiln(dir: &std::path::Path, args: &[&str]) -> Output {
    kiln_testing::cli::run_in(env!("CARGO_BIN_EXE_kiln"), dir, args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const TEMPLATE: &str = r#"{
  "builders": [{"type":"file","name":"f","content":"hello from kiln\n","target":"out.txt"}],
  "post-processors": [
    [{"type":"compress","output":"dist/{{.BuildName}}.tar.gz"}],
    [{"type":"compress","output":"dist/{{.BuildName}}-{{.BuilderType}}.zip","keep_input_artifact":true}]
  ]
}"#;

#[test]
fn file_build_compressed_refused_then_forced() {
    let d = TempDir::new("compress-cli");
    std::fs::write(d.0.join("t.json"), TEMPLATE).unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("Tarring dist/f.tar.gz with pgzip"), "{out}");
    assert!(out.contains("Archive dist/f-file.zip completed"), "{out}");
    assert!(out.contains("--> f: compressed artifacts in: dist/f.tar.gz"), "{out}");
    let gz = std::fs::read(d.0.join("dist/f.tar.gz")).unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b");
    match Command::new("tar").args(["-xzOf", "dist/f.tar.gz", "out.txt"]).current_dir(&d.0).output() {
        Ok(t) => assert_eq!(String::from_utf8_lossy(&t.stdout), "hello from kiln\n"),
        Err(_) => eprintln!("notice: no tar here to read the archive back"),
    }
    // The input went with the first chain (keep_input_artifact unset), and the zip has it.
    let zip = std::fs::read(d.0.join("dist/f-file.zip")).unwrap();
    assert_eq!(&zip[..4], b"PK\x03\x04");

    // A second run must not replace the archives (the builder's own target is out of the way,
    // so that it is compress that refuses)…
    let _ = std::fs::remove_file(d.0.join("out.txt"));
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("dist/f.tar.gz already exists") && out.contains("-force"), "{out}");
    assert_eq!(std::fs::read(d.0.join("dist/f.tar.gz")).unwrap(), gz);
    // …unless forced; and the output is the same bytes.
    let _ = std::fs::remove_file(d.0.join("out.txt"));
    let o = kiln(&d.0, &["build", "-force", "-color=false", "t.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read(d.0.join("dist/f.tar.gz")).unwrap(), gz);
    assert_eq!(std::fs::read(d.0.join("dist/f-file.zip")).unwrap(), zip);
}

#[test]
fn one_file_format_with_several_files_fails_and_names_the_fix() {
    let d = TempDir::new("compress-cli-many");
    std::fs::write(d.0.join("a"), "a").unwrap();
    std::fs::write(d.0.join("b"), "b").unwrap();
    std::fs::write(
        d.0.join("t.json"),
        r#"{"builders":[{"type":"null","communicator":"none"}],
  "post-processors":[[{"type":"artifice","files":["a","b"]},{"type":"compress","output":"x.lz4"}]]}"#,
    )
    .unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("x.lz4 can hold only one file, but the artifact has 2"), "{out}");
    assert!(!d.0.join("x.lz4").exists());
    assert!(d.0.join("a").exists(), "inputs stay when compress fails");
}

#[test]
fn artifice_inputs_are_deleted_only_when_the_template_says_so() {
    // Packer deletes artifice's files after compress by default; kiln keeps the user's files
    // unless keep_input_artifact = false is explicit (docs/compatibility.md).
    let d = TempDir::new("compress-cli-keep");
    for f in ["a", "b", "c", "e"] {
        std::fs::write(d.0.join(f), f).unwrap();
    }
    std::fs::write(
        d.0.join("t.json"),
        r#"{"builders":[{"type":"null","communicator":"none"}],
  "post-processors":[
    [{"type":"artifice","files":["a","b"]},{"type":"compress","output":"ab.tar.lz4","keep_input_artifact":false}],
    [{"type":"artifice","files":["c"]},{"type":"compress","output":"c.gz","keep_input_artifact":true}],
    [{"type":"artifice","files":["e"]},{"type":"compress","output":"e.gz"}]]}"#,
    )
    .unwrap();
    let o = kiln(&d.0, &["build", "-color=false", "t.json"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!d.0.join("a").exists() && !d.0.join("b").exists(), "keep_input_artifact=false deletes them");
    assert!(out.contains("Deleting the input artifact of"), "{out}");
    assert!(d.0.join("c").exists(), "keep_input_artifact keeps them");
    assert!(d.0.join("e").exists(), "the user's files stay by default");
    assert!(d.0.join("ab.tar.lz4").exists() && d.0.join("c.gz").exists());
}

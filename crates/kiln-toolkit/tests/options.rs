//! Packer's cd_* and floppy_* options: which local files end up where.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_toolkit::media::{CdOptions, FloppyOptions, MediaError, Source};

/// somedirectory/{meta-data,user-data,sub/s.txt}, other/{o.txt,X.TXT2}, a/b/c/deep.txt
fn data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, content) in [
        ("somedirectory/meta-data", "md"),
        ("somedirectory/user-data", "ud"),
        ("somedirectory/sub/s.txt", "s"),
        ("other/o.txt", "o"),
        ("other/X.TXT2", "x"),
        ("a/b/c/deep.txt", "deep"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), content).unwrap();
    }
    dir
}

/// The spec's entries as `dest -> content` (directories as "<dir>").
fn layout(files: &[(String, Source)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (dest, source) in files {
        let value = match source {
            Source::Directory => "<dir>".to_string(),
            Source::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Source::File(p) => std::fs::read_to_string(p).unwrap(),
        };
        out.insert(dest.clone(), value);
    }
    out
}

fn cd(base: &Path, files: &[&str], content: &[(&str, &str)]) -> Result<BTreeMap<String, String>, MediaError> {
    let options = CdOptions {
        files: files.iter().map(|s| s.to_string()).collect(),
        content: content.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        label: String::new(),
    };
    options.spec(base).map(|spec| layout(&spec.files))
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn cd_files_as_packer_documents_them() {
    let data = data();
    let base = data.path();
    // Files go to the root by their name.
    assert_eq!(
        cd(base, &["./somedirectory/meta-data", "./somedirectory/user-data"], &[]).unwrap(),
        map(&[("meta-data", "md"), ("user-data", "ud")])
    );
    // A glob puts what it matches at the root: files, and directories with their content.
    assert_eq!(
        cd(base, &["./somedirectory/*"], &[]).unwrap(),
        map(&[("meta-data", "md"), ("sub", "<dir>"), ("sub/s.txt", "s"), ("user-data", "ud")])
    );
    // A directory without a trailing slash is copied as itself, with one its content.
    assert_eq!(
        cd(base, &["other"], &[]).unwrap(),
        map(&[("other", "<dir>"), ("other/X.TXT2", "x"), ("other/o.txt", "o")])
    );
    assert_eq!(cd(base, &["other/"], &[]).unwrap(), map(&[("X.TXT2", "x"), ("o.txt", "o")]));
    assert_eq!(cd(base, &["a/b"], &[]).unwrap(), map(&[("b", "<dir>"), ("b/c", "<dir>"), ("b/c/deep.txt", "deep")]));
    // Absolute paths work the same.
    let abs = format!("{}/other/o.txt", base.display());
    assert_eq!(cd(Path::new("/nonexistent"), &[&abs], &[]).unwrap(), map(&[("o.txt", "o")]));
}

#[test]
fn cd_content_takes_precedence_and_makes_directories() {
    let data = data();
    let got = cd(data.path(), &["somedirectory/"], &[("meta-data", "from content"), ("/x/./y/../z", "deep")]).unwrap();
    assert_eq!(got.get("meta-data").map(String::as_str), Some("from content"));
    assert_eq!(got.get("x/z").map(String::as_str), Some("deep"));
    assert_eq!(got.get("user-data").map(String::as_str), Some("ud"));
    let err = cd(data.path(), &[], &[("../escape", "x")]).unwrap_err();
    assert!(matches!(err, MediaError::BadPath { .. }), "{err}");
    let err = cd(data.path(), &["somedirectory/"], &[("sub", "a file where a directory is")]).unwrap_err();
    assert!(matches!(err, MediaError::Conflict { .. }), "{err}");
}

#[test]
fn missing_paths_and_bad_patterns_are_errors_and_empty_globs_are_not() {
    let data = data();
    let err = cd(data.path(), &["nope/user-data"], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cd_files: nope/user-data does not exist; check the path (relative paths start at the working directory)"
    );
    let err = cd(data.path(), &["other/[a-"], &[]).unwrap_err();
    assert!(matches!(err, MediaError::BadPattern { option: "cd_files", .. }), "{err}");
    assert_eq!(cd(data.path(), &["*.nothing"], &[]).unwrap(), BTreeMap::new());
    let floppy = FloppyOptions { dirs: vec!["gone".into()], ..Default::default() };
    let err = floppy.spec(data.path()).unwrap_err();
    assert!(matches!(err, MediaError::NotFound { option: "floppy_dirs", .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_followed_and_loops_refused() {
    let data = data();
    let base = data.path();
    std::os::unix::fs::symlink(base.join("other/o.txt"), base.join("somedirectory/link.txt")).unwrap();
    std::os::unix::fs::symlink(base.join("a"), base.join("somedirectory/linked-dir")).unwrap();
    let got = cd(base, &["somedirectory/"], &[]).unwrap();
    assert_eq!(got.get("link.txt").map(String::as_str), Some("o"));
    assert_eq!(got.get("linked-dir/b/c/deep.txt").map(String::as_str), Some("deep"));
    std::os::unix::fs::symlink(base.join("a"), base.join("a/b/loop")).unwrap();
    let err = cd(base, &["a"], &[]).unwrap_err();
    assert!(matches!(err, MediaError::SymlinkLoop { .. }), "{err}");
    std::os::unix::fs::symlink(base.join("missing"), base.join("other/dangling")).unwrap();
    let err = cd(base, &["other"], &[]).unwrap_err();
    assert!(err.to_string().contains("dangling"), "{err}");
}

#[test]
fn floppy_files_flatten_floppy_dirs_keep_structure() {
    let data = data();
    let base = data.path();
    let floppy = |files: &[&str], dirs: &[&str], content: &[(&str, &str)]| {
        FloppyOptions {
            files: files.iter().map(|s| s.to_string()).collect(),
            dirs: dirs.iter().map(|s| s.to_string()).collect(),
            content: content.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            label: String::new(),
        }
        .spec(base)
    };
    let spec = floppy(&["somedirectory"], &["other/"], &[]).unwrap();
    assert_eq!(spec.label, "packer");
    assert_eq!(spec.size, 1_474_560);
    assert_eq!(
        layout(&spec.files),
        map(&[
            ("meta-data", "md"),
            ("other", "<dir>"),
            ("other/X.TXT2", "x"),
            ("other/o.txt", "o"),
            ("s.txt", "s"),
            ("user-data", "ud"),
        ])
    );
    // A file in floppy_dirs goes to the root; a glob in floppy_dirs copies each match as itself.
    let spec = floppy(&[], &["a/b/c/deep.txt", "a/*"], &[]).unwrap();
    assert_eq!(
        layout(&spec.files),
        map(&[("b", "<dir>"), ("b/c", "<dir>"), ("b/c/deep.txt", "deep"), ("deep.txt", "deep")])
    );
    // floppy_content wins over a file of the same name, whatever its case.
    let spec = floppy(&["other/*.txt"], &[], &[("O.TXT", "content"), ("d/e.txt", "e")]).unwrap();
    assert_eq!(layout(&spec.files), map(&[("O.TXT", "content"), ("d/e.txt", "e")]));
    // Two files of one name at the root is what Packer refuses too.
    let err = floppy(&["other/o.txt", "other/O.TXT*"], &[], &[]);
    assert!(err.is_ok(), "different names");
    std::fs::write(base.join("a/o.txt"), "again").unwrap();
    let err = floppy(&["other", "a/o.txt"], &[], &[]).unwrap_err();
    assert!(matches!(err, MediaError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("floppy_dirs"), "{err}");
}

#[test]
fn nothing_to_do_means_no_image() {
    assert!(CdOptions::default().is_empty());
    assert!(FloppyOptions::default().is_empty());
    let content_only = CdOptions { content: BTreeMap::from([("a".into(), "b".into())]), ..Default::default() };
    assert!(!content_only.is_empty());
}

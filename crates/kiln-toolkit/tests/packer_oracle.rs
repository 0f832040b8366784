//! Side by side with Packer 1.6.6: its qemu builder makes the CD (through xorriso) and the
//! floppy from the same cd_files / floppy_files / floppy_dirs, then fails on purpose at
//! `qemu_binary = "false"`; `-on-error=abort` leaves both images in its TMPDIR. kiln's images
//! from the same options must hold the same tree.
//!
//! Packer 1.6.6 predates cd_content and floppy_content; those are covered in options.rs.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_toolkit::media::{CdOptions, FloppyOptions, Timestamp};
use support::{mcopy_tree, tool, xorriso_tree};

type Tree = BTreeMap<String, Option<Vec<u8>>>;

struct Tools {
    packer: PathBuf,
    xorriso: PathBuf,
    mcopy: PathBuf,
}

fn tools() -> Option<Tools> {
    Some(Tools {
        packer: tool("packer", "packer")?,
        xorriso: tool("xorriso", "xorriso")?,
        mcopy: tool("mcopy", "mtools")?,
    })
}

fn data(root: &Path) {
    for (path, content) in [
        ("somedirectory/meta-data", "md"),
        ("somedirectory/user-data", "ud"),
        ("somedirectory/sub/s.txt", "s"),
        ("other/o.txt", "o"),
        ("other/X.TXT2", "x"),
        ("a/b/c/deep.txt", "deep"),
        ("a/top.txt", "top"),
        ("clash/O.TXT", "clash"),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), content).unwrap();
    }
    std::fs::create_dir_all(root.join("somedirectory/empty")).unwrap();
}

/// What Packer made: `Ok((cd, floppy))` trees, or `Err(what it said)` when a media step failed.
fn packer(
    tools: &Tools,
    tmp: &Path,
    n: usize,
    cd: &[&str],
    files: &[&str],
    dirs: &[&str],
) -> Result<(Tree, Tree), String> {
    let ptmp = tmp.join(format!("packer-tmp-{n}"));
    std::fs::create_dir_all(&ptmp).unwrap();
    let iso = tmp.join("boot.iso");
    std::fs::write(&iso, "").unwrap();
    let template = serde_like_json(&[
        ("type", "\"qemu\"".into()),
        ("iso_url", format!("{:?}", iso.display().to_string())),
        ("iso_checksum", "\"none\"".into()),
        ("qemu_binary", "\"false\"".into()),
        ("output_directory", format!("{:?}", tmp.join(format!("out-{n}")).display().to_string())),
        ("headless", "true".into()),
        ("communicator", "\"none\"".into()),
        ("disk_size", "\"10M\"".into()),
        ("cd_label", "\"cidata\"".into()),
        ("cd_files", list(cd)),
        ("floppy_files", list(files)),
        ("floppy_dirs", list(dirs)),
    ]);
    let path = tmp.join(format!("template-{n}.json"));
    std::fs::write(&path, format!("{{\"builders\":[{template}]}}")).unwrap();
    let out = Command::new(&tools.packer)
        .args(["build", "-on-error=abort", "-color=false"])
        .arg(&path)
        .current_dir(tmp.join("data"))
        .env("TMPDIR", &ptmp)
        .env("PACKER_CACHE_DIR", tmp.join("cache"))
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if said.contains("Step \"StepCreateFloppy\" failed") || said.contains("Step \"StepCreateCD\" failed") {
        return Err(said);
    }
    let mut cd_tree = Tree::new();
    let mut floppy_tree = Tree::new();
    let (mut made_cd, mut made_floppy) = (false, false);
    for entry in std::fs::read_dir(&ptmp).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".iso") {
            cd_tree = xorriso_tree(&tools.xorriso, &p, &tmp.join(format!("packer-cd-{n}")));
            made_cd = true;
        } else if p.is_file() && name.starts_with("packer") {
            floppy_tree = mcopy_tree(&tools.mcopy, &p, &tmp.join(format!("packer-floppy-{n}")));
            made_floppy = true;
        }
    }
    assert_eq!(made_cd, !cd.is_empty(), "Packer's CD:\n{said}");
    assert_eq!(made_floppy, !(files.is_empty() && dirs.is_empty()), "Packer's floppy:\n{said}");
    Ok((cd_tree, floppy_tree))
}

fn list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(","))
}

fn serde_like_json(fields: &[(&str, String)]) -> String {
    format!("{{{}}}", fields.iter().map(|(k, v)| format!("{k:?}:{v}")).collect::<Vec<_>>().join(","))
}

fn kiln(
    tools: &Tools,
    tmp: &Path,
    n: usize,
    cd: &[&str],
    files: &[&str],
    dirs: &[&str],
) -> Result<(Tree, Tree), String> {
    let base = tmp.join("data");
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut cd_tree = Tree::new();
    if !cd.is_empty() {
        let mut spec = CdOptions { files: owned(cd), label: "cidata".into(), ..Default::default() }
            .spec(&base)
            .map_err(|e| e.to_string())?;
        spec.timestamp = Some(Timestamp::DEFAULT);
        let iso = tmp.join(format!("kiln-{n}.iso"));
        spec.create(&iso).unwrap();
        cd_tree = xorriso_tree(&tools.xorriso, &iso, &tmp.join(format!("kiln-cd-{n}")));
    }
    let mut spec = FloppyOptions { files: owned(files), dirs: owned(dirs), ..Default::default() }
        .spec(&base)
        .map_err(|e| e.to_string())?;
    spec.timestamp = Some(Timestamp::DEFAULT);
    let img = tmp.join(format!("kiln-{n}.img"));
    spec.create(&img).unwrap();
    let floppy_tree = mcopy_tree(&tools.mcopy, &img, &tmp.join(format!("kiln-floppy-{n}")));
    Ok((cd_tree, floppy_tree))
}

/// Packer's FAT library keeps a name that fits 8.3 as an upper-case short name only, where
/// kiln keeps its case in a long name: compare floppy names without case.
fn upper(tree: &Tree) -> Tree {
    tree.iter().map(|(k, v)| (k.to_uppercase(), v.clone())).collect()
}

#[test]
fn same_trees_as_packer() {
    let Some(tools) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    data(&tmp.join("data"));
    // (cd_files, floppy_files, floppy_dirs, whether both must refuse them)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], bool);
    let cases: &[Case<'_>] = &[
        (&["./somedirectory/*", "other"], &["somedirectory"], &["other/"], false),
        (&["somedirectory/", "other/o.txt", "a/b"], &["other/*.txt", "a"], &["somedirectory/sub", "a/b/c/"], false),
        (&["."], &[], &["a/*"], false),
        (&["*/sub", "some?irectory/[mu]*", "a/b/c/deep.txt"], &["other/X.TXT2"], &["somedirectory"], false),
        // other/o.txt and clash/O.TXT are one name on a FAT root.
        (&[], &["other", "clash"], &[], true),
    ];
    for (n, &(cd, files, dirs, refused)) in cases.iter().enumerate() {
        let theirs = packer(&tools, tmp, n, cd, files, dirs);
        let ours = kiln(&tools, tmp, n, cd, files, dirs);
        match (theirs, ours) {
            (Ok((p_cd, p_floppy)), Ok((k_cd, k_floppy))) => {
                assert!(!refused, "case {n}: both made images that should have been refused");
                assert_eq!(k_cd, p_cd, "case {n}: the CDs differ");
                assert_eq!(upper(&k_floppy), upper(&p_floppy), "case {n}: the floppies differ");
                assert_eq!(cd.is_empty(), k_cd.is_empty(), "case {n}: CD");
                assert_eq!(files.is_empty() && dirs.is_empty(), k_floppy.is_empty(), "case {n}: floppy");
            }
            (Err(theirs), Err(ours)) => {
                assert!(refused, "case {n}: both refused it:\nPacker: {theirs}\nkiln: {ours}");
                assert!(theirs.contains("name already exists"), "case {n}: {theirs}");
                assert!(ours.contains("would be this file on the floppy"), "case {n}: {ours}");
            }
            (Ok(_), Err(e)) => panic!("case {n}: Packer made the images, kiln said: {e}"),
            (Err(e), Ok(_)) => panic!("case {n}: kiln made the images, Packer said: {e}"),
        }
    }
}

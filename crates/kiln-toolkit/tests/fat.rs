//! Floppy images read back by real readers: mtools, dosfstools' fsck.fat, blkid, the kernel.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kiln_toolkit::media::{FloppySpec, MediaError, Source, Timestamp};
use support::{mcopy_tree, run, tool, Rng};

/// A floppy like Windows builds use: an answer file, scripts, drivers in mixed-case
/// directories, long names, and a name that is already 8.3.
fn sample(dir: &Path) -> (FloppySpec, BTreeMap<String, Option<Vec<u8>>>) {
    let mut rng = Rng(11);
    std::fs::write(dir.join("setup.ps1"), "Write-Host kiln\r\n").unwrap();
    let files: Vec<(String, Source)> = vec![
        ("Autounattend.xml".into(), Source::Bytes(b"<unattend/>".to_vec())),
        ("scripts/setup.ps1".into(), Source::File(dir.join("setup.ps1"))),
        ("scripts/enable-winrm.ps1".into(), Source::Bytes(b"winrm".to_vec())),
        ("drivers/NetKVM/w10/amd64/netkvm.sys".into(), Source::Bytes(rng.bytes(70_000))),
        ("drivers/NetKVM/w10/amd64/netkvm.inf".into(), Source::Bytes(vec![b'i'; 512])),
        ("SETUP.EXE".into(), Source::Bytes(rng.bytes(1025))),
        ("user-data".into(), Source::Bytes(b"#cloud-config\n".to_vec())),
        ("meta-data".into(), Source::Bytes(b"instance-id: x\n".to_vec())),
        (format!("{}.txt", "A-very-long-name-".repeat(14)), Source::Bytes(b"long".to_vec())),
        ("été.txt".into(), Source::Bytes(b"unicode".to_vec())),
        ("empty".into(), Source::Bytes(Vec::new())),
        ("empty-dir".into(), Source::Directory),
    ];
    let expected = support::expected_tree(&files);
    let spec = FloppySpec {
        label: "packer".into(),
        files,
        timestamp: Some(Timestamp(1_700_000_000)),
        ..FloppySpec::default()
    };
    (spec, expected)
}

fn write(spec: &FloppySpec, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let size = spec.create(&path).unwrap();
    assert_eq!(size, spec.size);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), spec.size);
    path
}

#[test]
fn mtools_reads_every_file_back() {
    let Some(mcopy) = tool("mcopy", "mtools") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let img = write(&spec, tmp.path(), "floppy.img");
    assert_eq!(mcopy_tree(&mcopy, &img, &tmp.path().join("out")), expected);

    let mdir = run(Command::new(mcopy.with_file_name("mdir")).args(["-i"]).arg(&img).arg("::"));
    assert!(mdir.contains("Volume in drive : is packer"), "{mdir}");
    assert!(mdir.contains("AUTOUN~1 XML        11 ") && mdir.contains("Autounattend.xml"), "{mdir}");
    let mtype = run(Command::new(mcopy.with_file_name("mtype")).args(["-i"]).arg(&img).arg("::/user-data"));
    assert_eq!(mtype, "#cloud-config\n");
    let label = run(Command::new(mcopy.with_file_name("mlabel")).args(["-i"]).arg(&img).args(["-s", "::"]));
    assert_eq!(label.trim(), "Volume label is packer");
}

#[test]
fn fsck_fat_finds_nothing_to_fix() {
    let Some(fsck) = tool("fsck.fat", "dosfstools") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, _) = sample(tmp.path());
    let img = write(&spec, tmp.path(), "floppy.img");
    let said = run(Command::new(&fsck).args(["-n", "-v"]).arg(&img));
    assert!(said.contains("2 FATs, 12 bit entries") && said.contains("2847 data clusters"), "{said}");
    assert!(!said.to_lowercase().contains("differ") && !said.contains("Fix"), "{said}");
    let blkid = tool("blkid", "util-linux").map(|b| run(Command::new(b).arg(&img)));
    if let Some(blkid) = blkid {
        assert!(blkid.contains("LABEL=\"packer\"") && blkid.contains("TYPE=\"vfat\""), "{blkid}");
    }
}

#[test]
fn larger_images_are_fat16_and_still_clean() {
    let Some(fsck) = tool("fsck.fat", "dosfstools") else { return };
    let Some(mcopy) = tool("mcopy", "mtools") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(3);
    let mut files = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..40 {
        let dest = format!("dir{}/file-{i}.bin", i % 4);
        let content = rng.bytes(50_000 + i * 997);
        expected.insert(format!("dir{}", i % 4), None);
        expected.insert(dest.clone(), Some(content.clone()));
        files.push((dest, Source::Bytes(content)));
    }
    for size in [2_949_120, 8 * 1024 * 1024, 64 * 1024 * 1024] {
        let spec = FloppySpec { label: "DATA".into(), files: files.clone(), size, timestamp: Some(Timestamp::DEFAULT) };
        let img = write(&spec, tmp.path(), &format!("{size}.img"));
        let said = run(Command::new(&fsck).args(["-n", "-v"]).arg(&img));
        let want = if size > 4 * 1024 * 1024 { "16 bit entries" } else { "12 bit entries" };
        assert!(said.contains(want), "{size}: {said}");
        assert_eq!(mcopy_tree(&mcopy, &img, &tmp.path().join(format!("out-{size}"))), expected, "{size}");
    }
}

#[test]
fn linux_mounts_it_as_vfat() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let img = write(&spec, tmp.path(), "floppy.img");
    let Some(seen) = support::mounted_tree(&img, "vfat", "utf8") else { return };
    assert_eq!(seen, expected);
}

#[test]
fn sevenzip_reads_every_file_back() {
    let Some(sevenzip) = tool("7z", "p7zip-full") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (mut spec, mut expected) = sample(tmp.path());
    // A name outside the Basic Multilingual Plane takes two UTF-16 units (mtools cannot read it).
    spec.files.push(("😀 smile.txt".into(), Source::Bytes(b"astral".to_vec())));
    expected.insert("😀 smile.txt".into(), Some(b"astral".to_vec()));
    let img = write(&spec, tmp.path(), "floppy.img");
    assert_eq!(support::sevenzip_tree(&sevenzip, &img, &tmp.path().join("out")), expected);
}

#[test]
fn same_spec_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, _) = sample(tmp.path());
    let a = std::fs::read(write(&spec, tmp.path(), "a.img")).unwrap();
    let mut reversed = spec.clone();
    reversed.files.reverse();
    let b = std::fs::read(write(&reversed, tmp.path(), "b.img")).unwrap();
    assert!(a == b, "the order of the spec's files changed the bytes");
    let mut other = spec.clone();
    other.timestamp = Some(Timestamp(1_800_000_000));
    let mut c = Vec::new();
    other.write(&mut c).unwrap();
    assert!(a != c, "the timestamp is not in the image");
}

#[test]
fn content_that_does_not_fit_is_an_error_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = |files: Vec<(String, Source)>| FloppySpec {
        label: "packer".into(),
        files,
        timestamp: Some(Timestamp::DEFAULT),
        ..FloppySpec::default()
    };
    let big = spec(vec![("big.bin".into(), Source::Bytes(vec![0; 1_474_560]))]);
    let out = tmp.path().join("big.img");
    let err = big.create(&out).unwrap_err();
    assert!(matches!(err, MediaError::DoesNotFit { .. }), "{err}");
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert!(!out.exists(), "a failed write left {}", out.display());

    // 224 root entries: 113 files with a long name each take 226.
    let many = spec((0..113).map(|i| (format!("file-{i}"), Source::Bytes(vec![]))).collect());
    let err = many.write(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, MediaError::TooManyEntries { .. }), "{err}");

    // 33000 lower-case names take a long-name entry each: more than a directory's 65536.
    let crowded = spec((0..33_000).map(|i| (format!("d/f{i}"), Source::Bytes(vec![]))).collect());
    let err = crowded.write(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, MediaError::TooManyEntries { needed: 66_002, limit: 65_536, .. }), "{err}");

    let case = spec(vec![("A.txt".into(), Source::Bytes(vec![])), ("a.txt".into(), Source::Bytes(vec![]))]);
    let err = case.write(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, MediaError::Conflict { .. }), "{err}");
    let colon = spec(vec![("a:b".into(), Source::Bytes(vec![]))]);
    assert!(matches!(colon.write(&mut Vec::new()).unwrap_err(), MediaError::BadName { .. }));
    let label = FloppySpec { label: "much too long".into(), ..spec(vec![]) };
    assert!(matches!(label.write(&mut Vec::new()).unwrap_err(), MediaError::BadLabel { .. }));

    // What exactly fits is fine: 2847 clusters of 512 bytes, less one for the directory.
    let full = spec(vec![("d/full.bin".into(), Source::Bytes(vec![7; 2846 * 512]))]);
    assert_eq!(full.write(&mut Vec::new()).unwrap(), 1_474_560);
    let over = spec(vec![("d/full.bin".into(), Source::Bytes(vec![7; 2846 * 512 + 1]))]);
    assert!(matches!(over.write(&mut Vec::new()).unwrap_err(), MediaError::DoesNotFit { .. }));
}

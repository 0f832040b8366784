//! CD images read back by real readers: isoinfo (genisoimage), xorriso, and the Linux kernel.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use kiln_toolkit::media::{CdSpec, MediaError, Source, Timestamp};
use support::{read_tree, run, tool, Rng};

/// A CD like the ones builders attach: cloud-init's seed, a Windows answer file, drivers in
/// deep mixed-case directories, long names, a large local file, empty files and directories.
fn sample(dir: &Path) -> (CdSpec, BTreeMap<String, Option<Vec<u8>>>) {
    let mut rng = Rng(7);
    let big = rng.bytes(5 * 1024 * 1024 + 123);
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("network-config"), "version: 2\n").unwrap();
    let long = format!("{}-x.yaml", "very-long-Name".repeat(14));
    let longest = "n".repeat(255);
    let deep = "a/B/c/D/e/F/g/H/i/J/deep-file.txt";
    let files: Vec<(String, Source)> = vec![
        ("user-data".into(), Source::Bytes(b"#cloud-config\nhostname: kiln\n".to_vec())),
        ("meta-data".into(), Source::Bytes(b"instance-id: kiln\n".to_vec())),
        ("network-config".into(), Source::File(dir.join("network-config"))),
        ("network-configs".into(), Source::Bytes(b"other\n".to_vec())),
        ("Autounattend.xml".into(), Source::Bytes(b"<unattend/>".to_vec())),
        ("drivers/NetKVM/w10/amd64/netkvm.inf".into(), Source::Bytes(vec![b'i'; 3000])),
        ("drivers/NetKVM/w10/amd64/netkvm.sys".into(), Source::Bytes(rng.bytes(70_000))),
        (deep.into(), Source::Bytes(b"deep".to_vec())),
        (long.clone(), Source::Bytes(b"long".to_vec())),
        (longest.clone(), Source::Bytes(b"longest".to_vec())),
        ("big/big.bin".into(), Source::File(dir.join("big.bin"))),
        ("empty".into(), Source::Bytes(Vec::new())),
        ("empty-dir".into(), Source::Directory),
        ("dots.in.a.name.tar.gz".into(), Source::Bytes(b"gz".to_vec())),
        ("UPPER.TXT".into(), Source::Bytes(b"UP".to_vec())),
        ("lower.txt".into(), Source::Bytes(b"low".to_vec())),
    ];
    let expected = support::expected_tree(&files);
    let spec = CdSpec { label: "cidata".into(), files, timestamp: Some(Timestamp(1_700_000_000)) };
    (spec, expected)
}

fn write(spec: &CdSpec, dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let size = spec.create(&path).unwrap();
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
    assert_eq!(size % 2048, 0);
    path
}

#[test]
fn isoinfo_sees_rock_ridge_joliet_and_the_label() {
    let Some(isoinfo) = tool("isoinfo", "genisoimage") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let iso = write(&spec, tmp.path(), "cd.iso");

    let info = run(Command::new(&isoinfo).arg("-d").arg("-i").arg(&iso));
    assert!(info.contains("Volume id: cidata\n"), "{info}");
    assert!(info.contains("Joliet with UCS level 3 found"), "{info}");
    assert!(info.contains("Rock Ridge signatures version 1 found"), "{info}");
    assert!(info.contains("Logical block size is: 2048"), "{info}");
    let size = std::fs::metadata(&iso).unwrap().len() / 2048;
    assert!(info.contains(&format!("Volume size is: {size}\n")), "{info}");

    // Every path under Rock Ridge, exactly as given.
    let listed = run(Command::new(&isoinfo).args(["-R", "-f", "-i"]).arg(&iso));
    let mut listed: Vec<&str> = listed.lines().map(|l| l.trim_start_matches('/')).collect();
    listed.sort();
    let want: Vec<&str> = expected.keys().map(String::as_str).collect();
    assert_eq!(listed, want);

    // Contents through Rock Ridge and through Joliet names.
    for (path, content) in &expected {
        let Some(content) = content else { continue };
        let got = Command::new(&isoinfo).args(["-R", "-x", &format!("/{path}"), "-i"]).arg(&iso).output().unwrap();
        assert_eq!(&got.stdout, content, "Rock Ridge content of {path}");
        if path.split('/').all(|p| p.len() <= 64) {
            let got =
                Command::new(&isoinfo).args(["-J", "-x", &format!("/{path};1"), "-i"]).arg(&iso).output().unwrap();
            assert_eq!(&got.stdout, content, "Joliet content of {path}");
        }
    }

    // Joliet keeps case and long names (within 64 characters).
    let joliet = run(Command::new(&isoinfo).args(["-J", "-f", "-i"]).arg(&iso));
    for name in [
        "/user-data",
        "/Autounattend.xml",
        "/drivers/NetKVM/w10/amd64/netkvm.inf",
        "/a/B/c/D/e/F/g/H/i/J/deep-file.txt",
    ] {
        assert!(joliet.lines().any(|l| l.trim_end_matches(";1") == name), "Joliet lacks {name}:\n{joliet}");
    }
    // The plain ISO9660 names are 8.3 upper case.
    let plain = run(Command::new(&isoinfo).args(["-f", "-i"]).arg(&iso));
    for line in plain.lines() {
        for part in line.trim_start_matches('/').split('/') {
            let part = part.trim_end_matches(";1");
            let (name, ext) = part.split_once('.').unwrap_or((part, ""));
            assert!(name.len() <= 8 && ext.len() <= 3, "{part} is not 8.3");
            assert!(
                part.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '.'),
                "{part}"
            );
        }
    }
}

#[test]
fn xorriso_extracts_the_same_tree() {
    let Some(xorriso) = tool("xorriso", "xorriso") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let iso = write(&spec, tmp.path(), "cd.iso");
    let out = tmp.path().join("out");
    let report = Command::new(&xorriso)
        .args(["-abort_on", "WARNING", "-osirrox", "on", "-indev"])
        .arg(&iso)
        .args(["-pvd_info", "-extract", "/"])
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&report.stderr).into_owned() + &String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{said}");
    assert!(said.contains("Volume Id    : cidata"), "{said}");
    assert_eq!(read_tree(&out), expected);
}

#[test]
fn linux_mounts_it_with_rock_ridge_and_with_joliet() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let iso = write(&spec, tmp.path(), "cd.iso");
    let Some(rock) = support::mounted_tree(&iso, "iso9660", "") else { return };
    assert_eq!(rock, expected);

    let joliet = support::mounted_tree(&iso, "iso9660", "norock").unwrap();
    for (path, content) in &expected {
        if path.split('/').all(|p| p.len() <= 64) {
            assert_eq!(joliet.get(path), Some(content), "Joliet view of {path}");
        }
    }
    assert_eq!(joliet.len(), expected.len());

    let plain = support::mounted_tree(&iso, "iso9660", "norock,nojoliet").unwrap();
    assert_eq!(plain.len(), expected.len());
    assert_eq!(plain.get("user_dat").and_then(|c| c.as_deref()), Some(&b"#cloud-config\nhostname: kiln\n"[..]));
}

#[test]
fn sevenzip_reads_the_joliet_names() {
    let Some(sevenzip) = tool("7z", "p7zip-full") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let iso = write(&spec, tmp.path(), "cd.iso");
    let got = support::sevenzip_tree(&sevenzip, &iso, &tmp.path().join("out"));
    // Joliet holds 64 characters of a name: the two longer ones are shortened.
    let short: BTreeMap<_, _> = expected.iter().filter(|(p, _)| p.split('/').all(|c| c.len() <= 64)).collect();
    let got_short: BTreeMap<_, _> = got.iter().filter(|(p, _)| p.split('/').all(|c| c.len() < 64)).collect();
    assert_eq!(got_short, short);
    assert_eq!(got.len(), expected.len());
    let long = format!("{}-x.yaml", "very-long-Name".repeat(14));
    let shortened = format!("{}.yaml", &long[..59]);
    assert_eq!(got.get(&shortened), expected.get(&long), "{:?}", got.keys().collect::<Vec<_>>());
}

#[test]
fn same_spec_same_bytes_whatever_the_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, _) = sample(tmp.path());
    let a = write(&spec, tmp.path(), "a.iso");
    let b = write(&spec, tmp.path(), "b.iso");
    let mut reversed = spec.clone();
    reversed.files.reverse();
    let c = write(&reversed, tmp.path(), "c.iso");
    let a = std::fs::read(a).unwrap();
    assert!(a == std::fs::read(b).unwrap(), "two writes differ");
    assert!(a == std::fs::read(c).unwrap(), "the order of the spec's files changed the bytes");
    let mut later = spec.clone();
    later.timestamp = Some(Timestamp(1_800_000_000));
    let mut d = Vec::new();
    later.write(&mut d).unwrap();
    assert!(a != d, "the timestamp is not in the image");
}

#[test]
fn errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = |label: &str, files: Vec<(&str, Source)>| CdSpec {
        label: label.into(),
        files: files.into_iter().map(|(d, s)| (d.to_string(), s)).collect(),
        timestamp: Some(Timestamp::DEFAULT),
    };
    let err = spec(&"x".repeat(33), vec![]).write(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, MediaError::BadLabel { .. }), "{err}");
    let err = spec("cidätä", vec![]).write(&mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("printable ASCII"), "{err}");
    let missing = tmp.path().join("missing");
    let err = spec("x", vec![("a", Source::File(missing.clone()))]).write(&mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
    let err = spec("x", vec![("a", Source::File(tmp.path().to_path_buf()))]).write(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, MediaError::NotRegular { .. }), "{err}");
    // An existing output is never replaced.
    std::fs::write(tmp.path().join("out.iso"), "keep").unwrap();
    let err = spec("x", vec![]).create(&tmp.path().join("out.iso")).unwrap_err();
    assert!(matches!(err, MediaError::Write { .. }), "{err}");
    assert_eq!(std::fs::read(tmp.path().join("out.iso")).unwrap(), b"keep");
}

#[test]
fn an_empty_cd_is_valid() {
    let Some(isoinfo) = tool("isoinfo", "genisoimage") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = CdSpec { label: String::new(), files: vec![], timestamp: None };
    let iso = write(&spec, tmp.path(), "empty.iso");
    let listed = run(Command::new(&isoinfo).args(["-R", "-f", "-i"]).arg(&iso));
    assert_eq!(listed, "");
}

/// The largest file one extent holds (4 GiB - 1 byte) is accepted, one byte more is refused
/// before anything is written (checked on sparse files, without reading them).
#[test]
fn files_up_to_4_gib_fit_and_larger_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sparse.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(u64::from(u32::MAX)).unwrap();
    let spec = CdSpec {
        label: "big".into(),
        files: vec![("big.bin".into(), Source::File(path.clone()))],
        timestamp: Some(Timestamp::DEFAULT),
    };
    spec.check().unwrap();
    file.set_len(u64::from(u32::MAX) + 1).unwrap();
    let mut out = Vec::new();
    let err = spec.write(&mut out).unwrap_err();
    assert!(matches!(err, MediaError::FileTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("big.bin"), "{err}");
    assert!(out.is_empty(), "bytes were written before the error");
}

/// A large local file is copied in pieces and reads back whole.
#[test]
fn a_large_file_streams_through() {
    let Some(xorriso) = tool("xorriso", "xorriso") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("large.bin");
    let mut rng = Rng(99);
    let mut data = Vec::with_capacity(48 << 20);
    while data.len() < (48 << 20) + 777 {
        data.extend(rng.next().to_le_bytes());
    }
    std::fs::write(&path, &data).unwrap();
    let spec = CdSpec {
        label: "large".into(),
        files: vec![("disk/large.bin".into(), Source::File(path))],
        timestamp: Some(Timestamp::DEFAULT),
    };
    let iso = write(&spec, tmp.path(), "large.iso");
    let got = support::xorriso_tree(&xorriso, &iso, &tmp.path().join("out"));
    assert!(got.get("disk/large.bin") == Some(&Some(data)), "large.bin reads back differently");
}

/// Windows finds directories through the path tables: for the primary and the Joliet volume,
/// each path table entry must name a directory whose `.` record points at the same extent,
/// and the entries must be in ECMA-119 order (level, parent number, name).
#[test]
fn path_tables_agree_with_the_directories() {
    let Some(isoinfo) = tool("isoinfo", "genisoimage") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, expected) = sample(tmp.path());
    let iso = write(&spec, tmp.path(), "cd.iso");
    let dirs_expected = 1 + expected.values().filter(|v| v.is_none()).count();
    for joliet in [false, true] {
        let flag: &[&str] = if joliet { &["-J"] } else { &[] };
        let table = run(Command::new(&isoinfo).args(flag).args(["-p", "-i"]).arg(&iso));
        // Each entry: (parent number, extent, name), numbered from 1.
        let entries: Vec<(usize, u32, String)> = table
            .lines()
            .skip(1)
            .map(|l| {
                let (_, rest) = l.split_once(':').unwrap();
                let mut f = rest.split_whitespace();
                let parent = f.next().unwrap().parse().unwrap();
                let extent = u32::from_str_radix(f.next().unwrap(), 16).unwrap();
                (parent, extent, f.collect::<Vec<_>>().join(" "))
            })
            .collect();
        assert_eq!(entries.len(), dirs_expected, "{table}");
        let mut paths = vec!["/".to_string()];
        let mut levels = vec![1usize];
        for (i, (parent, _, name)) in entries.iter().enumerate().skip(1) {
            assert!(*parent <= i, "entry {} has parent {parent}, not listed before it", i + 1);
            paths.push(format!("{}{name}/", paths[parent - 1]));
            levels.push(levels[parent - 1] + 1);
        }
        for i in 1..entries.len() {
            let a = (levels[i - 1], entries[i - 1].0, &entries[i - 1].2);
            let b = (levels[i], entries[i].0, &entries[i].2);
            assert!(a < b, "path table out of order: {a:?} before {b:?}");
        }
        // The extent of each directory's `.` record, by path.
        let listing = run(Command::new(&isoinfo).args(flag).args(["-l", "-i"]).arg(&iso));
        let mut dots = BTreeMap::new();
        let mut current = String::new();
        for line in listing.lines() {
            if let Some(dir) = line.strip_prefix("Directory listing of ") {
                current = dir.trim().to_string();
            } else if line.ends_with("]  . ") {
                let inside = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
                dots.insert(current.clone(), inside.split_whitespace().next().unwrap().parse::<u32>().unwrap());
            }
        }
        assert_eq!(dots.len(), entries.len(), "{listing}");
        for (path, (_, extent, _)) in paths.iter().zip(&entries) {
            assert_eq!(
                dots.get(path),
                Some(extent),
                "joliet={joliet}: {path} in the path table and its `.` record differ"
            );
        }
    }
}

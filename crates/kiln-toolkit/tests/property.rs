//! Random trees (odd names, unicode, deep nesting, sizes around sector and cluster
//! boundaries): every write either succeeds and reads back the same through real readers, or
//! fails with a typed error the input explains. Never a panic.

mod support;

use std::collections::{BTreeMap, HashSet};

use kiln_toolkit::media::{CdSpec, FloppySpec, MediaError, Source, Timestamp};
use support::{mcopy_tree, sevenzip_tree, tool, xorriso_tree, Rng};

const PIECES: &[&str] = &[
    "a",
    "b",
    "Z",
    "x",
    "0",
    "9",
    "-",
    "_",
    ".",
    " ",
    "é",
    "日本",
    "😀",
    "~",
    "+",
    ",",
    ";",
    "=",
    "[",
    "]",
    "(",
    "'",
    "user-data",
    "meta-data",
    "README",
    ".txt",
    ".tar.gz",
];
/// Characters FAT (and some Joliet) cannot hold; rarer, so most trees are valid.
const ODD: &[&str] = &[":", "*", "?", "\\", "\"", "|", "<", "\t", "\n"];

fn piece(rng: &mut Rng) -> &'static str {
    if rng.below(60) == 0 {
        ODD[rng.below(ODD.len() as u64) as usize]
    } else {
        PIECES[rng.below(PIECES.len() as u64) as usize]
    }
}

fn name(rng: &mut Rng) -> String {
    let len = if rng.below(12) == 0 { 60 + rng.below(200) } else { 1 + rng.below(12) };
    let mut s = String::new();
    while (s.chars().count() as u64) < len {
        s.push_str(piece(rng));
    }
    if s.chars().all(|c| c == '.') {
        s.push('x');
    }
    s
}

fn label(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => (0..rng.below(14)).map(|_| piece(rng)).collect(),
        1 => String::new(),
        2 => "My Label".into(),
        3 => "cidata".into(),
        _ => "packer".into(),
    }
}

fn size(rng: &mut Rng) -> usize {
    match rng.below(8) {
        0 => 0,
        1 => 2048 * (1 + rng.below(3) as usize) + rng.below(3) as usize - 1,
        2 => 512 + rng.below(3) as usize - 1,
        3 => 20_000 + rng.below(60_000) as usize,
        _ => rng.below(700) as usize,
    }
}

/// A random tree as a spec's files (no two entries with one path; directories listed too).
fn tree(rng: &mut Rng, depth: u32, path: &str, files: &mut Vec<(String, Source)>) {
    let mut used = HashSet::new();
    for _ in 0..rng.below(if depth == 0 { 9 } else { 5 }) {
        let n = name(rng);
        if !used.insert(n.clone()) {
            continue;
        }
        let child = if path.is_empty() { n } else { format!("{path}/{n}") };
        if depth < 11 && rng.below(3) == 0 {
            files.push((child.clone(), Source::Directory));
            tree(rng, depth + 1, &child, files);
        } else {
            let len = size(rng);
            files.push((child, Source::Bytes(rng.bytes(len))));
        }
    }
}

type Tree = BTreeMap<String, Option<Vec<u8>>>;

/// Equal trees, or a panic that names the paths that differ (not their bytes).
fn assert_same(got: &Tree, want: &Tree, what: &str) {
    if got == want {
        return;
    }
    let differ: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    panic!("{what} reads back differently at {differ:?}");
}

/// Names Joliet keeps as they are: at most 64 UTF-16 units, none of its forbidden characters.
fn joliet_keeps(files: &[(String, Source)]) -> bool {
    components(files).all(|n| {
        n.encode_utf16().count() <= 64
            && !n.chars().any(|c| (c as u32) < 0x20 || "*/:;?\\".contains(c))
            && !n.ends_with('.')
    })
}

fn components(files: &[(String, Source)]) -> impl Iterator<Item = &str> {
    files.iter().map(|(d, _)| d.rsplit('/').next().unwrap_or_default())
}

/// Whether two entries of one directory are one name to FAT.
fn has_case_duplicates(files: &[(String, Source)]) -> bool {
    let mut seen = HashSet::new();
    files.iter().any(|(d, _)| {
        let (parent, name) = d.rsplit_once('/').unwrap_or(("", d));
        !seen.insert((parent.to_string(), name.to_uppercase()))
    })
}

fn fat_cannot_name(name: &str) -> bool {
    name.chars().any(|c| (c as u32) < 0x20 || "\"*/:<>?\\|".contains(c))
        || name.ends_with('.')
        || name.ends_with(' ')
        || name.encode_utf16().count() > 255
}

#[test]
fn random_trees_write_or_fail_for_a_reason() {
    let xorriso = tool("xorriso", "xorriso");
    let mcopy = tool("mcopy", "mtools");
    let sevenzip = tool("7z", "p7zip-full");
    let fsck = tool("fsck.fat", "dosfstools");
    let tmp = tempfile::tempdir().unwrap();
    // KILN_MEDIA_CASES and KILN_MEDIA_SEED run more, or other, cases.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("KILN_MEDIA_CASES").unwrap_or(300);
    let mut rng = Rng(env("KILN_MEDIA_SEED").unwrap_or(0x5eed_1234_abcd_0001));
    let (mut iso_ok, mut fat_ok, mut fat_refused, mut read_back) = (0, 0, 0, 0);
    for case in 0..cases {
        let mut files = Vec::new();
        tree(&mut rng, 0, "", &mut files);
        let label = label(&mut rng);
        let ts = Some(Timestamp(rng.below(5_000_000_000)));
        let check_readers = case % 10 == 0;

        let cd = CdSpec { label: label.clone(), files: files.clone(), timestamp: ts };
        let mut iso = Vec::new();
        match cd.write(&mut iso) {
            Ok(n) => {
                assert_eq!(n as usize, iso.len());
                iso_ok += 1;
                if check_readers {
                    let path = tmp.path().join(format!("{case}.iso"));
                    std::fs::write(&path, &iso).unwrap();
                    if let Some(xorriso) = &xorriso {
                        let got = xorriso_tree(xorriso, &path, &tmp.path().join(format!("{case}-iso")));
                        assert_same(
                            &got,
                            &support::expected_tree(&files),
                            &format!("case {case}: the CD (Rock Ridge, xorriso)"),
                        );
                        read_back += 1;
                    }
                    if let (Some(sevenzip), true) = (&sevenzip, joliet_keeps(&files)) {
                        let got = sevenzip_tree(sevenzip, &path, &tmp.path().join(format!("{case}-iso-7z")));
                        assert_same(
                            &got,
                            &support::expected_tree(&files),
                            &format!("case {case}: the CD (Joliet, 7z)"),
                        );
                        read_back += 1;
                    }
                }
            }
            Err(MediaError::BadLabel { .. }) => {
                assert!(label.len() > 32 || label.chars().any(|c| !(' '..='~').contains(&c)), "case {case}: {label:?}")
            }
            Err(MediaError::BadPath { path, .. }) => {
                assert!(path.split('/').any(|p| p.len() > 255), "case {case}: {path:?} refused")
            }
            Err(e) => panic!("case {case}: unexpected CD error: {e}"),
        }

        let floppy = FloppySpec { label: label.clone(), files: files.clone(), timestamp: ts, ..FloppySpec::default() };
        let mut img = Vec::new();
        match floppy.write(&mut img) {
            Ok(n) => {
                assert_eq!(n, 1_474_560);
                assert_eq!(img.len(), 1_474_560);
                fat_ok += 1;
                if check_readers {
                    let path = tmp.path().join(format!("{case}.img"));
                    std::fs::write(&path, &img).unwrap();
                    // mtools turns each half of a surrogate pair into `_`.
                    let bmp = components(&files).all(|n| n.chars().all(|c| (c as u32) < 0x10000));
                    if let (Some(mcopy), true) = (&mcopy, bmp) {
                        let got = mcopy_tree(mcopy, &path, &tmp.path().join(format!("{case}-fat")));
                        assert_same(
                            &got,
                            &support::expected_tree(&files),
                            &format!("case {case}: the floppy (mtools)"),
                        );
                        read_back += 1;
                    }
                    if let Some(fsck) = &fsck {
                        support::run(std::process::Command::new(fsck).arg("-n").arg(&path));
                    }
                    if let Some(sevenzip) = &sevenzip {
                        let got = sevenzip_tree(sevenzip, &path, &tmp.path().join(format!("{case}-fat-7z")));
                        assert_same(&got, &support::expected_tree(&files), &format!("case {case}: the floppy (7z)"));
                        read_back += 1;
                    }
                }
            }
            Err(e) => {
                fat_refused += 1;
                match &e {
                    MediaError::BadLabel { .. } => {}
                    MediaError::BadName { .. } => assert!(components(&files).any(fat_cannot_name), "case {case}: {e}"),
                    MediaError::BadPath { .. } => {
                        assert!(components(&files).any(|n| n.len() > 255), "case {case}: {e}")
                    }
                    MediaError::Conflict { .. } => assert!(has_case_duplicates(&files), "case {case}: {e}"),
                    MediaError::DoesNotFit { needed, capacity, .. } => assert!(needed > capacity, "case {case}: {e}"),
                    MediaError::TooManyEntries { needed, limit, .. } => assert!(needed > limit, "case {case}: {e}"),
                    _ => panic!("case {case}: unexpected floppy error: {e}"),
                }
            }
        }
    }
    eprintln!(
        "CDs written: {iso_ok}/{cases}; floppies written: {fat_ok}, refused: {fat_refused}; {read_back} read back"
    );
    assert!(iso_ok * 3 > cases * 2 && fat_ok * 6 > cases && fat_refused * 10 > cases, "the generator lost its spread");
    if xorriso.is_some() && mcopy.is_some() && sevenzip.is_some() {
        assert!(read_back * 8 > cases, "only {read_back} images were read back");
    }
}

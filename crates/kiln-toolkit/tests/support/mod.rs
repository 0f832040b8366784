//! What the media tests share: finding the real readers, running them, comparing trees.
#![allow(dead_code)]

use std::collections::BTreeMap;

use kiln_toolkit::media::Source;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn require_tools() -> bool {
    std::env::var("KILN_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// The tool's path, or None after saying the test is skipped (a failure under
/// KILN_REQUIRE_TOOLS=1). `package` is the Debian package that has it.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(!require_tools(), "KILN_REQUIRE_TOOLS=1 but {name} (Debian package {package}) is not installed");
        eprintln!("skipped: {name} is not installed (apt-get install {package})");
    }
    found
}

/// Runs a command; its stdout on success, a panic with everything it said otherwise.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file (path -> bytes) and directory (path -> None) under `root`, paths relative.
pub fn read_tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(rel, None);
            walk(root, &path, out);
        } else {
            out.insert(rel, Some(std::fs::read(&path).unwrap()));
        }
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), so failures replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The tree an image of `files` must hold: every path with its parents, files with their
/// bytes, directories as None. Later entries replace earlier ones, as in a spec.
pub fn expected_tree(files: &[(String, Source)]) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut expected = BTreeMap::new();
    for (dest, source) in files {
        let parts: Vec<&str> = dest.split('/').collect();
        for i in 1..parts.len() {
            expected.insert(parts[..i].join("/"), None);
        }
        let content = match source {
            Source::Bytes(b) => Some(b.clone()),
            Source::File(p) => Some(std::fs::read(p).unwrap()),
            Source::Directory => None,
        };
        expected.insert(dest.clone(), content);
    }
    expected
}

/// The tree the kernel shows when it loop-mounts `image` read-only, or None when skipped:
/// this kernel has no driver for `fstype` (a kernel's build, not something a package
/// installs, so skipped even under KILN_REQUIRE_TOOLS=1) or mounting is not allowed here (a
/// failure under KILN_REQUIRE_TOOLS=1).
pub fn mounted_tree(image: &Path, fstype: &str, options: &str) -> Option<BTreeMap<String, Option<Vec<u8>>>> {
    tool("mount", "mount")?;
    let dir = image.with_extension(format!("mnt-{}", options.replace(',', "-")));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("mount")
        .args(["-t", fstype, "-o", &format!("loop,ro,{options}")])
        .arg(image)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mount: {e}"));
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).into_owned();
        let known = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !known.lines().any(|l| l.split_whitespace().last() == Some(fstype)) {
            eprintln!("skipped: this kernel has no {fstype} driver ({})", why.trim());
            return None;
        }
        assert!(!require_tools(), "KILN_REQUIRE_TOOLS=1 but mount -o loop fails here: {why}");
        eprintln!("skipped: cannot loop-mount here: {}", why.trim());
        return None;
    }
    let tree = read_tree(&dir);
    let _ = Command::new("umount").arg(&dir).status();
    Some(tree)
}

/// Every file and directory of a FAT image, copied out with mcopy (which reads long names).
pub fn mcopy_tree(mcopy: &Path, img: &Path, out: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    std::fs::create_dir_all(out).unwrap();
    // `mdir -b` of an empty root says `File "::" not found` and fails.
    let listing =
        Command::new(mcopy.with_file_name("mdir")).args(["-b", "-/", "-i"]).arg(img).arg("::").output().unwrap();
    if listing.stdout.iter().all(u8::is_ascii_whitespace) {
        assert!(String::from_utf8_lossy(&listing.stderr).contains("not found"), "mdir: {listing:?}");
        return BTreeMap::new();
    }
    run(Command::new(mcopy).args(["-s", "-n", "-m", "-i"]).arg(img).arg("::*").arg(out));
    read_tree(out)
}

/// Every file and directory of an ISO image, extracted by xorriso through Rock Ridge.
pub fn xorriso_tree(xorriso: &Path, iso: &Path, out: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    run(Command::new(xorriso)
        .args(["-abort_on", "WARNING", "-osirrox", "on", "-indev"])
        .arg(iso)
        .args(["-extract", "/"])
        .arg(out));
    read_tree(out)
}

/// Every file and directory of an image as 7-Zip extracts it (Joliet names for an ISO, long
/// names for FAT: the view Windows has).
pub fn sevenzip_tree(sevenzip: &Path, image: &Path, out: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    std::fs::create_dir_all(out).unwrap();
    run(Command::new(sevenzip).args(["x", "-y", "-bd"]).arg(format!("-o{}", out.display())).arg(image));
    read_tree(out)
}

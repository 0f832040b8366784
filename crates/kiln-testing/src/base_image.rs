//! The base image for tests that need a Debian machine (containers, the amazon stand-in): a
//! minimal Debian bookworm root filesystem made once with debootstrap and kept as a tarball in
//! kiln's cache ([`crate::cache_dir`]), for the tests to import into their engine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache_dir;

/// Finds `tool` on PATH (or in the sbin folders root has).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

const TARBALL: &str = "debian-bookworm-minbase.tar";

/// The cached tarball, built on first use. Err says why it cannot be had.
pub fn tarball() -> Result<PathBuf, String> {
    let dir = cache_dir().join("images");
    let path = dir.join(TARBALL);
    if path.is_file() {
        return Ok(path);
    }
    let debootstrap = which("debootstrap").ok_or("debootstrap is not installed (apt-get install debootstrap)")?;
    if which("tar").is_none() {
        return Err("tar is not installed".into());
    }
    let uid = Command::new("id").arg("-u").output().map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(format!(
            "building the base image needs root (debootstrap); or put a rootfs tarball at {}",
            path.display()
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let work = dir.join(format!(".build-{}", std::process::id()));
    let result = build(&debootstrap, &work, &path);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| path)
}

fn build(debootstrap: &Path, work: &Path, dest: &Path) -> Result<(), String> {
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let mirror = std::env::var("KILN_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    eprintln!("building the base image with debootstrap (once; cached in {})", dest.display());
    let out = Command::new(debootstrap)
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs)
        .arg(&mirror)
        .output()
        .map_err(|e| format!("running debootstrap: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "debootstrap failed: {}",
            String::from_utf8_lossy(&out.stdout).lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    // Smaller and host-independent: no package caches or lists, docs, man pages or
    // translations; the engine mounts its own hostname and resolv.conf.
    for sub in [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
        "usr/share/info",
    ] {
        let d = rootfs.join(sub);
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    let _ = std::fs::remove_dir_all(&p);
                } else if p.file_name().is_some_and(|n| n != "lock" && n != "partial") {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
    let _ = std::fs::write(rootfs.join("etc/hostname"), "localhost\n");
    let _ = std::fs::write(rootfs.join("etc/resolv.conf"), "");
    let tmp = dest.with_extension("tar.partial");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--numeric-owner", "--exclude=./dev/*", "-cf"])
        .arg(&tmp)
        .arg(".")
        .status()
        .map_err(|e| format!("running tar: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err("tar failed".into());
    }
    std::fs::rename(&tmp, dest).map_err(|e| e.to_string())
}

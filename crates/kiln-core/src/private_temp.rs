//! Every temporary file kiln makes for itself (rendered scripts, which can hold secrets; text
//! to diff) lives in one private folder of this process: created fresh with mode 0700 under the
//! system's temporary folder, its files created exclusively, without following symlinks, readable
//! only by their owner. Another local user can neither read a script, nor replace it before it
//! runs, nor make kiln write through a planted symlink. The folder is removed when the process
//! exits ([`remove_dir`], called by the binary, and an `atexit` handler for every other
//! process, tests included) and each file when its handle drops.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

static DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// This process's private temporary folder, created on first use.
pub fn dir() -> Result<PathBuf> {
    let mut guard = DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = guard.as_ref() {
        return Ok(d.clone());
    }
    let base = std::env::temp_dir();
    for attempt in 0u32..100 {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let d = base.join(format!("kiln-{}-{nanos:x}{attempt}", std::process::id()));
        // mkdir fails when the name exists (also as a symlink): the folder is surely ours.
        match std::fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => {
                *guard = Some(d.clone());
                // Also at exit for processes that never call remove_dir (tests, std::process::exit).
                // SAFETY: registers a plain function with no arguments; it runs once, at exit.
                unsafe { libc::atexit(remove_dir_at_exit) };
                return Ok(d);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::new(format!("creating a private temporary folder in {}: {e}", base.display())))
            }
        }
    }
    Err(Error::new(format!("could not create a private temporary folder in {}", base.display())))
}

/// Removes the private folder and what is left in it (at process exit).
pub fn remove_dir() {
    if let Some(d) = DIR.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = std::fs::remove_dir_all(d);
    }
}

extern "C" fn remove_dir_at_exit() {
    // try_lock: a thread that holds the lock while the process exits keeps the folder rather
    // than hanging the exit.
    if let Ok(mut guard) = DIR.try_lock() {
        if let Some(d) = guard.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A file in the private folder, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    /// Creates `name` in the private folder holding `data`, with `mode` (0o600 for data, 0o700 for
    /// a script to run). The name must be unique within the process (callers add a counter).
    pub fn create(name: &str, data: &[u8], mode: u32) -> Result<TempFile> {
        let path = dir()?.join(name);
        let write = || -> std::io::Result<()> {
            let mut f: File = crate::output::create_exclusive(&path)?;
            f.write_all(data)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
        };
        write().map_err(|e| Error::new(format!("writing temporary file {}: {e}", path.display())))?;
        Ok(TempFile(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A private folder (mode 0700, created exclusively) under `base`, for large temporary files that
/// belong beside what they are for rather than in the system's temporary folder (a snapshot's
/// export beside the cache); removed with its contents when dropped.
pub struct Folder(PathBuf);

impl Folder {
    pub fn new_in(base: &Path, prefix: &str) -> Result<Folder> {
        std::fs::create_dir_all(base).map_err(|e| Error::new(format!("creating {}: {e}", base.display())))?;
        for attempt in 0u32..100 {
            let nanos =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            let d = base.join(format!("{prefix}{}-{nanos:x}{attempt}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&d) {
                Ok(()) => return Ok(Folder(d)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::new(format!("creating a temporary folder in {}: {e}", base.display()))),
            }
        }
        Err(Error::new(format!("could not create a temporary folder in {}", base.display())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn files_are_private_exclusive_and_removed() {
        let d = dir().unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let f = TempFile::create("script-1", b"secret", 0o700).unwrap();
        assert_eq!(std::fs::metadata(f.path()).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::read(f.path()).unwrap(), b"secret");
        // The same name again is refused, never overwritten.
        assert!(TempFile::create("script-1", b"other", 0o600).is_err());
        assert_eq!(std::fs::read(f.path()).unwrap(), b"secret");
        let p = f.path().to_path_buf();
        drop(f);
        assert!(!p.exists());
    }

    /// Run by `a_process_that_exits_leaves_no_folder` in a child process of this test binary.
    #[test]
    fn child_makes_a_folder_and_exits() {
        if std::env::var_os("KILN_PRIVATE_TEMP_CHILD").is_none() {
            return;
        }
        let f = TempFile::create("kept", b"x", 0o600).unwrap();
        println!("folder={}", dir().unwrap().display());
        // Left behind on purpose: the exit handler removes the folder with what is in it.
        std::mem::forget(f);
    }

    #[test]
    fn a_process_that_exits_leaves_no_folder() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "private_temp::tests::child_makes_a_folder_and_exits", "--nocapture"])
            .env("KILN_PRIVATE_TEMP_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let folder = stdout.lines().find_map(|l| l.strip_prefix("folder=")).expect("the child names its folder");
        assert!(folder.contains("kiln-"), "{folder}");
        assert!(!Path::new(folder).exists(), "{folder} outlived its process");
    }
}

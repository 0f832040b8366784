//! Output folders and files of builders and post-processors, with Packer's `-force` rule: an
//! existing output is never overwritten unless `-force` asks for it (then it is deleted first).
//!
//! Every component that writes an output file writes it through [`OutputFile`] (or, when a
//! library writes the file itself, [`temp_path_beside`] and [`commit`]): the data goes to a
//! uniquely named temporary file in the target's folder, created exclusively and without
//! following symlinks, which is renamed into place only when complete. So two runs never share
//! a temporary file, an interrupted write leaves no partial file, "already exists" is decided at
//! creation (not checked before and raced after), a symlink at the target is replaced rather
//! than written through, and an output that is one of its own inputs is refused.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

/// Makes `dir` ready to receive a build's output: an error if it exists (and is not empty)
/// without `force`; deleted and recreated with `force`.
pub fn prepare_output_dir(dir: &Path, force: bool) -> Result<()> {
    let exists_non_empty = dir.read_dir().map(|mut r| r.next().is_some()).unwrap_or(false);
    if exists_non_empty || dir.is_file() {
        if !force {
            return Err(Error::new(format!(
                "output directory {} already exists; delete it, choose another output_directory, or run with -force",
                dir.display()
            )));
        }
        let r = if dir.is_file() { std::fs::remove_file(dir) } else { std::fs::remove_dir_all(dir) };
        r.map_err(|e| Error::new(format!("deleting {} for -force: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))
}

/// Checks that an output file may be written: an error if it exists without `force`.
pub fn check_output_file(file: &Path, force: bool) -> Result<()> {
    if file.exists() && !force {
        return Err(Error::new(format!("output file {} already exists; delete it or run with -force", file.display())));
    }
    Ok(())
}

/// Temporary output files not yet committed, removed by [`remove_partials`] when the process
/// exits while a write is still running on another thread (an interrupted compress).
static PARTIALS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Removes every temporary output file still being written. The binary calls it just before it
/// exits, so nothing partial is left behind when a build is interrupted mid-write.
pub fn remove_partials() {
    let paths = std::mem::take(&mut *PARTIALS.lock().unwrap_or_else(|e| e.into_inner()));
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

fn track(path: &Path, live: bool) {
    let mut set = PARTIALS.lock().unwrap_or_else(|e| e.into_inner());
    if live {
        set.insert(path.to_path_buf());
    } else {
        set.remove(path);
    }
}

/// A fresh name for a temporary file beside `target`: `.<name>.<tag>.<pid>-<n>.kiln-partial`.
/// Unique within the process; [`create_exclusive`] makes it unique across processes.
pub fn temp_path_beside(target: &Path, tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.{tag}.{}-{n}-{nanos:x}.kiln-partial", std::process::id()))
}

/// Creates `path` for writing: exclusively (an existing file or symlink is an error, never
/// opened), without following a symlink, readable and writable by the owner only.
pub fn create_exclusive(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o600)
        .open(path)
}

/// An error when `target` is (or, through a symlink, points at) one of `inputs`: an output
/// must never destroy what it is made from.
pub fn check_not_input<P: AsRef<Path>>(target: &Path, inputs: &[P]) -> Result<()> {
    let Ok(t) = std::fs::metadata(target) else { return Ok(()) };
    for input in inputs {
        let input = input.as_ref();
        if std::fs::metadata(input).is_ok_and(|m| m.dev() == t.dev() && m.ino() == t.ino()) {
            return Err(Error::new(format!(
                "the output {} is the input {}: writing it would destroy its own input; choose another output path",
                target.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Moves the finished temporary file `tmp` to `target`. Without `force` the target must not
/// exist at that moment (a hard link fails atomically when it does); with `force` it is replaced
/// (a symlink there is replaced itself, not followed). `tmp` is gone afterwards either way.
pub fn commit(tmp: &Path, target: &Path, force: bool) -> Result<()> {
    let r = if force {
        std::fs::rename(tmp, target)
    } else {
        std::fs::hard_link(tmp, target).map(|()| {
            let _ = std::fs::remove_file(tmp);
        })
    };
    r.map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::new(format!(
                "output file {} already exists (it was created while this build wrote it); delete it or run with -force",
                target.display()
            ))
        } else {
            Error::new(format!("writing {}: {e}", target.display()))
        }
    })
}

/// An output file being written (see the module's documentation). Write through
/// [`OutputFile::file`], then [`OutputFile::commit`]; dropped uncommitted, it removes its
/// temporary file.
pub struct OutputFile {
    tmp: PathBuf,
    target: PathBuf,
    force: bool,
    file: File,
    /// Moved to the target (or failed to): nothing to remove when dropped.
    done: bool,
}

impl OutputFile {
    /// Starts writing `target`: refused when it exists and `force` is off (checked again at
    /// commit), or when it is one of `inputs`. Creates the target's folder when missing.
    pub fn create<P: AsRef<Path>>(target: &Path, force: bool, inputs: &[P]) -> Result<OutputFile> {
        if !force && std::fs::symlink_metadata(target).is_ok() {
            return Err(Error::new(format!(
                "output file {} already exists; delete it or run with -force",
                target.display()
            )));
        }
        check_not_input(target, inputs)?;
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
        }
        loop {
            let tmp = temp_path_beside(target, "tmp");
            match create_exclusive(&tmp) {
                Ok(file) => {
                    track(&tmp, true);
                    return Ok(OutputFile { tmp, target: target.to_path_buf(), force, file, done: false });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::new(format!("creating a temporary file for {}: {e}", target.display()))),
            }
        }
    }

    /// The temporary file to write to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary file's path (for libraries that reopen it by name).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the data to disk, gives it `mode` and moves it to the target.
    pub fn commit(mut self, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let f = &mut self.file;
        f.flush()
            .and_then(|()| f.sync_all())
            .and_then(|()| f.set_permissions(std::fs::Permissions::from_mode(mode)))
            .map_err(|e| Error::new(format!("writing {}: {e}", self.target.display())))?;
        self.done = true;
        commit(&self.tmp, &self.target, self.force)
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
        track(&self.tmp, false);
    }
}

/// An exclusive lock on the folder holding `path`, held until dropped: kiln processes that
/// rewrite one shared file (the manifest) take turns (flock(2) on the folder, so no lock file is
/// left behind and the lock survives the file being replaced).
pub struct FolderLock(#[allow(dead_code)] File);

impl FolderLock {
    pub fn acquire(path: &Path) -> Result<FolderLock> {
        use std::os::fd::AsRawFd;
        let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("."),
        };
        let f = File::open(&dir).map_err(|e| Error::new(format!("opening {} to lock it: {e}", dir.display())))?;
        loop {
            // SAFETY: flock on a file descriptor this function owns; no memory is shared.
            let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(FolderLock(f));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::new(format!("locking {}: {e}", dir.display())));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn force_rule() {
        let d = std::env::temp_dir().join(format!("kiln-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        prepare_output_dir(&d, false).unwrap();
        // Empty folders are fine.
        prepare_output_dir(&d, false).unwrap();
        std::fs::write(d.join("disk.img"), "x").unwrap();
        let e = prepare_output_dir(&d, false).unwrap_err();
        assert!(e.message.contains("run with -force"), "{e}");
        assert!(check_output_file(&d.join("disk.img"), false).is_err());
        check_output_file(&d.join("disk.img"), true).unwrap();
        prepare_output_dir(&d, true).unwrap();
        assert!(!d.join("disk.img").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// `remove_partials` acts on the whole process: the tests that make output files take turns.
    pub(crate) static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kiln-output-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn output_files_are_created_at_commit_and_never_partial() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = dir("commit");
        let target = d.join("out.bin");
        let mut a = OutputFile::create(&target, false, &[] as &[&Path]).unwrap();
        let mut b = OutputFile::create(&target, false, &[] as &[&Path]).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
        a.file().write_all(b"first").unwrap();
        b.file().write_all(b"second").unwrap();
        a.commit(0o644).unwrap();
        // The second writer finds the target created meanwhile: an error, not a silent overwrite.
        let e = b.commit(0o644).unwrap_err();
        assert!(e.message.contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "first");
        // Dropped without commit: nothing remains.
        let mut c = OutputFile::create(&d.join("other"), false, &[] as &[&Path]).unwrap();
        c.file().write_all(b"x").unwrap();
        drop(c);
        assert_eq!(leftovers(&d), ["out.bin"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn symlinks_are_replaced_and_inputs_are_protected() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = dir("symlink");
        let victim = d.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        // A symlink to an input is the input.
        let e = OutputFile::create(&link, true, &[&victim]).err().unwrap();
        assert!(e.message.contains("destroy its own input"), "{e}");
        let e = OutputFile::create(&victim, true, &[&victim]).err().unwrap();
        assert!(e.message.contains("destroy its own input"), "{e}");
        let mut o = OutputFile::create(&link, true, &[] as &[&Path]).unwrap();
        o.file().write_all(b"new").unwrap();
        o.commit(0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        // An exclusive create never opens an existing symlink.
        assert!(create_exclusive(&victim).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn partials_are_removed_at_exit() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = dir("partials");
        let mut o = OutputFile::create(&d.join("big"), false, &[] as &[&Path]).unwrap();
        o.file().write_all(b"half").unwrap();
        remove_partials();
        assert!(leftovers(&d).is_empty());
        std::mem::forget(o);
        let _ = std::fs::remove_dir_all(&d);
    }
}

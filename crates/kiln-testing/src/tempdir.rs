//! The one temporary-folder helper of kiln's tests.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A fresh folder `kiln-test-<tag>-<pid>-<n>` in the system's temporary folder, removed when
/// dropped (also when the test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates the folder (empty: a stale one of the same name is removed first).
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("kiln-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        TempDir(p)
    }

    /// The path of `rel` in the folder, as a string (as templates and options take paths).
    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }

    /// Writes `data` to `rel` in the folder; its path.
    pub fn file(&self, rel: &str, data: &[u8]) -> String {
        let p = self.0.join(rel);
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        p.to_string_lossy().into_owned()
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static PROCESS_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A folder `kiln-<tag>-<pid>` in the system's temporary folder for the whole test process,
/// for helpers that hand out many paths without an owner to drop; removed when the process
/// exits. One tag per process: the first call's tag names it.
pub fn process_dir(tag: &str) -> PathBuf {
    let mut guard = PROCESS_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = guard.as_ref() {
        return d.clone();
    }
    let d = std::env::temp_dir().join(format!("kiln-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
    *guard = Some(d.clone());
    // SAFETY: registers a plain function with no arguments; it runs once, at exit.
    unsafe { libc::atexit(remove_process_dir) };
    d
}

extern "C" fn remove_process_dir() {
    if let Ok(mut guard) = PROCESS_DIR.try_lock() {
        if let Some(d) = guard.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

//! A cache shared by several machines (a CI fleet): entries and their snapshots also live in a
//! store every machine reaches (an S3 bucket; an OCI registry later). The local cache stays the
//! first place kiln looks; the shared store is asked for keys the local cache lacks, and every
//! entry written locally is also written there.
//!
//! A snapshot travels as files: the builder exports it ([`super::Snapshot::export`]: a `docker
//! save` archive, a disk layer) and imports them on the other machine
//! ([`super::Snapshot::import`]), which makes a local snapshot and a local entry for it. The
//! store is written files first, entry last, so a reader never finds an entry whose files are
//! not all there; an interrupted upload leaves no entry.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::Entry;
use crate::Result;

/// A store of cache entries and their snapshots' files, shared between machines.
#[async_trait]
pub trait SharedStore: Send + Sync + std::fmt::Debug {
    /// Where it is, for messages (`s3://bucket/prefix`).
    fn location(&self) -> String;
    /// The entry for `key`, if the store has one.
    async fn get_entry(&self, key: &str) -> Result<Option<Entry>>;
    /// Downloads the files of `key`'s snapshot into `dir`; their paths, in the order `put`
    /// was given them.
    async fn fetch(&self, entry: &Entry, dir: &Path) -> Result<Vec<PathBuf>>;
    /// Uploads `files` (the snapshot's export) and then `entry`, which names them.
    async fn put(&self, entry: &Entry, files: &[PathBuf]) -> Result<()>;
}

/// The file names an entry's snapshot travels as (kept in the shared entry, so the reader knows
/// what to fetch).
pub fn file_names(files: &[PathBuf]) -> Vec<String> {
    files.iter().filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())).collect()
}

/// A shared store in a folder every machine mounts (NFS, a CI runner's shared volume):
/// `file:///path`. Entries are `<root>/steps/<key>.json`, a snapshot's files
/// `<root>/steps/<key>/`; files are copied into a private folder and renamed into place before
/// the entry is written (itself through a temporary file and a rename).
#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    pub fn new(root: &Path) -> FolderStore {
        FolderStore { root: root.to_path_buf() }
    }

    fn steps(&self) -> PathBuf {
        self.root.join("steps")
    }

    fn checked(key: &str) -> Result<&str> {
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(key)
        } else {
            Err(crate::Error::new(format!("invalid step cache key {key:?}")))
        }
    }
}

/// A file name as stored: no folders, nothing hidden.
fn plain_name(name: &str) -> Result<&str> {
    if !name.is_empty() && !name.starts_with('.') && !name.contains('/') && !name.contains('\\') {
        Ok(name)
    } else {
        Err(crate::Error::new(format!("invalid file name {name:?} in a shared cache entry")))
    }
}

#[async_trait]
impl SharedStore for FolderStore {
    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn get_entry(&self, key: &str) -> Result<Option<Entry>> {
        let path = self.steps().join(format!("{}.json", Self::checked(key)?));
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| crate::Error::new(format!("reading {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::Error::new(format!("reading {}: {e}", path.display()))),
        }
    }

    async fn fetch(&self, entry: &Entry, dir: &Path) -> Result<Vec<PathBuf>> {
        let from = self.steps().join(Self::checked(&entry.key)?);
        let mut out = Vec::new();
        for name in &entry.files {
            let (src, dest) = (from.join(plain_name(name)?), dir.join(name));
            tokio::fs::copy(&src, &dest)
                .await
                .map_err(|e| crate::Error::new(format!("copying {} from the shared cache: {e}", src.display())))?;
            out.push(dest);
        }
        Ok(out)
    }

    async fn put(&self, entry: &Entry, files: &[PathBuf]) -> Result<()> {
        let key = Self::checked(&entry.key)?;
        let steps = self.steps();
        let staging = crate::private_temp::Folder::new_in(&steps, ".incoming-")?;
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let dest = staging.path().join(plain_name(&name)?);
            tokio::fs::copy(f, &dest)
                .await
                .map_err(|e| crate::Error::new(format!("copying {} to the shared cache: {e}", f.display())))?;
        }
        let target = steps.join(key);
        let entry_path = steps.join(format!("{key}.json"));
        let _lock = crate::output::FolderLock::acquire(&entry_path)?;
        // A new snapshot for the same key replaces the old files (the entry is written after).
        let _ = std::fs::remove_dir_all(&target);
        std::fs::rename(staging.path(), &target)
            .map_err(|e| crate::Error::new(format!("moving the snapshot into {}: {e}", target.display())))?;
        let mut out = crate::output::OutputFile::create(&entry_path, true, &[] as &[&Path])?;
        serde_json::to_writer_pretty(out.file(), entry)
            .map_err(|e| crate::Error::new(format!("writing {}: {e}", entry_path.display())))?;
        out.commit(0o644)
    }
}

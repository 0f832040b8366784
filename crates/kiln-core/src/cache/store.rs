//! The cache's entries on disk: one JSON file per key in `<cache>/steps/` (`<cache>` as the
//! cleanup journal finds it: `PACKER_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
//! `~/.cache/kiln`). An entry is written only after its snapshot finished, to a temporary file
//! renamed into place under a lock on the folder, so two builds sharing the cache never see a
//! half-written entry, and an interrupted snapshot never becomes one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::SharedStore;
use crate::output::{FolderLock, OutputFile};
use crate::{Error, Result};

/// How the cache is used (`-cache`, `-cache=refresh`, `KILN_CACHE=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Resume from the longest cached prefix; snapshot after each provisioner that ran.
    Use,
    /// Run every provisioner and replace the entries (`-cache=refresh`).
    Refresh,
}

impl CacheMode {
    /// The mode a `-cache` value or `KILN_CACHE` asks for: `None` for off.
    pub fn parse(value: &str) -> std::result::Result<Option<CacheMode>, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "off" | "no" => Ok(None),
            "1" | "true" | "on" | "yes" | "use" => Ok(Some(CacheMode::Use)),
            "refresh" => Ok(Some(CacheMode::Refresh)),
            other => Err(format!("unknown cache mode {other:?}: use -cache, -cache=refresh or -cache=false")),
        }
    }
}

/// One cached step: the snapshot taken after a provisioner, under the key of everything before
/// it and of its own inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    /// The builder type that made the snapshot (`docker`).
    pub kind: String,
    /// The snapshot's ID for that builder (an image ID).
    pub snapshot: String,
    /// Where the snapshot lives (the engine's address), for `kiln cache ls|prune`.
    #[serde(default)]
    pub endpoint: String,
    /// The build and provisioner that made it, for `kiln cache ls`.
    pub build: String,
    pub provisioner: String,
    /// How long the provisioner took when it ran (milliseconds): what a hit saves.
    pub took_ms: u64,
    /// The time saved by resuming here instead of from the source (this provisioner and every
    /// one before it), in milliseconds.
    pub saves_ms: u64,
    /// Unix seconds: made, last used (for pruning the least recently used).
    pub created: u64,
    pub used: u64,
    /// The bytes the snapshot takes where it lives (0: not known), for `kiln cache prune
    /// -max-size`.
    #[serde(default)]
    pub size: u64,
    /// In a shared store: the names of the files the snapshot travels as.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

#[derive(Debug, Default)]
struct Stats {
    cached: usize,
    ran: usize,
    saved: Duration,
}

/// The step cache of one run.
#[derive(Debug)]
pub struct StepCache {
    dir: PathBuf,
    mode: CacheMode,
    stats: Mutex<Stats>,
    /// Where other machines share entries too (`-cache-shared`).
    shared: Option<Arc<dyn SharedStore>>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl StepCache {
    /// The cache in `dir` (its `steps/` folder is made when the first entry is written).
    pub fn new(dir: &Path, mode: CacheMode) -> StepCache {
        StepCache { dir: dir.to_path_buf(), mode, stats: Mutex::default(), shared: None }
    }

    /// The same cache, also sharing its entries through `store`.
    pub fn with_shared(mut self, store: Arc<dyn SharedStore>) -> StepCache {
        self.shared = Some(store);
        self
    }

    /// The shared store, if there is one.
    pub fn shared(&self) -> Option<&Arc<dyn SharedStore>> {
        self.shared.as_ref()
    }

    /// The cache in kiln's cache folder ([`crate::journal::cache_dir`]).
    pub fn in_cache_dir(mode: CacheMode) -> StepCache {
        StepCache::new(&steps_dir(&crate::journal::cache_dir()), mode)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        // Keys are hex digests; anything else never names a file.
        (!key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit())).then(|| self.dir.join(format!("{key}.json")))
    }

    /// The entry for `key` (never in refresh mode).
    pub fn get(&self, key: &str) -> Option<Entry> {
        if self.mode == CacheMode::Refresh {
            return None;
        }
        self.existing(key)
    }

    /// The entry for `key`, in any mode (the one a new snapshot replaces).
    pub fn existing(&self, key: &str) -> Option<Entry> {
        read_entry(&self.path(key)?).filter(|e| e.key == key)
    }

    /// Writes `entry`, replacing one with the same key.
    pub fn put(&self, entry: &Entry) -> Result<()> {
        let path = self.path(&entry.key).ok_or_else(|| Error::new("invalid step cache key"))?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::new(format!("creating the step cache {}: {e}", self.dir.display())))?;
        let _lock = FolderLock::acquire(&path)?;
        let mut out = OutputFile::create(&path, true, &[] as &[&Path])?;
        serde_json::to_writer_pretty(out.file(), entry)
            .map_err(|e| Error::new(format!("writing {}: {e}", path.display())))?;
        out.commit(0o644)
    }

    /// Marks `entry` as used now (for pruning by age).
    pub fn touch(&self, entry: &Entry) {
        let _ = self.put(&Entry { used: now(), ..entry.clone() });
    }

    /// A new entry made now.
    pub fn entry(&self, key: &str, kind: &str, snapshot: &str, took: Duration, saves: Duration) -> Entry {
        let t = now();
        Entry {
            key: key.into(),
            kind: kind.into(),
            snapshot: snapshot.into(),
            endpoint: String::new(),
            build: String::new(),
            provisioner: String::new(),
            took_ms: took.as_millis().try_into().unwrap_or(u64::MAX),
            saves_ms: saves.as_millis().try_into().unwrap_or(u64::MAX),
            created: t,
            used: t,
            size: 0,
            files: Vec::new(),
        }
    }

    /// Counts provisioners that were cached (with the time they saved) and that ran.
    pub fn record(&self, cached: usize, ran: usize, saved: Duration) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.cached += cached;
        s.ran += ran;
        s.saved += saved;
    }

    /// The summary line: how many provisioners came from the cache and the time they saved.
    pub fn summary(&self) -> String {
        let s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "Step cache: {} of {} provisioner(s) cached, saved about {}",
            s.cached,
            s.cached + s.ran,
            crate::render::format_duration(s.saved)
        )
    }
}

/// The folder of step cache entries in kiln's cache folder `cache`.
pub fn steps_dir(cache: &Path) -> PathBuf {
    cache.join("steps")
}

fn read_entry(path: &Path) -> Option<Entry> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Every entry in `dir`, most recently used first (unreadable files are skipped).
pub fn list(dir: &Path) -> Vec<Entry> {
    let mut out: Vec<Entry> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| read_entry(&p))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.key.cmp(&b.key)));
    out
}

/// What `kiln cache prune` keeps: an entry goes when any rule says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneRules {
    /// Keep at most this many of the most recently used entries.
    pub keep: usize,
    /// Remove entries not used for this long.
    pub older_than: Option<Duration>,
    /// Keep the most recently used entries whose snapshots together take at most this many
    /// bytes (least recently used first out).
    pub max_size: Option<u64>,
}

/// The entries `kiln cache prune` removes from `entries` (most recently used first, as [`list`]
/// gives them) under `rules`; children before their parents (newest first), so a snapshot is
/// removed before the one it was made from.
pub fn to_prune(entries: &[Entry], rules: &PruneRules, now: u64) -> Vec<Entry> {
    let mut total = 0u64;
    let mut out: Vec<Entry> = entries
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            total = total.saturating_add(e.size);
            *i >= rules.keep
                || rules.older_than.is_some_and(|d| now.saturating_sub(e.used) >= d.as_secs())
                || rules.max_size.is_some_and(|max| total > max)
        })
        .map(|(_, e)| e.clone())
        .collect();
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.key.cmp(&b.key)));
    out
}

/// Deletes the entry for `key` (its snapshot is the caller's to remove).
pub fn remove(dir: &Path, key: &str) -> Result<()> {
    let path = dir.join(format!("{key}.json"));
    let _lock = FolderLock::acquire(&path)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::new(format!("deleting {}: {e}", path.display()))),
    }
}

//! The cleanup journal: resources that can outlive a kiln process (cloud instances, key pairs,
//! security groups, podman containers) are written down before they are created and crossed
//! out after they were deleted, so a later run can remove what a killed one (`kill -9`, a
//! power cut) left behind.
//!
//! One file per build and process under `<cache>/journal/` (`<cache>` is `PACKER_CACHE_DIR`
//! when set, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`: a per-user place, unlike
//! Packer's `./packer_cache`, so a run from another folder finds it too), one JSON object a
//! line, fsynced at every change. `kiln build` warns about entries whose process is gone;
//! `kiln cleanup` deletes them through the cleaner the registry has for their kind
//! ([`crate::registry::Registry::cleaner`]).
//!
//! A step journals *before* the call that creates the resource, with an id known beforehand
//! (a name or client token) or, when the id only comes back from the call, records the
//! entry first with what it knows and [`Journal::update`]s it right after.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::component::BuildInfo;

/// One resource a build made or is about to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What it is, as the cleaner is registered (`docker-container`, `amazon-instance` …).
    pub kind: String,
    /// Its id, name or client token: whatever the cleaner finds it by.
    pub id: String,
    /// Where it lives: a region, a Docker host; empty for the default.
    #[serde(default)]
    pub endpoint: String,
    /// The build that made it.
    pub build: String,
    /// The kiln process that made it.
    pub pid: u32,
    /// When it was written down, seconds since the epoch.
    pub time: u64,
    /// What else its cleaner needs to reach and find it (an API endpoint, a profile's name,
    /// the ids of what goes with it). Never a secret: cleaners take credentials from the
    /// environment they run in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl Entry {
    /// How `kiln cleanup` names it.
    pub fn describe(&self) -> String {
        let at = if self.endpoint.is_empty() { String::new() } else { format!(" in {}", self.endpoint) };
        format!("{} {}{at} (build {:?}, kiln process {})", self.kind, self.id, self.build, self.pid)
    }
}

/// The cache folder kiln uses (see the module's doc).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PACKER_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("kiln");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("kiln")
}

/// Where journals are kept.
pub fn journal_dir() -> PathBuf {
    cache_dir().join("journal")
}

/// Serialises changes to journal files within this process.
static LOCK: Mutex<()> = Mutex::new(());

/// A build's journal.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    build: String,
}

impl Journal {
    /// The journal of the build `info` describes, in this process.
    pub fn for_build(info: &BuildInfo) -> Journal {
        Journal::in_dir(&journal_dir(), &info.name, &info.run_uuid)
    }

    /// The same in the folder `dir` (for tests).
    pub fn in_dir(dir: &Path, build: &str, run: &str) -> Journal {
        let safe: String = build.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let run: String = run.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        let path = dir.join(format!("{}-{safe}-{run}.jsonl", std::process::id()));
        Journal { path, build: build.to_string() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes down a resource about to be created; durable when this returns.
    pub fn record(&self, kind: &str, id: &str, endpoint: &str) -> std::io::Result<Entry> {
        self.record_with(kind, id, endpoint, BTreeMap::new())
    }

    /// [`Journal::record`] with the parameters its cleaner needs ([`Entry::params`]).
    pub fn record_with(
        &self,
        kind: &str,
        id: &str,
        endpoint: &str,
        params: BTreeMap<String, String>,
    ) -> std::io::Result<Entry> {
        let entry = Entry {
            kind: kind.into(),
            id: id.into(),
            endpoint: endpoint.into(),
            build: self.build.clone(),
            pid: std::process::id(),
            time: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            params,
        };
        let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        let mut line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.sync_all()?;
        Ok(entry)
    }

    /// Gives the entry of `kind` with id `old` the id `new` (the id only came back from the
    /// call that created the resource).
    pub fn update(&self, kind: &str, old: &str, new: &str) -> std::io::Result<()> {
        rewrite(&self.path, |mut e| {
            if e.kind == kind && e.id == old {
                e.id = new.to_string();
            }
            Some(e)
        })
    }

    /// Sets parameter `key` of the entry of `kind` with id `id` (what its cleaner learnt to
    /// need after it was recorded, like the volumes an instance keeps).
    pub fn set_param(&self, kind: &str, id: &str, key: &str, value: &str) -> std::io::Result<()> {
        rewrite(&self.path, |mut e| {
            if e.kind == kind && e.id == id {
                e.params.insert(key.to_string(), value.to_string());
            }
            Some(e)
        })
    }

    /// Crosses out a resource that was deleted (or never created).
    pub fn forget(&self, kind: &str, id: &str) -> std::io::Result<()> {
        rewrite(&self.path, |e| (e.kind != kind || e.id != id).then_some(e))
    }
}

/// Rewrites `path` with `f` applied to each entry (None drops it), atomically; removes the
/// file when nothing is left.
fn rewrite(path: &Path, f: impl Fn(Entry) -> Option<Entry>) -> std::io::Result<()> {
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => {
                if let Some(e) = f(e) {
                    out.push_str(&serde_json::to_string(&e).map_err(std::io::Error::other)?);
                    out.push('\n');
                }
            }
            // A line kiln cannot read stays, for a person to look at.
            Err(_) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if out.is_empty() {
        return std::fs::remove_file(path);
    }
    let tmp = path.with_extension("jsonl.tmp");
    let mut t = std::fs::File::create(&tmp)?;
    t.write_all(out.as_bytes())?;
    t.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Every entry in the journals of `dir`, with the file it is in; unreadable lines are skipped.
pub fn entries(dir: &Path) -> Vec<(PathBuf, Entry)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for line in text.lines() {
            if let Ok(e) = serde_json::from_str::<Entry>(line) {
                all.push((f.clone(), e));
            }
        }
    }
    all
}

/// Whether process `pid` is running (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid_t) = i32::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists.
    let exists =
        unsafe { libc::kill(pid_t, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// The entries of `dir` whose kiln process is gone: what a killed run left behind.
pub fn orphaned(dir: &Path) -> Vec<(PathBuf, Entry)> {
    entries(dir).into_iter().filter(|(_, e)| !process_alive(e.pid)).collect()
}

/// Removes `entry` from the journal file `file` (after its cleaner deleted the resource).
pub fn remove(file: &Path, entry: &Entry) -> std::io::Result<()> {
    rewrite(file, |e| (e != *entry).then_some(e))
}

/// What a build says before it starts when earlier runs left resources behind.
pub fn orphan_warning(orphans: &[(PathBuf, Entry)]) -> Option<String> {
    if orphans.is_empty() {
        return None;
    }
    let mut text =
        format!("{} resource(s) left behind by kiln processes that did not finish their cleanup:", orphans.len());
    for (_, e) in orphans {
        text.push_str(&format!("\n  - {}", e.describe()));
    }
    text.push_str("\nRun `kiln cleanup` to delete them (`kiln cleanup -dry-run` lists what it would do).");
    Some(text)
}

/// Deletes what killed kiln processes left in the journals of `dir` through `reg`'s cleaners
/// (only lists it with `dry_run`), saying each on `say`; the number of entries that could not
/// be deleted (no cleaner for their kind, or the cleaner failed).
///
/// Each journal is cleaned from its last entry to its first, as a build's own cleanups run:
/// what was made later may depend on what was made earlier (an instance in a security group),
/// never the other way round.
pub async fn clean_orphans(reg: &crate::registry::Registry, dir: &Path, dry_run: bool, say: &dyn Fn(&str)) -> usize {
    let mut orphans = orphaned(dir);
    // Files stay in their order; the entries of each are reversed.
    orphans.reverse();
    orphans.sort_by(|a, b| a.0.cmp(&b.0));
    if orphans.is_empty() {
        say("Nothing to clean up: the cleanup journal has no entries of finished kiln processes.");
        return 0;
    }
    let mut failed = 0;
    for (file, e) in orphans {
        let Some(cleaner) = reg.cleaner_for(&e.kind) else {
            say(&format!("Cannot delete {}: kiln has no cleaner for {:?}; delete it by hand", e.describe(), e.kind));
            failed += 1;
            continue;
        };
        if dry_run {
            say(&format!("Would delete {}", e.describe()));
            continue;
        }
        match cleaner(e.clone()).await {
            Ok(()) => match remove(&file, &e) {
                Ok(()) => say(&format!("Deleted {}", e.describe())),
                Err(err) => {
                    say(&format!("Deleted {}, but could not update {}: {err}", e.describe(), file.display()));
                    failed += 1;
                }
            },
            Err(err) => {
                say(&format!("Could not delete {}: {err}", e.describe()));
                failed += 1;
            }
        }
    }
    failed
}

/// [`clean_orphans`] on the journal folder, on a runtime of its own (for `kiln cleanup`).
pub fn clean_orphans_now(reg: &crate::registry::Registry, dry_run: bool, say: &(dyn Fn(&str) + Sync)) -> usize {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(clean_orphans(reg, &journal_dir(), dry_run, say)),
        Err(e) => {
            say(&format!("cannot start the runtime: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests;

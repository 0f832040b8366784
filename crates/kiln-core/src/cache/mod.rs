//! The step cache: a re-build resumes after the last provisioner whose inputs did not change.
//!
//! The seam (what components implement):
//! - [`crate::Provisioner::inputs`]: a provisioner adds to an [`Inputs`] digest what its effect
//!   depends on besides its configuration (the bytes of every file it uploads or runs, the
//!   environment it gives them), or says it cannot be cached (the default).
//! - [`Snapshot`]: a builder's running machine that can be saved after a provisioner and started
//!   again from that point. The build state offers it through
//!   [`crate::hook::HasCommunicator::snapshots`], so the provisioning step reaches it without
//!   knowing the builder.
//! - [`crate::ProvisionHook::provision_with`]: the provisioning hook with the machine's snapshot
//!   capability; the hook snapshots after each provisioner ([`StepCache`] decides what is kept).
//!
//! Keys chain: the builder's source key (its base image and the options that change the
//! machine), then each provisioner's digest (type, configuration without spans and with late
//! values as written, [`Inputs`]). A provisioner whose configuration uses a value that changes on
//! every run (`timestamp()`, `uuidv4()`, `{{timestamp}}`, `{{uuid}}`) is not cacheable; the
//! loader marks those options ([`kiln_config::build::Volatile`]).

mod provision;
mod shared;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_config::node::{Node, NodeKind};
use sha2::{Digest, Sha256};

use crate::component::{Communicator, RunContext};
use crate::{Error, Result};

pub use shared::{file_names, FolderStore, SharedStore};
pub use store::{list, remove, steps_dir, to_prune, CacheMode, Entry, PruneRules, StepCache};

/// The journal kind under which `Registry::cleaner` deletes a snapshot of builder `kind` for
/// `kiln cache prune` (the journal entry's `id` is the snapshot, `endpoint` where it lives).
pub fn snapshot_cleaner_kind(kind: &str) -> String {
    format!("step-cache-{kind}")
}

/// Whether a provisioner's step can be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cacheable {
    Yes,
    /// No, and why (shown once, when the cache is on).
    No(String),
}

/// A digest of a step's inputs, fed in a fixed, unambiguous order (every item is labelled and
/// length-prefixed, so `("ab", "c")` and `("a", "bc")` differ).
#[derive(Clone, Default)]
pub struct Inputs {
    hasher: Sha256,
}

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Adds `bytes` under `label`.
    pub fn add(&mut self, label: &str, bytes: &[u8]) {
        for part in [label.as_bytes(), bytes] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
    }

    /// Adds a configuration tree: kinds, keys and values, without spans; a late value as its
    /// text as written (`build.Host`, `{{ .Host }}`), since its value is not known yet.
    pub fn add_node(&mut self, label: &str, node: &Node) {
        self.add(label, b"node");
        self.node(node);
    }

    /// [`Self::add_node`] of an object without its members named in `skip` (a builder's
    /// options that do not change the machine).
    pub fn add_node_without(&mut self, label: &str, node: &Node, skip: &[&str]) {
        match &node.kind {
            NodeKind::Object(m) => {
                let kept = m.iter().filter(|(k, _)| !skip.contains(&k.name.as_str())).cloned().collect();
                self.add_node(label, &Node::object(kept, None));
            }
            _ => self.add_node(label, node),
        }
    }

    fn node(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Null => self.add("null", b""),
            NodeKind::Bool(b) => self.add("bool", &[u8::from(*b)]),
            NodeKind::Number(n) => self.add("number", &n.to_bits().to_le_bytes()),
            NodeKind::String(s) => self.add("string", s.as_bytes()),
            NodeKind::Array(items) | NodeKind::Blocks(items) => {
                self.add("list", &(items.len() as u64).to_le_bytes());
                items.iter().for_each(|n| self.node(n));
            }
            NodeKind::Object(members) => {
                self.add("object", &(members.len() as u64).to_le_bytes());
                for (k, v) in members {
                    self.add("key", k.name.as_bytes());
                    self.node(v);
                }
            }
            NodeKind::Late(l) => self.add("late", l.text.as_bytes()),
        }
    }

    /// Adds a local file or folder: a file's bytes; a folder's entries by relative name in
    /// sorted order, each with its kind, permission bits, a symlink's target and a file's bytes.
    pub fn add_path(&mut self, label: &str, path: &Path) -> Result<()> {
        self.add(label, path.as_os_str().as_encoded_bytes());
        self.entry(path, Path::new(""))
    }

    fn entry(&mut self, path: &Path, rel: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let err = |e: std::io::Error| Error::new(format!("reading {} for the step cache: {e}", path.display()));
        let meta = std::fs::symlink_metadata(path).map_err(err)?;
        self.add("entry", rel.as_os_str().as_encoded_bytes());
        self.add("mode", &meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).map_err(err)?;
            self.add("symlink", target.as_os_str().as_encoded_bytes());
        } else if meta.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)
                .map_err(err)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<_>>()
                .map_err(err)?;
            names.sort();
            self.add("dir", &(names.len() as u64).to_le_bytes());
            for n in names {
                self.entry(&path.join(&n), &rel.join(&n))?;
            }
        } else {
            self.file(path).map_err(err)?;
        }
        Ok(())
    }

    fn file(&mut self, path: &Path) -> std::io::Result<()> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        self.hasher.update(b"file");
        self.hasher.update(len.to_le_bytes());
        let mut buf = vec![0u8; 64 * 1024];
        let mut seen = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            self.hasher.update(&buf[..n]);
        }
        if seen != len {
            return Err(std::io::Error::other("the file changed while it was read"));
        }
        Ok(())
    }

    /// The digest as lowercase hex.
    pub fn finish(self) -> String {
        hex(&self.hasher.finalize())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key of a step: the previous key chained with the step's digest.
pub fn chain(previous: &str, digest: &str) -> String {
    let mut i = Inputs::new();
    i.add("previous", previous.as_bytes());
    i.add("step", digest.as_bytes());
    i.finish()
}

/// Where the step cache lets a builder start its machine ([`crate::ProvisionHook::resume_point`]);
/// the builder hands it back through [`Snapshot::started_from`], so provisioning goes on from
/// there without computing the keys again.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The key of the machine as it starts: the source's, or the entry's.
    pub key: String,
    /// How many provisioners the entry covers (0: the source).
    pub covered: usize,
    /// The entry whose snapshot the machine starts from (`None`: the source).
    pub entry: Option<Entry>,
}

/// A builder's running machine, as the step cache sees it (a container, a VM on a qcow2
/// overlay). Implemented by the builder's state; the provisioning step reaches it through
/// [`crate::hook::HasCommunicator::snapshots`].
#[async_trait]
pub trait Snapshot: Send {
    /// The builder type whose snapshots these are (entries of one type never serve another).
    fn kind(&self) -> &str;
    /// Where the snapshots live (an engine's address), for `kiln cache ls`.
    fn endpoint(&self) -> String {
        String::new()
    }
    /// What the machine is before any provisioner ran: the digest of its base (an image ID) and
    /// of the builder options that change the machine, and where snapshots live (the engine).
    /// `Err` says why this build cannot use the cache (shown once).
    async fn source_key(&self, ctx: &RunContext) -> Result<String>;
    /// Saves the machine as it is now under `key`; returns the snapshot's ID (an image ID, a
    /// file). Nothing is an entry of the cache until this returned.
    async fn snapshot(&mut self, ctx: &RunContext, key: &str) -> Result<String>;
    /// Replaces the machine with one started from `snapshot` (the old one is removed, the new
    /// one's handle is in the state before this returns); returns its communicator.
    async fn resume_from(&mut self, ctx: &RunContext, snapshot: &str) -> Result<Arc<dyn Communicator>>;
    /// Where the machine was started, when the builder asked the cache before starting it
    /// ([`crate::ProvisionHook::resume_point`]). Such a builder's running machine is never
    /// replaced: provisioning goes on from there without [`Self::resume_from`]. `None` (the
    /// default): the builder started from its source without asking.
    fn started_from(&self) -> Option<Start> {
        None
    }
    /// The bytes `snapshot` takes where it lives, for `kiln cache prune -max-size` (0: not
    /// known, the default).
    async fn size(&mut self, _snapshot: &str) -> u64 {
        0
    }
    /// Whether `snapshot` still exists (an image removed behind kiln's back is a miss).
    async fn exists(&self, snapshot: &str) -> bool;
    /// Deletes a snapshot no entry names any more (one that a new snapshot of the same key
    /// replaced: `-cache=refresh`, a snapshot that had disappeared).
    async fn discard(&self, snapshot: &str) -> Result<()>;
    /// Writes snapshot `snapshot` (made under `key`) as files in `dir`, for a cache shared with
    /// other machines ([`SharedStore`]); `Ok(None)`: this builder's snapshots are not shared
    /// (the default).
    async fn export(
        &mut self,
        _ctx: &RunContext,
        _key: &str,
        _snapshot: &str,
        _dir: &Path,
    ) -> Result<Option<Vec<PathBuf>>> {
        Ok(None)
    }
    /// Makes a snapshot on this machine from the files [`Self::export`] wrote on another one for
    /// `key`; returns its ID.
    async fn import(&mut self, _ctx: &RunContext, _key: &str, _files: &[PathBuf]) -> Result<String> {
        Err(Error::new(format!("{} snapshots cannot be imported from a shared cache", self.kind())))
    }
}

/// Removes `entry`'s snapshot with the registry's cleaner for its builder type (on a runtime of
/// its own: for `kiln cache prune`). `Ok(false)`: kiln has no cleaner for that type.
pub fn remove_snapshot(reg: &crate::registry::Registry, entry: &Entry) -> Result<bool> {
    let kind = snapshot_cleaner_kind(&entry.kind);
    let Some(clean) = reg.cleaner_for(&kind) else { return Ok(false) };
    let job = crate::journal::Entry {
        kind,
        id: entry.snapshot.clone(),
        endpoint: entry.endpoint.clone(),
        build: entry.build.clone(),
        pid: 0,
        time: entry.created,
        params: Default::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the runtime: {e}")))?;
    rt.block_on(clean(job)).map(|()| true)
}

#[cfg(test)]
mod tests;

//! Provisioning with the step cache: find the longest cached prefix of the provisioners, resume
//! the machine from its snapshot, run the rest and snapshot after each of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{chain, Cacheable, Inputs, Snapshot, Start, StepCache};
use crate::component::{Communicator, GeneratedData, RunContext};
use crate::hook::{PreparedProvisioner, Provisioners};
use crate::Result;

/// A provisioner's digest, or why it has none.
fn digest(p: &PreparedProvisioner, ctx: &RunContext) -> StepDigest {
    if let Some(v) = p.volatile.first() {
        return StepDigest::No(format!("{v}"));
    }
    let mut inputs = Inputs::new();
    inputs.add("type", p.kind.as_bytes());
    inputs.add_node("config", &p.config);
    match p.provisioner.inputs(&ctx.info, &mut inputs) {
        Ok(Cacheable::Yes) => StepDigest::Digest(inputs.finish()),
        Ok(Cacheable::No(why)) => StepDigest::No(why),
        Err(e) => StepDigest::No(e.message),
    }
}

/// Where the prefix search found an entry.
enum Found {
    Local(super::Entry),
    /// Only in the shared store: its snapshot is imported before the machine resumes.
    Shared(super::Entry),
}

/// The shared store's entry for `key`, when it has one for this builder type (refresh mode and
/// a store that cannot be read are misses; the latter is logged).
async fn shared_entry(cache: &StepCache, key: &str, kind: &str, ctx: &RunContext) -> Option<super::Entry> {
    if cache.mode() == super::CacheMode::Refresh {
        return None;
    }
    let store = cache.shared()?;
    match store.get_entry(key).await {
        Ok(Some(e)) if e.kind == kind && e.key == key && !e.files.is_empty() => Some(e),
        Ok(_) => None,
        Err(err) => {
            ctx.ui.log(format!("step cache: reading {} for {key}: {err}", store.location()));
            None
        }
    }
}

/// Fetches a shared entry's files, imports them as a local snapshot and writes the local entry.
async fn import_shared(
    cache: &StepCache,
    snap: &mut dyn Snapshot,
    ctx: &RunContext,
    shared: super::Entry,
) -> Result<super::Entry> {
    let store = cache.shared().ok_or_else(|| crate::Error::new("no shared store"))?;
    let dir = crate::private_temp::Folder::new_in(cache.dir().parent().unwrap_or(cache.dir()), "shared-")?;
    ctx.ui.say(format!("Step cache: fetching the snapshot after \"{}\" from {}", shared.provisioner, store.location()));
    let files = ctx.cancel.run(store.fetch(&shared, dir.path())).await??;
    let id = ctx.cancel.run(snap.import(ctx, &shared.key, &files)).await??;
    let mut local = cache.entry(
        &shared.key,
        snap.kind(),
        &id,
        Duration::from_millis(shared.took_ms),
        Duration::from_millis(shared.saves_ms),
    );
    local.build = shared.build;
    local.provisioner = shared.provisioner;
    local.endpoint = snap.endpoint();
    cache.put(&local)?;
    Ok(local)
}

/// Uploads a new entry and its snapshot to the shared store, if there is one and the builder can
/// export its snapshots. A failure is reported and the build goes on; a cancel stops it.
async fn share(
    cache: &StepCache,
    snap: &mut dyn Snapshot,
    ctx: &RunContext,
    e: &super::Entry,
    what: &str,
) -> Result<()> {
    let Some(store) = cache.shared() else { return Ok(()) };
    let outcome: Result<bool> = async {
        let dir = crate::private_temp::Folder::new_in(cache.dir().parent().unwrap_or(cache.dir()), "shared-")?;
        let Some(files) = ctx.cancel.run(snap.export(ctx, &e.key, &e.snapshot, dir.path())).await?? else {
            return Ok(false);
        };
        let shared = super::Entry { files: super::file_names(&files), ..e.clone() };
        ctx.cancel.run(store.put(&shared, &files)).await??;
        Ok(true)
    }
    .await;
    match outcome {
        Ok(true) => ctx.ui.say(format!("Step cache: {what} shared in {}", store.location())),
        Ok(false) => {}
        Err(err) if err.cancelled || ctx.cancel.is_cancelled() => return Err(crate::Error::cancelled()),
        Err(err) => ctx.ui.error(format!("Step cache: could not share {what} in {}: {err}", store.location())),
    }
    Ok(())
}

enum StepDigest {
    Digest(String),
    /// Not cacheable, and why.
    No(String),
}

/// The keys of a build's provisioners as far as they can be cached, after the source's key.
struct Keys {
    /// The source's key; `None` when the builder says the cache cannot be used (and why).
    source: std::result::Result<String, String>,
    /// One per provisioner, up to the first that cannot be cached.
    steps: Vec<String>,
}

impl Provisioners {
    /// The source's key and the provisioners' keys, as their inputs are now (a provisioner
    /// that cannot be cached says so when its turn comes).
    async fn keys(&self, ctx: &RunContext, snap: &mut dyn Snapshot) -> Keys {
        let source = match snap.source_key(ctx).await {
            Ok(source) => {
                let mut i = Inputs::new();
                i.add("kiln step cache", b"1");
                i.add("builder", snap.kind().as_bytes());
                i.add("source", source.as_bytes());
                i.finish()
            }
            Err(e) => return Keys { source: Err(e.message), steps: Vec::new() },
        };
        let mut steps = Vec::new();
        let mut k = source.clone();
        for p in &self.list {
            let StepDigest::Digest(d) = digest(p, ctx) else { break };
            k = chain(&k, &d);
            steps.push(k.clone());
        }
        Keys { source: Ok(source), steps }
    }

    /// The longest cached prefix: the furthest key with an entry here, or further still in the
    /// shared store (earlier keys need no entry: pruned, or imported from elsewhere). Returns
    /// how many provisioners it covers and where it is.
    async fn longest_prefix(
        &self,
        ctx: &RunContext,
        snap: &mut dyn Snapshot,
        cache: &StepCache,
        keys: &[String],
    ) -> Option<(usize, Found)> {
        let mut found = None;
        for (i, k) in keys.iter().enumerate().rev() {
            match cache.get(k) {
                Some(e) if e.kind == snap.kind() && snap.exists(&e.snapshot).await => {
                    found = Some((i + 1, Found::Local(e)));
                    break;
                }
                _ => {}
            }
        }
        let local_first = found.as_ref().map_or(0, |(first, _)| *first);
        for (i, k) in keys.iter().enumerate().skip(local_first).rev() {
            if let Some(e) = shared_entry(cache, k, snap.kind(), ctx).await {
                return Some((i + 1, Found::Shared(e)));
            }
        }
        found
    }

    /// Where the machine starts: the longest cached prefix (a shared entry imported first; if
    /// that fails, the source), with the key so far. `Ok(Err(why))`: the builder cannot use the
    /// cache for this build.
    async fn find_start(
        &self,
        ctx: &RunContext,
        snap: &mut dyn Snapshot,
        cache: &StepCache,
    ) -> Result<std::result::Result<Start, String>> {
        let Keys { source, steps: keys } = self.keys(ctx, snap).await;
        let source = match source {
            Ok(k) => k,
            Err(why) => return Ok(Err(why)),
        };
        let from_source = Start { key: source, covered: 0, entry: None };
        let (covered, entry) = match self.longest_prefix(ctx, snap, cache, &keys).await {
            None => return Ok(Ok(from_source)),
            Some((covered, Found::Local(e))) => (covered, e),
            Some((covered, Found::Shared(e))) => match import_shared(cache, snap, ctx, e).await {
                Ok(local) => (covered, local),
                Err(err) if err.cancelled || ctx.cancel.is_cancelled() => return Err(crate::Error::cancelled()),
                Err(err) => {
                    ctx.ui.error(format!(
                        "Step cache: could not use the shared snapshot ({err}); every provisioner runs"
                    ));
                    return Ok(Ok(from_source));
                }
            },
        };
        Ok(Ok(Start { key: keys[covered - 1].clone(), covered, entry: Some(entry) }))
    }

    /// See [`crate::ProvisionHook::resume_point`].
    pub(crate) async fn resume_point_cached(
        &self,
        ctx: &RunContext,
        snap: &mut dyn Snapshot,
        cache: &StepCache,
    ) -> Result<Option<Start>> {
        Ok(self.find_start(ctx, snap, cache).await?.ok())
    }

    pub(crate) async fn provision_cached(
        &self,
        ctx: &RunContext,
        mut comm: Arc<dyn Communicator>,
        snap: &mut dyn Snapshot,
        data: &GeneratedData,
        cache: &StepCache,
    ) -> Result<()> {
        let ui = &ctx.ui;
        let n = self.list.len();
        let label = |i: usize| format!("provisioner {}/{n} ({})", i + 1, self.list[i].label);
        // A builder that asked before starting its machine hands back where it started it; the
        // others start from their source and are moved to the longest cached prefix here.
        let started = snap.started_from();
        let early = started.is_some();
        let start = match started {
            Some(s) => Ok(s),
            None => self.find_start(ctx, snap, cache).await?,
        };
        // The key so far; `None` once a provisioner cannot be cached (nothing after it is).
        let (mut key, first, mut saved) = (None, start.as_ref().map_or(0, |s| s.covered), Duration::ZERO);
        match start {
            Err(why) => ui.say(format!("Step cache: {why}; every provisioner runs")),
            Ok(start) => {
                if let Some(entry) = &start.entry {
                    for i in 0..first {
                        ui.say(format!("Step cache: {}: cached", label(i)));
                    }
                    if !early {
                        ui.say(format!("Step cache: resuming from snapshot {}", entry.snapshot));
                        comm = snap.resume_from(ctx, &entry.snapshot).await?;
                    }
                    cache.touch(entry);
                    saved = Duration::from_millis(entry.saves_ms);
                }
                key = Some(start.key);
            }
        }
        cache.record(first, n - first, saved);
        let mut saves = saved;
        // Snapshots whose entries new ones replaced, deleted at the end, newest first (a
        // snapshot may be the base of the next one).
        let mut replaced_snapshots = Vec::new();
        for i in first..n {
            let p = &self.list[i];
            // Digest before it runs: its inputs as this run sees them.
            let d = match key.is_some().then(|| digest(p, ctx)) {
                None => None,
                Some(StepDigest::Digest(d)) => Some(d),
                Some(StepDigest::No(why)) => {
                    ui.say(format!("Step cache: {} cannot be cached: {why}", label(i)));
                    None
                }
            };
            ui.say(format!("Step cache: {}: running", label(i)));
            self.before_one(p, ctx).await?;
            let start = Instant::now();
            self.run_one(p, ctx, &comm, data).await?;
            let took = start.elapsed();
            saves += took;
            key = match (key.take(), d) {
                (Some(k), Some(d)) => Some(chain(&k, &d)),
                _ => None,
            };
            let Some(k) = &key else { continue };
            match snap.snapshot(ctx, k).await {
                // An interrupted snapshot is never an entry.
                Ok(_) if ctx.cancel.is_cancelled() => return Err(crate::Error::cancelled()),
                Ok(id) => {
                    let replaced = cache.existing(k).filter(|old| old.kind == snap.kind() && old.snapshot != id);
                    let mut e = cache.entry(k, snap.kind(), &id, took, saves);
                    e.build = ctx.info.name.clone();
                    e.endpoint = snap.endpoint();
                    e.provisioner = p.label.clone();
                    e.size = snap.size(&id).await;
                    if let Err(err) = cache.put(&e) {
                        ui.error(format!("Step cache: could not write the entry for {}: {err}", label(i)));
                    } else {
                        replaced_snapshots.extend(replaced.map(|old| old.snapshot));
                        share(cache, snap, ctx, &e, &label(i)).await?;
                    }
                }
                Err(e) if e.cancelled || ctx.cancel.is_cancelled() => return Err(crate::Error::cancelled()),
                Err(e) => {
                    ui.error(format!("Step cache: could not snapshot after {}: {e}", label(i)));
                    key = None;
                }
            }
        }
        for old in replaced_snapshots.iter().rev() {
            if let Err(err) = snap.discard(old).await {
                ui.log(format!("step cache: could not delete the replaced snapshot {old}: {err}"));
            }
        }
        Ok(())
    }
}

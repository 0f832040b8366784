//! Provisioning with the step cache: find the longest cached prefix of the provisioners, resume
//! the machine from its snapshot, run the rest and snapshot after each of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{chain, Cacheable, Inputs, Snapshot, StepCache};
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

enum StepDigest {
    Digest(String),
    /// Not cacheable, and why.
    No(String),
}

impl Provisioners {
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
        // The key so far; `None` once a provisioner cannot be cached (nothing after it is).
        let mut key = match snap.source_key(ctx).await {
            Ok(source) => {
                let mut i = Inputs::new();
                i.add("kiln step cache", b"1");
                i.add("builder", snap.kind().as_bytes());
                i.add("source", source.as_bytes());
                Some(i.finish())
            }
            Err(e) => {
                ui.say(format!("Step cache: {e}; every provisioner runs"));
                None
            }
        };
        // The longest cached prefix.
        let mut first = 0;
        let mut resume = None;
        let mut pending: Option<String> = None;
        while let (Some(k), true) = (&key, first < n) {
            let d = match digest(&self.list[first], ctx) {
                StepDigest::Digest(d) => d,
                StepDigest::No(why) => {
                    ui.say(format!("Step cache: {} cannot be cached: {why}", label(first)));
                    key = None;
                    break;
                }
            };
            let next = chain(k, &d);
            match cache.get(&next) {
                Some(e) if e.kind == snap.kind() && snap.exists(&e.snapshot).await => {
                    key = Some(next);
                    resume = Some(e);
                    first += 1;
                }
                _ => {
                    pending = Some(d);
                    break;
                }
            }
        }
        let mut saved = Duration::ZERO;
        if let Some(entry) = &resume {
            for i in 0..first {
                ui.say(format!("Step cache: {}: cached", label(i)));
            }
            ui.say(format!("Step cache: resuming from snapshot {}", entry.snapshot));
            comm = snap.resume_from(ctx, &entry.snapshot).await?;
            cache.touch(entry);
            saved = Duration::from_millis(entry.saves_ms);
        }
        cache.record(first, n - first, saved);
        let mut saves = saved;
        // Snapshots whose entries new ones replaced, deleted at the end, newest first (a
        // snapshot may be the base of the next one).
        let mut replaced_snapshots = Vec::new();
        for i in first..n {
            let p = &self.list[i];
            // Digest before it runs: its inputs as this run sees them.
            let d = match (key.is_some(), pending.take()) {
                (false, _) => None,
                (true, Some(d)) => Some(d),
                (true, None) => match digest(p, ctx) {
                    StepDigest::Digest(d) => Some(d),
                    StepDigest::No(why) => {
                        ui.say(format!("Step cache: {} cannot be cached: {why}", label(i)));
                        None
                    }
                },
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
                    if let Err(err) = cache.put(&e) {
                        ui.error(format!("Step cache: could not write the entry for {}: {err}", label(i)));
                    } else {
                        replaced_snapshots.extend(replaced.map(|old| old.snapshot));
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

//! The provisioning hook: runs a build's provisioners in order over the builder's communicator,
//! with Packer's `pause_before`, `max_retries` and `timeout`, and the `error-cleanup-provisioner`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::cache::Snapshot;
use crate::component::{BuildInfo, Communicator, GeneratedData, ProvisionHook, Provisioner, RunContext};
use crate::step::{Outcome, Step};
use crate::Result;
use kiln_config::golang::format_go_duration;
use kiln_config::node::Node;

/// Makes a new, unprepared provisioner of one type.
pub type ProvisionerFactory = Arc<dyn Fn() -> Box<dyn Provisioner> + Send + Sync>;

/// A provisioner ready to run, with the options Packer handles around every provisioner.
pub struct PreparedProvisioner {
    /// Type (or HCL2 name) for messages.
    pub label: String,
    /// The provisioner's type (part of its step cache digest).
    pub kind: String,
    /// Prepared with `config` as it was before the build ran.
    pub provisioner: Box<dyn Provisioner>,
    /// Its configuration as loaded, late values unresolved.
    pub config: Node,
    /// Makes a fresh one to prepare with the resolved configuration, when `config` has late
    /// values.
    pub factory: ProvisionerFactory,
    pub pause_before: Option<Duration>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
    /// Options whose value changes on every run (the loader found them): never cached.
    pub volatile: Vec<kiln_config::build::Volatile>,
}

impl PreparedProvisioner {
    /// The provisioner to run with the build's `data`: prepared again with its configuration's
    /// late values resolved, so its checks apply to the real values (as Packer's HCL2 engine
    /// prepares a provisioner again before it runs); the one prepared before the build when
    /// nothing in its configuration waited for the build.
    fn for_run(&self, data: &GeneratedData, info: &BuildInfo) -> Result<Option<Box<dyn Provisioner>>> {
        if !self.config.has_late() {
            return Ok(None);
        }
        let resolved = self.config.resolve(data).map_err(|d| crate::Error::new(d.to_string()))?;
        let mut fresh = (self.factory)();
        fresh.prepare(&resolved, info).map_err(|d| crate::Error::new(d.to_string()))?;
        Ok(Some(fresh))
    }
}

/// A build's provisioners.
#[derive(Default)]
pub struct Provisioners {
    pub list: Vec<PreparedProvisioner>,
    pub error_cleanup: Option<PreparedProvisioner>,
}

impl Provisioners {
    /// What comes before each provisioner: a cancel check, the log line, `-debug`'s pause.
    pub(crate) async fn before_one(&self, p: &PreparedProvisioner, ctx: &RunContext) -> Result<()> {
        if ctx.cancel.is_cancelled() {
            return Err(crate::Error::cancelled());
        }
        ctx.ui.log(format!("Running provisioner {}", p.label));
        if ctx.info.debug {
            tokio::select! {
                _ = ctx.ui.ask("Pausing before the next provisioner . Press enter to continue.") => {}
                _ = ctx.cancel.cancelled() => return Err(crate::Error::cancelled()),
            }
        }
        Ok(())
    }

    pub(crate) async fn run_one(
        &self,
        p: &PreparedProvisioner,
        ctx: &RunContext,
        comm: &Arc<dyn Communicator>,
        data: &GeneratedData,
    ) -> Result<()> {
        let ui = &ctx.ui;
        if let Some(d) = p.pause_before.filter(|d| !d.is_zero()) {
            ui.say(format!("Pausing {} before the next provisioner...", format_go_duration(d)));
            ctx.cancel.run(tokio::time::sleep(d)).await?;
        }
        let fresh = p.for_run(data, &ctx.info)?;
        let provisioner = fresh.as_deref().unwrap_or(p.provisioner.as_ref());
        let tries = p.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self.run_with_timeout(p, provisioner, ctx, comm, data).await;
            match r {
                Ok(()) => return Ok(()),
                Err(e) if e.cancelled && ctx.cancel.is_cancelled() => return Err(e),
                Err(e) if attempt < tries => {
                    ui.say(format!(
                        "Provisioner failed with {:?}, retrying with {} trie(s) left",
                        e.message,
                        tries - attempt
                    ));
                    // A short pause so a machine that is restarting has a moment.
                    ctx.cancel.run(tokio::time::sleep(Duration::from_millis(500))).await?;
                }
                Err(e) => {
                    if p.max_retries > 0 {
                        ui.say("retry limit reached.");
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn run_with_timeout(
        &self,
        p: &PreparedProvisioner,
        provisioner: &dyn Provisioner,
        ctx: &RunContext,
        comm: &Arc<dyn Communicator>,
        data: &GeneratedData,
    ) -> Result<()> {
        let Some(limit) = p.timeout.filter(|d| !d.is_zero()) else {
            return provisioner.provision(ctx, Arc::clone(comm), data).await;
        };
        ctx.ui.say(format!("Setting a {} timeout for the next provisioner...", format_go_duration(limit)));
        let child = ctx.cancel.child();
        let pctx = ctx.with_cancel(child.clone());
        let fut = provisioner.provision(&pctx, Arc::clone(comm), data);
        tokio::pin!(fut);
        tokio::select! {
            r = &mut fut => r,
            _ = tokio::time::sleep(limit) => {
                child.cancel();
                ctx.ui.say("Cancelling provisioner after a timeout...");
                // Let it remove what it uploaded before giving up on it.
                let _ = tokio::time::timeout(crate::step::CANCEL_GRACE, &mut fut).await;
                Err(crate::Error::new(format!("the {} provisioner timed out after {}", p.label, format_go_duration(limit))))
            }
        }
    }
}

#[async_trait]
impl ProvisionHook for Provisioners {
    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()> {
        for p in &self.list {
            self.before_one(p, ctx).await?;
            self.run_one(p, ctx, &comm, data).await?;
        }
        Ok(())
    }

    async fn provision_with(
        &self,
        ctx: &RunContext,
        comm: Arc<dyn Communicator>,
        snapshots: Option<&mut dyn Snapshot>,
        data: &GeneratedData,
    ) -> Result<()> {
        let Some(cache) = ctx.info.cache.clone().filter(|_| !self.list.is_empty()) else {
            return self.provision(ctx, comm, data).await;
        };
        match snapshots {
            Some(snap) => self.provision_cached(ctx, comm, snap, data, &cache).await,
            None => {
                ctx.ui.say(format!(
                    "Step cache: the {} builder cannot snapshot its machine; every provisioner runs",
                    ctx.info.builder_type
                ));
                cache.record(0, self.list.len(), Duration::ZERO);
                self.provision(ctx, comm, data).await
            }
        }
    }

    async fn resume_point(
        &self,
        ctx: &RunContext,
        snapshots: &mut dyn Snapshot,
    ) -> Result<Option<crate::cache::Start>> {
        match ctx.info.cache.clone().filter(|_| !self.list.is_empty()) {
            Some(cache) => self.resume_point_cached(ctx, snapshots, &cache).await,
            None => Ok(None),
        }
    }

    async fn cleanup_provision(
        &self,
        ctx: &RunContext,
        comm: Arc<dyn Communicator>,
        data: &GeneratedData,
    ) -> Result<()> {
        match &self.error_cleanup {
            Some(p) => self.run_one(p, ctx, &comm, data).await,
            None => Ok(()),
        }
    }
}

/// Build state that can hand the provisioning step a communicator.
pub trait HasCommunicator {
    fn communicator(&self) -> Option<Arc<dyn Communicator>>;
    fn generated_data(&self) -> GeneratedData {
        GeneratedData::new()
    }
    /// The running machine's snapshot capability, for the step cache; `None` (the default):
    /// the builder cannot snapshot, and every provisioner runs.
    fn snapshots(&mut self) -> Option<&mut dyn Snapshot> {
        None
    }
}

/// What provisioners can refer to (`build.Host`, `{{ build `Host` }}`).
fn provision_data<S: HasCommunicator>(state: &S, ctx: &RunContext) -> GeneratedData {
    crate::generated::build_data(&state.generated_data(), &ctx.info)
}

/// The step every builder puts where its machine is ready: runs the provisioners; on failure
/// its cleanup runs the `error-cleanup-provisioner`.
pub struct StepProvision {
    pub hook: Arc<dyn ProvisionHook>,
}

#[async_trait]
impl<S: HasCommunicator + Send + Sync> Step<S> for StepProvision {
    fn name(&self) -> &'static str {
        "StepProvision"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let Some(comm) = state.communicator() else {
            return Err(crate::Error::new("no communicator to provision with"));
        };
        let data = provision_data(state, ctx);
        self.hook.provision_with(ctx, comm, state.snapshots(), &data).await
    }

    async fn cleanup(&self, state: &mut S, ctx: &RunContext, outcome: Outcome) {
        if !outcome.failed {
            return;
        }
        ctx.ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...");
        if let Some(comm) = state.communicator() {
            if let Err(e) = self.hook.cleanup_provision(ctx, comm, &provision_data(state, ctx)).await {
                ctx.ui.error(format!("The error-cleanup-provisioner failed: {e}"));
            }
        }
    }

    fn role(&self) -> crate::step::StepRole {
        crate::step::StepRole::Provision
    }
}

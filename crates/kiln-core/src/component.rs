//! The four seams, as small as Packer's: [`Builder`], [`Provisioner`], [`PostProcessor`] and
//! [`Communicator`], plus the [`Artifact`] a build produces and the context every component
//! runs with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;

use crate::cancel::Cancel;
use crate::event::Ui;
use crate::Result;

/// What `-on-error` asks for when a build fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Run every cleanup (the default).
    #[default]
    Cleanup,
    /// Leave everything as it is for inspection.
    Abort,
    /// Ask whether to clean up, abort or retry the failed step.
    Ask,
    /// Like abort, but run the `error-cleanup-provisioner` first.
    RunCleanupProvisioner,
}

impl OnError {
    pub fn parse(s: &str) -> Option<OnError> {
        match s {
            "" | "cleanup" => Some(OnError::Cleanup),
            "abort" => Some(OnError::Abort),
            "ask" => Some(OnError::Ask),
            "run-cleanup-provisioner" => Some(OnError::RunCleanupProvisioner),
            _ => None,
        }
    }
}

/// What every component knows about the build it is part of (Packer's `packer_*` options).
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    /// `packer_build_name`: the build's name as `-only` matches it.
    pub name: String,
    /// `packer_builder_type`.
    pub builder_type: String,
    pub debug: bool,
    pub force: bool,
    pub on_error: OnError,
    /// The folder of the template, for relative paths (`{{template_dir}}`).
    pub template_dir: PathBuf,
    /// One id for the whole run (the manifest's `packer_run_uuid`).
    pub run_uuid: String,
    /// The build comes from an HCL2 configuration (not a legacy JSON template).
    pub hcl2: bool,
    /// The step cache, when `-cache` or `KILN_CACHE` turned it on.
    pub cache: Option<Arc<crate::cache::StepCache>>,
}

pub use crate::generated::GeneratedData;

/// What a running component gets: where to talk, when to stop, which build it is in.
#[derive(Clone)]
pub struct RunContext {
    pub ui: Ui,
    pub cancel: Cancel,
    pub info: Arc<BuildInfo>,
}

impl RunContext {
    pub fn with_cancel(&self, cancel: Cancel) -> RunContext {
        RunContext { cancel, ..self.clone() }
    }

    /// `-debug`'s pause: asks `question` and waits for the answer; a cancel while waiting is
    /// an error ([`crate::Error::cancelled`]).
    pub async fn debug_pause(&self, question: &str) -> crate::Result<()> {
        let answered = tokio::select! {
            a = self.ui.ask(question) => a,
            _ = self.cancel.cancelled() => None,
        };
        if answered.is_none() && self.cancel.is_cancelled() {
            return Err(crate::Error::cancelled());
        }
        Ok(())
    }
}

/// What a build produced: files, an image id, a box …
#[async_trait]
pub trait Artifact: Send + Sync + fmt::Debug {
    /// The id of the builder or post-processor that made it (`packer.file`, `mitchellh.amazonebs`).
    fn builder_id(&self) -> &str;
    /// Files, relative or absolute as the component reports them.
    fn files(&self) -> Vec<String>;
    /// The artifact's id (an AMI id, "File", "Null").
    fn id(&self) -> String;
    /// The one-line description shown in the summary.
    fn description(&self) -> String;
    /// Extra values by name (`atlas.artifact.metadata` …).
    fn state(&self, _name: &str) -> Option<serde_json::Value> {
        None
    }
    /// The generated data of the build that made it (Packer's `generated_data` state), which
    /// post-processors refer to as `build.X`.
    fn generated_data(&self) -> GeneratedData {
        GeneratedData::new()
    }
    /// Deletes what the artifact is made of (when no one keeps it): files, an image, an AMI
    /// and its snapshots. Async because most of these are network calls.
    async fn destroy(&self) -> Result<()>;
    /// Whether the artifact is made of files the user already had (artifice's `files`), not
    /// files the build made: they are deleted only when the template asks for it explicitly
    /// (`keep_input_artifact = false`), never by a post-processor's default.
    fn user_files(&self) -> bool {
        false
    }
}

/// An artifact made of local files (or of nothing), good for most builders and post-processors.
#[derive(Debug, Clone, Default)]
pub struct BasicArtifact {
    pub builder_id: String,
    pub id: String,
    pub files: Vec<String>,
    pub description: String,
    pub state: BTreeMap<String, serde_json::Value>,
    /// The build's generated data.
    pub generated: GeneratedData,
    /// Whether `destroy` deletes the files.
    pub owns_files: bool,
    /// See [`Artifact::user_files`].
    pub user_files: bool,
}

#[async_trait]
impl Artifact for BasicArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn description(&self) -> String {
        self.description.clone()
    }
    fn state(&self, name: &str) -> Option<serde_json::Value> {
        self.state.get(name).cloned()
    }
    fn generated_data(&self) -> GeneratedData {
        self.generated.clone()
    }
    fn user_files(&self) -> bool {
        self.user_files
    }

    async fn destroy(&self) -> Result<()> {
        if self.owns_files {
            for f in &self.files {
                match tokio::fs::remove_file(f).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(crate::Error::new(format!("deleting {f}: {e}"))),
                }
            }
        }
        Ok(())
    }
}

/// Runs the build's provisioners when the builder has a machine to talk to.
#[async_trait]
pub trait ProvisionHook: Send + Sync {
    /// Runs every provisioner in order over `comm`.
    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()>;
    /// Runs the `error-cleanup-provisioner`, if the template has one.
    async fn cleanup_provision(
        &self,
        ctx: &RunContext,
        comm: Arc<dyn Communicator>,
        data: &GeneratedData,
    ) -> Result<()>;
    /// [`ProvisionHook::provision`] on a machine the step cache may snapshot after each
    /// provisioner and resume from (see [`crate::cache`]). The default ignores `snapshots`.
    async fn provision_with(
        &self,
        ctx: &RunContext,
        comm: Arc<dyn Communicator>,
        snapshots: Option<&mut dyn crate::cache::Snapshot>,
        data: &GeneratedData,
    ) -> Result<()> {
        let _ = snapshots;
        self.provision(ctx, comm, data).await
    }
    /// Before the machine starts: where the step cache lets the builder start it (the longest
    /// cached prefix of the provisioners, fetched from a shared store if need be, or the
    /// source), for a builder that can start a machine from a snapshot instead of starting it
    /// from its source and replacing it; it hands the answer back through
    /// [`crate::cache::Snapshot::started_from`]. `None` (the default): the cache is off or
    /// cannot be used for this build.
    async fn resume_point(
        &self,
        ctx: &RunContext,
        snapshots: &mut dyn crate::cache::Snapshot,
    ) -> Result<Option<crate::cache::Start>> {
        let _ = (ctx, snapshots);
        Ok(None)
    }
}

/// A hook with no provisioners (for tests and for builders run on their own).
pub struct NoProvisioners;

#[async_trait]
impl ProvisionHook for NoProvisioners {
    async fn provision(&self, _: &RunContext, _: Arc<dyn Communicator>, _: &GeneratedData) -> Result<()> {
        Ok(())
    }
    async fn cleanup_provision(&self, _: &RunContext, _: Arc<dyn Communicator>, _: &GeneratedData) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
pub trait Builder: Send + Sync {
    /// Decodes and checks the configuration; returns warnings.
    fn prepare(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics>;
    /// The generated-data keys the builder sets besides Packer's common ones
    /// ([`crate::generated::COMMON_KEYS`]), known after `prepare` (Packer's `Prepare` returns
    /// them): `SourceAMI`, `HTTPIP` …
    fn generated_data_keys(&self) -> Vec<String> {
        Vec::new()
    }
    /// Runs the build (usually a list of steps, see [`crate::step`]) and returns its artifact,
    /// or `None` when there is nothing to show.
    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>>;
}

#[async_trait]
pub trait Provisioner: Send + Sync {
    fn prepare(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics>;
    async fn provision(&self, ctx: &RunContext, comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()>;
    /// For the step cache: adds to `inputs` what the provisioner's effect depends on besides
    /// its configuration (which the hook digests itself, late values as written): the bytes of
    /// every file, script or folder it uploads or runs, the environment it gives them.
    /// The default, [`Cacheable::No`], keeps its step out of the cache.
    fn inputs(&self, info: &BuildInfo, inputs: &mut crate::cache::Inputs) -> Result<crate::cache::Cacheable> {
        let _ = (info, inputs);
        Ok(crate::cache::Cacheable::No("it does not report its inputs to the step cache".into()))
    }
}

/// What a post-processor returns: its artifact and whether the input should be kept.
pub struct PostProcessed {
    /// `None` ends the chain quietly.
    pub artifact: Option<Arc<dyn Artifact>>,
    /// The post-processor's default for `keep_input_artifact`.
    pub keep: bool,
    /// Keep the input whatever the user's `keep_input_artifact` says (the output needs it).
    pub force_keep: bool,
}

#[async_trait]
pub trait PostProcessor: Send + Sync {
    fn configure(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics>;
    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed>;
}

pub use crate::communicator::{Communicator, ExecIo, OutputFn, Stream, Subsystem, UploadMeta};

//! The `docker` builder: a container from `image`, provisioned, then committed to an
//! image, exported to a tarball, or discarded.
//!
//! The steps, as Packer's: a temporary folder (mounted at `container_dir`), the pull (or,
//! with `build`, the image built from a Dockerfile, [`crate::BuildRequest`]),
//! the container (its ID is in the state as soon as the engine answers the create,
//! before it is started), the communicator, the provisioners, then commit or export.
//! The container is removed by the run step's cleanup, on success, failure and
//! cancellation (Ctrl-C) alike; only `-on-error=abort` leaves it, and says so.
//!
//! Reproducible exports (`source_date_epoch` or `SOURCE_DATE_EPOCH`): the engine's
//! tarball is rewritten by [`crate::normalize::normalize_tar`]. Two builds then give
//! the same bytes when they leave the same files; what still differs is what the
//! build itself writes differently: files whose contents vary (logs, caches with
//! times, `/etc/machine-id`, generated keys, `.pyc` files), files that exist in one
//! build only, base images that differ (a re-pulled tag), and the engine (Docker
//! and podman create different mount points, e.g. `/.dockerenv` and
//! `/run/.containerenv`). Modification times older than the epoch are kept, so the
//! base image's files keep theirs.

pub mod config;
mod snapshot;
mod steps;

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::Snapshot;
use kiln_core::hook::{HasCommunicator, StepProvision};
use kiln_core::step::{run_steps, Step};
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Builder, Communicator, Error, GeneratedData, ProvisionHook,
    Result, RunContext,
};

use crate::artifact::{state_with_data, ImageArtifact, BUILDER_ID, IMPORT_ID};
use crate::Engine;
pub use config::{Config, Output};
pub use snapshot::SNAPSHOT_REPO;

/// The generated data the builder sets, besides the common ones.
pub const GENERATED: &[&str] = &["ImageSha256"];

#[derive(Default)]
pub struct DockerBuilder {
    config: Arc<Config>,
    comm: kiln_comm::Config,
    /// The digest of the options that change the machine (the step cache's source key).
    config_digest: String,
}

pub fn new() -> Box<dyn Builder> {
    Box::<DockerBuilder>::default()
}

/// What the steps share.
struct State {
    engine: Engine,
    config: Arc<Config>,
    /// See [`DockerBuilder::config_digest`].
    config_digest: String,
    /// The communicator's type (`docker`, `ssh`, `none`); snapshots need `docker`.
    comm_kind: String,
    /// The temporary folder mounted at `container_dir`.
    temp_dir: Option<std::path::PathBuf>,
    /// The container, from the moment the engine created it.
    container: Option<String>,
    comm: Option<Arc<dyn Communicator>>,
    data: GeneratedData,
    /// The committed image.
    image_id: Option<String>,
    /// The image `build` made, from the moment the engine said its ID.
    built: Option<String>,
    /// An export being written (removed if the build does not finish).
    partial: Vec<std::path::PathBuf>,
    /// The finished export.
    exported: Option<std::path::PathBuf>,
}

impl HasCommunicator for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn generated_data(&self) -> GeneratedData {
        self.data.clone()
    }
    fn snapshots(&mut self) -> Option<&mut dyn Snapshot> {
        Some(self)
    }
}

#[async_trait]
impl Builder for DockerBuilder {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (c, comm): (Config, kiln_comm::Config) =
            kiln_config::decode::decode_split(config, "the \"docker\" builder")?;
        let comm = config::with_default_communicator(comm);
        let warnings = c.check(config, &comm)?;
        self.config = Arc::new(c);
        self.comm = comm;
        self.config_digest = snapshot::config_digest(config);
        Ok(warnings)
    }

    fn generated_data_keys(&self) -> Vec<String> {
        vec!["ImageSha256".to_string()]
    }

    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        let c = &self.config;
        ctx.ui.add_secrets(c.login_password.iter().filter(|p| !p.is_empty()).cloned());
        if let Output::Export(path) = c.output() {
            // Fail before the build rather than after it.
            kiln_core::output::check_output_file(std::path::Path::new(&path), ctx.info.force)?;
        }
        let engine = Engine::connect().await.map_err(|e| {
            Error::new(format!("{e}; is the Docker engine (or `podman system service`) running, and DOCKER_HOST set?"))
        })?;
        let image: Box<dyn Step<State>> = match c.build {
            Some(_) => Box::new(steps::StepBuild(Arc::clone(c))),
            None => Box::new(steps::StepPull(Arc::clone(c))),
        };
        let mut steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(steps::StepTempDir),
            image,
            Box::new(steps::StepRun),
            Box::new(steps::StepConnect { comm: self.comm.clone() }),
            Box::new(StepProvision { hook }),
        ];
        match c.output() {
            Output::Commit => steps.push(Box::new(steps::StepCommit(Arc::clone(c)))),
            Output::Export(path) => steps.push(Box::new(steps::StepExport { config: Arc::clone(c), path })),
            Output::Discard => {}
        }
        let mut state = State {
            engine: engine.clone(),
            config: Arc::clone(c),
            config_digest: self.config_digest.clone(),
            comm_kind: String::new(),
            temp_dir: None,
            container: None,
            comm: None,
            data: GeneratedData::new(),
            image_id: None,
            built: None,
            partial: Vec::new(),
            exported: None,
        };
        run_steps(&steps, &mut state, ctx).await?;
        let artifact: Arc<dyn Artifact> = match c.output() {
            Output::Commit => Arc::new(ImageArtifact {
                builder_id: IMPORT_ID,
                id: state.image_id.clone().unwrap_or_default(),
                tags: Vec::new(),
                data: state.data.clone(),
                engine,
            }),
            Output::Export(path) => Arc::new(BasicArtifact {
                builder_id: BUILDER_ID.into(),
                id: "Container".into(),
                files: vec![path.clone()],
                description: format!("Exported Docker file: {path}"),
                state: state_with_data(&state.data),
                generated: state.data.clone(),
                owns_files: true,
                ..BasicArtifact::default()
            }),
            Output::Discard => Arc::new(BasicArtifact {
                builder_id: BUILDER_ID.into(),
                id: "Container".into(),
                description: "Discarded the container (discard: true)".into(),
                state: state_with_data(&state.data),
                generated: state.data.clone(),
                ..BasicArtifact::default()
            }),
        };
        Ok(Some(artifact))
    }
}

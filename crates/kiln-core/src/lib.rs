//! kiln-core is the runtime between loaded builds and finished artifacts: the component traits
//! (builder, provisioner, post-processor, communicator, data source), the registry of component
//! constructors, build preparation (every configuration error before anything runs), the step
//! runner with cleanup, events and their renderers, and the scheduler that runs builds in
//! parallel.
//!
//! It consumes kiln-config's runnable [`kiln_config::build::Build`]s and renders late values with
//! kiln-gotmpl. It must not depend on the template loaders (kiln-template) nor name any
//! concrete component: the table in kiln-components fills the [`registry::Registry`].

pub mod cache;
pub mod cancel;
pub mod communicator;
pub mod component;
pub mod datasource;
pub mod error;
pub mod event;
pub mod generated;
pub mod hook;
pub mod journal;
pub mod late;
pub mod output;
pub mod prepare;
pub mod private_temp;
pub mod process;
pub mod progress;
pub mod registry;
pub mod render;
pub mod run;
pub mod scheduler;
pub mod select;
pub mod step;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use async_trait::async_trait;
pub use cancel::Cancel;
pub use component::{
    Artifact, BasicArtifact, BuildInfo, Builder, Communicator, ExecIo, GeneratedData, OnError, PostProcessed,
    PostProcessor, ProvisionHook, Provisioner, RunContext, Stream, Subsystem, UploadMeta,
};
pub use error::{Error, Result};
pub use event::Ui;
pub use run::{run_template, RunInput, RunResult, RunSettings};

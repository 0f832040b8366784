//! kiln-core is the runtime between a loaded template and finished artifacts: the component
//! traits (builder, provisioner, post-processor, communicator), the one registry table of
//! component types, the step runner with cleanup, events and their renderers, and the scheduler
//! that runs builds in parallel.

pub mod cancel;
pub mod component;
pub mod error;
pub mod event;
pub mod hook;
pub mod late;
pub mod output;
pub mod progress;
pub mod registry;
pub mod render;
pub mod run;
pub mod scheduler;
pub mod select;
pub mod step;

pub use async_trait::async_trait;
pub use cancel::Cancel;
pub use component::{
    Artifact, BasicArtifact, BuildInfo, Builder, Communicator, GeneratedData, OnError, PostProcessed, PostProcessor,
    ProvisionHook, Provisioner, RunContext, Stream,
};
pub use error::{Error, Result};
pub use event::Ui;
pub use run::{run_template, RunResult, RunSettings};

//! kiln's Docker Engine API layer, for the `docker` builder, the `docker`
//! communicator and the `docker-import`, `docker-tag`, `docker-push` and
//! `docker-save` post-processors.
//!
//! It speaks the Engine API (through bollard) rather than running the docker CLI,
//! and works the same against Docker Engine and podman's compatible service
//! (`podman system service`). Where the two differ it sends what both accept:
//! commits carry a JSON body (podman 4.3 rejects the empty body of docker CLI 23+),
//! `changes` go one instruction per query parameter and one key per instruction,
//! imports name the image in `repo`.
//!
//! Every call that creates something (container, image) returns its ID before doing
//! anything else, so a caller can record it for cleanup; removals succeed when the
//! object is already gone.
//!
//! [`normalize`] turns the engines' exports and saves into reproducible archives.

mod changes;
mod container;
mod engine;
mod error;
mod exec;
mod image;
pub mod normalize;
mod run;
mod stream;
mod transfer;

pub use changes::{canonical_changes, INSTRUCTIONS};
pub use container::ContainerGuard;
pub use engine::{ping_endpoint, Endpoint, Engine, DEFAULT_HOST};
pub use error::{Error, Result};
pub use image::{CommitOptions, ImageRef, RegistryAuth};
pub use run::{default_run_command, CreateRequest, RunSpec};
pub use transfer::{download_target, FileMeta};

/// The engine's descriptions of containers and images, as bollard models them.
pub use bollard::models::{ContainerInspectResponse, ImageInspect};

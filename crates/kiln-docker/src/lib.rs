//! kiln's `docker` builder ([`builder`]), `docker` communicator ([`comm`]) and
//! `docker-import`, `docker-tag`, `docker-push` and `docker-save` post-processors
//! ([`post`]), on one Docker Engine API layer ([`Engine`]).
//!
//! The components' constructors, for the registry table: `builder::new` ("docker"),
//! `post::import::new` ("docker-import"), `post::tag::new` ("docker-tag"),
//! `post::push::new` ("docker-push"), `post::save::new` ("docker-save").
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
//!
//! podman 4.3's compatible API, as met by the tests (Docker behaves as documented):
//! - `POST /commit` with no body fails ("Decode(): EOF"); bollard always sends one.
//! - `changes`: one key per line only (`ENV A=1 B=2` sets A to "1 B=2"; multi-key
//!   LABEL and multi-port EXPOSE fail), outer double quotes trimmed but escapes kept,
//!   HEALTHCHECK refused; on import a newline-joined value is one change. Hence
//!   [`canonical_changes`] and one query parameter per change.
//! - import ignores `tag`; the reference goes whole in `repo`.
//! - commits add the container's `TERM=xterm` and `container=podman` to the image's
//!   environment, in random order (see [`normalize`]).
//! - image inspect leaves out `OnBuild` (the image's config has it).
//! - short names become `docker.io/…` in `RepoTags`.
//! - an exec whose command exits with stdin unread ends in a connection reset.
//! - `GET /archive` follows a symbolic link given as the path (Docker returns the
//!   link); `PUT /archive` to a missing path creates it (Docker: 404).
//! - push to a plain-HTTP registry on 127.0.0.1 needs it listed as insecure in
//!   registries.conf (Docker allows 127.0.0.0/8 by default).
//! - `/version` takes ~0.4 s (it asks conmon and runc), so the API version is read
//!   from `/_ping`'s header instead.
//! - a forced removal stops the container with SIGTERM and waits 10 s; the docker
//!   builder's `/bin/sh` as PID 1 ignores SIGTERM, so removal sends SIGKILL first.
//! - `GET /archive` of `dir/.` names the entries `x` (Docker: `./x`).
//! - an exec whose command exits with stdin unread sometimes loses the output it
//!   wrote before (seen ~1 run in 3 under load); the communicator sends no stdin.
//! - each exec runs as a session leader (runc), so its pid is its process group:
//!   what the communicator kills when a command is cancelled. The container's PID 1
//!   shell does not reap orphans: killed processes stay as zombies.

pub mod artifact;
pub mod auth;
mod build;
pub mod builder;
mod changes;
pub mod comm;
mod container;
pub mod dockerignore;
mod engine;
mod error;
mod exec;
mod image;
pub mod normalize;
pub mod post;
mod run;
pub mod share;
mod stream;
mod transfer;

pub use build::BuildRequest;
pub use changes::{canonical_changes, INSTRUCTIONS};
pub use container::ContainerGuard;
pub use engine::{ping_endpoint, set_host_override, Endpoint, Engine, DEFAULT_HOST};
pub use error::{Error, Result};
pub use image::{CommitOptions, ImageRef, RegistryAuth};
pub use run::{default_run_command, CreateRequest, RunSpec};
pub use transfer::{download_target, FileMeta};

/// The engine's descriptions of containers and images, as bollard models them.
pub use bollard::models::{ContainerInspectResponse, ImageInspect};

/// The cleanup journal's kind for a container the docker builder made.
pub const JOURNAL_CONTAINER: &str = "docker-container";

/// The kind under which `kiln cache prune` deletes the docker builder's step cache snapshots
/// (`kiln_core::cache::snapshot_cleaner_kind("docker")`).
pub const CACHE_SNAPSHOT: &str = "step-cache-docker";

/// The engine at `endpoint` (a journal or cache entry's), or the default one when empty.
async fn engine_at(endpoint: &str) -> kiln_core::Result<Engine> {
    let engine = if endpoint.is_empty() { Engine::connect().await } else { Engine::connect_to(endpoint).await };
    engine.map_err(|e| kiln_core::Error::new(e.to_string()))
}

/// Deletes a step cache snapshot (an image) for `kiln cache prune`; one already gone is fine.
pub fn clean_snapshot(entry: kiln_core::journal::Entry) -> kiln_core::registry::CleanerFuture {
    Box::pin(async move {
        let engine = engine_at(&entry.endpoint).await?;
        engine.remove_image(&entry.id, false).await.map_err(|e| kiln_core::Error::new(e.to_string()))
    })
}

/// Removes a journaled container ([`JOURNAL_CONTAINER`]) that a killed kiln left behind, on
/// the engine it was made on (`kiln cleanup`).
pub fn clean_container(entry: kiln_core::journal::Entry) -> kiln_core::registry::CleanerFuture {
    Box::pin(async move {
        let engine = engine_at(&entry.endpoint).await?;
        engine.remove_container(&entry.id).await.map_err(|e| kiln_core::Error::new(e.to_string()))
    })
}

//! The docker post-processors, one module each, with Packer's artifact IDs and
//! chains: `docker-import` (an exported tarball → an image), `docker-tag`,
//! `docker-push`, `docker-save`. Chains that work as in Packer: export → import →
//! tag → push, commit → tag → push, commit → save, import → save.

pub mod import;
pub mod push;
pub mod save;
pub mod tag;

use kiln_core::{Artifact, Error, Result};

use crate::Engine;

/// The error for an artifact a post-processor cannot take.
pub(crate) fn check_input(artifact: &dyn Artifact, accepted: &[&str], what: &str) -> Result<()> {
    if accepted.contains(&artifact.builder_id()) {
        return Ok(());
    }
    Err(Error::new(format!("Unknown artifact type: {}\n{what}", artifact.builder_id())))
}

/// The engine, with a hint when it cannot be reached.
pub(crate) async fn connect() -> Result<Engine> {
    Engine::connect().await.map_err(|e| {
        Error::new(format!("{e}; is the Docker engine (or `podman system service`) running, and DOCKER_HOST set?"))
    })
}

/// The artifact's `docker_tags` state (`docker-tag`'s references).
pub(crate) fn docker_tags(artifact: &dyn Artifact) -> Vec<String> {
    match artifact.state("docker_tags") {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

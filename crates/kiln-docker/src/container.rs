//! Containers: create, start, inspect, export, remove.

use std::path::Path;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::run::CreateRequest;
use crate::stream::stream_to_file;

impl Engine {
    /// Creates the container and returns its ID. Nothing else happens in this call, so
    /// the caller can record the ID before it starts the container: a failed start
    /// still leaves a container to remove.
    pub async fn create_container(&self, request: &CreateRequest) -> Result<String> {
        let options = CreateContainerOptions {
            name: request.name.clone(),
            platform: request.platform.clone().unwrap_or_default(),
        };
        let image = request.body.image.as_deref().unwrap_or("");
        let created = self
            .api
            .create_container(Some(options), request.body.clone())
            .await
            .map_err(|e| Error::engine(format!("creating a container from {image}"), e))?;
        Ok(created.id)
    }

    /// Starts a created container.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        self.api.start_container(id, None).await.map_err(|e| Error::engine(format!("starting container {id}"), e))
    }

    /// The engine's description of a container.
    pub async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.api.inspect_container(id, None).await.map_err(|e| Error::engine(format!("inspecting container {id}"), e))
    }

    /// The IDs of the running containers.
    pub async fn running_containers(&self) -> Result<Vec<String>> {
        let list = self
            .api
            .list_containers(Some(ListContainersOptions { all: false, ..ListContainersOptions::default() }))
            .await
            .map_err(|e| Error::engine("listing containers", e))?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// Whether the container exists (running or not).
    pub async fn container_exists(&self, id: &str) -> Result<bool> {
        match self.inspect_container(id).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Kills and removes a container with its anonymous volumes. Safe to call twice
    /// and on a container that never started: a container already gone (or being
    /// removed by an earlier call) is success.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        // SIGKILL first: a forced removal stops the container with its stop signal
        // and waits 10 s for it, and the builder's `/bin/sh` as PID 1 ignores SIGTERM.
        // Errors (not running, already gone) are the removal's to report.
        let kill = KillContainerOptions { signal: "KILL".into() };
        let _ = self.api.kill_container(id, Some(kill)).await;
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        match self.api.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = Error::engine(format!("removing container {id}"), e);
                let in_progress = matches!(&err, Error::Engine { source: bollard::errors::Error::DockerResponseServerError { status_code: 409, message }, .. } if message.contains("already in progress"));
                if err.is_not_found() || in_progress {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Streams the container's filesystem (`docker export`) to a tarball at `dest`;
    /// returns its size. The engine's tarball is not reproducible: see
    /// [`crate::normalize`].
    pub async fn export_container(&self, id: &str, dest: &Path) -> Result<u64> {
        let action = format!("exporting container {id} to {}", dest.display());
        stream_to_file(self.long.export_container(id), dest, &action).await
    }
}

/// Removes a container when dropped, unless [`ContainerGuard::remove`] ran first.
///
/// A safety net for tests and error paths: builders remove their container in a
/// cleanup step. Dropping blocks the current thread for the removal (on a thread of
/// its own, so it also works while a tokio runtime shuts down).
pub struct ContainerGuard {
    engine: Engine,
    id: Option<String>,
}

impl ContainerGuard {
    /// Guards container `id`.
    pub fn new(engine: &Engine, id: impl Into<String>) -> ContainerGuard {
        ContainerGuard { engine: engine.clone(), id: Some(id.into()) }
    }

    /// The guarded container's ID.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// Removes the container now and reports the result.
    pub async fn remove(mut self) -> Result<()> {
        match self.id.take() {
            Some(id) => self.engine.remove_container(&id).await,
            None => Ok(()),
        }
    }

    /// Stops guarding: the container stays.
    pub fn keep(mut self) -> String {
        self.id.take().unwrap_or_default()
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let engine = self.engine.clone();
        let removal = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(engine.remove_container(&id)).map_err(|e| e.to_string())
        });
        if let Ok(Err(e)) = removal.join() {
            eprintln!("kiln-docker: could not remove a container on drop: {e}");
        }
    }
}

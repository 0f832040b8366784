//! The docker builder's snapshots for the step cache: a snapshot is a commit of the container
//! (tagged `kiln-step-cache:<key>` so the engine keeps it and `kiln cache prune` finds it);
//! resuming removes the container and starts a new one from the committed image with the same
//! run options.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_config::node::Node;
use kiln_core::cache::{Inputs, Snapshot};
use kiln_core::journal::Journal;
use kiln_core::{async_trait, Communicator, Error, Result, RunContext};

use super::steps::{docker_comm, engine_err, start_container};
use super::{Config, State};
use crate::CommitOptions;

/// The repository the cache's snapshots are tagged in.
pub const SNAPSHOT_REPO: &str = "kiln-step-cache";

/// Options that do not change the machine the provisioners see: what happens after them
/// (commit, export, changes), credentials and pulling.
const NOT_MACHINE: &[&str] = &[
    "commit",
    "export_path",
    "discard",
    "changes",
    "author",
    "message",
    "pull",
    "login",
    "login_server",
    "login_username",
    "login_password",
    "ecr_login",
    "aws_access_key",
    "aws_secret_key",
    "aws_token",
    "aws_profile",
    "aws_force_use_public_ecr",
    "docker_path",
    "source_date_epoch",
];

/// The digest of the builder options that change the machine.
pub(super) fn config_digest(node: &Node) -> String {
    let mut i = Inputs::new();
    i.add_node_without("docker builder", node, NOT_MACHINE);
    i.finish()
}

#[async_trait]
impl Snapshot for State {
    fn kind(&self) -> &str {
        "docker"
    }

    fn endpoint(&self) -> String {
        self.engine.host().to_string()
    }

    async fn source_key(&self, _ctx: &RunContext) -> Result<String> {
        if self.comm_kind != "docker" {
            return Err(Error::new(format!(
                "the docker builder snapshots only with the docker communicator (this build uses {:?})",
                self.comm_kind
            )));
        }
        let image = &self.config.image;
        let info = self.engine.inspect_image(image).await.map_err(engine_err)?;
        let id = info.id.ok_or_else(|| Error::new(format!("the engine gives no ID for image {image}")))?;
        let mut i = Inputs::new();
        i.add("engine", self.engine.host().as_bytes());
        i.add("image", id.as_bytes());
        i.add("options", self.config_digest.as_bytes());
        Ok(i.finish())
    }

    async fn snapshot(&mut self, ctx: &RunContext, key: &str) -> Result<String> {
        let id = self.container.clone().ok_or_else(|| Error::new("no container to snapshot"))?;
        let options = CommitOptions { reference: Some(snapshot_tag(key)), ..CommitOptions::default() };
        ctx.ui.log(format!("step cache: committing container {id}"));
        self.engine.commit(&id, &options).await.map_err(|e| Error::new(format!("committing container {id}: {e}")))
    }

    async fn resume_from(&mut self, ctx: &RunContext, snapshot: &str) -> Result<Arc<dyn Communicator>> {
        if let Some(old) = self.container.take() {
            self.comm = None;
            if let Err(e) = self.engine.remove_container(&old).await {
                // Still ours to remove at the end.
                self.container = Some(old.clone());
                return Err(Error::new(format!("removing container {old} to resume from the cache: {e}")));
            }
            if let Err(e) = Journal::for_build(&ctx.info).forget(crate::JOURNAL_CONTAINER, &old) {
                ctx.ui.log(format!("could not cross container {old} out of the cleanup journal: {e}"));
            }
        }
        let from = Config { image: snapshot.to_string(), ..(*self.config).clone() };
        start_container(self, ctx, &from).await?;
        let id = self.container.clone().ok_or_else(|| Error::new("no container after resuming"))?;
        let comm = docker_comm(self, &id).await?;
        self.comm = Some(Arc::clone(&comm));
        Ok(comm)
    }

    async fn size(&mut self, snapshot: &str) -> u64 {
        let info = self.engine.inspect_image(snapshot).await.ok();
        info.and_then(|i| i.size).map_or(0, |s| s.max(0) as u64)
    }

    async fn exists(&self, snapshot: &str) -> bool {
        self.engine.image_exists(snapshot).await.unwrap_or(false)
    }

    async fn discard(&self, snapshot: &str) -> Result<()> {
        self.engine.remove_image(snapshot, false).await.map_err(engine_err)
    }

    /// A `docker save` archive of the snapshot under its tag, so loading it elsewhere brings
    /// the tag back.
    async fn export(
        &mut self,
        ctx: &RunContext,
        key: &str,
        snapshot: &str,
        dir: &Path,
    ) -> Result<Option<Vec<PathBuf>>> {
        let tag = snapshot_tag(key);
        let tagged = self.engine.inspect_image(&tag).await.map_err(engine_err)?.id.unwrap_or_default();
        if tagged != snapshot {
            // Another build re-tagged it since: tag this snapshot again for the archive.
            self.engine.tag(snapshot, &tag).await.map_err(engine_err)?;
        }
        let file = dir.join("image.tar");
        ctx.ui.log(format!("step cache: saving {tag} ({snapshot}) to {}", file.display()));
        self.engine.save(&[&tag], &file).await.map_err(engine_err)?;
        Ok(Some(vec![file]))
    }

    /// Loads the archive [`Snapshot::export`] wrote; the snapshot is the image its tag names.
    async fn import(&mut self, ctx: &RunContext, key: &str, files: &[PathBuf]) -> Result<String> {
        let archive = files.first().ok_or_else(|| Error::new("the shared snapshot has no image archive"))?;
        let report = self.engine.load(archive).await.map_err(engine_err)?;
        ctx.ui.log(format!("step cache: loaded {}", report.join("; ")));
        let tag = snapshot_tag(key);
        let info = self.engine.inspect_image(&tag).await.map_err(engine_err)?;
        info.id.ok_or_else(|| Error::new(format!("the engine gives no ID for the loaded image {tag}")))
    }
}

/// The tag a snapshot is committed under (`kiln-step-cache:<first 32 digits of the key>`).
fn snapshot_tag(key: &str) -> String {
    let short: String = key.chars().take(32).collect();
    format!("{SNAPSHOT_REPO}:{short}")
}

//! `docker-save`: writes the image of a commit, docker-import or docker-tag to a
//! `docker save` archive, reproducibly when asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;

use crate::artifact::{IMPORT_ID, TAG_ID};
use crate::normalize::{normalize_save, Mtime};

/// Saves the image to a `docker save` archive at `path` (loadable with `docker
/// load`). An existing file is only replaced with `-force`. The artifact passes on
/// unchanged. With `source_date_epoch` (or the `SOURCE_DATE_EPOCH` environment
/// variable) the archive is reproducible: two builds that leave the same files and
/// configuration give the same bytes (layers normalised like the builder's export,
/// the image's creation and history times set to the epoch, the digests recomputed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The archive to write. Required.
    #[serde(default)]
    pub path: String,
    /// kiln: make the archive reproducible with this time (seconds since 1970) as
    /// the image's creation time and the latest modification time in its layers.
    #[serde(default)]
    pub source_date_epoch: Option<u64>,
}

#[derive(Default)]
pub struct DockerSave {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<DockerSave>::default()
}

/// Removes the files of an unfinished save, also when the post-processor's future is
/// dropped (the build was cancelled).
struct Partial(Vec<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn beside(path: &Path, tag: &str) -> PathBuf {
    kiln_core::output::temp_path_beside(path, tag)
}

#[async_trait]
impl PostProcessor for DockerSave {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"docker-save\" post-processor")?;
        if c.path.trim().is_empty() {
            return Err(Diagnostic::error("docker-save needs a path")
                .at_opt(config.span_of("path"))
                .with_help("add \"path\": the archive to write, e.g. \"image.tar\"")
                .into());
        }
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        super::check_input(artifact.as_ref(), &[IMPORT_ID, TAG_ID], "Can only save Docker builder artifacts.")?;
        let path = PathBuf::from(&self.config.path);
        kiln_core::output::check_output_file(&path, ctx.info.force)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::new(format!("creating the folder of {}: {e}", self.config.path)))?;
        }
        let engine = super::connect().await?;
        let image = artifact.id();
        ctx.ui.message(format!("Saving image: {image}"));
        let raw = beside(&path, "save");
        let mut partial = Partial(vec![raw.clone()]);
        engine.save(&[&image], &raw).await.map_err(|e| Error::new(e.to_string()))?;
        let epoch = self.config.source_date_epoch.map(Mtime::Clamp).or_else(Mtime::from_source_date_epoch);
        let done = match epoch {
            None => raw,
            Some(mtime) => {
                ctx.ui.message("Making the archive reproducible");
                let normalized = beside(&path, "normalized");
                partial.0.push(normalized.clone());
                let (from, to) = (raw.clone(), normalized.clone());
                let ids = tokio::task::spawn_blocking(move || normalize_save(&from, &to, mtime))
                    .await
                    .map_err(|e| Error::new(e.to_string()))?
                    .map_err(|e| Error::new(format!("normalising the archive of {image}: {e}")))?;
                ctx.ui.message(format!("Image ID in the archive: {}", ids.join(", ")));
                normalized
            }
        };
        kiln_core::output::commit(&done, &path, ctx.info.force)?;
        ctx.ui.message(format!("Saved to: {}", self.config.path));
        Ok(PostProcessed { artifact: Some(artifact), keep: true, force_keep: false })
    }
}

//! `docker-import`: imports the docker builder's exported tarball (or an artifice
//! artifact's first file) as an image.

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;

use crate::artifact::{ImageArtifact, ARTIFICE_ID, BUILDER_ID, IMPORT_ID};

/// Imports a filesystem tarball (the docker builder's `export_path`) as an image. The
/// new artifact's ID is `repository[:tag]` (the image ID when no repository is
/// given); docker-tag, docker-push and docker-save take it. The input tarball is
/// deleted afterwards unless `keep_input_artifact` is true.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The repository of the image, e.g. `registry.example.com/team/app`.
    #[serde(default)]
    pub repository: String,
    /// The tag (default `latest`).
    #[serde(default)]
    pub tag: Option<String>,
    /// Dockerfile instructions applied to the image: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
    #[serde(default)]
    pub changes: Vec<String>,
    /// The platform recorded in the image, e.g. `linux/arm64` (the engine's own when unset).
    #[serde(default)]
    pub platform: Option<String>,
}

#[derive(Default)]
pub struct DockerImport {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<DockerImport>::default()
}

impl Config {
    /// `repository[:tag]`, empty when no repository is given.
    fn reference(&self) -> String {
        match self.tag.as_deref().filter(|t| !t.is_empty()) {
            Some(t) if !self.repository.is_empty() => format!("{}:{t}", self.repository),
            _ => self.repository.clone(),
        }
    }
}

#[async_trait]
impl PostProcessor for DockerImport {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"docker-import\" post-processor")?;
        let mut d = Diagnostics::new();
        if let Err(e) = crate::canonical_changes(&c.changes) {
            d.push(Diagnostic::error(e.to_string()).at_opt(config.span_of("changes")));
        }
        if c.tag.as_deref().is_some_and(|t| !t.is_empty()) && c.repository.is_empty() {
            d.push(
                Diagnostic::error("tag needs a repository")
                    .at_opt(config.span_of("tag"))
                    .with_help("add \"repository\", e.g. \"registry.example.com/team/app\""),
            );
        }
        let reference = c.reference();
        if !reference.is_empty() {
            if let Err(e) = crate::ImageRef::parse(&reference) {
                d.push(Diagnostic::error(e.to_string()).at_opt(config.span_of("repository")));
            }
        }
        d.into_result()?;
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        super::check_input(
            artifact.as_ref(),
            &[BUILDER_ID, ARTIFICE_ID],
            "Can only import from Docker builder and Artifice post-processor artifacts. If you are getting this \
             error after having run the docker builder, it may be because you set commit: true in your Docker \
             builder, so the image is already imported.",
        )?;
        let files = artifact.files();
        let Some(tarball) = files.first().filter(|f| !f.is_empty()) else {
            return Err(Error::new(format!(
                "artifact {} has no file to import (a docker builder with discard: true exports nothing)",
                artifact.id()
            )));
        };
        let c = &self.config;
        let reference = c.reference();
        let engine = super::connect().await?;
        ctx.ui.message(format!("Importing image: {}", artifact.id()));
        ctx.ui.message(format!("Repository: {reference}"));
        let id = engine
            .import(
                std::path::Path::new(tarball),
                (!reference.is_empty()).then_some(reference.as_str()),
                &c.changes,
                None,
                c.platform.as_deref(),
            )
            .await
            .map_err(|e| Error::new(format!("Error importing container: {e}")))?;
        ctx.ui.message(format!("Imported ID: {id}"));
        let out = ImageArtifact {
            builder_id: IMPORT_ID,
            id: if reference.is_empty() { id } else { reference },
            tags: Vec::new(),
            data: Default::default(),
            engine,
        };
        Ok(PostProcessed { artifact: Some(Arc::new(out)), keep: false, force_keep: false })
    }
}

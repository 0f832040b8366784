//! `docker-tag`: tags the image of a commit or a docker-import.

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;

use crate::artifact::{ImageArtifact, IMPORT_ID, TAG_ID};

/// Tags the image (a docker builder commit, a docker-import) as `repository:tag` for
/// each of `tags`, or as `repository` alone. The new artifact's ID is the last
/// reference; docker-push pushes all of them. The input image is always kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The repository to tag the image in, e.g. `registry.example.com/team/app`. Required.
    #[serde(default)]
    pub repository: String,
    /// The tags (without any, the image is tagged as `repository`, that is `latest`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Deprecated form of `tags` (`kiln fix` rewrites it).
    #[serde(default)]
    pub tag: Vec<String>,
    /// Accepted for compatibility: the Engine API always moves a tag that exists
    /// (Docker 1.12 dropped `docker tag -f`).
    #[serde(default)]
    pub force: bool,
}

#[derive(Default)]
pub struct DockerTag {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<DockerTag>::default()
}

impl Config {
    /// The references to tag the image as.
    pub fn references(&self) -> Vec<String> {
        let tags: Vec<&String> = self.tags.iter().chain(&self.tag).collect();
        if tags.is_empty() {
            return vec![self.repository.clone()];
        }
        tags.iter().map(|t| format!("{}:{t}", self.repository)).collect()
    }
}

#[async_trait]
impl PostProcessor for DockerTag {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"docker-tag\" post-processor")?;
        let mut d = Diagnostics::new();
        let mut warnings = Vec::new();
        if c.repository.trim().is_empty() {
            d.push(
                Diagnostic::error("docker-tag needs a repository")
                    .at_opt(config.span_of("repository"))
                    .with_help("add \"repository\", e.g. \"registry.example.com/team/app\""),
            );
        } else {
            for r in c.references() {
                if let Err(e) = crate::ImageRef::parse(&r) {
                    d.push(Diagnostic::error(e.to_string()).at_opt(config.span_of(if c.tags.is_empty() {
                        "tag"
                    } else {
                        "tags"
                    })));
                }
            }
        }
        if !c.tag.is_empty() {
            warnings.push(
                Diagnostic::warning("\"tag\" is deprecated in docker-tag; use \"tags\"")
                    .at_opt(config.span_of("tag"))
                    .with_help("rename \"tag\" to \"tags\" (or run `kiln fix`)"),
            );
        }
        if config.get("force").is_some() {
            warnings.push(
                Diagnostic::warning("force does nothing: the Engine API always moves an existing tag")
                    .at_opt(config.span_of("force")),
            );
        }
        d.into_result()?;
        self.config = c;
        Ok(warnings)
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        super::check_input(artifact.as_ref(), &[TAG_ID, IMPORT_ID], "Can only tag from Docker builder artifacts.")?;
        let engine = super::connect().await?;
        let image = artifact.id();
        let references = self.config.references();
        for r in &references {
            ctx.ui.message(format!("Tagging image: {image}"));
            ctx.ui.message(format!("Repository: {r}"));
            engine.tag(&image, r).await.map_err(|e| Error::new(format!("Error tagging image: {e}")))?;
        }
        let with_tags = !self.config.tags.is_empty() || !self.config.tag.is_empty();
        let out = ImageArtifact {
            builder_id: TAG_ID,
            id: references.last().cloned().unwrap_or_default(),
            tags: if with_tags { references } else { Vec::new() },
            data: Default::default(),
            engine,
        };
        // A tag is pointless without its image: the input is kept whatever
        // keep_input_artifact says.
        Ok(PostProcessed { artifact: Some(Arc::new(out)), keep: true, force_keep: true })
    }
}

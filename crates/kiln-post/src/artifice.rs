//! `artifice`: replaces the artifact with the files named in the configuration (files a
//! provisioner downloaded, for example), so later post-processors work on them.

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BasicArtifact, BuildInfo, PostProcessed, PostProcessor, Result, RunContext};
use serde::Deserialize;

pub const BUILDER_ID: &str = "packer.post-processor.artifice";

/// Options of `artifice`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The files that make up the new artifact. Required.
    #[serde(default)]
    pub files: Vec<String>,
}

#[derive(Default)]
pub struct Artifice {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<Artifice>::default()
}

#[async_trait]
impl PostProcessor for Artifice {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"artifice\" post-processor")?;
        if c.files.is_empty() {
            return Err(Diagnostic::error("artifice needs at least one file")
                .at_opt(config.span_of("files"))
                .with_help("list the files of the new artifact in \"files\"")
                .into());
        }
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, _ctx: &RunContext, _artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let files = self.config.files.clone();
        let a = BasicArtifact {
            builder_id: BUILDER_ID.into(),
            description: crate::files_description(&files),
            files,
            owns_files: true,
            user_files: true,
            ..BasicArtifact::default()
        };
        Ok(PostProcessed { artifact: Some(Arc::new(a)), keep: true, force_keep: false })
    }
}

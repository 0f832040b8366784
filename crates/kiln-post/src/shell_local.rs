//! `shell-local` as a post-processor: the same options and engine as the provisioner; the
//! artifact passes through unchanged.

use std::sync::Arc;

use kiln_comm::shell_local::{self, Config};
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, Artifact, BuildInfo, PostProcessed, PostProcessor, Result, RunContext};

#[derive(Default)]
pub struct ShellLocal {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<ShellLocal>::default()
}

#[async_trait]
impl PostProcessor for ShellLocal {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"shell-local\" post-processor")?;
        shell_local::check(&c, config)?;
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        shell_local::run(&self.config, ctx, &shell_local::packer_env(&ctx.info)).await?;
        Ok(PostProcessed { artifact: Some(artifact), keep: true, force_keep: false })
    }
}

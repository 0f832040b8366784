//! `shell-local` as a provisioner: runs commands on the machine running kiln, with the build's
//! name and type in the environment. Its options, checks and runner are
//! [`kiln_comm::shell_local`], which the post-processor of the same name uses too.

use std::sync::Arc;

use kiln_comm::shell_local::{check, packer_env, run, Config};
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::{async_trait, BuildInfo, Communicator, GeneratedData, Provisioner, Result, RunContext};

#[derive(Default)]
pub struct ShellLocal {
    config: Config,
    /// The configuration as written, re-decoded at run time when it refers to build data.
    node: Option<Node>,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<ShellLocal>::default()
}

#[async_trait]
impl Provisioner for ShellLocal {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"shell-local\" provisioner")?;
        check(&c, config)?;
        self.config = c;
        self.node = Some(config.clone());
        Ok(Vec::new())
    }

    async fn provision(&self, ctx: &RunContext, _comm: Arc<dyn Communicator>, data: &GeneratedData) -> Result<()> {
        let late: Option<Config> =
            kiln_core::late::redecode(self.node.as_ref(), data, "the \"shell-local\" provisioner")?;
        run(late.as_ref().unwrap_or(&self.config), ctx, &packer_env(&ctx.info)).await
    }
}

#[cfg(test)]
mod tests;

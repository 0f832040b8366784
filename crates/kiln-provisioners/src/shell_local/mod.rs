//! `shell-local` as a provisioner: runs commands on the machine running kiln, with the build's
//! name and type in the environment. Its options, checks and runner are
//! [`kiln_comm::shell_local`], which the post-processor of the same name uses too.

use std::sync::Arc;

use kiln_comm::shell_local::{check, packer_env, run, Config};
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, GeneratedData, Provisioner, Result, RunContext};

#[derive(Default)]
pub struct ShellLocal {
    config: Config,
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
        Ok(Vec::new())
    }

    async fn provision(&self, ctx: &RunContext, _comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        run(&self.config, ctx, &packer_env(&ctx.info)).await
    }

    /// Its scripts' bytes and the environment kiln adds. A cached step does not run, here
    /// either: what its commands did on this machine is not redone (docs/step-cache.md).
    fn inputs(&self, info: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        let c = &self.config;
        for s in c.script.iter().chain(c.scripts.iter().flatten()) {
            inputs.add_path("script", std::path::Path::new(s))?;
        }
        crate::add_env(inputs, &packer_env(info));
        Ok(Cacheable::Yes)
    }
}

#[cfg(test)]
mod tests;

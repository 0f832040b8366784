//! `breakpoint`: pauses the build until the user presses enter (unless `disable`).

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

/// Options of `breakpoint`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Skip the pause (keeps the breakpoint in the template for later).
    #[serde(default)]
    pub disable: bool,
    /// Shown when pausing, to say which breakpoint this is.
    #[serde(default)]
    pub note: String,
}

#[derive(Default)]
pub struct Breakpoint {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<Breakpoint>::default()
}

#[async_trait]
impl Provisioner for Breakpoint {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        self.config = kiln_config::decode::decode_component(config, "the \"breakpoint\" provisioner")?;
        Ok(Vec::new())
    }

    async fn provision(&self, ctx: &RunContext, _comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let note = &self.config.note;
        if self.config.disable {
            ctx.ui.say(format!("Breakpoint provisioner with note \"{note}\" disabled; continuing..."));
            return Ok(());
        }
        ctx.ui.say(format!("Pausing at breakpoint provisioner with note \"{note}\"."));
        tokio::select! {
            _ = ctx.ui.ask("Press enter to continue.") => Ok(()),
            _ = ctx.cancel.cancelled() => Err(kiln_core::Error::cancelled()),
        }
    }

    /// A breakpoint changes nothing on the machine: its configuration is all there is.
    fn inputs(&self, _info: &BuildInfo, _inputs: &mut Inputs) -> Result<Cacheable> {
        Ok(Cacheable::Yes)
    }
}

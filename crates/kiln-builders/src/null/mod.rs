//! The `null` builder: no machine of its own; it connects to an existing host (or to nothing,
//! with `"communicator": "none"`) and runs the provisioners there.

pub mod config;

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::hook::{HasCommunicator, StepProvision};
use kiln_core::step::{run_steps, Outcome, Step};
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Builder, Communicator, GeneratedData, ProvisionHook, Result,
    RunContext,
};

pub use config::Config;

pub const BUILDER_ID: &str = "fnoeding.null";

#[derive(Default)]
pub struct NullBuilder {
    comm: kiln_comm::Config,
}

pub fn new() -> Box<dyn Builder> {
    Box::<NullBuilder>::default()
}

/// What the steps share.
#[derive(Default)]
struct State {
    comm: Option<Arc<dyn Communicator>>,
    data: GeneratedData,
}

impl HasCommunicator for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn generated_data(&self) -> GeneratedData {
        self.data.clone()
    }
}

struct StepConnect(kiln_comm::Config);

#[async_trait]
impl Step<State> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        if self.0.kind() != "none" {
            ctx.ui.say(format!(
                "Using {} communicator to connect: {}",
                self.0.kind(),
                self.0.ssh_host.as_deref().unwrap_or("localhost")
            ));
        }
        let ui = ctx.ui.clone();
        let say = move |s: &str| ui.say(s);
        state.comm = Some(self.0.connect(&say).await?);
        let c = &self.0;
        let port = c.ssh_port.unwrap_or(22).to_string();
        for (k, v) in [
            ("ConnType", c.kind()),
            ("Host", c.ssh_host.as_deref().unwrap_or("")),
            ("Port", port.as_str()),
            ("User", c.ssh_username.as_deref().unwrap_or("")),
            ("Password", c.ssh_password.as_deref().unwrap_or("")),
        ] {
            state.data.insert(k.to_string(), v.to_string());
        }
        Ok(())
    }
    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, _o: Outcome) {
        state.comm = None;
    }
}

#[async_trait]
impl Builder for NullBuilder {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        // The builder's own options are none: decoding them only rejects unknown keys.
        let (_none, comm): (Config, kiln_comm::Config) =
            kiln_config::decode::decode_split(config, "the \"null\" builder")?;
        comm.check(config, true).into_result()?;
        // The null builder never makes a temporary key pair for ssh_clear_authorized_keys to remove.
        let warnings = comm.check_clear_authorized_keys(config, false).into_iter().collect();
        self.comm = comm;
        Ok(warnings)
    }

    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        let steps: Vec<Box<dyn Step<State>>> =
            vec![Box::new(StepConnect(self.comm.clone())), Box::new(StepProvision { hook })];
        let mut state = State::default();
        run_steps(&steps, &mut state, ctx).await?;
        Ok(Some(Arc::new(BasicArtifact {
            builder_id: BUILDER_ID.into(),
            id: "Null".into(),
            description: "Did not export anything. This is the null builder".into(),
            generated: state.data,
            ..BasicArtifact::default()
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_authorized_keys_without_a_temporary_key_is_a_warning() {
        let src = "{\"ssh_host\": \"h\", \"ssh_username\": \"u\",\n \"ssh_private_key_file\": \"k\", \"ssh_clear_authorized_keys\": true}";
        let n = kiln_template::testing::json_node("t.json", src).unwrap();
        let mut b = NullBuilder::default();
        let w = b.prepare(&n, &BuildInfo::default()).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].summary, "ssh_clear_authorized_keys does nothing here");
        assert_eq!(w[0].span.as_ref().unwrap().line_col(), (2, 60));
    }
}

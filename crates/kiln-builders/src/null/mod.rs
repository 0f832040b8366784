//! The `null` builder: no machine of its own; it connects to an existing host (or to nothing,
//! with `"communicator": "none"`) and runs the provisioners there.

pub mod config;

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::hook::StepProvision;
use kiln_core::step::{run_steps, Step};
use kiln_core::{async_trait, Artifact, BasicArtifact, BuildInfo, Builder, ProvisionHook, Result, RunContext};
use kiln_toolkit::connect::StepConnect;
use kiln_toolkit::CommonState;

pub use config::Config;

pub const BUILDER_ID: &str = "fnoeding.null";

#[derive(Default)]
pub struct NullBuilder {
    comm: kiln_comm::Config,
}

pub fn new() -> Box<dyn Builder> {
    Box::<NullBuilder>::default()
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
        let steps: Vec<Box<dyn Step<CommonState>>> =
            vec![Box::new(StepConnect::new(&self.comm)), Box::new(StepProvision { hook })];
        let mut state = CommonState::default();
        run_steps(&steps, &mut state, ctx).await?;
        Ok(Some(Arc::new(BasicArtifact {
            builder_id: BUILDER_ID.into(),
            id: "Null".into(),
            description: "Did not export anything. This is the null builder".into(),
            generated: state.generated,
            ..BasicArtifact::default()
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_authorized_keys_without_a_temporary_key_is_a_warning() {
        // The key file is read at prepare: a real one.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, kiln_comm::keys::TempKeyPair::generate("k").unwrap().private_openssh).unwrap();
        let src = format!(
            "{{\"ssh_host\": \"h\", \"ssh_username\": \"u\", \"ssh_private_key_file\": {:?},\n \"ssh_clear_authorized_keys\": true}}",
            key.display().to_string()
        );
        let n = kiln_template::testing::json_node("t.json", &src).unwrap();
        let mut b = NullBuilder::default();
        let w = b.prepare(&n, &BuildInfo::default()).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].summary, "ssh_clear_authorized_keys does nothing here");
        assert_eq!(w[0].span.as_ref().unwrap().line_col(), (2, 31));
    }
}

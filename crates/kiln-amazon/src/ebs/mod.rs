//! The `amazon-ebs` builder: an EBS-backed AMI from an instance launched from a source AMI.
//!
//! [`EbsBuilder::steps`] is the story of a build. The connect and provision steps come from
//! the builder toolkit; until they are wired, [`EbsBuilder::run_with`] takes them as a slot.

pub mod config;
mod prepare;
pub mod state;
pub mod steps;

use std::sync::Arc;
use std::time::Duration;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::step::{run_steps, Step};
use kiln_core::{async_trait, Artifact, BuildInfo, Builder, Error, ProvisionHook, Result, RunContext};

pub use config::Config;
pub use state::{Settings, State, Waits};

use crate::client::{CallHook, Ec2Client, Env, WaitConfig};
use crate::common::artifact::AmiArtifact;
use crate::common::source_address::DEFAULT_CHECKIP_URL;

/// Packer's id of the amazon-ebs builder's artifacts.
pub const BUILDER_ID: &str = "mitchellh.amazonebs";

/// What a build of this builder makes known (`build.SourceAMI`, `{{ build `SourceAMIName` }}`),
/// as Packer's amazon-ebs declares them.
pub const GENERATED_DATA_KEYS: &[&str] =
    &["SourceAMIName", "BuildRegion", "SourceAMI", "SourceAMICreationDate", "SourceAMIOwner", "SourceAMIOwnerName"];

/// The `amazon-ebs` builder.
pub struct EbsBuilder {
    settings: Arc<Settings>,
    env: Env,
    hook: Option<CallHook>,
}

impl Default for EbsBuilder {
    fn default() -> EbsBuilder {
        EbsBuilder {
            settings: Arc::new(Settings { checkip_url: DEFAULT_CHECKIP_URL.into(), ..Settings::default() }),
            env: Env::process(),
            hook: None,
        }
    }
}

pub fn new() -> Box<dyn Builder> {
    Box::<EbsBuilder>::default()
}

impl EbsBuilder {
    /// Reads `env` instead of the process environment (credentials, region, polling).
    pub fn with_env(mut self, env: Env) -> EbsBuilder {
        self.env = env;
        self
    }

    /// Called after every AWS call (`-debug` logs, tests counting calls).
    pub fn with_call_hook(mut self, hook: CallHook) -> EbsBuilder {
        self.hook = Some(hook);
        self
    }

    /// Where kiln's public address is looked up (default `https://checkip.amazonaws.com`).
    pub fn with_checkip_url(mut self, url: impl Into<String>) -> EbsBuilder {
        Arc::make_mut(&mut self.settings).checkip_url = url.into();
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The steps of a build. `connect` goes where the instance is ready and reachable (the
    /// toolkit's connect step and the provision step): it can read
    /// [`State::communicator_config`] (host, port, user, temporary private key or password)
    /// and must set [`State::comm`].
    pub fn steps(&self, connect: Vec<Box<dyn Step<State>>>) -> Vec<Box<dyn Step<State>>> {
        use steps::*;
        let mut list: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepPreValidate),
            Box::new(StepSourceAmi),
            Box::new(StepNetworkInfo),
            Box::new(StepKeyPair),
            Box::new(StepSecurityGroup),
            Box::new(StepRunInstance),
            Box::new(StepInstanceAddress),
            Box::new(StepAuthorizeAccess),
        ];
        list.extend(connect);
        list.extend([
            Box::new(StepStopInstance) as Box<dyn Step<State>>,
            Box::new(StepModifyInstance),
            Box::new(StepDeregisterAmi),
            Box::new(StepCreateImage),
            Box::new(StepCopyImage),
            Box::new(StepModifyAttributes),
            Box::new(StepCreateTags),
        ]);
        list
    }

    /// A fresh state: the AWS configuration loaded (no call made yet).
    pub fn new_state(&self) -> Result<State> {
        let s = &self.settings;
        let cfg = s.access.load(self.env.clone(), self.hook.clone()).map_err(|e| Error::new(e.to_string()))?;
        let ec2 = Ec2Client::new(&cfg);
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let waits = Waits {
            instance: s.access.wait_config(&self.env, WaitConfig { timeout: minutes(10), ..WaitConfig::default() }),
            image: s.access.wait_config(&self.env, WaitConfig { timeout: minutes(30), ..WaitConfig::default() }),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(format!("cannot set up the HTTP client: {e}")))?;
        let mut state = State::new(self.settings.clone(), ec2, waits, http);
        state.build_data.insert("BuildRegion".into(), state.region.clone());
        state.generated.insert("BuildRegion".into(), state.region.clone());
        Ok(state)
    }

    /// Runs the steps with `connect` in the connect-and-provision slot; returns the artifact
    /// (none when no AMI was kept).
    pub async fn run_with(
        &self,
        ctx: &RunContext,
        connect: Vec<Box<dyn Step<State>>>,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        self.run_list(ctx, self.steps(connect)).await
    }

    /// Runs `steps` (normally [`EbsBuilder::steps`]) over a fresh state; returns the artifact.
    pub async fn run_list(
        &self,
        ctx: &RunContext,
        steps: Vec<Box<dyn Step<State>>>,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        ctx.ui.add_secrets(self.settings.access.secrets());
        let mut state = self.new_state()?;
        run_steps(&steps, &mut state, ctx).await?;
        let amis = state.amis();
        if amis.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(AmiArtifact {
            builder_id: BUILDER_ID.into(),
            amis,
            generated_data: state.generated.clone(),
            ec2: state.ec2.clone(),
        })))
    }
}

#[async_trait]
impl Builder for EbsBuilder {
    fn prepare(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (mut settings, warnings) = prepare::prepare(config, info)?;
        settings.checkip_url = self.settings.checkip_url.clone();
        self.settings = Arc::new(settings);
        Ok(warnings)
    }

    fn generated_data_keys(&self) -> Vec<String> {
        GENERATED_DATA_KEYS.iter().map(|k| k.to_string()).collect()
    }

    async fn run(&self, ctx: &RunContext, _hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        // TODO(lead): wire the builder toolkit's connect step and kiln_core::hook::StepProvision
        // { hook } into this slot (see `EbsBuilder::steps`); until then only `"communicator":
        // "none"` builds, and the provisioners are not run.
        if self.settings.comm.kind() != "none" {
            return Err(Error::new(format!(
                "amazon-ebs cannot connect with the {} communicator yet (its connect step is not wired); use \"communicator\": \"none\"",
                self.settings.comm.kind()
            )));
        }
        self.run_with(ctx, Vec::new()).await
    }
}

//! The `amazon-ebs` builder: an EBS-backed AMI from an instance launched from a source AMI.
//!
//! [`EbsBuilder::steps`] is the story of a build. [`Builder::run`] puts the connect and
//! provision steps in its slot; tests put steps of their own there with [`EbsBuilder::run_with`].

pub mod config;
mod prepare;
pub mod state;
pub mod steps;

use std::sync::Arc;
use std::time::Duration;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::hook::StepProvision;
use kiln_core::step::{run_steps, Step};
use kiln_core::{async_trait, Artifact, BuildInfo, Builder, Error, ProvisionHook, Result, RunContext};

pub use config::Config;
pub use state::{Settings, State, Waits};

use crate::client::{CallHook, Ec2Client, Env, WaitConfig};
use crate::common::artifact::AmiArtifact;
use crate::common::journal::Recorder;
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
    /// Where the cleanup journal goes (default: kiln's, under the cache folder).
    journal_dir: Option<std::path::PathBuf>,
}

impl Default for EbsBuilder {
    fn default() -> EbsBuilder {
        EbsBuilder {
            settings: Arc::new(Settings { checkip_url: DEFAULT_CHECKIP_URL.into(), ..Settings::default() }),
            env: Env::process(),
            hook: None,
            journal_dir: None,
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

    /// Writes the cleanup journal to `dir` instead of kiln's journal folder (tests).
    pub fn with_journal_dir(mut self, dir: impl Into<std::path::PathBuf>) -> EbsBuilder {
        self.journal_dir = Some(dir.into());
        self
    }

    /// The build's cleanup journal.
    pub fn journal(&self, info: &BuildInfo) -> kiln_core::journal::Journal {
        match &self.journal_dir {
            Some(d) => kiln_core::journal::Journal::in_dir(d, &info.name, &info.run_uuid),
            None => kiln_core::journal::Journal::for_build(info),
        }
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
    /// connect step, the provision step, and kiln-comm's `StepCleanupTempKeys` for
    /// `ssh_clear_authorized_keys`): it can read
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
        if self.settings.ebs.skip_create_ami {
            // No AMI: the instance is terminated by its step's cleanup.
            return list;
        }
        list.extend([
            Box::new(StepStopInstance) as Box<dyn Step<State>>,
            Box::new(StepModifyInstance),
            Box::new(StepDeregisterAmi),
            Box::new(StepCreateImage),
            Box::new(StepCopyImage),
            Box::new(StepModifyAttributes),
            Box::new(StepCreateTags),
            Box::new(StepImageLifecycle),
        ]);
        list
    }

    /// A fresh state: the AWS configuration loaded (no call made yet), each AWS call reported
    /// to `hook`.
    pub fn new_state(&self, hook: Option<CallHook>) -> Result<State> {
        let s = &self.settings;
        let cfg = s.access.load(self.env.clone(), hook).map_err(|e| Error::new(e.to_string()))?;
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

    /// Writes each AWS call to the debug log (`PACKER_LOG=1`, `-debug`, JSON logs) with its
    /// duration, then calls the hook given with [`EbsBuilder::with_call_hook`]. A report holds
    /// no parameter, header or body, so no secret can reach the log this way.
    fn logging_hook(&self, ctx: &RunContext) -> CallHook {
        let ui = ctx.ui.clone();
        let next = self.hook.clone();
        Arc::new(move |r: &crate::client::CallReport| {
            let outcome = match (&r.error_code, r.status) {
                (Some(code), _) => format!("error {code}"),
                (None, Some(status)) => format!("HTTP {status}"),
                (None, None) => "no answer".to_string(),
            };
            ui.log(format!(
                "aws: {} {} in {} took {} ms ({} attempt{}, {outcome}{})",
                r.service,
                r.action,
                r.region,
                r.duration.as_millis(),
                r.attempts,
                if r.attempts == 1 { "" } else { "s" },
                r.request_id.as_deref().map(|id| format!(", request {id}")).unwrap_or_default()
            ));
            if let Some(h) = &next {
                h(r);
            }
        })
    }

    /// Runs `steps` (normally [`EbsBuilder::steps`]) over a fresh state; returns the artifact.
    pub async fn run_list(
        &self,
        ctx: &RunContext,
        steps: Vec<Box<dyn Step<State>>>,
    ) -> Result<Option<Arc<dyn Artifact>>> {
        ctx.ui.add_secrets(self.settings.access.secrets());
        let mut state = self.new_state(Some(self.logging_hook(ctx)))?;
        state.journal = Recorder::new(self.journal(&ctx.info), &self.settings.access);
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

    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        let clear_keys = kiln_comm::authorized_keys::StepCleanupTempKeys::new(&self.settings.comm);
        self.run_with(ctx, vec![Box::new(steps::StepConnect), Box::new(StepProvision { hook }), Box::new(clear_keys)])
            .await
    }
}

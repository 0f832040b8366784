//! External plugin components as kiln's own: a [`PluginBuilder`], [`PluginProvisioner`] and
//! [`PluginPostProcessor`] implement kiln-core's traits over a started plugin, so the registry,
//! `validate`, the scheduler, the hook, the summary and the manifest treat them like built-in
//! components.
//!
//! Life of one: `prepare`/`configure` (synchronous, before the build runtime exists) starts the
//! plugin on the plugin runtime ([`crate::runtime`]), decodes an HCL2 body against its spec
//! ([`config`]) and calls its `Prepare`; `run`/`provision`/`post_process` drive it from the
//! scheduler's runtime. Ctrl-C (kiln's `Cancel`) becomes the plugin's `Cancel`; the plugin then
//! runs its own cleanup, and kiln waits for it (at most [`cancel_grace`]) before it kills the
//! process group. Dropping the component kills the plugin.

pub mod artifact;
pub mod comm;
pub mod config;
pub mod datasource;
pub mod ui;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::component::{
    Artifact, BuildInfo, Builder, Communicator, GeneratedData, PostProcessed, PostProcessor, ProvisionHook,
    Provisioner, RunContext,
};
use kiln_core::registry::{BuilderFactory, Origin, Registry};
use tokio::runtime::Handle;

use crate::client::Client;
use crate::error::ErrorKind;
use crate::hcldec::Spec;
use crate::process::PluginCommand;
use crate::runtime::{block, on_plugin_runtime};
use artifact::{KilnArtifact, PluginArtifact};
use comm::KilnComm;
use ui::{HookBridge, UiBridge};

/// How long a cancelled plugin may take to clean up before kiln kills it:
/// `KILN_PLUGIN_CANCEL_TIMEOUT` seconds, two minutes by default.
pub fn cancel_grace() -> Duration {
    std::env::var("KILN_PLUGIN_CANCEL_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(120))
}

/// One component of a plugin: the command that starts it and the type name templates use.
#[derive(Clone)]
pub struct PluginComponent {
    pub command: PluginCommand,
    /// `vsphere-iso`, `null` …
    pub type_name: String,
}

impl PluginComponent {
    /// Starts the plugin; a failure is an error at the component's configuration.
    fn start(&self, config: &Node, noun: &str) -> Result<Client, Diagnostics> {
        let cmd = self.command.clone();
        block(Client::start(cmd)).and_then(|r| r).map_err(|e| {
            Diagnostic::error(format!("the {noun} plugin for {:?} failed to start", self.type_name))
                .with_detail(e.to_string())
                .at_opt(config.span.clone())
                .into()
        })
    }

    /// The plugin's spec for an HCL2 body (`None` for a legacy JSON template).
    fn spec<F, Fut>(&self, config: &Node, info: &BuildInfo, get: F) -> Result<Option<Spec>, Diagnostics>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = crate::Result<Spec>> + Send + 'static,
    {
        if !info.hcl2 {
            return Ok(None);
        }
        match block(get()).and_then(|r| r) {
            Ok(spec) => Ok(Some(spec)),
            Err(e) => {
                Err(Diagnostic::error(format!("the plugin for {:?} sent no usable configuration spec", self.type_name))
                    .with_detail(e.to_string())
                    .at_opt(config.span.clone())
                    .into())
            }
        }
    }

    /// A failed `Prepare`/`Configure`: the plugin's own errors at the options they name, or what
    /// went wrong with the plugin.
    fn prepare_error(&self, e: crate::Error, config: &Node) -> Diagnostics {
        if e.kind() == ErrorKind::Remote {
            return config::prepare_errors(e.message(), config, &self.command.display_name());
        }
        Diagnostic::error(format!("the plugin for {:?} failed while checking its configuration", self.type_name))
            .with_detail(e.to_string())
            .at_opt(config.span.clone())
            .into()
    }
}

/// A plugin failure as the build's error: the plugin's own text when it reported one, else the
/// binary, what happened and its last log lines.
fn run_error(e: crate::Error) -> kiln_core::Error {
    match e.kind() {
        ErrorKind::Remote => kiln_core::Error::new(e.message()),
        ErrorKind::Cancelled => kiln_core::Error::cancelled(),
        _ => kiln_core::Error::new(e.to_string()),
    }
}

/// Runs `work` (a long call on the plugin) until it ends or the build is cancelled; on cancel,
/// sends the plugin's `Cancel` (`cancel`), lets it clean up for [`cancel_grace`], then kills it.
async fn until_done<T, W, C, CF>(ctx: &RunContext, client: &Client, work: W, cancel: C) -> kiln_core::Result<T>
where
    W: Future<Output = crate::Result<crate::Result<T>>>,
    C: FnOnce() -> CF,
    CF: Future<Output = crate::Result<()>> + Send + 'static,
{
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r.and_then(|r| r).map_err(run_error),
        _ = ctx.cancel.cancelled() => {
            let grace = cancel_grace();
            let stop = cancel();
            let _ = on_plugin_runtime(stop).await;
            if tokio::time::timeout(grace, &mut work).await.is_err() {
                ctx.ui.error(format!(
                    "The plugin {} did not stop within {grace:?} of being cancelled; killing it",
                    client.name()
                ));
            }
            client.kill();
            Err(kiln_core::Error::cancelled())
        }
    }
}

fn warnings(list: Vec<String>, config: &Node) -> Vec<Diagnostic> {
    list.into_iter().map(|w| Diagnostic::warning(w).at_opt(config.span.clone())).collect()
}

fn not_prepared(type_name: &str) -> kiln_core::Error {
    kiln_core::Error::new(format!("the plugin component {type_name:?} was run before it was prepared"))
}

/// A builder plugin as kiln's [`Builder`].
pub struct PluginBuilder {
    source: Arc<PluginComponent>,
    client: Option<Client>,
    keys: Vec<String>,
}

impl PluginBuilder {
    pub fn new(source: Arc<PluginComponent>) -> PluginBuilder {
        PluginBuilder { source, client: None, keys: Vec::new() }
    }
}

#[async_trait]
impl Builder for PluginBuilder {
    fn prepare(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let client = self.source.start(config, "builder")?;
        let b = client.builder();
        let spec = self.source.spec(config, info, || {
            let b = b.clone();
            async move { b.config_spec().await }
        })?;
        let values = config::config_values(config, spec.as_ref(), info, false)?;
        let prepared = block(async move { b.prepare(&values).await })
            .and_then(|r| r)
            .map_err(|e| self.source.prepare_error(e, config))?;
        self.keys = prepared.generated_vars;
        self.client = Some(client);
        Ok(warnings(prepared.warnings, config))
    }

    fn generated_data_keys(&self) -> Vec<String> {
        let common = kiln_core::generated::COMMON_KEYS;
        self.keys.iter().filter(|k| !common.contains(&k.as_str())).cloned().collect()
    }

    async fn run(
        &self,
        ctx: &RunContext,
        hook: Arc<dyn ProvisionHook>,
    ) -> kiln_core::Result<Option<Arc<dyn Artifact>>> {
        let client = self.client.clone().ok_or_else(|| not_prepared(&self.source.type_name))?;
        let data = Arc::new(Mutex::new(kiln_core::generated::build_data(&GeneratedData::new(), &ctx.info)));
        let hook = Arc::new(HookBridge { hook, ctx: ctx.clone(), kiln: Handle::current(), data: data.clone() });
        let ui = Arc::new(UiBridge(ctx.ui.clone()));
        let b = client.builder();
        let work = on_plugin_runtime({
            let b = b.clone();
            async move { b.run(ui, hook).await }
        });
        let artifact = until_done(ctx, &client, work, || async move { b.cancel().await }).await?;
        let Some(artifact) = artifact else { return Ok(None) };
        let generated = data.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let artifact = PluginArtifact::fetch(artifact, generated).await.map_err(run_error)?;
        Ok(Some(Arc::new(artifact)))
    }
}

/// A provisioner plugin as kiln's [`Provisioner`]: it reaches the machine through kiln's
/// communicator.
pub struct PluginProvisioner {
    source: Arc<PluginComponent>,
    client: Option<Client>,
}

impl PluginProvisioner {
    pub fn new(source: Arc<PluginComponent>) -> PluginProvisioner {
        PluginProvisioner { source, client: None }
    }
}

#[async_trait]
impl Provisioner for PluginProvisioner {
    fn prepare(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let client = self.source.start(config, "provisioner")?;
        let p = client.provisioner();
        let spec = self.source.spec(config, info, || {
            let p = p.clone();
            async move { p.config_spec().await }
        })?;
        let values = config::config_values(config, spec.as_ref(), info, true)?;
        block(async move { p.prepare(&values).await })
            .and_then(|r| r)
            .map_err(|e| self.source.prepare_error(e, config))?;
        self.client = Some(client);
        Ok(Vec::new())
    }

    async fn provision(
        &self,
        ctx: &RunContext,
        comm: Arc<dyn Communicator>,
        data: &GeneratedData,
    ) -> kiln_core::Result<()> {
        let client = self.client.clone().ok_or_else(|| not_prepared(&self.source.type_name))?;
        let p = client.provisioner();
        let ui = Arc::new(UiBridge(ctx.ui.clone()));
        let host = Arc::new(KilnComm { comm, kiln: Handle::current() });
        let data = serde_json::Value::Object(data.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect());
        let work = on_plugin_runtime({
            let p = p.clone();
            async move { p.provision(ui, host, &data).await }
        });
        until_done(ctx, &client, work, || async move { p.cancel().await }).await
    }
}

/// A post-processor plugin as kiln's [`PostProcessor`].
pub struct PluginPostProcessor {
    source: Arc<PluginComponent>,
    client: Option<Client>,
}

impl PluginPostProcessor {
    pub fn new(source: Arc<PluginComponent>) -> PluginPostProcessor {
        PluginPostProcessor { source, client: None }
    }
}

#[async_trait]
impl PostProcessor for PluginPostProcessor {
    fn configure(&mut self, config: &Node, info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let client = self.source.start(config, "post-processor")?;
        let pp = client.post_processor();
        let spec = self.source.spec(config, info, || {
            let pp = pp.clone();
            async move { pp.config_spec().await }
        })?;
        let values = config::config_values(config, spec.as_ref(), info, true)?;
        block(async move { pp.configure(&values).await })
            .and_then(|r| r)
            .map_err(|e| self.source.prepare_error(e, config))?;
        self.client = Some(client);
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, input: Arc<dyn Artifact>) -> kiln_core::Result<PostProcessed> {
        let client = self.client.clone().ok_or_else(|| not_prepared(&self.source.type_name))?;
        let pp = client.post_processor();
        let ui = Arc::new(UiBridge(ctx.ui.clone()));
        let host = Arc::new(KilnArtifact(input.clone()));
        let work = on_plugin_runtime({
            let pp = pp.clone();
            async move { pp.post_process(ui, host).await }
        });
        let out = until_done(ctx, &client, work, || async move { pp.cancel().await }).await?;
        let artifact: Option<Arc<dyn Artifact>> = match out.artifact {
            None => None,
            Some(a) => Some(Arc::new(PluginArtifact::fetch(a, input.generated_data()).await.map_err(run_error)?)),
        };
        Ok(PostProcessed { artifact, keep: out.keep, force_keep: out.force_override && out.keep })
    }
}

/// Registers `component` in `reg` as a builder, provisioner or post-processor type (replacing
/// a built-in type of the same name).
pub fn register(reg: Registry, kind: crate::describe::ComponentKind, component: PluginComponent) -> Registry {
    use crate::describe::ComponentKind as K;
    let origin = Origin::Plugin(component.command.display_name());
    let name = component.type_name.clone();
    let source = Arc::new(component);
    match kind {
        K::Builder => {
            let f: BuilderFactory = Arc::new(move || Box::new(PluginBuilder::new(source.clone())));
            reg.builder_factory(&name, f, origin)
        }
        K::Provisioner => reg.provisioner_factory_with(
            &name,
            Arc::new(move || Box::new(PluginProvisioner::new(source.clone())) as Box<dyn Provisioner>),
            origin,
        ),
        K::PostProcessor => reg.post_processor_factory_with(
            &name,
            Arc::new(move || Box::new(PluginPostProcessor::new(source.clone())) as Box<dyn PostProcessor>),
            origin,
        ),
        K::Datasource => {
            let outputs = Arc::new(std::sync::OnceLock::new());
            reg.data_source_factory(
                &name,
                Arc::new(move || {
                    Box::new(datasource::PluginDataSource::new(source.clone(), outputs.clone()))
                        as Box<dyn kiln_core::datasource::DataSource>
                }),
                origin,
            )
        }
    }
}

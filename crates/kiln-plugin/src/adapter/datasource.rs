//! A plugin's data source as kiln's [`DataSource`]: configured with the block's body decoded
//! against the plugin's spec, its outputs read from the plugin's output spec, executed on the
//! plugin runtime. Only plugins that speak `--protobuf` can return a value kiln reads (the other
//! form is a gob-encoded cty value); the others fail with that said.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::component::BuildInfo;
use kiln_core::datasource::{DataSource, Output, OutputType};

use super::{config, run_error, PluginComponent};
use crate::client::Client;
use crate::hcldec::{CtyType, Spec};
use crate::runtime::{block, on_plugin_runtime};

/// A data source type served by a plugin; its outputs are asked once per type.
pub struct PluginDataSource {
    source: Arc<PluginComponent>,
    outputs: Arc<OnceLock<&'static [Output]>>,
    client: Option<Client>,
}

impl PluginDataSource {
    pub fn new(source: Arc<PluginComponent>, outputs: Arc<OnceLock<&'static [Output]>>) -> PluginDataSource {
        PluginDataSource { source, outputs, client: None }
    }
}

/// The outputs an output spec declares (names are leaked once per plugin type).
fn outputs_of(spec: &Spec) -> &'static [Output] {
    let Spec::Object(entries) = spec else { return &[] };
    let outputs: Vec<Output> = entries
        .iter()
        .map(|(name, s)| {
            let ty = match s {
                Spec::Attr { ty: CtyType::String, .. } => OutputType::String,
                Spec::Attr { ty: CtyType::Number, .. } => OutputType::Number,
                Spec::Attr { ty: CtyType::Bool, .. } => OutputType::Bool,
                Spec::Attr { ty: CtyType::Map(inner), .. } if **inner == CtyType::String => OutputType::StringMap,
                _ => OutputType::Any,
            };
            let name: &'static str = Box::leak(name.clone().into_boxed_str());
            Output::new(name, ty, "declared by the plugin")
        })
        .collect();
    Box::leak(outputs.into_boxed_slice())
}

#[async_trait]
impl DataSource for PluginDataSource {
    fn configure(&mut self, cfg: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let client = self.source.start(cfg, "data source")?;
        let ds = client.datasource();
        let info = BuildInfo { hcl2: true, ..BuildInfo::default() };
        let spec = self.source.spec(cfg, &info, || {
            let ds = ds.clone();
            async move { ds.config_spec().await }
        })?;
        // A data block's body alone (Packer gives data sources no build values).
        let values: Vec<_> = config::config_values(cfg, spec.as_ref(), &info, false)?
            .into_iter()
            .filter(|v| matches!(v, crate::components::ConfigValue::Cty { .. }))
            .collect();
        let d = ds.clone();
        block(async move { d.configure(&values).await })
            .and_then(|r| r)
            .map_err(|e| self.source.prepare_error(e, cfg))?;
        if self.outputs.get().is_none() {
            let d = ds.clone();
            let out = block(async move { d.output_spec().await }).and_then(|r| r).map_err(|e| {
                Diagnostics::from(
                    Diagnostic::error(format!("the plugin for {:?} sent no usable output spec", self.source.type_name))
                        .with_detail(e.to_string())
                        .at_opt(cfg.span.clone()),
                )
            })?;
            let _ = self.outputs.set(outputs_of(&out));
        }
        self.client = Some(client);
        Ok(Vec::new())
    }

    fn outputs(&self) -> &'static [Output] {
        self.outputs.get().copied().unwrap_or(&[])
    }

    async fn execute(&self) -> kiln_core::Result<serde_json::Value> {
        let Some(client) = self.client.clone() else {
            return Err(kiln_core::Error::new(format!(
                "the plugin data source {:?} was executed before it was configured",
                self.source.type_name
            )));
        };
        let ds = client.datasource();
        let (value, _ty) =
            on_plugin_runtime(async move { ds.execute().await }).await.and_then(|r| r).map_err(run_error)?;
        Ok(value)
    }
}

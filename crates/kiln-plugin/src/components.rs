//! The component a plugin serves on stream 0: builder, provisioner, post-processor or data
//! source, with Packer's RPC method names and argument shapes.

use std::sync::{Arc, Mutex};

use crate::artifact::ArtifactClient;
use crate::client::{Client, Conn};
use crate::error::{Error, Result};
use crate::hcldec::Spec;
use crate::host::{HostArtifact, HostCommunicator, HostHook, HostUi};
use crate::msgpack::Value;
use crate::rpc::Service;
use crate::services::{serve_on, ArtifactService, CommunicatorService, HookService, UiService};

/// One configuration value for `Prepare`/`Configure` (Packer passes several, merged in order).
#[derive(Debug, Clone)]
pub enum ConfigValue {
    /// A legacy JSON template's map (and the `packer_*` build values as a map of their own).
    Json(serde_json::Value),
    /// An HCL2 body decoded against the component's spec: the value and its cty type, both in
    /// cty's JSON forms.
    Cty { value: serde_json::Value, ty: serde_json::Value },
}

impl ConfigValue {
    fn to_msgpack(&self) -> Value {
        match self {
            ConfigValue::Json(v) => Value::from_json(v),
            // Sent as bytes: the plugin unmarshals them with cty's JSON as a dynamic value.
            ConfigValue::Cty { value, ty } => {
                Value::Bin(serde_json::json!({ "value": value, "type": ty }).to_string().into_bytes())
            }
        }
    }
}

fn configs_arg(configs: &[ConfigValue]) -> Value {
    Value::record([("Configs", Value::Array(configs.iter().map(ConfigValue::to_msgpack).collect()))])
}

/// What a builder's `Prepare` returned.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The names of the generated data the builder will set.
    pub generated_vars: Vec<String>,
    pub warnings: Vec<String>,
}

/// A `*BasicError` field: `Err` with its message when set.
fn basic_error(conn: &Conn, v: Option<&Value>) -> Result<()> {
    match v {
        None | Some(Value::Nil) => Ok(()),
        Some(e) => {
            let m = e.get("Message").and_then(Value::as_str).or_else(|| e.as_str()).unwrap_or("an error without text");
            Err(Error::remote(m).with_plugin(conn.process.name()))
        }
    }
}

/// Sends `Endpoint.Cancel` when a long call's future is dropped before it finished.
struct CancelOnDrop {
    conn: Arc<Conn>,
    method: String,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (conn, method) = (self.conn.clone(), std::mem::take(&mut self.method));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = conn.call(&method, Value::Nil).await;
            });
        }
    }
}

/// A long call whose argument names a server the host runs for it (`services`, on a fresh
/// broker id): Run, Provision, PostProcess. Dropping the future sends `endpoint.Cancel`.
async fn call_serving(
    conn: &Arc<Conn>,
    endpoint: &str,
    method: &str,
    services: Vec<(&'static str, Arc<dyn Service>)>,
    arg: impl FnOnce(u32) -> Value,
) -> Result<Value> {
    let id = conn.broker.next_id();
    serve_on(&conn.broker, id, services);
    let mut guard = CancelOnDrop { conn: conn.clone(), method: format!("{endpoint}.Cancel"), armed: true };
    let reply = conn.call_long(&format!("{endpoint}.{method}"), arg(id)).await;
    guard.armed = false;
    reply
}

async fn config_spec(conn: &Conn, endpoint: &str) -> Result<Spec> {
    let reply = conn.call(&format!("{endpoint}.ConfigSpec"), Value::Nil).await?;
    let Some(Value::Bin(bytes)) = reply.get("ConfigSpec") else {
        return Err(conn.protocol_error(format!("{endpoint}.ConfigSpec answered {reply:?}")));
    };
    decode_spec(conn, bytes).map_err(|e| conn.protocol_error(format!("{endpoint}.ConfigSpec: {e}")))
}

fn decode_spec(conn: &Conn, bytes: &[u8]) -> Result<Spec, String> {
    if conn.protobuf {
        Spec::from_protobuf(bytes)
    } else {
        Spec::from_gob(bytes)
    }
}

impl Client {
    pub fn builder(&self) -> BuilderClient {
        BuilderClient { conn: self.conn.clone() }
    }

    pub fn provisioner(&self) -> ProvisionerClient {
        ProvisionerClient { conn: self.conn.clone() }
    }

    pub fn post_processor(&self) -> PostProcessorClient {
        PostProcessorClient { conn: self.conn.clone() }
    }

    pub fn datasource(&self) -> DatasourceClient {
        DatasourceClient { conn: self.conn.clone() }
    }
}

#[derive(Clone)]
pub struct BuilderClient {
    conn: Arc<Conn>,
}

impl BuilderClient {
    /// The builder's HCL2 spec.
    pub async fn config_spec(&self) -> Result<Spec> {
        config_spec(&self.conn, "Builder").await
    }

    /// Checks and keeps the configuration; a bad one is a `Remote` error with the plugin's text.
    pub async fn prepare(&self, configs: &[ConfigValue]) -> Result<Prepared> {
        let reply = self.conn.call("Builder.Prepare", configs_arg(configs)).await?;
        basic_error(&self.conn, reply.get("Error"))?;
        Ok(Prepared {
            generated_vars: reply.get("GeneratedVars").and_then(Value::as_strings).unwrap_or_default(),
            warnings: reply.get("Warnings").and_then(Value::as_strings).unwrap_or_default(),
        })
    }

    /// Runs the build; the plugin talks through `ui` and calls `hook` (provisioning). Dropping
    /// the future cancels the build in the plugin. `Ok(None)`: the build made no artifact.
    pub async fn run(&self, ui: Arc<dyn HostUi>, hook: Arc<dyn HostHook>) -> Result<Option<ArtifactClient>> {
        let hook = HookService { hook, conn: self.conn.clone(), cancel: Mutex::new(None) };
        let services: Vec<(&'static str, Arc<dyn Service>)> =
            vec![("Ui", Arc::new(UiService(ui))), ("Hook", Arc::new(hook))];
        let reply = call_serving(&self.conn, "Builder", "Run", services, |id| Value::Uint(id.into())).await;
        let artifact_id = match reply? {
            Value::Nil => 0,
            v => v.as_u64().ok_or_else(|| self.conn.protocol_error(format!("Builder.Run answered {v:?}")))?,
        };
        if artifact_id == 0 {
            return Ok(None);
        }
        let rpc = self.conn.dial_rpc(artifact_id as u32).await?;
        Ok(Some(ArtifactClient::new(self.conn.clone(), rpc)))
    }

    /// Asks the plugin to stop a running build (`run` then returns its error).
    pub async fn cancel(&self) -> Result<()> {
        self.conn.call("Builder.Cancel", Value::Nil).await.map(drop)
    }
}

#[derive(Clone)]
pub struct ProvisionerClient {
    conn: Arc<Conn>,
}

impl ProvisionerClient {
    pub async fn config_spec(&self) -> Result<Spec> {
        config_spec(&self.conn, "Provisioner").await
    }

    pub async fn prepare(&self, configs: &[ConfigValue]) -> Result<()> {
        self.conn.call("Provisioner.Prepare", configs_arg(configs)).await.map(drop)
    }

    /// Provisions the machine `comm` reaches. Dropping the future cancels it in the plugin.
    pub async fn provision(
        &self,
        ui: Arc<dyn HostUi>,
        comm: Arc<dyn HostCommunicator>,
        generated_data: &serde_json::Value,
    ) -> Result<()> {
        let comm = CommunicatorService { comm, broker: self.conn.broker.clone(), running: Mutex::new(Vec::new()) };
        let services: Vec<(&'static str, Arc<dyn Service>)> =
            vec![("Ui", Arc::new(UiService(ui))), ("Communicator", Arc::new(comm))];
        let arg = |id: u32| {
            Value::record([("GeneratedData", Value::from_json(generated_data)), ("StreamID", Value::Uint(id.into()))])
        };
        call_serving(&self.conn, "Provisioner", "Provision", services, arg).await.map(drop)
    }

    pub async fn cancel(&self) -> Result<()> {
        self.conn.call("Provisioner.Cancel", Value::Nil).await.map(drop)
    }
}

/// What a post-processor returned.
pub struct PostProcessed {
    pub artifact: Option<ArtifactClient>,
    /// Keep the input artifact (the plugin's wish; `keep_input_artifact` may override it).
    pub keep: bool,
    /// The plugin insists on its `keep` over the user's setting.
    pub force_override: bool,
}

#[derive(Clone)]
pub struct PostProcessorClient {
    conn: Arc<Conn>,
}

impl PostProcessorClient {
    pub async fn config_spec(&self) -> Result<Spec> {
        config_spec(&self.conn, "PostProcessor").await
    }

    pub async fn configure(&self, configs: &[ConfigValue]) -> Result<()> {
        self.conn.call("PostProcessor.Configure", configs_arg(configs)).await.map(drop)
    }

    /// Processes `artifact`. Dropping the future cancels it in the plugin.
    pub async fn post_process(&self, ui: Arc<dyn HostUi>, artifact: Arc<dyn HostArtifact>) -> Result<PostProcessed> {
        let services: Vec<(&'static str, Arc<dyn Service>)> =
            vec![("Ui", Arc::new(UiService(ui))), ("Artifact", Arc::new(ArtifactService(artifact)))];
        let reply =
            call_serving(&self.conn, "PostProcessor", "PostProcess", services, |id| Value::Uint(id.into())).await?;
        basic_error(&self.conn, reply.get("Err"))?;
        let keep = reply.get("Keep").and_then(Value::as_bool).unwrap_or(false);
        let force_override = reply.get("ForceOverride").and_then(Value::as_bool).unwrap_or(false);
        let artifact = match reply.get("StreamId").and_then(Value::as_u64).unwrap_or(0) {
            0 => None,
            n => Some(ArtifactClient::new(self.conn.clone(), self.conn.dial_rpc(n as u32).await?)),
        };
        Ok(PostProcessed { artifact, keep, force_override })
    }

    pub async fn cancel(&self) -> Result<()> {
        self.conn.call("PostProcessor.Cancel", Value::Nil).await.map(drop)
    }
}

/// A data source (packer-plugin-sdk plugins only; Packer 1.6.6 has none).
#[derive(Clone)]
pub struct DatasourceClient {
    conn: Arc<Conn>,
}

impl DatasourceClient {
    pub async fn config_spec(&self) -> Result<Spec> {
        config_spec(&self.conn, "Datasource").await
    }

    pub async fn configure(&self, configs: &[ConfigValue]) -> Result<()> {
        let reply = self.conn.call("Datasource.Configure", configs_arg(configs)).await?;
        basic_error(&self.conn, reply.get("Error"))
    }

    /// The spec of what `execute` returns.
    pub async fn output_spec(&self) -> Result<Spec> {
        let reply = self.conn.call("Datasource.OutputSpec", Value::Nil).await?;
        let Some(Value::Bin(bytes)) = reply.get("OutputSpec") else {
            return Err(self.conn.protocol_error(format!("Datasource.OutputSpec answered {reply:?}")));
        };
        decode_spec(&self.conn, bytes).map_err(|e| self.conn.protocol_error(format!("Datasource.OutputSpec: {e}")))
    }

    /// Runs the data source; returns its value and its cty type (cty's JSON forms). Needs a
    /// plugin started with `--protobuf` (its value comes as cty msgpack; without, it is a
    /// gob-encoded cty.Value, which kiln does not read: see `execute_raw`).
    pub async fn execute(&self) -> Result<(serde_json::Value, serde_json::Value)> {
        if !self.conn.protobuf {
            return Err(Error::protocol(
                "a data source's value comes gob-encoded unless the plugin is started with --protobuf",
            )
            .with_plugin(self.conn.process.name()));
        }
        let raw = self.execute_raw().await?;
        crate::proto::cty_dynamic_from_msgpack(&raw)
            .map_err(|e| self.conn.protocol_error(format!("Datasource.Execute: {e}")))
    }

    /// Runs the data source; returns its value as the plugin sent it.
    pub async fn execute_raw(&self) -> Result<Vec<u8>> {
        let reply = self.conn.call_long("Datasource.Execute", Value::Nil).await?;
        basic_error(&self.conn, reply.get("Error"))?;
        match reply.get("Value") {
            Some(Value::Bin(b)) => Ok(b.clone()),
            other => Err(self.conn.protocol_error(format!("Datasource.Execute answered {other:?}"))),
        }
    }
}

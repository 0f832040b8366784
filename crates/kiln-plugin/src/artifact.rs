//! An artifact a plugin made (a builder's, or a post-processor's), served by the plugin.

use std::sync::Arc;

use crate::client::Conn;
use crate::error::{Error, Result};
use crate::msgpack::Value;
use crate::rpc::RpcClient;

#[derive(Clone)]
pub struct ArtifactClient {
    conn: Arc<Conn>,
    rpc: RpcClient,
}

impl ArtifactClient {
    pub(crate) fn new(conn: Arc<Conn>, rpc: RpcClient) -> Self {
        ArtifactClient { conn, rpc }
    }

    async fn call(&self, method: &str, arg: Value) -> Result<Value> {
        self.conn.call_on(&self.rpc, &format!("Artifact.{method}"), arg, false).await
    }

    async fn string_call(&self, method: &str) -> Result<String> {
        match self.call(method, Value::Nil).await? {
            Value::Str(s) => Ok(s),
            Value::Nil => Ok(String::new()),
            other => Err(self.conn.protocol_error(format!("Artifact.{method} answered {other:?}"))),
        }
    }

    pub async fn builder_id(&self) -> Result<String> {
        self.string_call("BuilderId").await
    }

    pub async fn id(&self) -> Result<String> {
        self.string_call("Id").await
    }

    pub async fn string(&self) -> Result<String> {
        self.string_call("String").await
    }

    pub async fn files(&self) -> Result<Vec<String>> {
        let v = self.call("Files", Value::Nil).await?;
        v.as_strings().ok_or_else(|| self.conn.protocol_error(format!("Artifact.Files answered {v:?}")))
    }

    /// Builder-specific state (`"atlas.artifact.metadata"`, `"par.artifact.metadata"` …).
    pub async fn state(&self, name: &str) -> Result<serde_json::Value> {
        Ok(self.call("State", Value::str(name)).await?.to_json())
    }

    pub async fn destroy(&self) -> Result<()> {
        let v = self.call("Destroy", Value::Nil).await?;
        match v.get("Message").and_then(Value::as_str) {
            Some(m) => Err(Error::remote(m).with_plugin(self.conn.process.name())),
            None => Ok(()),
        }
    }
}

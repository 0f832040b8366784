//! `data "amazon-secretsmanager"`: a secret's value from AWS Secrets Manager. Every output
//! but `version_id` is a secret.

use base64::Engine as _;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{Env, SecretsManagerClient};
use crate::common::access;

pub const COMPONENT: &str = "the \"amazon-secretsmanager\" data source";

/// Options of `data "amazon-secretsmanager"` besides the access options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The secret's name or ARN.
    #[serde(default)]
    pub name: String,
    /// The key whose value `value` holds, when the secret is a JSON object of keys; without it,
    /// `value` is the first value found.
    #[serde(default)]
    pub key: Option<String>,
    /// A version of the secret (default: the current one).
    #[serde(default)]
    pub version_id: Option<String>,
    /// A staging label of the secret (default `AWSCURRENT`).
    #[serde(default)]
    pub version_stage: Option<String>,
}

/// A configured `amazon-secretsmanager` data source.
const OUTPUTS: &[Output] = &[
    Output::new(
        "value",
        OutputType::String,
        "The value of `key` in the secret (a JSON object of keys), or without `key` the first value found.",
    )
    .sensitive(),
    Output::new("secret_string", OutputType::String, "The whole secret, as text.").sensitive(),
    Output::new(
        "secret_binary",
        OutputType::String,
        "The secret's binary value, base64-encoded (empty for a text secret).",
    )
    .sensitive(),
    Output::new("version_id", OutputType::String, "The version of the secret read."),
];

#[derive(Debug, Clone, Default)]
pub struct SecretsManagerData {
    pub access: access::Config,
    pub config: Config,
    /// The environment credentials and the region are read from (the process's by default).
    pub env: Option<Env>,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<SecretsManagerData>::default()
}

#[async_trait]
impl DataSource for SecretsManagerData {
    fn configure(&mut self, node: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (access, config): (access::Config, Config) = super::decode(node, COMPONENT)?;
        if config.name.is_empty() {
            return Err(Diagnostic::error("amazon-secretsmanager needs the secret's name")
                .at_opt(node.span.clone())
                .with_help("add name = \"<the secret's name or ARN>\"")
                .into());
        }
        *self = SecretsManagerData { access, config, env: self.env.take() };
        Ok(Vec::new())
    }

    /// `value`, `secret_string`, `secret_binary` (base64) and `version_id`.
    fn outputs(&self) -> &'static [Output] {
        OUTPUTS
    }

    async fn execute(&self) -> kiln_core::Result<Value> {
        let env = self.env.clone().unwrap_or_else(Env::process);
        let c = &self.config;
        let sm = SecretsManagerClient::new(&super::load(&self.access, &env)?);
        let secret = sm
            .get_secret_value(&c.name, c.version_id.as_deref(), c.version_stage.as_deref())
            .await
            .map_err(|e| kiln_core::Error::new(format!("reading the secret {:?}: {e}", c.name)))?;
        let value = secret.value_for_key(c.key.as_deref()).map_err(kiln_core::Error::new)?;
        Ok(json!({
            "value": value,
            "secret_string": secret.secret_string.as_ref().map(|s| s.expose().clone()).unwrap_or_default(),
            "secret_binary": secret
                .secret_binary
                .as_ref()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b.expose()))
                .unwrap_or_default(),
            "version_id": secret.version_id,
        }))
    }
}

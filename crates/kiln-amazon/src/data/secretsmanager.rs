//! `data "amazon-secretsmanager"`: a secret's value from AWS Secrets Manager. Every output
//! but `version_id` is a secret.

use base64::Engine as _;
use kiln_config::diag::Diagnostic;
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AwsData, AwsQuery};
use crate::client::{AwsConfig, SecretsManagerClient};

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

pub fn new() -> Box<dyn DataSource> {
    Box::<AwsData<Config>>::default()
}

#[async_trait]
impl AwsQuery for Config {
    const COMPONENT: &'static str = "the \"amazon-secretsmanager\" data source";
    const OUTPUTS: &'static [Output] = &[
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

    fn check(&self, node: &Node) -> Result<(), Diagnostic> {
        if self.name.is_empty() {
            return Err(Diagnostic::error("amazon-secretsmanager needs the secret's name")
                .at_opt(node.span.clone())
                .with_help("add name = \"<the secret's name or ARN>\""));
        }
        Ok(())
    }

    async fn fetch(&self, aws: &AwsConfig) -> kiln_core::Result<Value> {
        let secret = SecretsManagerClient::new(aws)
            .get_secret_value(&self.name, self.version_id.as_deref(), self.version_stage.as_deref())
            .await
            .map_err(|e| kiln_core::Error::new(format!("reading the secret {:?}: {e}", self.name)))?;
        let value = secret.value_for_key(self.key.as_deref()).map_err(kiln_core::Error::new)?;
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

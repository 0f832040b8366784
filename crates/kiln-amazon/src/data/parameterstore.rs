//! `data "amazon-parameterstore"`: a parameter from AWS Systems Manager's Parameter Store. Its
//! value is a secret (a SecureString decrypted, or a plain one that may be as sensitive).

use kiln_config::diag::Diagnostic;
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AwsData, AwsQuery};
use crate::client::{AwsConfig, SsmClient};

/// Options of `data "amazon-parameterstore"` besides the access options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The parameter's name (`/path/name`, or `name:version` for one version).
    #[serde(default)]
    pub name: String,
    /// Decrypt a SecureString parameter (otherwise its encrypted form is returned).
    #[serde(default)]
    pub with_decryption: bool,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<AwsData<Config>>::default()
}

#[async_trait]
impl AwsQuery for Config {
    const COMPONENT: &'static str = "the \"amazon-parameterstore\" data source";
    const OUTPUTS: &'static [Output] = &[
        Output::new("value", OutputType::String, "The parameter's value (decrypted with `with_decryption`).")
            .sensitive(),
        Output::new("version", OutputType::String, "The parameter's version."),
        Output::new("arn", OutputType::String, "The parameter's ARN."),
    ];

    fn check(&self, node: &Node) -> Result<(), Diagnostic> {
        if self.name.is_empty() {
            return Err(Diagnostic::error("amazon-parameterstore needs the parameter's name")
                .at_opt(node.span.clone())
                .with_help("add name = \"/path/to/parameter\""));
        }
        Ok(())
    }

    async fn fetch(&self, aws: &AwsConfig) -> kiln_core::Result<Value> {
        let p = SsmClient::new(aws)
            .get_parameter(&self.name, self.with_decryption)
            .await
            .map_err(|e| kiln_core::Error::new(format!("reading the parameter {:?}: {e}", self.name)))?;
        Ok(json!({
            "value": p.value.expose(),
            "version": p.version.to_string(),
            "arn": p.arn.unwrap_or_default(),
        }))
    }
}

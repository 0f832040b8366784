//! `data "amazon-parameterstore"`: a parameter from AWS Systems Manager's Parameter Store. Its
//! value is a secret (a SecureString decrypted, or a plain one that may be as sensitive).

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{Env, SsmClient};
use crate::common::access;

pub const COMPONENT: &str = "the \"amazon-parameterstore\" data source";

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

/// A configured `amazon-parameterstore` data source.
const OUTPUTS: &[Output] = &[
    Output::new("value", OutputType::String, "The parameter's value (decrypted with `with_decryption`).").sensitive(),
    Output::new("version", OutputType::String, "The parameter's version."),
    Output::new("arn", OutputType::String, "The parameter's ARN."),
];

#[derive(Debug, Clone, Default)]
pub struct ParameterStoreData {
    pub access: access::Config,
    pub config: Config,
    /// The environment credentials and the region are read from (the process's by default).
    pub env: Option<Env>,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<ParameterStoreData>::default()
}

#[async_trait]
impl DataSource for ParameterStoreData {
    fn configure(&mut self, node: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (access, config): (access::Config, Config) = super::decode(node, COMPONENT)?;
        if config.name.is_empty() {
            return Err(Diagnostic::error("amazon-parameterstore needs the parameter's name")
                .at_opt(node.span.clone())
                .with_help("add name = \"/path/to/parameter\"")
                .into());
        }
        *self = ParameterStoreData { access, config, env: self.env.take() };
        Ok(Vec::new())
    }

    /// `value`, `version` and `arn`.
    fn outputs(&self) -> &'static [Output] {
        OUTPUTS
    }

    async fn execute(&self) -> kiln_core::Result<Value> {
        let env = self.env.clone().unwrap_or_else(Env::process);
        let ssm = SsmClient::new(&super::load(&self.access, &env)?);
        let p = ssm
            .get_parameter(&self.config.name, self.config.with_decryption)
            .await
            .map_err(|e| kiln_core::Error::new(format!("reading the parameter {:?}: {e}", self.config.name)))?;
        Ok(json!({
            "value": p.value.expose(),
            "version": p.version.to_string(),
            "arn": p.arn.unwrap_or_default(),
        }))
    }
}

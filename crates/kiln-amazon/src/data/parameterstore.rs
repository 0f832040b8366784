//! `data "amazon-parameterstore"`: a parameter from AWS Systems Manager's Parameter Store. Its
//! value is a secret (a SecureString decrypted, or a plain one that may be as sensitive).

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
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
#[derive(Debug, Clone, Default)]
pub struct ParameterStoreData {
    pub access: access::Config,
    pub config: Config,
}

impl ParameterStoreData {
    pub fn configure(&mut self, node: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (access, config): (access::Config, Config) = super::decode(node, COMPONENT)?;
        if config.name.is_empty() {
            return Err(Diagnostic::error("amazon-parameterstore needs the parameter's name")
                .at_opt(node.span.clone())
                .with_help("add name = \"/path/to/parameter\"")
                .into());
        }
        *self = ParameterStoreData { access, config };
        Ok(Vec::new())
    }

    /// `value`, `version` and `arn`.
    pub async fn execute(&self, env: &Env) -> kiln_core::Result<Value> {
        let ssm = SsmClient::new(&super::load(&self.access, env)?);
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

//! SSM Parameter Store (JSON 1.1): `GetParameter` for the `amazon-parameterstore` data source,
//! and `PutParameter` (tests and tooling).

use serde::{Deserialize, Serialize};

use super::config::{AwsConfig, Service};
use super::error::Result;
use super::json;
use super::secret::Secret;

const TARGET: &str = "AmazonSSM";

/// A parameter as `GetParameter` returns it. The value is a [`Secret`]: `SecureString`s are
/// decrypted when asked, and plain strings often hold credentials too.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    pub value: Secret,
    pub version: i64,
    pub arn: Option<String>,
}

/// `PutParameter`'s input.
#[derive(Debug, Clone, Default)]
pub struct PutParameter {
    pub name: String,
    pub value: Secret,
    /// `String` (default), `StringList` or `SecureString`.
    pub kind: Option<String>,
    pub overwrite: bool,
    pub description: Option<String>,
}

/// An SSM client.
#[derive(Debug, Clone)]
pub struct SsmClient {
    cfg: AwsConfig,
}

impl SsmClient {
    pub fn new(cfg: &AwsConfig) -> SsmClient {
        SsmClient { cfg: cfg.clone() }
    }

    /// `name` may carry a version or label (`/app/key:3`, `/app/key:prod`).
    pub async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<Parameter> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct In<'a> {
            name: &'a str,
            with_decryption: bool,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            parameter: Wire,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Wire {
            name: String,
            #[serde(rename = "Type")]
            kind: String,
            value: String,
            #[serde(default)]
            version: i64,
            #[serde(rename = "ARN")]
            arn: Option<String>,
        }
        let out: Out =
            json::call(&self.cfg, Service::Ssm, TARGET, "GetParameter", &In { name, with_decryption }).await?;
        let w = out.parameter;
        Ok(Parameter { name: w.name, kind: w.kind, value: Secret::new(w.value), version: w.version, arn: w.arn })
    }

    /// Creates or (with `overwrite`) updates a parameter; returns its new version.
    pub async fn put_parameter(&self, input: &PutParameter) -> Result<i64> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct In<'a> {
            name: &'a str,
            value: &'a str,
            #[serde(rename = "Type")]
            kind: &'a str,
            overwrite: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            description: Option<&'a str>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            #[serde(default)]
            version: i64,
        }
        let body = In {
            name: &input.name,
            value: input.value.expose(),
            kind: input.kind.as_deref().unwrap_or("String"),
            overwrite: input.overwrite,
            description: input.description.as_deref(),
        };
        let out: Out = json::call(&self.cfg, Service::Ssm, TARGET, "PutParameter", &body).await?;
        Ok(out.version)
    }
}

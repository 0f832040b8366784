//! The amazon data sources: `amazon-ami` (one AMI by filter, as `source_ami_filter` finds it),
//! `amazon-secretsmanager` (a secret's value) and `amazon-parameterstore` (an SSM parameter).
//!
//! Each is one object of options: Packer's access options (credentials, region, endpoint) and
//! its own, decoded with unknown-option errors. `execute` returns a JSON object
//! with one member per output; values read from a secret store are sensitive outputs, so the
//! loader masks them everywhere.

pub mod ami;
pub mod parameterstore;
pub mod secretsmanager;

use kiln_config::decode::fields_of;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{AwsConfig, Env};
use crate::common::access;
use crate::common::decode::{decode_part, split_members};

/// What one amazon data source asks AWS, besides the access options every one of them has.
#[async_trait]
pub trait AwsQuery: DeserializeOwned + Default + Send + Sync + 'static {
    /// `the "amazon-…" data source`, for errors.
    const COMPONENT: &'static str;
    const OUTPUTS: &'static [Output];
    /// Checks beyond decoding (a required option); `node` is the whole configuration.
    fn check(&self, node: &Node) -> Result<(), Diagnostic>;
    /// Asks AWS; one member per output.
    async fn fetch(&self, aws: &AwsConfig) -> kiln_core::Result<Value>;
}

/// An amazon data source: the access options and its query.
#[derive(Debug, Clone, Default)]
pub struct AwsData<Q> {
    pub access: access::Config,
    pub query: Q,
    /// The environment credentials and the region are read from (the process's by default).
    pub env: Option<Env>,
}

#[async_trait]
impl<Q: AwsQuery> DataSource for AwsData<Q> {
    fn configure(&mut self, node: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (access, query): (access::Config, Q) = decode(node, Q::COMPONENT)?;
        query.check(node)?;
        self.access = access;
        self.query = query;
        Ok(Vec::new())
    }

    fn outputs(&self) -> &'static [Output] {
        Q::OUTPUTS
    }

    async fn execute(&self) -> kiln_core::Result<Value> {
        let env = self.env.clone().unwrap_or_else(Env::process);
        let aws = self.access.load(env, None).map_err(|e| kiln_core::Error::new(e.to_string()))?;
        self.query.fetch(&aws).await
    }
}

/// Decodes `node` into the access options and `T`, then checks the access options.
fn decode<T: DeserializeOwned + Default>(node: &Node, component: &str) -> Result<(access::Config, T), Diagnostics> {
    let sets = [fields_of::<access::Config>(), fields_of::<T>()];
    let (parts, mut d) = split_members(node, &sets, &[], component);
    let access: access::Config = decode_part(&parts[0], component, &mut d);
    let own: T = decode_part(&parts[1], component, &mut d);
    if !d.has_errors() {
        access.check(node, &mut d);
    }
    d.into_result()?;
    Ok((access, own))
}

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
use kiln_config::diag::Diagnostics;
use kiln_config::node::Node;
use serde::de::DeserializeOwned;

use crate::client::{AwsConfig, Env};
use crate::common::access;
use crate::common::decode::{decode_part, split_members};

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

/// The AWS configuration the access options give, in the process environment.
fn load(access: &access::Config, env: &Env) -> kiln_core::Result<AwsConfig> {
    access.load(env.clone(), None).map_err(|e| kiln_core::Error::new(e.to_string()))
}

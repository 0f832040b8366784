//! `data "amazon-ami"`: the one AMI its filters find (Packer's `source_ami_filter` rules:
//! several matches are an error unless `most_recent`).

use std::collections::BTreeMap;

use kiln_config::diag::Diagnostic;
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AwsData, AwsQuery};
use crate::client::{AwsConfig, Ec2Client};
use crate::common::find_image::{find_image, query};
use crate::common::run::AmiFilter;

/// Options of `data "amazon-ami"` besides the access options (credentials, region …): the same
/// image lookup as amazon-ebs's `source_ami_filter` (filters, owners, most_recent).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Config(pub AmiFilter);

pub fn new() -> Box<dyn DataSource> {
    Box::<AwsData<Config>>::default()
}

#[async_trait]
impl AwsQuery for Config {
    const COMPONENT: &'static str = "the \"amazon-ami\" data source";
    const OUTPUTS: &'static [Output] = &[
        Output::new("id", OutputType::String, "The AMI's id."),
        Output::new("name", OutputType::String, "The AMI's name."),
        Output::new("creation_date", OutputType::String, "When the AMI was made (ISO 8601)."),
        Output::new("owner", OutputType::String, "The id of the account that owns the AMI."),
        Output::new(
            "owner_name",
            OutputType::String,
            "The owner's alias (`amazon`, `aws-marketplace`), when it has one.",
        ),
        Output::new("tags", OutputType::StringMap, "The AMI's tags."),
    ];

    fn check(&self, node: &Node) -> Result<(), Diagnostic> {
        if self.0.filters.is_empty() && self.0.owners.is_empty() {
            return Err(Diagnostic::error("amazon-ami needs filters or owners to choose an image")
                .at_opt(node.span.clone())
                .with_help("add a filters map (for example name = \"ubuntu/images/*\") and owners"));
        }
        Ok(())
    }

    async fn fetch(&self, aws: &AwsConfig) -> kiln_core::Result<Value> {
        let ec2 = Ec2Client::new(aws);
        let image = find_image(&ec2, &query(&[], Some(&self.0)), self.0.most_recent, "filters").await?;
        Ok(json!({
            "id": image.image_id,
            "name": image.name,
            "creation_date": image.creation_date.unwrap_or_default(),
            "owner": image.owner_id,
            "owner_name": image.owner_alias.unwrap_or_default(),
            "tags": image.tags.into_iter().collect::<BTreeMap<String, String>>(),
        }))
    }
}

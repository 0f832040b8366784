//! `data "amazon-ami"`: the one AMI its filters find (Packer's `source_ami_filter` rules:
//! several matches are an error unless `most_recent`).

use std::collections::BTreeMap;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::async_trait;
use kiln_core::datasource::{DataSource, Output, OutputType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::client::{Ec2Client, Env};
use crate::common::access;
use crate::common::find_image::{find_image, query};
use crate::common::run::AmiFilter;

pub const COMPONENT: &str = "the \"amazon-ami\" data source";

/// Options of `data "amazon-ami"` besides the access options (credentials, region …).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// DescribeImages filters: name → value (`*` and `?` wildcards), as in `source_ami_filter`.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Account ids, `self`, `amazon` or `aws-marketplace` the AMI must belong to.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Take the newest image when several match (otherwise several matches are an error).
    #[serde(default)]
    pub most_recent: bool,
}

/// A configured `amazon-ami` data source.
const OUTPUTS: &[Output] = &[
    Output::new("id", OutputType::String, "The AMI's id."),
    Output::new("name", OutputType::String, "The AMI's name."),
    Output::new("creation_date", OutputType::String, "When the AMI was made (ISO 8601)."),
    Output::new("owner", OutputType::String, "The id of the account that owns the AMI."),
    Output::new("owner_name", OutputType::String, "The owner's alias (`amazon`, `aws-marketplace`), when it has one."),
    Output::new("tags", OutputType::StringMap, "The AMI's tags."),
];

#[derive(Debug, Clone, Default)]
pub struct AmiData {
    pub access: access::Config,
    pub config: Config,
    /// The environment credentials and the region are read from (the process's by default).
    pub env: Option<Env>,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<AmiData>::default()
}

#[async_trait]
impl DataSource for AmiData {
    fn configure(&mut self, node: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (access, config): (access::Config, Config) = super::decode(node, COMPONENT)?;
        if config.filters.is_empty() && config.owners.is_empty() {
            return Err(Diagnostic::error("amazon-ami needs filters or owners to choose an image")
                .at_opt(node.span.clone())
                .with_help("add a filters map (for example name = \"ubuntu/images/*\") and owners")
                .into());
        }
        *self = AmiData { access, config, env: self.env.take() };
        Ok(Vec::new())
    }

    /// `id`, `name`, `creation_date`, `owner`, `owner_name` and `tags` of the image found.
    fn outputs(&self) -> &'static [Output] {
        OUTPUTS
    }

    async fn execute(&self) -> kiln_core::Result<Value> {
        let env = self.env.clone().unwrap_or_else(Env::process);
        let ec2 = Ec2Client::new(&super::load(&self.access, &env)?);
        let filter =
            AmiFilter { filters: self.config.filters.clone(), owners: self.config.owners.clone(), most_recent: false };
        let image = find_image(&ec2, &query(&[], Some(&filter)), self.config.most_recent, "filters").await?;
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

//! `null`: returns its `input` as `output`. It does nothing useful on its own; templates and
//! tests use it to show how data sources feed each other.

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::datasource::{DataSource, Output, OutputType};
use kiln_core::{async_trait, Result};
use serde::Deserialize;

/// Options of the `null` data source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The value returned as `output`. Required.
    #[serde(default)]
    pub input: String,
}

const OUTPUTS: &[Output] = &[Output::new("output", OutputType::String, "The `input`, unchanged.")];

#[derive(Default)]
pub struct Null {
    config: Config,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<Null>::default()
}

#[async_trait]
impl DataSource for Null {
    fn configure(&mut self, config: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"null\" data source")?;
        if c.input.is_empty() {
            return Err(Diagnostic::error("the null data source needs an `input`")
                .at_opt(config.span_of("input"))
                .with_help("set `input = \"some text\"`: the data source returns it as `output`")
                .into());
        }
        self.config = c;
        Ok(Vec::new())
    }

    fn outputs(&self) -> &'static [Output] {
        OUTPUTS
    }

    async fn execute(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({ "output": self.config.input }))
    }
}

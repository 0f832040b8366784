//! Data sources (HCL2 `data "type" "name" { }`): components that fetch values before any build
//! runs, which the template refers to as `data.<type>.<name>.<output>`.
//!
//! The template loader evaluates a data block's body (in dependency order, with variables,
//! locals and other data sources) and hands it to a [`Runner`]: the runner constructs the data
//! source of that type from the [`Registry`], configures it and executes it. What a data source
//! returns is an object with one member per declared [`Output`], so references can be checked
//! against the outputs even where it does not run.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::Node;

use crate::prepare::check_type;
use crate::registry::{ComponentKind, Registry};
use crate::Result;

#[async_trait]
pub trait DataSource: Send + Sync {
    /// Decodes and checks the configuration; returns warnings.
    fn configure(&mut self, config: &Node) -> Result<Vec<Diagnostic>, Diagnostics>;
    /// What it returns, known before it runs.
    fn outputs(&self) -> &'static [Output];
    /// Fetches the values: a JSON object with one member per output.
    async fn execute(&self) -> Result<serde_json::Value>;
}

/// The type of an output's value, as the documentation shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    String,
    Number,
    Bool,
    /// A map of strings.
    StringMap,
    /// Whatever the configuration gave (the `null` data source's `output`).
    Any,
}

impl OutputType {
    pub fn describe(self) -> &'static str {
        match self {
            OutputType::String => "string",
            OutputType::Number => "number",
            OutputType::Bool => "bool",
            OutputType::StringMap => "map of strings",
            OutputType::Any => "value",
        }
    }
}

/// One value a data source returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub name: &'static str,
    pub ty: OutputType,
    /// Its values are secrets: the loader registers them, so every output and log masks them.
    pub sensitive: bool,
    /// What it holds (the generated documentation shows it).
    pub doc: &'static str,
}

impl Output {
    pub const fn new(name: &'static str, ty: OutputType, doc: &'static str) -> Output {
        Output { name, ty, sensitive: false, doc }
    }

    pub const fn sensitive(self) -> Output {
        Output { sensitive: true, ..self }
    }
}

/// What running one data source gave.
#[derive(Debug)]
pub struct Ran {
    /// One member per output, in declaration order.
    pub values: Vec<(&'static Output, serde_json::Value)>,
    pub warnings: Vec<Diagnostic>,
}

/// One data block, as the loader hands it over.
pub struct Request<'a> {
    pub ty: &'a str,
    /// Its evaluated body.
    pub config: &'a Node,
    /// The type label, where an unknown type is reported.
    pub type_span: Option<&'a Span>,
    /// The block's header, where the data source's own errors are reported.
    pub block_span: Option<&'a Span>,
}

/// Configures and executes data sources for the (synchronous) template loader, on a runtime of
/// its own made on first use.
pub struct Runner {
    registry: Arc<Registry>,
    runtime: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
}

impl Runner {
    pub fn new(registry: Arc<Registry>) -> Runner {
        Runner { registry, runtime: OnceLock::new() }
    }

    /// Constructs the data source of `req.ty`, configures it with `req.config` and executes it.
    pub fn run(&self, req: &Request) -> Result<Ran, Diagnostics> {
        let at = req.block_span.cloned();
        check_type(&self.registry, ComponentKind::DataSource, req.ty, req.type_span)?;
        let Some(mut ds) = self.registry.new_data_source(req.ty) else {
            return Err(Diagnostic::error(format!("the data source type {:?} cannot be constructed", req.ty))
                .at_opt(at)
                .into());
        };
        let warnings = ds.configure(req.config)?;
        let runtime = self
            .runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Diagnostic::error(format!("cannot start the data source runtime: {e}")).at_opt(at.clone()))?;
        let value = runtime.block_on(ds.execute()).map_err(|e| Diagnostic::error(e.message).at_opt(at.clone()))?;
        let serde_json::Value::Object(mut members) = value else {
            return Err(Diagnostic::error(format!(
                "the {} data source returned something other than an object",
                req.ty
            ))
            .at_opt(at)
            .into());
        };
        let values =
            ds.outputs().iter().map(|o| (o, members.remove(o.name).unwrap_or(serde_json::Value::Null))).collect();
        Ok(Ran { values, warnings })
    }
}

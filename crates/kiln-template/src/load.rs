//! The one entry point: a path (file or folder) and the user's variable inputs in, a
//! [`Template`] or every error found out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::plan::Template;
use crate::value::Value;
use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::Node;

/// How far to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// Parse and check the template's structure only (`validate -syntax-only`, `fmt`, `inspect`
    /// of required variables). Variables need not be set.
    Syntax,
    /// Evaluate variables, locals and every component's configuration into runnable builds.
    #[default]
    Full,
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-var name=value`, in command-line order (later wins).
    pub vars: Vec<(String, String)>,
    /// `-var-file`, in command-line order.
    pub var_files: Vec<PathBuf>,
    /// The environment to read `PKR_VAR_*` and `{{env}}` from (the process environment in the
    /// CLI; tests pass their own).
    pub env: BTreeMap<String, String>,
    pub stage: Stage,
    /// The build's clock, so `timestamp`/`{{timestamp}}` are the same everywhere in one run.
    /// `None` means now.
    pub now: Option<SystemTime>,
    /// What runs HCL2 data sources (`build`, full `validate`, `console`). Without it their
    /// values are unknown and their types and options are not checked.
    pub data_sources: Option<Arc<dyn DataSources>>,
}

/// Runs HCL2 data sources (`data "type" "name" { }`) while a configuration loads. The loader
/// evaluates each data block's body in dependency order and asks for its value; the CLI
/// implements this with the component registry (the loader knows no component).
pub trait DataSources: Send + Sync + fmt::Debug {
    /// Checks that the type exists and accepts `request.config`, and runs the data source.
    fn run(&self, request: &DataRequest) -> Result<DataOutput, Diagnostics>;
}

/// One data block, its body evaluated.
pub struct DataRequest<'a> {
    pub ty: &'a str,
    pub name: &'a str,
    pub config: &'a Node,
    /// The type label (an unknown type is reported there).
    pub type_span: &'a Span,
    /// The block's header (the data source's own errors are reported there).
    pub block_span: &'a Span,
    /// The template's `required_plugins` (HCL2's `packer {}` block; none in JSON), so a data
    /// source from a plugin comes from the version the build will use.
    pub required_plugins: &'a [crate::plan::RequiredPlugin],
}

/// What a data source gave.
#[derive(Debug, Clone, PartialEq)]
pub struct DataOutput {
    /// An object with one member per output (unknown values where it did not run).
    pub value: Value,
    /// The outputs whose values are secrets.
    pub sensitive: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

impl LoadOptions {
    /// Options with the process environment.
    pub fn from_process_env() -> LoadOptions {
        LoadOptions { env: std::env::vars().collect(), ..LoadOptions::default() }
    }

    pub fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }
}

/// Which loader a path goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Hcl,
}

/// Decides the format like Packer: folders and `.pkr.hcl`/`.pkr.json` files are HCL2; other
/// `.hcl` files are ambiguous (variable files, Terraform) and refused; everything else is read as
/// a legacy JSON template (image-builder's `packer.json.tmpl`, for one).
pub fn detect_format(path: &Path) -> Result<Format, Diagnostic> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if path.is_dir() || name.ends_with(".pkr.hcl") || name.ends_with(".pkr.json") {
        Ok(Format::Hcl)
    } else if name.ends_with(".hcl") {
        Err(Diagnostic::error(format!("cannot tell whether {} contains an HCL2 configuration", path.display()))
            .with_help("name HCL2 configuration files *.pkr.hcl (variable files *.pkrvars.hcl are passed with -var-file), or pass the folder that holds them"))
    } else {
        Ok(Format::Json)
    }
}

/// Loads the template at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Template, Diagnostics> {
    match detect_format(path)? {
        Format::Json => crate::json::load(path, opts),
        Format::Hcl => crate::hcl::load(path, opts),
    }
}

//! The one entry point: a path (file or folder) and the user's variable inputs in, a
//! [`Template`] or every error found out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::plan::Template;
use kiln_config::diag::{Diagnostic, Diagnostics};

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

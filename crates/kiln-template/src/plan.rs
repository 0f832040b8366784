//! What a loaded template is: the [`Template`] with its variables and sources (for `inspect`)
//! and its runnable [`Build`]s (for `validate` and `build`).
//!
//! JSON templates give one build per builder; HCL2 gives one build per (build block, source).
//! Per-build provisioner `only`/`except`/`override` are already applied by the loader, so a
//! `Build` lists exactly what runs for it. The runnable part lives in [`kiln_config::build`]
//! (the runtime needs it, not the loaders); it is re-exported here.

use std::path::PathBuf;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, SourceFile, Span};

pub use kiln_config::build::{Build, PostProcessor, Provisioner};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// Legacy JSON template.
    Json,
    /// HCL2 configuration (`.pkr.hcl`, `.pkr.json`, or a folder of them).
    Hcl,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub kind: TemplateKind,
    /// The file or folder the user named.
    pub path: PathBuf,
    /// Every file that was read (templates and variable files), for diagnostics and `fmt`.
    pub files: Vec<Arc<SourceFile>>,
    pub description: Option<String>,
    /// JSON `min_packer_version` or HCL2 `packer { required_version }`.
    pub required_version: Option<String>,
    pub required_plugins: Vec<RequiredPlugin>,
    pub variables: Vec<Variable>,
    /// HCL2 locals, evaluated (empty for JSON).
    pub locals: Vec<Local>,
    /// JSON builders or HCL2 `source` blocks, in file order.
    pub sources: Vec<SourceRef>,
    /// HCL2 `build` blocks as written (JSON: one unnamed block), for `inspect`.
    pub build_blocks: Vec<BuildBlock>,
    /// Runnable builds, after `only`/`except`/`override` of provisioners and post-processors.
    /// Empty at [`crate::Stage::Syntax`].
    pub builds: Vec<Build>,
    /// Values that must never be printed: sensitive variables' values, hard-coded secrets.
    pub sensitive_values: Vec<String>,
    /// Warnings found while loading (hard-coded credentials, undefined user variables …).
    pub warnings: Vec<Diagnostic>,
}

impl Template {
    pub fn new(kind: TemplateKind, path: impl Into<PathBuf>) -> Template {
        Template {
            kind,
            path: path.into(),
            files: Vec::new(),
            description: None,
            required_version: None,
            required_plugins: Vec::new(),
            variables: Vec::new(),
            locals: Vec::new(),
            sources: Vec::new(),
            build_blocks: Vec::new(),
            builds: Vec::new(),
            sensitive_values: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequiredPlugin {
    /// The local name (`amazon` in `required_plugins { amazon = { … } }`).
    pub name: String,
    /// `github.com/hashicorp/amazon`.
    pub source: String,
    /// Version constraint, e.g. `>= 1.2.3`.
    pub version: Option<String>,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    /// HCL2 type constraint as written (`list(string)`); `None` for JSON and untyped variables.
    pub type_expr: Option<String>,
    /// Default as `inspect` shows it: JSON's raw string (`{{env `X`}}` not expanded), HCL2's
    /// evaluated value as JSON. `None` when the variable is required.
    pub default_display: Option<String>,
    /// HCL2's evaluated default, unknown parts kept (what `inspect` shows); `None` for JSON
    /// variables and required ones.
    pub default: Option<crate::value::Value>,
    /// The value the build uses, after defaults, var files, `-var` and `PKR_VAR_*`. `None` at
    /// the syntax stage or when unset.
    pub value: Option<crate::value::Value>,
    pub required: bool,
    pub sensitive: bool,
    pub description: Option<String>,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub name: String,
    pub value: crate::value::Value,
    pub sensitive: bool,
    pub span: Option<Span>,
}

/// A builder (JSON) or source block (HCL2).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRef {
    /// Builder type: `amazon-ebs`, `qemu`, `null` …
    pub builder_type: String,
    /// JSON: the builder's `name` (defaults to its type). HCL2: the source's label.
    pub name: String,
    pub span: Option<Span>,
}

/// A build block as written, for `inspect`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildBlock {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `type.name` of each source reference as written (HCL2: whether declared or not, and
    /// whatever `name` the build's source block sets, as Packer's `inspect` shows them).
    pub sources: Vec<String>,
    /// Provisioners in order: the type, or `type.name` when the block has a `name` (HCL2).
    pub provisioners: Vec<String>,
    /// Post-processor chains: each inner list is one chain of types (`type.name` when named).
    pub post_processors: Vec<Vec<String>>,
    pub span: Option<Span>,
}

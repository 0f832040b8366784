//! The runnable description of a build, as the loaders hand it to the runtime: a builder's
//! configuration, its provisioners and its post-processor chains, every configuration a spanned
//! [`Node`] tree.
//!
//! JSON templates give one build per builder; HCL2 gives one build per (build block, source).
//! Per-build provisioner `only`/`except`/`override` are already applied by the loader, so a
//! [`Build`] lists exactly what runs for it.

use std::time::Duration;

use crate::diag::Span;
use crate::node::Node;

/// One runnable build: a builder, its provisioners and post-processor chains.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// The name `-only`/`-except` match and output prefixes use: JSON builder `name`;
    /// HCL2 `type.name`, or `buildname.type.name` when the build block is named.
    pub name: String,
    pub builder_type: String,
    /// The builder's configuration (HCL2: source block merged with the build's overrides).
    pub config: Node,
    pub provisioners: Vec<Provisioner>,
    pub error_cleanup_provisioner: Option<Provisioner>,
    /// Chains run one after the other on the builder's artifact; a chain passes each
    /// post-processor's artifact to the next.
    pub post_processors: Vec<Vec<PostProcessor>>,
    pub span: Option<Span>,
    /// It comes from an HCL2 configuration (external plugins take HCL2 bodies as typed cty
    /// values and legacy JSON ones as plain maps).
    pub hcl2: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provisioner {
    pub provisioner_type: String,
    /// HCL2 provisioner `name` label/attribute, used in output instead of the type.
    pub name: Option<String>,
    /// Configuration with common options (`only`, `except`, `override`, `pause_before`,
    /// `max_retries`, `timeout`) removed and the build's override merged in.
    pub config: Node,
    pub pause_before: Option<Duration>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
    pub span: Option<Span>,
    /// Options whose value changes on every run: the step cache never caches this provisioner.
    pub volatile: Vec<Volatile>,
}

/// An option whose value changes on every run because it uses `timestamp()`, `uuidv4()`,
/// `{{timestamp}}`, `{{uuid}}` … (directly or through a local or user variable). The loaders
/// find them; the step cache says which option keeps a step from being cached.
#[derive(Debug, Clone, PartialEq)]
pub struct Volatile {
    /// The top-level option (`inline`, `environment_vars`).
    pub option: String,
    /// What changes (`timestamp()`, `{{uuid}}`, `local.stamp`).
    pub what: String,
    pub span: Option<Span>,
}

impl std::fmt::Display for Volatile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "option {:?} uses {}, whose value changes on every run", self.option, self.what)?;
        if let Some(s) = &self.span {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostProcessor {
    pub post_processor_type: String,
    pub name: Option<String>,
    /// Configuration with `only`, `except`, `keep_input_artifact` and `name` removed.
    pub config: Node,
    /// `None` when unset: Packer's default depends on the post-processor.
    pub keep_input_artifact: Option<bool>,
    pub span: Option<Span>,
}

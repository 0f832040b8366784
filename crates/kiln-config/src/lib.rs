//! kiln-config is what every kiln component needs to read its configuration, and what the
//! runtime consumes from a loaded template:
//!
//! - [`diag`]: diagnostics at `file:line:col` ([`Span`], [`SourceFile`], did-you-mean);
//! - [`node`]: the spanned configuration tree ([`Node`]) a component decodes;
//! - [`decode`]: the serde decoder over that tree, as lenient as Packer's, reporting every error;
//! - [`golang`]: Go's duration and bool rules that templates inherit;
//! - [`limits`]: the size cap on files read and values computed, and the one bounded reader;
//! - [`mask`]: masking sensitive values in everything kiln prints;
//! - [`civil`]: calendar dates and RFC 3339 times, for every crate that prints or reads one;
//! - [`number`]: how configuration numbers are printed;
//! - [`random`]: random bytes and UUIDs from the operating system;
//! - [`build`]: the runnable description of a build (builder, provisioners, post-processor
//!   chains) the loaders produce and the runtime runs.
//!
//! It knows no template syntax (HCL2, JSON, Go templates) and no component: the loaders
//! (kiln-template) produce these types, the components and kiln-core consume them. Keep it small
//! and its dependencies few: every crate of kiln is rebuilt when it changes.

pub mod build;
pub mod civil;
pub mod decode;
pub mod diag;
pub mod golang;
pub mod limits;
pub mod mask;
pub mod node;
pub mod number;
pub mod random;

pub use diag::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
pub use node::Node;

/// The Packer version kiln is compatible with, as reported by `packer_version` and
/// `packer.version`, and used for `min_packer_version` / `required_version` checks.
pub const PACKER_COMPAT_VERSION: &str = "1.11.2";

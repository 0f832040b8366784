//! kiln-template turns Packer templates into build plans.
//!
//! It reads legacy JSON templates (with Go-template `{{ }}` interpolation) and HCL2
//! configurations (`.pkr.hcl`, `.pkr.json`, folders, variable files), evaluates variables,
//! locals and functions, and produces a [`plan::Template`]: the variables, sources and builds
//! with every component's configuration as a spanned [`node::Node`] tree, so that any later
//! error can be reported at `file:line:col`.
//!
//! It also owns the text tools that work on templates: the HCL2 formatter (`fmt`), the JSON
//! fixers (`fix`) and the JSON → HCL2 upgrade (`upgrade`). It knows nothing about any builder's
//! options: components decode their own configuration from the [`node::Node`] tree.

pub mod console;
pub mod decode;
pub mod diag;
pub mod fix;
pub mod fmt;
pub mod functions;
pub mod golang;
pub mod gotmpl;
pub mod hcl;
pub mod inspect;
pub mod json;
pub mod load;
pub mod node;
pub mod plan;
pub mod secrets;
#[doc(hidden)]
pub mod testing;
pub mod types;
pub mod upgrade;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
pub use load::{load, LoadOptions, Stage};
pub use node::Node;
pub use plan::Template;
pub use value::Value;

/// The Packer version kiln is compatible with, as reported by `packer_version` and
/// `packer.version`, and used for `min_packer_version` / `required_version` checks.
pub const PACKER_COMPAT_VERSION: &str = "1.11.2";

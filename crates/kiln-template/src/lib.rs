//! kiln-template turns Packer templates into build plans: the template loaders.
//!
//! It reads legacy JSON templates (with Go-template `{{ }}` interpolation, by kiln-gotmpl) and
//! HCL2 configurations (`.pkr.hcl`, `.pkr.json`, folders, variable files), evaluates variables,
//! locals and functions, and produces a [`plan::Template`]: the variables, sources and builds
//! with every component's configuration as a spanned [`Node`] tree (kiln-config), so that any
//! later error can be reported at `file:line:col`. `inspect` and `console` read templates
//! through it as well.
//!
//! It knows nothing about any builder's options (components decode their own configuration
//! from the [`Node`] tree) and nothing of the runtime. The text tools that rewrite templates
//! (`fmt`, `fix`, `hcl2_upgrade`) live in kiln-tools.

pub mod console;
pub mod functions;
pub mod hcl;
pub mod inspect;
pub mod json;
pub mod load;
pub mod plan;
pub mod secrets;
#[doc(hidden)]
pub mod testing;
pub mod types;
pub mod value;

pub use kiln_config::diag::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
pub use kiln_config::node::Node;
pub use kiln_config::PACKER_COMPAT_VERSION;
pub use load::{load, DataOutput, DataRequest, DataSources, LoadOptions, Stage};
pub use plan::Template;
pub use value::Value;

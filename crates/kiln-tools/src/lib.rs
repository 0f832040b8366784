//! kiln-tools holds the text tools that rewrite templates, which only the command line uses:
//!
//! - [`fmt`]: the HCL2 formatter (`kiln fmt`), byte for byte as `packer fmt`;
//! - [`fix`]: the legacy JSON fixers (`kiln fix`);
//! - [`upgrade`]: the JSON to HCL2 translation (`kiln hcl2_upgrade`).
//!
//! They sit apart from the loaders (kiln-template) so that neither the runtime nor the
//! components are rebuilt when a tool changes. Nothing but the `kiln` binary (and the fuzz
//! targets) depends on this crate.

pub mod fix;
pub mod fmt;
pub mod upgrade;

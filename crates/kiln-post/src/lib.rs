//! kiln's post-processors, one module each.

pub mod artifice;
pub mod checksum;
pub mod compress;
pub mod manifest;
pub mod shell_local;
pub mod vagrant;

use kiln_core::BuildInfo;
use std::collections::BTreeMap;

/// The fields Packer's post-processor templates know (`{{.BuildName}}`, `{{.BuilderType}}`).
pub(crate) fn template_data(info: &BuildInfo) -> BTreeMap<String, String> {
    [("BuildName", info.name.as_str()), ("BuilderType", info.builder_type.as_str())]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `Created artifact from files: a, b` — the description Packer gives file artifacts.
pub(crate) fn files_description(files: &[String]) -> String {
    format!("Created artifact from files: {}", files.join(", "))
}

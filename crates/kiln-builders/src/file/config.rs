//! Options of the `file` builder.

use serde::Deserialize;

/// Creates one file, from literal `content` or by copying `source`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file to create (the artifact). Required.
    #[serde(default)]
    pub target: String,
    /// Literal content of the file. Mutually exclusive with `source`.
    #[serde(default)]
    pub content: Option<String>,
    /// A file to copy to `target`. Mutually exclusive with `content`.
    #[serde(default)]
    pub source: Option<String>,
}

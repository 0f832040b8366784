//! A small interpreter for the Go-template subset Packer templates use (`{{user `x`}}`,
//! `{{ .HTTPIP }}`, pipelines, `if`/`range`/`with`, trim markers), with Packer's functions.
//!
//! CONTRACT (other modules code against this; keep the signatures): [`Context`], [`render`],
//! [`RenderError`]. The implementation below is a placeholder that only passes text without
//! actions through.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

/// Everything a template may refer to.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// User variables (`{{user `name`}}`), already resolved.
    pub user: BTreeMap<String, String>,
    /// Environment for `{{env `X`}}`.
    pub env: BTreeMap<String, String>,
    /// Packer allows `env` only in the `variables` section; elsewhere it is an error.
    pub allow_env: bool,
    /// `{{build_name}}` / `{{build_type}}`; `None` leaves the action as it is (rendered later).
    pub build_name: Option<String>,
    pub build_type: Option<String>,
    /// `{{template_dir}}`: the folder of the template file, absolute.
    pub template_dir: Option<PathBuf>,
    /// The run's clock for `{{timestamp}}` / `{{isotime}}`.
    pub now: Option<SystemTime>,
    /// `.Field` values (`{{ .HTTPIP }}`, `{{ .Path }}`). Fields not present are late values:
    /// the action is left in the output unchanged, to be rendered by the component later.
    pub data: BTreeMap<String, String>,
    /// Generated data for `{{ build `Name` }}`; when `None`, such actions are left as they are.
    pub build_data: Option<BTreeMap<String, String>>,
    /// When true, a `.Field` missing from `data` is an error instead of a late value
    /// (components rendering at run time set this).
    pub strict_fields: bool,
}

/// A template error, with the byte offset in the rendered string where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    pub message: String,
    /// Byte offset into the template text; the caller maps it to a file position.
    pub offset: usize,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Renders `src` with `ctx`.
pub fn render(src: &str, _ctx: &Context) -> Result<String, RenderError> {
    match src.find("{{") {
        None => Ok(src.to_string()),
        Some(offset) => Err(RenderError { message: "template actions are not supported yet".into(), offset }),
    }
}

//! Legacy JSON templates: a spanned JSON parser with Packer-grade error positions, the template
//! structure (`variables`, `sensitive-variables`, `builders`, `provisioners`, `post-processors`,
//! `min_packer_version`, `description`, `_comment`), user variables and per-build `{{ }}`
//! interpolation through [`crate::gotmpl`].

mod parse;

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics};
use crate::load::LoadOptions;
use crate::plan::Template;

pub use parse::parse;

pub fn load(path: &Path, _opts: &LoadOptions) -> Result<Template, Diagnostics> {
    Err(Diagnostic::error(format!("{}: legacy JSON templates are not supported yet", path.display())).into())
}

//! HCL2 configurations: files and folders (`.pkr.hcl`, `.pkr.json`), variable files
//! (`*.pkrvars.hcl`, `*.auto.pkrvars.hcl`), the block structure (`packer`, `variable(s)`,
//! `locals`/`local`, `source`, `data`, `build`, `dynamic`), expression evaluation with
//! [`crate::functions`], type constraints and Packer's variable precedence.

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics};
use crate::load::LoadOptions;
use crate::plan::Template;

pub fn load(path: &Path, _opts: &LoadOptions) -> Result<Template, Diagnostics> {
    Err(Diagnostic::error(format!("{}: HCL2 templates are not supported yet", path.display())).into())
}

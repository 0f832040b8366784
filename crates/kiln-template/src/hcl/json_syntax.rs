//! HCL's JSON syntax (`.pkr.json`): turned into native syntax following Packer's schema, then
//! parsed like a `.pkr.hcl` file.

use std::sync::Arc;

use hcl_edit::structure::Body;

use crate::diag::{Diagnostic, SourceFile, Span};

pub(crate) fn parse(file: &Arc<SourceFile>) -> Result<Body, Diagnostic> {
    Err(Diagnostic::error("HCL JSON syntax (.pkr.json) is not supported yet").at(Span::new(file, 0, 0)))
}

/// Byte offset of 1-based `line`, `col` (serde_json's error position).
pub(crate) fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return (off + col.saturating_sub(1)).min(text.len());
        }
        off += l.len();
    }
    text.len()
}

/// Offset of the first `"key"` in `text` (0 when absent), to point at a JSON member.
pub(crate) fn find_key(text: &str, key: &str) -> usize {
    let quoted = serde_json::Value::String(key.to_string()).to_string();
    text.find(&quoted).unwrap_or(0)
}

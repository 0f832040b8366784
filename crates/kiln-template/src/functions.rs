//! Packer's HCL2 function library over [`crate::value::Value`].
//!
//! CONTRACT (the HCL evaluator codes against this; keep the signatures): [`FuncContext`],
//! [`call`], [`exists`], [`names`]. The evaluator handles unknown arguments itself (any unknown
//! argument makes the result unknown) before calling.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::value::Value;

/// What functions may depend on besides their arguments.
pub struct FuncContext<'a> {
    /// Relative paths in `file()`, `fileexists()`, `templatefile()` … resolve against this
    /// (Packer resolves them against the current directory).
    pub base_dir: PathBuf,
    /// The run's clock: `timestamp()` returns the same value everywhere in one run.
    pub now: SystemTime,
    /// Renders a template string (for `templatefile`) with the given variables (an object).
    pub render_template: &'a dyn Fn(&str, &Value) -> Result<String, String>,
}

/// Calls function `name`. `Err` carries a message for the user ("invalid value for \"n\"
/// parameter: must be a number"); the caller attaches the span.
pub fn call(name: &str, _args: &[Value], _ctx: &FuncContext) -> Result<Value, String> {
    Err(format!("call to unknown function {name:?}"))
}

/// Whether `name` is a function kiln implements.
pub fn exists(_name: &str) -> bool {
    false
}

/// Every function name, sorted (for "did you mean" and `console`'s completion).
pub fn names() -> Vec<&'static str> {
    Vec::new()
}

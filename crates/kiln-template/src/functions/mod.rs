//! Packer's HCL2 function library over [`crate::value::Value`].
//!
//! CONTRACT (the HCL evaluator codes against this; keep the signatures): [`FuncContext`],
//! [`call`], [`exists`], [`names`]. The evaluator handles unknown arguments itself (any unknown
//! argument makes the result unknown) before calling.
//!
//! Semantics follow cty's standard library (as Packer and Terraform use it): arguments are
//! converted to each parameter's type first (`"5"` is accepted where a number is expected), and
//! errors name the parameter they concern.
//!
//! For the evaluator:
//! - `can` and `try` are not here: they need unevaluated expressions.
//! - `convert(value, type)` takes the type expression's source text as a string in its second
//!   argument (`"list(string)"`), parsed with [`crate::types::Type::parse_str`].
//! - `env` works anywhere here; Packer allows it only in variable defaults, so the evaluator
//!   should refuse it elsewhere.
//! - Errors starting with `invalid value for "…" parameter` are about one argument (Packer's
//!   summary "Invalid function argument"); others are "Error in function call".

mod args;
mod collection;
mod conversion;
mod crypto;
mod datetime;
mod encoding;
mod filesystem;
mod format;
mod graphemes;
mod ipnet;
mod numeric;
mod packer;
mod sets;
mod string;

use std::path::PathBuf;
use std::time::SystemTime;

use crate::value::Value;

pub(crate) use args::Args;

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

/// One function of the library: its parameter names (for arity and error messages) and its body.
pub(crate) struct Func {
    pub name: &'static str,
    pub params: &'static [&'static str],
    /// Name of the trailing variadic parameter, if any.
    pub variadic: Option<&'static str>,
    /// Most cty functions reject null arguments before running; these accept them.
    pub allow_null: bool,
    pub imp: fn(&Args) -> Result<Value, String>,
}

/// Shorthand for the family modules' tables.
pub(crate) const fn func(
    name: &'static str,
    params: &'static [&'static str],
    imp: fn(&Args) -> Result<Value, String>,
) -> Func {
    Func { name, params, variadic: None, allow_null: false, imp }
}

pub(crate) const fn variadic(
    name: &'static str,
    params: &'static [&'static str],
    rest: &'static str,
    imp: fn(&Args) -> Result<Value, String>,
) -> Func {
    Func { name, params, variadic: Some(rest), allow_null: false, imp }
}

pub(crate) const fn nullable(f: Func) -> Func {
    Func { allow_null: true, ..f }
}

fn families() -> [&'static [Func]; 11] {
    [
        numeric::FUNCS,
        string::FUNCS,
        collection::FUNCS,
        sets::FUNCS,
        encoding::FUNCS,
        filesystem::FUNCS,
        datetime::FUNCS,
        crypto::FUNCS,
        ipnet::FUNCS,
        conversion::FUNCS,
        packer::FUNCS,
    ]
}

fn lookup(name: &str) -> Option<&'static Func> {
    families().into_iter().flat_map(|f| f.iter()).find(|f| f.name == name)
}

/// A function of the library, found once by [`function`] and then called.
#[derive(Clone, Copy)]
pub struct Function(&'static Func);

/// The function named `name`, if kiln implements it.
pub fn function(name: &str) -> Option<Function> {
    lookup(name).map(Function)
}

impl Function {
    /// Calls the function. `Err` carries a message for the user ("invalid value for \"n\"
    /// parameter: must be a number"); the caller attaches the span.
    pub fn call(self, args: &[Value], ctx: &FuncContext) -> Result<Value, String> {
        let f = self.0;
        check_arity(f, args.len())?;
        if !f.allow_null {
            for (i, v) in args.iter().enumerate() {
                if matches!(v, Value::Null) {
                    return Err(format!(
                        "invalid value for {:?} parameter: argument must not be null",
                        param_name(f, i)
                    ));
                }
            }
        }
        (f.imp)(&Args { f, vals: args, ctx })
    }
}

/// Calls function `name` (see [`Function::call`]); an unknown name is an error with a
/// did-you-mean.
pub fn call(name: &str, args: &[Value], ctx: &FuncContext) -> Result<Value, String> {
    let Some(f) = function(name) else {
        let mut msg = format!("there is no function named {name:?}");
        if let Some(s) = kiln_config::diag::did_you_mean(name, names()) {
            msg.push_str(&format!("; did you mean {s:?}?"));
        }
        return Err(msg);
    };
    f.call(args, ctx)
}

fn param_name(f: &Func, i: usize) -> &'static str {
    f.params.get(i).copied().or(f.variadic).unwrap_or("argument")
}

fn check_arity(f: &Func, n: usize) -> Result<(), String> {
    let want = f.params.len();
    if n < want {
        return Err(format!(
            "not enough function arguments: function {:?} expects {}{} argument(s); missing value for {:?}",
            f.name,
            if f.variadic.is_some() { "at least " } else { "" },
            want,
            f.params[n]
        ));
    }
    if n > want && f.variadic.is_none() {
        return Err(format!("too many function arguments: function {:?} expects only {want} argument(s)", f.name));
    }
    Ok(())
}

/// Whether `name` is a function kiln implements.
pub fn exists(name: &str) -> bool {
    lookup(name).is_some()
}

/// Every function name, sorted (for "did you mean" and `console`'s completion).
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = families().into_iter().flat_map(|f| f.iter()).map(|f| f.name).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ctx_call(name: &str, args: &[Value]) -> Result<Value, String> {
        let render = |_: &str, _: &Value| Err("no renderer".to_string());
        let ctx = FuncContext { base_dir: PathBuf::from("."), now: SystemTime::UNIX_EPOCH, render_template: &render };
        call(name, args, &ctx)
    }

    #[test]
    fn names_are_sorted_and_unique() {
        let n = names();
        assert!(n.len() > 100, "only {} functions", n.len());
        assert!(n.windows(2).all(|w| w[0] < w[1]), "duplicate or unsorted names");
        assert!(exists("upper") && !exists("uper"));
    }

    #[test]
    fn unknown_function_suggests_a_name() {
        let e = ctx_call("uper", &[Value::string("a")]).unwrap_err();
        assert!(e.contains("did you mean \"upper\""), "{e}");
    }

    #[test]
    fn arity_and_null_errors_name_the_parameter() {
        let e = ctx_call("upper", &[]).unwrap_err();
        assert!(e.contains("missing value for \"str\""), "{e}");
        let e = ctx_call("upper", &[Value::string("a"), Value::string("b")]).unwrap_err();
        assert!(e.contains("too many"), "{e}");
        let e = ctx_call("upper", &[Value::Null]).unwrap_err();
        assert_eq!(e, "invalid value for \"str\" parameter: argument must not be null");
    }
}

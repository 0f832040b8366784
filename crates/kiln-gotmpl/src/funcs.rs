//! The functions a template can call: Go's builtins and Packer's.

use super::clean::{clean, Rules};
use super::exec::{fail, Exec, Fail};
use super::strings::{escape_html, escape_js, escape_query, go_replace, go_split, simple_case};
use super::value::{display, truth, V};
use super::{printf, time, RenderError};
use kiln_config::diag::did_you_mean;

/// Every function name, sorted.
const NAMES: &[&str] = &[
    "and",
    "aws_secretsmanager",
    "build",
    "build_name",
    "build_type",
    "call",
    "clean_ami_name",
    "clean_image_name",
    "clean_resource_name",
    "consul_key",
    "env",
    "eq",
    "ge",
    "gt",
    "html",
    "index",
    "isotime",
    "js",
    "le",
    "len",
    "lower",
    "lt",
    "ne",
    "not",
    "or",
    "packer_version",
    "print",
    "printf",
    "println",
    "pwd",
    "replace",
    "replace_all",
    "sed",
    "slice",
    "split",
    "strftime",
    "template_dir",
    "timestamp",
    "upper",
    "urlquery",
    "user",
    "uuid",
    "vault",
];

pub(crate) fn exists(name: &str) -> bool {
    NAMES.binary_search(&name).is_ok()
}

pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().copied()
}

/// Arguments of one call, with their offsets, and the function's name and offset.
struct Args<'n> {
    name: &'n str,
    at: usize,
    vals: Vec<(V, usize)>,
}

impl Args<'_> {
    fn count(&self, want: usize) -> Result<(), Fail> {
        if self.vals.len() != want {
            let at = self.vals.get(want).map(|(_, o)| *o).unwrap_or(self.at);
            return Err(fail(
                format!("wrong number of args for {}: want {want} got {}", self.name, self.vals.len()),
                at,
            ));
        }
        Ok(())
    }

    fn at_least(&self, want: usize) -> Result<(), Fail> {
        if self.vals.len() < want {
            return Err(fail(
                format!("wrong number of args for {}: want at least {want} got {}", self.name, self.vals.len()),
                self.at,
            ));
        }
        Ok(())
    }

    fn wrong_type(&self, i: usize, want: &str) -> Fail {
        let (v, at) = &self.vals[i];
        fail(format!("wrong type for argument {} of {}: expected {want}, got {}", i + 1, self.name, v.describe()), *at)
    }

    fn str(&self, i: usize) -> Result<&str, Fail> {
        match &self.vals[i].0 {
            V::Str(s) => Ok(s),
            _ => Err(self.wrong_type(i, "string")),
        }
    }

    fn int(&self, i: usize) -> Result<i64, Fail> {
        match &self.vals[i].0 {
            V::Int(n) => Ok(*n),
            V::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(*f as i64),
            _ => Err(self.wrong_type(i, "int")),
        }
    }

    fn err(&self, message: impl Into<String>) -> Fail {
        fail(format!("error calling {}: {}", self.name, message.into()), self.at)
    }
}

/// Calls function `name` (at offset `at`) with evaluated arguments.
pub(crate) fn call(name: &str, at: usize, vals: Vec<(V, usize)>, ex: &mut Exec) -> Result<V, Fail> {
    let a = Args { name, at, vals };
    let ctx = ex.ctx;
    let s = |v: String| Ok(V::Str(v));
    match name {
        // Go builtins.
        "not" => {
            a.count(1)?;
            Ok(V::Bool(!truth(&a.vals[0].0, &ctx.data)))
        }
        "len" => {
            a.count(1)?;
            match &a.vals[0].0 {
                V::Str(x) => Ok(V::Int(x.len() as i64)),
                V::List(l) => Ok(V::Int(l.len() as i64)),
                V::Map(m) => Ok(V::Int(m.len() as i64)),
                V::Root => Ok(V::Int(ctx.data.len() as i64)),
                other => Err(a.err(format!("len of {}", other.describe()))),
            }
        }
        "index" => {
            a.at_least(1)?;
            let mut v = a.vals[0].0.clone();
            for (i, (key, _)) in a.vals.iter().enumerate().skip(1) {
                // A key missing from the data is a late value, as `.Key` is.
                if let (V::Root, V::Str(k), false) = (&v, key, ctx.strict_fields) {
                    if !ctx.data.contains_key(k) {
                        return Err(Fail::Late);
                    }
                }
                v = index(&v, key, ctx).map_err(|m| fail(format!("error calling index: {m}"), a.vals[i].1))?;
            }
            Ok(v)
        }
        "slice" => {
            a.at_least(1)?;
            if a.vals.len() > 3 {
                return Err(a.err("too many slice indexes; strings and lists take at most 2"));
            }
            let idx: Vec<i64> = (1..a.vals.len()).map(|i| a.int(i)).collect::<Result<_, _>>()?;
            let len = match &a.vals[0].0 {
                V::Str(x) => x.len(),
                V::List(l) => l.len(),
                other => return Err(a.err(format!("can't slice {}", other.describe()))),
            } as i64;
            let lo = idx.first().copied().unwrap_or(0);
            let hi = idx.get(1).copied().unwrap_or(len);
            if lo < 0 || hi < lo || hi > len {
                return Err(a.err(format!("slice index out of range: [{lo}:{hi}] of length {len}")));
            }
            match &a.vals[0].0 {
                V::Str(x) => match x.get(lo as usize..hi as usize) {
                    Some(sub) => s(sub.to_string()),
                    None => Err(a.err("slice bounds cut a multi-byte character")),
                },
                V::List(l) => Ok(V::List(l[lo as usize..hi as usize].to_vec())),
                _ => Err(a.err("can't slice this value")),
            }
        }
        "print" => s(sprint(&a.vals, ctx)),
        "println" => {
            let parts: Vec<String> = a.vals.iter().map(|(v, _)| display(v, &ctx.data)).collect();
            s(parts.join(" ") + "\n")
        }
        "printf" => {
            a.at_least(1)?;
            let format = a.str(0)?.to_string();
            let rest: Vec<V> = a.vals[1..].iter().map(|(v, _)| v.clone()).collect();
            s(printf::sprintf(&format, &rest, &ctx.data))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => compare(&a),
        "html" => s(escape_html(&sprint(&a.vals, ctx))),
        "js" => s(escape_js(&sprint(&a.vals, ctx))),
        "urlquery" => s(escape_query(&sprint(&a.vals, ctx))),
        "call" => Err(a.err("`call` needs a function value, and Packer templates have none")),

        // Packer's functions.
        "user" => {
            a.count(1)?;
            let key = a.str(0)?;
            if let Some(v) = ctx.user.get(key) {
                return s(v.clone());
            }
            // Only names of about the same length can be close; skipping the rest keeps this
            // cheap for templates with hundreds of variables.
            let near = ctx.user.keys().map(|k| k.as_str()).filter(|k| k.len().abs_diff(key.len()) <= 3);
            let help = match did_you_mean(key, near) {
                Some(d) => format!(" (did you mean {d:?}?)"),
                None => String::new(),
            };
            if ctx.allow_env {
                // Inside `variables` an undefined variable is an error (Packer retries there).
                return Err(fail(format!("error calling user: variable {key:?} is not set{help}"), a.vals[0].1));
            }
            ex.notes.warnings.push(RenderError {
                message: format!("user variable {key:?} is not defined; it renders as an empty string{help}"),
                offset: a.vals[0].1,
            });
            s(String::new())
        }
        "env" => {
            a.count(1)?;
            let key = a.str(0)?;
            if !ctx.allow_env {
                return Err(a.err(
                    "env is only allowed in the variables section: define a variable there with \
                     {{env `NAME`}} as its default and use {{user `name`}} here",
                ));
            }
            s(ctx.env.get(key).cloned().unwrap_or_default())
        }
        "timestamp" => {
            a.count(0)?;
            s(time::unix_seconds(ctx.now).to_string())
        }
        "isotime" => {
            if a.vals.len() > 1 {
                return Err(a.err(format!("too many values, 1 needed: got {}", a.vals.len())));
            }
            let layout = if a.vals.is_empty() { time::RFC3339.to_string() } else { a.str(0)?.to_string() };
            if !a.vals.is_empty() && !time::has_elements(&layout) {
                let hint = if layout.contains('%') {
                    "isotime takes a Go layout such as \"2006-01-02\"; for %Y-style formats use strftime"
                } else {
                    "Go layouts spell the parts with the reference time Mon Jan 2 15:04:05 MST 2006, e.g. \"2006-01-02\""
                };
                ex.notes.warnings.push(RenderError {
                    message: format!(
                        "isotime layout {layout:?} has no date or time element, so it prints as is: {hint}"
                    ),
                    offset: a.vals[0].1,
                });
            }
            // Digits that are a date rather than the reference time ("202205111847").
            let digits = layout.len() >= 6 && layout.bytes().all(|b| b.is_ascii_digit());
            if digits && !["2006", "06", "01"].iter().any(|p| layout.starts_with(p)) {
                ex.notes.warnings.push(RenderError {
                    message: format!(
                        "isotime layout {layout:?} looks like a date, not Go's reference time: each 1, 2, 3, 4, 5, \
                         6 and 01…06 in it prints a part of the current time; for a compact timestamp write \
                         \"20060102150405\""
                    ),
                    offset: a.vals[0].1,
                });
            }
            s(time::format_layout(&layout, time::utc_parts(ctx.now)))
        }
        "strftime" => {
            a.count(1)?;
            s(time::strftime(a.str(0)?, time::utc_parts(ctx.now)))
        }
        "uuid" => {
            a.count(0)?;
            s(time::uuid(ctx.now))
        }
        "pwd" => {
            a.count(0)?;
            match std::env::current_dir() {
                Ok(p) => s(p.to_string_lossy().into_owned()),
                Err(e) => Err(a.err(format!("cannot read the current directory: {e}"))),
            }
        }
        "template_dir" => {
            a.count(0)?;
            match &ctx.template_dir {
                Some(p) => s(p.to_string_lossy().into_owned()),
                None => Err(a.err("template path not available")),
            }
        }
        "build_name" | "build_type" => {
            a.count(0)?;
            let v = if name == "build_name" { &ctx.build_name } else { &ctx.build_type };
            match v {
                Some(v) => s(v.clone()),
                None if ctx.strict_fields => Err(a.err(format!("{name} not available here"))),
                None => Err(Fail::Late),
            }
        }
        "build" => {
            a.count(1)?;
            let key = a.str(0)?;
            match &ctx.build_data {
                None if ctx.strict_fields => Err(a.err("generated build data is not available here")),
                None => Err(Fail::Late),
                Some(data) => match data.get(key) {
                    Some(v) => s(v.clone()),
                    None => {
                        let help = match did_you_mean(key, data.keys().map(|k| k.as_str())) {
                            Some(d) => format!("; did you mean {d:?}?"),
                            None => {
                                let known: Vec<&str> = data.keys().map(|k| k.as_str()).collect();
                                format!("; available: {}", known.join(", "))
                            }
                        };
                        Err(fail(format!("build: no generated data named {key:?}{help}"), a.vals[0].1))
                    }
                },
            }
        }
        "packer_version" => {
            a.count(0)?;
            s(kiln_config::PACKER_COMPAT_VERSION.to_string())
        }
        "split" => {
            a.count(3)?;
            let (text, sep, n) = (a.str(0)?, a.str(1)?, a.int(2)?);
            let parts = go_split(text, sep);
            match usize::try_from(n).ok().and_then(|i| parts.get(i)) {
                Some(p) => s(p.to_string()),
                None => Err(a.err(format!(
                    "the substring {n} was unavailable using the separator value, {sep}, only {} values were found",
                    parts.len()
                ))),
            }
        }
        "replace" => {
            a.count(4)?;
            let (old, new, n, text) = (a.str(0)?, a.str(1)?, a.int(2)?, a.str(3)?);
            s(go_replace(text, old, new, n))
        }
        "replace_all" => {
            a.count(3)?;
            let (old, new, text) = (a.str(0)?, a.str(1)?, a.str(2)?);
            s(go_replace(text, old, new, -1))
        }
        "upper" => {
            a.count(1)?;
            s(simple_case(a.str(0)?, true))
        }
        "lower" => {
            a.count(1)?;
            s(simple_case(a.str(0)?, false))
        }
        "clean_resource_name" | "clean_ami_name" | "clean_image_name" => {
            a.count(1)?;
            if name != "clean_resource_name" {
                ex.notes.warnings.push(RenderError {
                    message: format!(
                        "{name} is the old name of clean_resource_name: use clean_resource_name (`fix` renames it)"
                    ),
                    offset: at,
                });
            }
            let rules = match name {
                "clean_ami_name" => Rules::Amazon,
                "clean_image_name" if ctx.build_type.as_deref().is_some_and(|t| t.starts_with("azure")) => Rules::Azure,
                "clean_image_name" => Rules::Google,
                _ => Rules::for_builder(ctx.build_type.as_deref()),
            };
            s(clean(a.str(0)?, rules))
        }
        "aws_secretsmanager" if ctx.secrets.is_some() => {
            if a.vals.is_empty() || a.vals.len() > 2 {
                return Err(fail(
                    format!("wrong number of args for aws_secretsmanager: want 1 or 2 got {}", a.vals.len()),
                    a.at,
                ));
            }
            let name = a.str(0)?;
            let key = if a.vals.len() == 2 { Some(a.str(1)?) } else { None };
            let reader = ctx.secrets.as_ref().ok_or_else(|| a.err("no secret store"))?;
            s(reader.aws_secretsmanager(name, key.filter(|k| !k.is_empty())).map_err(|e| a.err(e))?)
        }
        "consul_key" | "vault" | "aws_secretsmanager" => Err(a.err(format!(
            "{name} is not supported by kiln: read the secret outside kiln and pass it with -var or a -var-file"
        ))),
        "sed" => Err(a.err(
            "template function `sed` is deprecated; use `replace` or `replace_all` instead \
             (https://www.packer.io/docs/templates/engine)",
        )),
        _ => {
            let help = match did_you_mean(name, names()) {
                Some(d) => format!("; did you mean {d:?}?"),
                None => String::new(),
            };
            Err(fail(format!("function {name:?} not defined{help}"), at))
        }
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(vals: &[(V, usize)], ctx: &super::Context) -> String {
    let mut out = String::new();
    for (i, (v, _)) in vals.iter().enumerate() {
        if i > 0 && !matches!(v, V::Str(_)) && !matches!(vals[i - 1].0, V::Str(_)) {
            out.push(' ');
        }
        out.push_str(&display(v, &ctx.data));
    }
    out
}

fn index(v: &V, key: &V, ctx: &super::Context) -> Result<V, String> {
    match (v, key) {
        (V::List(l), V::Int(i)) => {
            usize::try_from(*i).ok().and_then(|i| l.get(i)).cloned().ok_or_else(|| format!("index out of range: {i}"))
        }
        (V::Str(s), V::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| s.as_bytes().get(i))
            .map(|b| V::Int(*b as i64))
            .ok_or_else(|| format!("index out of range: {i}")),
        (V::Map(m), V::Str(k)) => Ok(m.get(k).cloned().unwrap_or(V::Nil)),
        (V::Root, V::Str(k)) => Ok(ctx.data.get(k).map(|x| V::Str(x.clone())).unwrap_or(V::Nil)),
        (V::Nil, _) => Err("index of untyped nil".into()),
        (V::List(_) | V::Str(_), k) => Err(format!("cannot index with {}; an int is needed", k.describe())),
        (V::Map(_) | V::Root, k) => Err(format!("cannot index a map with {}; a string is needed", k.describe())),
        (other, _) => Err(format!("can't index item of type {}", other.type_name())),
    }
}

/// Go's comparison functions: basic values of the same kind (ints and floats do not mix).
fn compare(a: &Args) -> Result<V, Fail> {
    use std::cmp::Ordering;
    let name = a.name;
    if name == "eq" {
        a.at_least(2)?;
    } else {
        a.count(2)?;
    }
    let first = &a.vals[0].0;
    let cmp = |i: usize| -> Result<Option<Ordering>, Fail> {
        let other = &a.vals[i].0;
        match (first, other) {
            (V::Str(x), V::Str(y)) => Ok(Some(x.cmp(y))),
            (V::Int(x), V::Int(y)) => Ok(Some(x.cmp(y))),
            (V::Float(x), V::Float(y)) => Ok(x.partial_cmp(y)),
            (V::Bool(x), V::Bool(y)) => {
                if matches!(name, "eq" | "ne") {
                    Ok(Some(x.cmp(y)))
                } else {
                    Err(a.err("invalid type for comparison: bool values are not ordered"))
                }
            }
            (V::Nil | V::List(_) | V::Map(_) | V::Root, _) => Err(fail(
                format!("error calling {name}: invalid type for comparison: {}", first.describe()),
                a.vals[0].1,
            )),
            (_, V::Nil | V::List(_) | V::Map(_) | V::Root) => Err(fail(
                format!("error calling {name}: invalid type for comparison: {}", other.describe()),
                a.vals[i].1,
            )),
            _ => Err(fail(
                format!(
                    "error calling {name}: incompatible types for comparison: {} and {}",
                    first.describe(),
                    other.describe()
                ),
                a.vals[i].1,
            )),
        }
    };
    let result = match name {
        "eq" => {
            let mut any = false;
            for i in 1..a.vals.len() {
                if cmp(i)? == Some(Ordering::Equal) {
                    any = true;
                    break;
                }
            }
            any
        }
        "ne" => cmp(1)? != Some(Ordering::Equal),
        "lt" => cmp(1)? == Some(Ordering::Less),
        "le" => matches!(cmp(1)?, Some(Ordering::Less | Ordering::Equal)),
        "gt" => cmp(1)? == Some(Ordering::Greater),
        _ => matches!(cmp(1)?, Some(Ordering::Greater | Ordering::Equal)),
    };
    Ok(V::Bool(result))
}

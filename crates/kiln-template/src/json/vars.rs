//! User variables of a legacy JSON template: defaults < `-var-file` < `-var`, required
//! variables, and rendering of values that refer to the environment or to other variables.
//!
//! Packer renders variable values repeatedly until none changes, so a default may use a
//! variable declared after it; kiln renders in dependency order and names a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::interp::{render_error, user_refs, uses, Renderer};
use super::structure::RawVar;
use crate::load::LoadOptions;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, SourceFile, Span};
use kiln_config::node::NodeKind;
use kiln_gotmpl::Context;

/// One variable's value and where it came from (for error positions).
struct Input {
    value: String,
    span: Option<Span>,
}

/// The variables' values, and which of them change on every run.
#[derive(Debug, Default)]
pub struct Resolved {
    pub values: BTreeMap<String, String>,
    /// Name → the function its value uses (`{{timestamp}}`), directly or through other
    /// variables: the step cache never caches a provisioner that uses one.
    pub volatile: BTreeMap<String, String>,
}

/// Resolves every variable. `base` is the context every render shares (env, clock,
/// template_dir). Var files that were read are pushed to `files`.
pub fn resolve(
    vars: &[RawVar],
    opts: &LoadOptions,
    base: &Context,
    render: Renderer,
    files: &mut Vec<Arc<SourceFile>>,
    diags: &mut Diagnostics,
) -> Resolved {
    let declared: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    let mut inputs: BTreeMap<String, Input> = BTreeMap::new();
    for v in vars {
        if let Some(d) = &v.default {
            inputs.insert(v.name.clone(), Input { value: d.clone(), span: v.value.span.clone() });
        }
    }
    for path in &opts.var_files {
        read_var_file(path, &declared, &mut inputs, files, diags);
    }
    for (name, value) in &opts.vars {
        if !declared.contains(&name.as_str()) {
            diags.push(undeclared(name, "-var", &declared, None));
        }
        inputs.insert(name.clone(), Input { value: value.clone(), span: None });
    }
    for v in vars {
        if v.default.is_none() && !inputs.contains_key(&v.name) {
            diags.push(
                Diagnostic::error(format!("required variable \"{}\" is not set", v.name))
                    .at_opt(v.key_span.clone())
                    .with_help(format!(
                        "set it with -var '{}=...' or in a -var-file, or give it a default here",
                        v.name
                    )),
            );
        }
    }
    render_all(&inputs, base, render, diags)
}

fn undeclared(name: &str, how: &str, declared: &[&str], span: Option<Span>) -> Diagnostic {
    let mut d =
        Diagnostic::warning(format!("variable \"{name}\" is set by {how} but the template does not declare it"))
            .at_opt(span)
            .with_detail("Packer accepts this; declare it in \"variables\" so the template says what it needs");
    if let Some(s) = did_you_mean(name, declared.iter().copied()) {
        d = d.with_help(format!("did you mean \"{s}\"?"));
    }
    d
}

/// A `-var-file`: a JSON object of strings.
fn read_var_file(
    path: &Path,
    declared: &[&str],
    inputs: &mut BTreeMap<String, Input>,
    files: &mut Vec<Arc<SourceFile>>,
    diags: &mut Diagnostics,
) {
    let text = match kiln_config::limits::read_source(path, "the variable file") {
        Ok(t) => t,
        Err(e) => {
            diags.push(e);
            return;
        }
    };
    let file = SourceFile::new(path, text);
    files.push(Arc::clone(&file));
    let root = match super::parse(&file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let NodeKind::Object(members) = &root.kind else {
        diags.push(
            Diagnostic::error(format!("a variable file must be a JSON object, found {}", root.kind_name()))
                .at_opt(root.span.clone())
                .with_help("write { \"name\": \"value\" }"),
        );
        return;
    };
    for (k, v) in members {
        let Some(s) = v.as_str() else {
            diags.push(
                Diagnostic::error(format!("the value of \"{}\" must be a string, found {}", k.name, v.kind_name()))
                    .at_opt(v.span.clone())
                    .with_help("legacy JSON variables are strings: quote the value"),
            );
            continue;
        };
        if !declared.contains(&k.name.as_str()) {
            diags.push(undeclared(&k.name, "a -var-file", declared, k.span.clone()));
        }
        inputs.insert(k.name.clone(), Input { value: s.to_string(), span: v.span.clone() });
    }
}

/// Renders values in dependency order, and marks those that change on every run. A value
/// referring to a variable that is neither declared nor set is an error, as in Packer.
fn render_all(inputs: &BTreeMap<String, Input>, base: &Context, render: Renderer, diags: &mut Diagnostics) -> Resolved {
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    let mut volatile: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: BTreeSet<&str> = inputs.keys().map(String::as_str).collect();
    for (name, input) in inputs {
        for (r, _) in user_refs(&input.value) {
            if !inputs.contains_key(&r) {
                diags.push(
                    Diagnostic::error(format!("variable \"{name}\" refers to the undefined variable \"{r}\""))
                        .at_opt(input.span.clone())
                        .with_detail("a variable used in another variable's value must be declared or set (Packer requires it too)")
                        .with_help(match did_you_mean(&r, inputs.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => format!("declare \"{r}\" in \"variables\""),
                        }),
                );
            }
        }
    }
    while !pending.is_empty() {
        let ready: Vec<&str> = pending
            .iter()
            .copied()
            .filter(|n| {
                inputs.get(*n).is_some_and(|i| {
                    user_refs(&i.value).iter().all(|(r, _)| done.contains_key(r) || !inputs.contains_key(r))
                })
            })
            .collect();
        if ready.is_empty() {
            let cycle: Vec<&str> = pending.iter().copied().collect();
            let first = cycle.first().and_then(|n| inputs.get(*n)).and_then(|i| i.span.clone());
            let summary = match cycle.as_slice() {
                [one] => format!("variable \"{one}\" refers to itself"),
                _ => format!("variables refer to each other in a cycle: {}", cycle.join(", ")),
            };
            diags.push(
                Diagnostic::error(summary)
                    .at_opt(first)
                    .with_help("break the cycle: one of them must not use {{user}} of the others"),
            );
            for n in cycle {
                done.insert(n.to_string(), String::new());
            }
            break;
        }
        for name in ready {
            pending.remove(name);
            let Some(input) = inputs.get(name) else { continue };
            let used = uses(&input.value);
            let changing = used
                .volatile_call
                .map(|(call, _)| call)
                .or_else(|| used.user_refs.iter().find_map(|(r, _)| volatile.get(r).cloned()));
            if let Some(f) = changing {
                volatile.insert(name.to_string(), f);
            }
            let value = if input.value.contains("{{") {
                let mut ctx = base.clone();
                ctx.allow_env = true;
                ctx.user = done.clone();
                for (r, _) in user_refs(&input.value) {
                    ctx.user.entry(r).or_default();
                }
                match render(&input.value, &ctx) {
                    Ok(v) => v,
                    Err(e) => {
                        let mut d = render_error(&e, &input.value, input.span.as_ref());
                        d.summary = format!("in variable \"{name}\": {}", d.summary);
                        diags.push(d);
                        String::new()
                    }
                }
            } else {
                input.value.clone()
            };
            done.insert(name.to_string(), value);
        }
    }
    Resolved { values: done, volatile }
}

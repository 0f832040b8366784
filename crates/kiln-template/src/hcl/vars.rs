//! Input variables: declarations (`variable` blocks and the old `variables` form), their
//! values by Packer's precedence (default < `PKR_VAR_name` < `*.auto.pkrvars.*` in lexical
//! order < `-var-file` in command-line order < `-var`), type conversion and validation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl_edit::expr::Expression;

use super::blocks::{unexpected_arg, unexpected_block, RawVar};
use super::eval::{eval, span_of, to_bool};
use super::scope::{Ctx, Scope};
use crate::types::{self, Type};
use crate::value::Value;
use kiln_config::diag::{did_you_mean, Diagnostic, SourceFile, Span};
use kiln_config::node::NodeKind;

pub(crate) struct VarDecl {
    pub name: String,
    pub span: Span,
    pub ty: Option<Type>,
    pub type_text: Option<String>,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    /// `(condition, error_message)` of each `validation` block, with the file they are in.
    pub validations: Vec<(Expression, Option<Expression>, Arc<SourceFile>)>,
}

/// Where a variable's value came from, for error messages.
pub(crate) struct Assigned {
    pub value: Value,
    pub span: Option<Span>,
}

const VAR_ARGS: &[&str] = &["type", "default", "description", "sensitive", "nullable"];

/// Reads the declarations; defaults are evaluated with `ctx` (which forbids references).
pub(crate) fn declare(raw: &[RawVar], ctx: &Ctx, diags: &mut Vec<Diagnostic>) -> Vec<VarDecl> {
    let mut out = Vec::new();
    for r in raw {
        let scope = Scope::new(&r.file, ctx);
        let mut d = VarDecl {
            name: r.name.clone(),
            span: r.span.clone(),
            ty: None,
            type_text: None,
            default: None,
            description: None,
            sensitive: false,
            nullable: true,
            validations: Vec::new(),
        };
        if let Some(e) = &r.default {
            match eval(e, &scope) {
                Ok(v) => d.default = Some(v),
                Err(e) => diags.push(*e),
            }
        }
        let mut default_span = None;
        if let Some(body) = &r.body {
            for s in body.iter() {
                if let Some(a) = s.as_attribute() {
                    let key = a.key.value().as_str();
                    let vspan = span_of(&r.file, &a.value);
                    match key {
                        "type" => {
                            d.type_text = Some(vspan.text().trim().to_string());
                            match Type::parse(&a.value) {
                                Ok(t) => d.ty = Some(t),
                                Err(m) => diags.push(
                                    Diagnostic::error(format!("invalid type for variable \"{}\": {m}", r.name))
                                        .at(vspan)
                                        .with_help("types are string, number, bool, any, list(T), set(T), map(T), object({...}) and tuple([...])"),
                                ),
                            }
                        }
                        "default" => match eval(&a.value, &scope) {
                            Ok(v) => {
                                d.default = Some(v);
                                default_span = Some(vspan);
                            }
                            Err(e) => diags.push(*e),
                        },
                        "description" => match eval(&a.value, &scope) {
                            Ok(Value::String(s)) => d.description = Some(s),
                            Ok(other) => diags.push(
                                Diagnostic::error(format!(
                                    "description must be a string, found a {}",
                                    other.type_name()
                                ))
                                .at(vspan),
                            ),
                            Err(e) => diags.push(*e),
                        },
                        "sensitive" | "nullable" => match eval(&a.value, &scope).map(|v| to_bool(&v)) {
                            Ok(Some(b)) if key == "sensitive" => d.sensitive = b,
                            Ok(Some(b)) => d.nullable = b,
                            Ok(None) => diags.push(Diagnostic::error(format!("{key} must be true or false")).at(vspan)),
                            Err(e) => diags.push(*e),
                        },
                        _ => diags.push(unexpected_arg(&r.file, &a.key, key, VAR_ARGS)),
                    }
                } else if let Some(b) = s.as_block() {
                    if b.ident.value().as_str() != "validation" {
                        diags.push(unexpected_block(&r.file, b, &["validation"]));
                        continue;
                    }
                    let mut cond = None;
                    let mut msg = None;
                    for vs in b.body.iter() {
                        match vs.as_attribute() {
                            Some(a) if a.key.value().as_str() == "condition" => cond = Some(a.value.clone()),
                            Some(a) if a.key.value().as_str() == "error_message" => msg = Some(a.value.clone()),
                            Some(a) => diags.push(unexpected_arg(
                                &r.file,
                                &a.key,
                                a.key.value().as_str(),
                                &["condition", "error_message"],
                            )),
                            None => diags.push(
                                Diagnostic::error("blocks are not allowed in a validation block")
                                    .at(span_of(&r.file, vs)),
                            ),
                        }
                    }
                    match cond {
                        Some(c) => d.validations.push((c, msg, Arc::clone(&r.file))),
                        None => diags.push(
                            Diagnostic::error("a validation block needs a `condition`")
                                .at(span_of(&r.file, &b.ident))
                                .with_help("add e.g. `condition = length(var.x) > 0`"),
                        ),
                    }
                }
            }
        }
        if let (Some(t), Some(v)) = (&d.ty, &d.default) {
            if *v != Value::Null {
                match types::convert(v, t) {
                    Ok(c) => d.default = Some(c),
                    Err(m) => diags.push(
                        Diagnostic::error(format!("invalid default value for variable \"{}\": {m}", r.name))
                            .at(default_span.unwrap_or_else(|| r.span.clone()))
                            .with_help(format!("give a default of type {}", d.type_text.as_deref().unwrap_or("any"))),
                    ),
                }
            }
        }
        out.push(d);
    }
    out
}

fn is_complex(t: &Option<Type>) -> bool {
    matches!(t, Some(Type::List(_) | Type::Set(_) | Type::Map(_) | Type::Object(_) | Type::Tuple(_)))
}

/// Where values come from, lowest precedence first.
pub(crate) struct Inputs<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub auto_files: &'a [PathBuf],
    pub var_files: &'a [PathBuf],
    pub cli: &'a [(String, String)],
}

/// Collects every assignment in precedence order; later entries win.
pub(crate) fn assign(
    decls: &[VarDecl],
    inputs: &Inputs,
    ctx: &Ctx,
    files: &mut Vec<Arc<SourceFile>>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Assigned> {
    let mut out: BTreeMap<String, Assigned> = BTreeMap::new();
    let find = |n: &str| decls.iter().find(|d| d.name == n);
    let mut set = |name: &str, v: Value, span: Option<Span>, diags: &mut Vec<Diagnostic>| {
        if let Some(d) = find(name) {
            let v = convert_value(d, v, span.as_ref(), diags);
            out.insert(name.to_string(), Assigned { value: v, span });
        }
    };
    for (k, raw) in inputs.env {
        if let Some(name) = k.strip_prefix("PKR_VAR_") {
            if let Some(d) = find(name) {
                if let Some(v) = from_string(d, raw, &format!("environment variable {k}"), diags) {
                    set(name, v, None, diags);
                }
            }
        }
    }
    for path in inputs.auto_files.iter().chain(inputs.var_files) {
        for (name, v, span) in read_var_file(path, ctx, files, diags) {
            if find(&name).is_none() {
                let names = decls.iter().map(|d| d.name.as_str());
                let mut w =
                    Diagnostic::warning(format!("undeclared variable \"{name}\" in a variable file")).at(span.clone());
                w = match did_you_mean(&name, names) {
                    Some(s) => w.with_help(format!(
                        "did you mean \"{s}\"? Otherwise declare it with a variable block or remove it"
                    )),
                    None => w.with_help(format!("declare it with `variable \"{name}\" {{}}` or remove it")),
                };
                diags.push(w);
                continue;
            }
            set(&name, v, Some(span), diags);
        }
    }
    for (name, raw) in inputs.cli {
        match find(name) {
            Some(d) => {
                if let Some(v) = from_string(d, raw, &format!("-var {name}"), diags) {
                    set(name, v, None, diags);
                }
            }
            None => {
                let names = decls.iter().map(|d| d.name.as_str());
                let e = Diagnostic::error(format!("-var {name}: there is no variable named \"{name}\""));
                diags.push(match did_you_mean(name, names) {
                    Some(s) => e.with_help(format!("did you mean \"{s}\"?")),
                    None => e.with_help(format!("declare it with `variable \"{name}\" {{}}` in the template")),
                });
            }
        }
    }
    out
}

fn convert_value(d: &VarDecl, v: Value, span: Option<&Span>, diags: &mut Vec<Diagnostic>) -> Value {
    let Some(t) = &d.ty else { return v };
    if v == Value::Null || !v.is_known() {
        return v;
    }
    match types::convert(&v, t) {
        Ok(c) => c,
        Err(m) => {
            diags.push(
                Diagnostic::error(format!("invalid value for variable \"{}\": {m}", d.name))
                    .at(span.cloned().unwrap_or_else(|| d.span.clone()))
                    .with_help(format!("the variable's type is {}", d.type_text.as_deref().unwrap_or("any"))),
            );
            v
        }
    }
}

/// A value given as text (`-var`, `PKR_VAR_*`): complex types are parsed as HCL expressions,
/// as Packer does; everything else is the string itself.
fn from_string(d: &VarDecl, raw: &str, origin: &str, diags: &mut Vec<Diagnostic>) -> Option<Value> {
    if !is_complex(&d.ty) {
        return Some(Value::String(raw.to_string()));
    }
    let file = SourceFile::new(format!("<value for {origin}>"), raw);
    let parsed = hcl_edit::parser::parse_expr(raw);
    let result = match parsed {
        Ok(e) => {
            let ctx = Ctx::new(String::new(), String::new(), std::time::SystemTime::now());
            let mut ctx = ctx;
            ctx.vars_allowed = false;
            eval(&e, &Scope::new(&file, &ctx)).map_err(|e| *e)
        }
        Err(e) => Err(Diagnostic::error(format!("{origin}: cannot parse the value: {}", e.message()))
            .at(Span::at_char(&file, e.location().offset()))),
    };
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(e.with_help(format!(
                "variable \"{}\" has type {}: give the value in HCL syntax, e.g. [\"a\", \"b\"] or {{ key = \"value\" }}",
                d.name,
                d.type_text.as_deref().unwrap_or("any")
            )));
            None
        }
    }
}

/// The assignments in one variable file (`.pkrvars.hcl` or `.json`), in file order.
fn read_var_file(
    path: &Path,
    ctx: &Ctx,
    files: &mut Vec<Arc<SourceFile>>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Value, Span)> {
    let text = match kiln_config::limits::read_source(path, "the variable file") {
        Ok(t) => t,
        Err(e) => {
            diags.push(e);
            return Vec::new();
        }
    };
    let file = SourceFile::new(path, text);
    files.push(Arc::clone(&file));
    let name = path.to_string_lossy();
    if name.ends_with(".json") {
        return read_json_var_file(&file, diags);
    }
    let body = match super::parse::parse_body(&file) {
        Ok(b) => b,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let scope = Scope::new(&file, ctx);
    let mut out = Vec::new();
    for s in body.iter() {
        if let Some(a) = s.as_attribute() {
            match eval(&a.value, &scope) {
                Ok(v) => out.push((a.key.value().as_str().to_string(), v, span_of(&file, &a.value))),
                Err(e) => diags.push(*e),
            }
        } else if let Some(b) = s.as_block() {
            diags.push(
                Diagnostic::error(format!("unexpected block \"{}\" in a variable file", b.ident.value().as_str()))
                    .at(span_of(&file, &b.ident))
                    .with_help("variable files hold only `name = value` lines; blocks belong in the template"),
            );
        }
    }
    out
}

/// A `.pkrvars.json` file, read by the template's JSON parser (`crate::json::parse`), so its
/// errors and each value's span point at line:col of the file.
fn read_json_var_file(file: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Vec<(String, Value, Span)> {
    let root = match crate::json::parse(file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let NodeKind::Object(members) = root.kind else {
        diags.push(
            Diagnostic::error("a JSON variable file must hold one object")
                .at(root.span.unwrap_or_else(|| Span::new(file, 0, 1)))
                .with_help("write it as {\"name\": \"value\"}"),
        );
        return Vec::new();
    };
    members
        .iter()
        .map(|(k, v)| {
            (k.name.clone(), Value::from_json_node(v), k.span.clone().unwrap_or_else(|| Span::new(file, 0, 1)))
        })
        .collect()
}

/// The final value of each variable, the errors for unset required ones and failed validations.
pub(crate) fn finish(
    decls: &[VarDecl],
    assigned: BTreeMap<String, Assigned>,
    check_required: bool,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut assigned = assigned;
    for d in decls {
        let (v, span) = match assigned.remove(&d.name) {
            Some(a) => (Some(a.value), a.span),
            None => (d.default.clone(), None),
        };
        match v {
            Some(Value::Null) if !d.nullable && check_required => {
                diags.push(
                    Diagnostic::error(format!("variable \"{}\" may not be null", d.name))
                        .at(span.unwrap_or_else(|| d.span.clone()))
                        .with_help("the variable sets `nullable = false`: give it a value"),
                );
                out.insert(d.name.clone(), Value::Null);
            }
            Some(v) => {
                out.insert(d.name.clone(), v);
            }
            None => {
                if check_required {
                    diags.push(
                        Diagnostic::error(format!("required variable \"{}\" is not set", d.name))
                            .at(d.span.clone())
                            .with_help(format!(
                                "set it with -var '{0}=...', a -var-file, a *.auto.pkrvars.hcl file or the PKR_VAR_{0} environment variable",
                                d.name
                            )),
                    );
                }
                out.insert(d.name.clone(), Value::Unknown);
            }
        }
    }
    out
}

/// Checks each variable's `validation` blocks against its final value (`ctx.vars`).
pub(crate) fn validate(decls: &[VarDecl], ctx: &Ctx, diags: &mut Vec<Diagnostic>) {
    for d in decls {
        if !ctx.vars.get(&d.name).is_some_and(Value::is_known) {
            continue;
        }
        for (cond, msg, file) in &d.validations {
            let scope = Scope::new(file, ctx);
            match eval(cond, &scope) {
                Ok(Value::Unknown) => {}
                Ok(v) => match to_bool(&v) {
                    Some(true) => {}
                    Some(false) => {
                        let text = msg
                            .as_ref()
                            .and_then(|m| eval(m, &scope).ok())
                            .and_then(|v| v.to_template_string())
                            .unwrap_or_else(|| "the validation condition is false".to_string());
                        diags.push(
                            Diagnostic::error(format!("invalid value for variable \"{}\"", d.name))
                                .at(span_of(file, cond))
                                .with_detail(text),
                        );
                    }
                    None => diags.push(
                        Diagnostic::error(format!("a validation condition must be a bool, found a {}", v.type_name()))
                            .at(span_of(file, cond)),
                    ),
                },
                Err(e) => diags.push(*e),
            }
        }
    }
}

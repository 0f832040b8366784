//! HCL2 configurations: files and folders (`.pkr.hcl`, `.pkr.json`), variable files
//! (`*.pkrvars.hcl`, `*.auto.pkrvars.hcl`), the block structure (`packer`, `variable(s)`,
//! `locals`/`local`, `source`, `data`, `build`, `dynamic`), expression evaluation with
//! [`crate::functions`], type constraints and Packer's variable precedence.
//!
//! kiln evaluates hcl-edit's syntax tree itself (see `eval`), because it needs unknown values,
//! spans on every error and Packer's own reference namespaces.

mod blocks;
mod body;
mod build;
mod data;
mod display;
mod dynamic;
mod eval;
mod json_syntax;
mod late;
mod parse;
mod scope;
mod secrets;
mod template;
mod vars;
mod version;
mod volatile;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::load::{LoadOptions, Stage};
use crate::plan::{Local, RequiredPlugin, SourceRef, Template, TemplateKind, Variable};
use crate::value::Value;
use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile, Span};

pub use build::is_identifier;
pub use display::display_value;

use blocks::Parsed;
use scope::{Ctx, Scope};

/// A loaded configuration together with what its expressions can refer to, so that more
/// expressions can be evaluated against it (`console`).
pub struct Loaded {
    pub template: Template,
    ctx: Ctx,
}

impl Loaded {
    /// Evaluates one expression (as typed at the console) in the configuration's scope.
    pub fn eval_str(&self, text: &str) -> Result<Value, Diagnostic> {
        let file = SourceFile::new("<console>", text);
        let expr = hcl_edit::parser::parse_expr(text).map_err(|e| {
            Diagnostic::error(format!("invalid expression: {}", e.message().lines().next().unwrap_or("")))
                .at(Span::at_char(&file, e.location().offset()))
        })?;
        eval::eval(&expr, &Scope::new(&file, &self.ctx)).map_err(|e| *e)
    }
}

/// An empty configuration's scope (`console` without a template).
pub fn empty(opts: &LoadOptions) -> Loaded {
    let cwd = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_else(|_| ".".into());
    Loaded { template: Template::new(TemplateKind::Hcl, "."), ctx: Ctx::new(cwd.clone(), cwd, opts.now()) }
}

pub fn load(path: &Path, opts: &LoadOptions) -> Result<Template, Diagnostics> {
    load_with_scope(path, opts).map(|l| l.template)
}

/// Loads like [`load`] and keeps the evaluation scope.
pub fn load_with_scope(path: &Path, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let (tpl_paths, auto_paths) = gather(path).map_err(Diagnostics::from)?;
    let mut template = Template::new(TemplateKind::Hcl, path);
    let mut parsed = Vec::new();
    for p in &tpl_paths {
        let text = match kiln_config::limits::read_source(p, "the template") {
            Ok(t) => t,
            Err(e) => {
                diags.push(e);
                continue;
            }
        };
        let file = SourceFile::new(p, text);
        template.files.push(Arc::clone(&file));
        let body = if p.to_string_lossy().ends_with(".json") {
            json_syntax::parse(&file).map_err(|d| vec![d])
        } else {
            parse::parse_body_all(&file).map(|b| (file, b))
        };
        match body {
            Ok((file, body)) => {
                let (file, warnings, secrets) = secrets::scan(file, &body);
                if !warnings.is_empty() {
                    // Quote the masked copy everywhere from here on.
                    if let Some(last) = template.files.last_mut() {
                        *last = Arc::clone(&file);
                    }
                }
                diags.extend(warnings);
                template.sensitive_values.extend(secrets);
                parsed.push(Parsed { file, body })
            }
            Err(d) => diags.extend(d),
        }
    }
    // Later checks on a partly parsed configuration would mostly report follow-on errors.
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics(diags));
    }
    let decls = blocks::collect(&parsed, &mut diags);

    let root =
        if path.is_dir() { path.to_path_buf() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
    let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
    let cwd = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_else(|_| ".".into());
    let mut ctx = Ctx::new(root.to_string_lossy().into_owned(), cwd, opts.now());
    let full = opts.stage == Stage::Full;
    // Data sources run when the caller gives a runner; otherwise their values are unknown.
    ctx.data = data::Data::new(&decls.data, opts.data_sources.clone());
    ctx.env = opts.env.clone();
    ctx.vars_allowed = false;

    let var_decls = vars::declare(&decls.variables, &ctx, &mut diags);
    let inputs = vars::Inputs { env: &opts.env, auto_files: &auto_paths, var_files: &opts.var_files, cli: &opts.vars };
    let assigned = vars::assign(&var_decls, &inputs, &ctx, &mut template.files, &mut diags);
    ctx.vars = vars::finish(&var_decls, assigned, full, &mut diags);
    ctx.vars_allowed = true;
    if full {
        vars::validate(&var_decls, &ctx, &mut diags);
    }

    packer_block(&decls, &ctx, &mut template, &mut diags);
    ctx.data.required_plugins = template.required_plugins.clone();

    for l in &decls.locals {
        ctx.locals.defs.insert(
            l.name.clone(),
            scope::LocalDef { expr: l.expr.clone(), file: Arc::clone(&l.file), span: l.span.clone() },
        );
    }
    let (data_diags, data_secrets) = ctx.data.run_all(&ctx);
    diags.extend(data_diags);
    template.sensitive_values.extend(data_secrets);
    let (local_values, local_errors) = ctx.locals.evaluate_all(&ctx);
    // Syntax-only checks do not need locals to evaluate (functions may need run-time state).
    if full {
        diags.extend(local_errors);
    }
    for l in &decls.locals {
        // Packer keeps only the locals it could evaluate (the others are errors at `validate`).
        if ctx.locals.failed(&l.name) {
            continue;
        }
        let value = local_values.iter().find(|(n, _)| *n == l.name).map_or(Value::Unknown, |(_, v)| v.clone());
        let sensitive = l.sensitive.as_ref().is_some_and(
            |e| matches!(eval::eval(e, &Scope::new(&l.file, &ctx)), Ok(v) if eval::to_bool(&v) == Some(true)),
        );
        if sensitive {
            collect_strings(&value, &mut template.sensitive_values);
        }
        template.locals.push(Local { name: l.name.clone(), value, sensitive, span: Some(l.span.clone()) });
    }

    for d in &var_decls {
        let value = ctx.vars.get(&d.name).cloned();
        if d.sensitive {
            if let Some(v) = &value {
                collect_strings(v, &mut template.sensitive_values);
            }
        }
        template.variables.push(Variable {
            name: d.name.clone(),
            type_expr: d.type_text.clone(),
            default_display: Some(d.default.as_ref().map_or_else(|| "<unknown>".to_string(), display_value)),
            default: d.default.clone(),
            value: value.filter(Value::is_known),
            required: d.default.is_none(),
            sensitive: d.sensitive,
            description: d.description.clone(),
            span: Some(d.span.clone()),
        });
    }
    template.sources = decls
        .sources
        .iter()
        .map(|s| SourceRef { builder_type: s.ty.clone(), name: s.name.clone(), span: Some(s.span.clone()) })
        .collect();

    ctx.lenient = !full;
    let out = build::builds(&decls, &ctx, full, &mut diags);
    template.build_blocks = out.blocks;
    template.builds = out.builds;

    let diags = dedup(diags);
    if diags.iter().any(Diagnostic::is_error) {
        // A sensitive variable's value as given, also when it could not be converted.
        for d in var_decls.iter().filter(|d| d.sensitive) {
            let env = opts.env.get(&format!("PKR_VAR_{}", d.name));
            let cli = opts.vars.iter().filter(|(n, _)| *n == d.name).map(|(_, v)| v);
            template.sensitive_values.extend(cli.chain(env).cloned());
        }
        return Err(Diagnostics(crate::secrets::mask_diagnostics(diags, &template.sensitive_values)));
    }
    template.warnings = diags;
    Ok(Loaded { template, ctx })
}

/// The same error found once per build (a provisioner evaluated for every source) is shown once.
fn dedup(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for d in diags {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Every non-empty string in `v`, each once, added to `out` (the sensitive values of a
/// variable or local).
pub(crate) fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() && !out.contains(s) => out.push(s.clone()),
        Value::List(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// The template files and `*.auto.pkrvars.*` files for `path`, each list in lexical order.
fn gather(path: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Diagnostic> {
    if !path.exists() {
        return Err(Diagnostic::error(format!("{}: no such file or folder", path.display()))
            .with_help("pass a .pkr.hcl or .pkr.json file, or the folder that holds them"));
    }
    if !path.is_dir() {
        return Ok((vec![path.to_path_buf()], Vec::new()));
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::error(format!("cannot read folder {}: {e}", path.display())))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    names.sort();
    let has = |p: &PathBuf, ext: &str| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(ext));
    let tpl: Vec<PathBuf> = names.iter().filter(|p| has(p, ".pkr.hcl") || has(p, ".pkr.json")).cloned().collect();
    let auto: Vec<PathBuf> =
        names.iter().filter(|p| has(p, ".auto.pkrvars.hcl") || has(p, ".auto.pkrvars.json")).cloned().collect();
    if tpl.is_empty() {
        return Err(Diagnostic::error(format!("{} holds no .pkr.hcl or .pkr.json files", path.display()))
            .with_help("kiln reads HCL2 files ending in .pkr.hcl or .pkr.json from the folder (not its subfolders)"));
    }
    Ok((tpl, auto))
}

const PACKER_ARGS: &[&str] = &["required_version"];

/// `packer { required_version, required_plugins { } }`.
fn packer_block(decls: &blocks::Decls, ctx: &Ctx, t: &mut Template, diags: &mut Vec<Diagnostic>) {
    for (file, b) in &decls.packer {
        let scope = Scope::new(file, ctx);
        for s in b.body.iter() {
            if let Some(a) = s.as_attribute() {
                let key = a.key.value().as_str();
                if key != "required_version" {
                    diags.push(blocks::unexpected_arg(file, &a.key, key, PACKER_ARGS));
                    continue;
                }
                let at = eval::span_of(file, &a.value);
                match eval::eval(&a.value, &scope) {
                    Ok(Value::String(c)) => {
                        match version::satisfies(crate::PACKER_COMPAT_VERSION, &c) {
                            Ok(true) => {}
                            Ok(false) => diags.push(
                                Diagnostic::error(format!(
                                    "this configuration requires Packer {c}; kiln is compatible with Packer {}",
                                    crate::PACKER_COMPAT_VERSION
                                ))
                                .at(at)
                                .with_help("use a configuration written for this version, or relax required_version"),
                            ),
                            Err(m) => diags.push(
                                Diagnostic::error(format!("invalid version constraint: {m}"))
                                    .at(at)
                                    .with_help("write constraints like \">= 1.7.0, < 2\" or \"~> 1.9\""),
                            ),
                        }
                        t.required_version = Some(c);
                    }
                    Ok(other) => diags.push(
                        Diagnostic::error(format!("required_version must be a string, found a {}", other.type_name()))
                            .at(at),
                    ),
                    Err(e) => diags.push(*e),
                }
            } else if let Some(inner) = s.as_block() {
                if inner.ident.value().as_str() != "required_plugins" {
                    diags.push(blocks::unexpected_block(file, inner, &["required_plugins"]));
                    continue;
                }
                required_plugins(file, inner, &scope, t, diags);
            }
        }
    }
}

fn required_plugins(
    file: &Arc<SourceFile>,
    b: &hcl_edit::structure::Block,
    scope: &Scope,
    t: &mut Template,
    diags: &mut Vec<Diagnostic>,
) {
    for s in b.body.iter() {
        let Some(a) = s.as_attribute() else {
            diags.push(
                Diagnostic::error("required_plugins holds `name = { source = ..., version = ... }` entries")
                    .at(eval::span_of(file, s)),
            );
            continue;
        };
        let name = a.key.value().as_str().to_string();
        let at = eval::span_of(file, &a.key);
        if let Some(prev) = t.required_plugins.iter().find(|p| p.name == name) {
            let first = prev.span.clone().unwrap_or_else(|| at.clone());
            diags.push(body::redefined(&name, at, &first));
            continue;
        }
        match eval::eval(&a.value, scope) {
            Ok(Value::Object(m)) => {
                let source = m.get("source").and_then(Value::to_template_string);
                let version = m.get("version").and_then(Value::to_template_string);
                for k in m.keys() {
                    if k != "source" && k != "version" {
                        diags.push(
                            Diagnostic::error(format!("unsupported attribute \"{k}\" in required plugin \"{name}\""))
                                .at(eval::span_of(file, &a.value))
                                .with_help("a required plugin has `source` and `version`"),
                        );
                    }
                }
                let Some(source) = source else {
                    diags.push(
                        Diagnostic::error(format!("required plugin \"{name}\" has no source"))
                            .at(eval::span_of(file, &a.value))
                            .with_help(format!("add `source = \"github.com/hashicorp/{name}\"`")),
                    );
                    continue;
                };
                t.required_plugins.push(RequiredPlugin { name, source, version, span: Some(at) });
            }
            Ok(other) => diags.push(
                Diagnostic::error(format!(
                    "required plugin \"{name}\" must be an object, found a {}",
                    other.type_name()
                ))
                .at(eval::span_of(file, &a.value))
                .with_help("write `name = { source = \"github.com/hashicorp/name\", version = \">= 1.0\" }`"),
            ),
            Err(e) => diags.push(*e),
        }
    }
}

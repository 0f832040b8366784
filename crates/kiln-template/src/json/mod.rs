//! Legacy JSON templates: a spanned JSON parser with Packer-grade error positions, the template
//! structure (`variables`, `sensitive-variables`, `builders`, `provisioners`, `post-processors`,
//! `min_packer_version`, `description`, `_comment`), user variables and per-build `{{ }}`
//! interpolation through [`kiln_gotmpl`].

mod builds;
mod interp;
mod parse;
mod secret_reader;
mod structure;
mod vars;

use std::path::Path;
use std::sync::Arc;

use crate::load::{LoadOptions, Stage};
use crate::plan::{BuildBlock, SourceRef, Template, TemplateKind, Variable};
use crate::secrets;
use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use kiln_config::node::{Node, NodeKind};
use kiln_gotmpl::Context;

pub use interp::Renderer;
pub use parse::{parse, parse_keeping_duplicates};
pub use structure::TOP_LEVEL_KEYS;

/// Loads the legacy JSON template at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Template, Diagnostics> {
    load_with(path, opts, kiln_gotmpl::render)
}

/// [`load`] with a given template renderer (tests use a small one of their own).
pub fn load_with(path: &Path, opts: &LoadOptions, render: Renderer) -> Result<Template, Diagnostics> {
    load_source(SourceFile::new(path, read_text(path)?), opts, render)
}

/// A template file's text. Invalid UTF-8 is replaced, as Go's decoder does, rather than refused.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let bytes = kiln_config::limits::read_input(path).map_err(|e| {
        Diagnostic::error(format!("cannot read the template {}: {e}", path.display()))
            .with_help("check the path and that the file is readable")
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Loads a template from text already read (the `path` of `file` is used for `template_dir`).
pub fn load_source(file: Arc<SourceFile>, opts: &LoadOptions, render: Renderer) -> Result<Template, Diagnostics> {
    let mut root = parse(&file)?;
    // Secrets never reach a snippet: every span points at a copy with the secrets masked.
    let secret_spans: Vec<Span> = secret_nodes(&root).iter().filter_map(|n| n.span.clone()).collect();
    let file = if secret_spans.is_empty() {
        file
    } else {
        let masked = secrets::mask_file(&file, &secret_spans);
        secrets::respan(&mut root, &file, &masked);
        masked
    };

    let mut diags = Diagnostics::new();
    let raw = structure::read(&root, &mut diags);
    let mut t = Template::new(TemplateKind::Json, file.path.clone());
    t.files.push(Arc::clone(&file));
    t.description = raw.description.clone();
    t.required_version = raw.min_version.as_ref().map(|(v, _)| v.clone());

    let sensitive: Vec<&str> = raw.sensitive.iter().map(|(n, _)| n.as_str()).collect();
    for v in &raw.variables {
        t.variables.push(Variable {
            name: v.name.clone(),
            type_expr: None,
            default_display: v.default.clone(),
            default: None,
            value: None,
            required: v.default.is_none(),
            sensitive: sensitive.contains(&v.name.as_str()),
            description: None,
            span: v.key_span.clone(),
        });
    }
    if let Some(vars) = root.get("variables") {
        for d in secrets::scan_hardcoded(vars, "the variables section") {
            diags.push(d.with_help(
                "make the default read the environment, e.g. \"{{env `AWS_SECRET_ACCESS_KEY`}}\", \
                 and list the variable in \"sensitive-variables\"",
            ));
        }
        t.sensitive_values.extend(secrets::hardcoded_values(vars));
    }
    for b in &raw.builders {
        t.sources.push(SourceRef { builder_type: b.builder_type.clone(), name: b.name.clone(), span: b.span.clone() });
        diags.0.extend(secrets::scan_hardcoded(&b.config, &format!("builder \"{}\"", b.name)));
        t.sensitive_values.extend(secrets::hardcoded_values(&b.config));
    }
    for p in raw.provisioners.iter().chain(&raw.error_cleanup) {
        diags.0.extend(secrets::scan_hardcoded(&p.config, &format!("provisioner \"{}\"", p.provisioner_type)));
        t.sensitive_values.extend(secrets::hardcoded_values(&p.config));
    }
    for pp in raw.post_processors.iter().flatten() {
        diags.0.extend(secrets::scan_hardcoded(&pp.config, &format!("post-processor \"{}\"", pp.post_processor_type)));
        t.sensitive_values.extend(secrets::hardcoded_values(&pp.config));
    }
    t.build_blocks.push(BuildBlock {
        name: None,
        description: raw.description.clone(),
        sources: raw.builders.iter().map(|b| format!("{}.{}", b.builder_type, b.name)).collect(),
        provisioners: raw.provisioners.iter().map(|p| p.provisioner_type.clone()).collect(),
        post_processors: raw
            .post_processors
            .iter()
            .map(|c| c.iter().map(|pp| pp.name.clone().unwrap_or_else(|| pp.post_processor_type.clone())).collect())
            .collect(),
        span: root.span.clone(),
    });

    if opts.stage == Stage::Full && !diags.has_errors() {
        // Packer checks the version when it prepares builds, not when it parses.
        if let Some((v, span)) = &raw.min_version {
            check_min_version(v, span.clone(), &mut diags);
        }
        builds::check_references(&raw, &mut diags);
        // {{aws_secretsmanager}} reads through the data sources, when the loader has them.
        let reader = opts
            .data_sources
            .clone()
            .zip(root.span.clone())
            .map(|(ds, span)| Arc::new(secret_reader::SecretReader::new(ds, span)));
        let base = Context {
            env: opts.env.clone(),
            template_dir: template_dir(&file.path),
            now: Some(opts.now()),
            secrets: reader.clone().map(|r| r as Arc<dyn kiln_gotmpl::SecretReader>),
            ..Context::default()
        };
        let vars::Resolved { values, volatile } =
            vars::resolve(&raw.variables, opts, &base, render, &mut t.files, &mut diags);
        for v in &mut t.variables {
            v.value = values.get(&v.name).map(|s| crate::value::Value::String(s.clone()));
        }
        for name in &sensitive {
            if let Some(v) = values.get(*name).filter(|v| !v.is_empty()) {
                t.sensitive_values.push(v.clone());
            }
        }
        let undefined = warn_undefined_user_vars(&raw, &values, &mut diags);
        if !diags.has_errors() {
            // Packer renders an undefined user variable outside "variables" as "".
            let mut user = values;
            for name in undefined {
                user.entry(name).or_default();
            }
            let ctx = Context { user, ..base };
            t.builds = builds::builds(&raw, &ctx, &volatile, render, &mut diags);
        }
        if let Some(r) = &reader {
            t.sensitive_values.extend(r.values_read());
        }
    } else {
        for v in &raw.variables {
            if let Some(d) = v
                .default
                .as_ref()
                .filter(|d| !d.is_empty() && !d.contains("{{") && sensitive.contains(&v.name.as_str()))
            {
                t.sensitive_values.push(d.clone());
            }
        }
    }
    t.sensitive_values.sort();
    t.sensitive_values.dedup();
    if diags.has_errors() {
        return Err(Diagnostics(secrets::mask_diagnostics(diags.0, &t.sensitive_values)));
    }
    t.warnings = diags.0;
    Ok(t)
}

/// Packer's template checks without variables or builds: syntax, structure and the builder
/// names that `only`/`except`/`override` refer to (what `fix -validate` checks).
pub fn check(file: &Arc<SourceFile>) -> Diagnostics {
    let root = match parse(file) {
        Ok(r) => r,
        Err(d) => return d.into(),
    };
    let mut diags = Diagnostics::new();
    let raw = structure::read(&root, &mut diags);
    if !diags.has_errors() {
        builds::check_references(&raw, &mut diags);
    }
    diags
}

/// Values that must not show in snippets: hard-coded credentials in components and the
/// defaults of sensitive variables.
fn secret_nodes(root: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for section in ["builders", "provisioners", "post-processors"] {
        if let Some(s) = root.get(section) {
            out.extend(secrets::hardcoded_nodes(s));
        }
    }
    if let Some(cleanup) = root.get("error-cleanup-provisioner") {
        out.extend(secrets::hardcoded_nodes(cleanup));
    }
    if let Some(vars) = root.get("variables") {
        out.extend(secrets::hardcoded_nodes(vars));
    }
    if let (Some(vars), Some(NodeKind::Array(names))) =
        (root.get("variables"), root.get("sensitive-variables").map(|n| &n.kind))
    {
        for n in names.iter().filter_map(Node::as_str) {
            if let Some(v) = vars.get(n).filter(|v| v.as_str().is_some_and(|s| !s.is_empty() && !s.contains("{{"))) {
                out.push(v);
            }
        }
    }
    out
}

fn template_dir(path: &Path) -> Option<std::path::PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    abs.parent().map(Path::to_path_buf)
}

/// `{{user `x`}}` in a component where `x` is neither declared nor set: Packer renders "".
/// Returns those names.
fn warn_undefined_user_vars(
    raw: &structure::Raw,
    values: &std::collections::BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> std::collections::BTreeSet<String> {
    let known: Vec<&str> =
        raw.variables.iter().map(|v| v.name.as_str()).chain(values.keys().map(String::as_str)).collect();
    let mut configs: Vec<&Node> = raw.builders.iter().map(|b| &b.config).collect();
    configs.extend(raw.provisioners.iter().chain(&raw.error_cleanup).map(|p| &p.config));
    configs.extend(raw.provisioners.iter().flat_map(|p| p.overrides.iter().map(|(_, o)| o)));
    configs.extend(raw.post_processors.iter().flatten().map(|pp| &pp.config));
    let mut seen = std::collections::BTreeSet::new();
    for c in configs {
        each_string(c, &mut |s, node| {
            for (name, action) in interp::user_refs(s) {
                if known.contains(&name.as_str()) || !seen.insert(name.clone()) {
                    continue;
                }
                let span = node.span.as_ref().map(|sp| {
                    Span::new(&sp.file, interp::source_offset(sp, action.start), interp::source_offset(sp, action.end))
                });
                let mut d = Diagnostic::warning(format!("the user variable \"{name}\" is not defined"))
                    .at_opt(span)
                    .with_detail("Packer renders an undefined user variable as an empty string");
                d = match kiln_config::diag::did_you_mean(&name, known.iter().copied()) {
                    Some(k) => d.with_help(format!("did you mean \"{k}\"?")),
                    None => d.with_help(format!("declare it in \"variables\": \"{name}\": \"default\"")),
                };
                diags.push(d);
            }
        });
    }
    seen
}

fn each_string<'a>(node: &'a Node, f: &mut dyn FnMut(&'a str, &'a Node)) {
    match &node.kind {
        NodeKind::String(s) => f(s, node),
        NodeKind::Object(m) => m.iter().for_each(|(_, v)| each_string(v, f)),
        NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().for_each(|v| each_string(v, f)),
        _ => {}
    }
}

/// Numeric parts of a version ("v1.6.0" → [1, 6, 0]); `None` when it is not one.
fn version_parts(v: &str) -> Option<Vec<u64>> {
    let core = v.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

fn check_min_version(v: &str, span: Option<Span>, diags: &mut Diagnostics) {
    let ours = version_parts(crate::PACKER_COMPAT_VERSION).unwrap_or_default();
    match version_parts(v) {
        None => diags.push(
            Diagnostic::error(format!("\"min_packer_version\" is not a version: {v:?}"))
                .at_opt(span)
                .with_help("write a version such as \"1.6.0\""),
        ),
        Some(req) if req > ours => diags.push(
            Diagnostic::error(format!(
                "this template requires Packer {v} or newer; kiln is compatible with Packer {}",
                crate::PACKER_COMPAT_VERSION
            ))
            .at_opt(span)
            .with_help("use a newer kiln, or lower \"min_packer_version\" if the template does not need it"),
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests;

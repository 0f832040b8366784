//! The top level of a configuration: which blocks may appear, with how many labels, and the
//! declarations they make (variables, locals, sources, data sources, builds). Structure errors
//! (unknown blocks, missing labels, duplicates) are reported here, before any evaluation.

use std::collections::BTreeMap;
use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};

use super::data::RawData;
use super::eval::span_of;
use kiln_config::diag::{did_you_mean, Diagnostic, SourceFile, Span};

/// One parsed configuration file.
pub(crate) struct Parsed {
    pub file: Arc<SourceFile>,
    pub body: Body,
}

pub(crate) struct RawVar {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    /// The `variable` block's body; `None` for the old `variables { name = default }` form.
    pub body: Option<Body>,
    /// The old form's default.
    pub default: Option<Expression>,
}

pub(crate) struct RawLocal {
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub expr: Expression,
    pub sensitive: Option<Expression>,
}

pub(crate) struct RawSource {
    pub ty: String,
    pub name: String,
    pub span: Span,
    pub file: Arc<SourceFile>,
    pub body: Body,
}

#[derive(Default)]
pub(crate) struct Decls {
    pub packer: Vec<(Arc<SourceFile>, Block)>,
    pub variables: Vec<RawVar>,
    pub locals: Vec<RawLocal>,
    pub sources: Vec<RawSource>,
    pub data: Vec<Arc<RawData>>,
    pub builds: Vec<(Arc<SourceFile>, Block)>,
}

const TOP_BLOCKS: &[(&str, usize, &str)] = &[
    ("packer", 0, "packer { required_version = \">= 1.7.0\" }"),
    ("variable", 1, "variable \"name\" { }"),
    ("variables", 0, "variables { name = \"default\" }"),
    ("locals", 0, "locals { name = \"value\" }"),
    ("local", 1, "local \"name\" { expression = \"value\" }"),
    ("source", 2, "source \"type\" \"name\" { }"),
    ("data", 2, "data \"type\" \"name\" { }"),
    ("build", 0, "build { sources = [\"source.type.name\"] }"),
];

/// Checks the top level of every file and collects the declarations.
pub(crate) fn collect(files: &[Parsed], diags: &mut Vec<Diagnostic>) -> Decls {
    let mut d = Decls::default();
    let mut var_seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut local_seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut source_seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut data_seen: BTreeMap<String, Span> = BTreeMap::new();
    for p in files {
        let file = &p.file;
        for s in p.body.iter() {
            if let Some(a) = s.as_attribute() {
                let name = a.key.value().as_str();
                diags.push(
                    Diagnostic::error(format!("unexpected argument \"{name}\" at the top level"))
                        .at(span_of(file, &a.key))
                        .with_help("the top level holds only blocks: packer, variable, locals, source, data and build"),
                );
                continue;
            }
            let Some(b) = s.as_block() else { continue };
            let ty = b.ident.value().as_str();
            let at = span_of(file, &b.ident);
            let Some((_, nlabels, example)) = TOP_BLOCKS.iter().find(|(n, _, _)| *n == ty) else {
                let mut e = Diagnostic::error(format!("unsupported block type \"{ty}\"")).at(at);
                let names = TOP_BLOCKS.iter().map(|(n, _, _)| *n);
                e = match did_you_mean(ty, names) {
                    Some(s) => e.with_help(format!("did you mean \"{s}\"?")),
                    None if ty == "required_plugins" => e.with_help("put required_plugins inside a `packer { }` block"),
                    None => e.with_help(
                        "blocks allowed here: packer, variable, variables, locals, local, source, data, build",
                    ),
                };
                diags.push(e);
                continue;
            };
            if b.labels.len() != *nlabels {
                let what = match (ty, b.labels.len()) {
                    ("source" | "data", 1) => format!("missing name for {ty} block"),
                    ("source" | "data", 0) => format!("missing type and name for {ty} block"),
                    (_, n) if n < *nlabels => format!("missing label for {ty} block"),
                    _ => format!("too many labels for {ty} block: it takes {nlabels}"),
                };
                diags.push(Diagnostic::error(what).at(span_of(file, b)).with_help(format!("write it as `{example}`")));
                continue;
            }
            let label = |i: usize| b.labels.get(i).map(|l| l.as_str().to_string()).unwrap_or_default();
            let label_span = |i: usize| b.labels.get(i).map_or_else(|| at.clone(), |l| span_of(file, l));
            match ty {
                "packer" => d.packer.push((Arc::clone(file), b.clone())),
                "build" => d.builds.push((Arc::clone(file), b.clone())),
                "variable" => {
                    let name = label(0);
                    let span = label_span(0);
                    if check_dup("variable", &name, &span, &mut var_seen, diags) {
                        d.variables.push(RawVar {
                            name,
                            span,
                            file: Arc::clone(file),
                            body: Some(b.body.clone()),
                            default: None,
                        });
                    }
                }
                "variables" => {
                    for s in b.body.iter() {
                        if let Some(a) = s.as_attribute() {
                            let name = a.key.value().as_str().to_string();
                            let span = span_of(file, &a.key);
                            if check_dup("variable", &name, &span, &mut var_seen, diags) {
                                d.variables.push(RawVar {
                                    name,
                                    span,
                                    file: Arc::clone(file),
                                    body: None,
                                    default: Some(a.value.clone()),
                                });
                            }
                        } else if let Some(inner) = s.as_block() {
                            diags.push(
                                Diagnostic::error("blocks are not allowed in a variables block")
                                    .at(span_of(file, &inner.ident))
                                    .with_help("declare it as `variable \"name\" { ... }` at the top level"),
                            );
                        }
                    }
                }
                "locals" => {
                    for s in b.body.iter() {
                        if let Some(a) = s.as_attribute() {
                            let name = a.key.value().as_str().to_string();
                            let span = span_of(file, &a.key);
                            if check_dup("local", &name, &span, &mut local_seen, diags) {
                                d.locals.push(RawLocal {
                                    name,
                                    span,
                                    file: Arc::clone(file),
                                    expr: a.value.clone(),
                                    sensitive: None,
                                });
                            }
                        } else if let Some(inner) = s.as_block() {
                            diags.push(
                                Diagnostic::error("blocks are not allowed in a locals block")
                                    .at(span_of(file, &inner.ident))
                                    .with_help("locals are `name = expression` lines"),
                            );
                        }
                    }
                }
                "local" => {
                    let name = label(0);
                    let span = label_span(0);
                    let mut expr = None;
                    let mut sensitive = None;
                    for s in b.body.iter() {
                        match s.as_attribute() {
                            Some(a) if a.key.value().as_str() == "expression" => expr = Some(a.value.clone()),
                            Some(a) if a.key.value().as_str() == "sensitive" => sensitive = Some(a.value.clone()),
                            Some(a) => diags.push(unexpected_arg(
                                file,
                                &a.key,
                                a.key.value().as_str(),
                                &["expression", "sensitive"],
                            )),
                            None => diags.push(
                                Diagnostic::error("blocks are not allowed in a local block").at(span_of(file, s)),
                            ),
                        }
                    }
                    let Some(expr) = expr else {
                        diags.push(
                            Diagnostic::error(format!("local \"{name}\" has no expression"))
                                .at(span)
                                .with_help("add `expression = <value>`"),
                        );
                        continue;
                    };
                    if check_dup("local", &name, &span, &mut local_seen, diags) {
                        d.locals.push(RawLocal { name, span, file: Arc::clone(file), expr, sensitive });
                    }
                }
                "source" => {
                    let (t, n) = (label(0), label(1));
                    let span = span_of(file, b);
                    if check_dup("source", &format!("{t}.{n}"), &label_span(0), &mut source_seen, diags) {
                        d.sources.push(RawSource {
                            ty: t,
                            name: n,
                            span,
                            file: Arc::clone(file),
                            body: b.body.clone(),
                        });
                    }
                }
                "data" => {
                    let key = format!("{}.{}", label(0), label(1));
                    if check_dup("data source", &key, &label_span(0), &mut data_seen, diags) {
                        // `data "type" "name"`, where the data source's own errors point.
                        let last = b.labels.last().map(|l| span_of(file, l));
                        let header_span = match last {
                            Some(l) if l.end > at.start => Span::new(file, at.start, l.end),
                            _ => at.clone(),
                        };
                        d.data.push(Arc::new(RawData {
                            ty: label(0),
                            name: label(1),
                            file: Arc::clone(file),
                            body: b.body.clone(),
                            type_span: label_span(0),
                            header_span,
                            block_span: span_of(file, b),
                        }));
                    }
                }
                _ => {}
            }
        }
    }
    d
}

/// Records `name`; reports and returns false when it was declared before.
fn check_dup(
    what: &str,
    name: &str,
    at: &Span,
    seen: &mut BTreeMap<String, Span>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    if let Some(first) = seen.get(name) {
        let (l, c) = first.line_col();
        diags.push(
            Diagnostic::error(format!("duplicate {what} \"{name}\""))
                .at(at.clone())
                .with_detail(format!("\"{name}\" was already declared at {}:{l}:{c}", first.path().display()))
                .with_help(format!("rename or remove one of the two {what} declarations")),
        );
        return false;
    }
    seen.insert(name.to_string(), at.clone());
    true
}

/// "unexpected argument" with a did-you-mean over `allowed`.
pub(crate) fn unexpected_arg(
    file: &Arc<SourceFile>,
    key: &dyn hcl_edit::Span,
    name: &str,
    allowed: &[&str],
) -> Diagnostic {
    let e = Diagnostic::error(format!("unsupported argument \"{name}\"")).at(span_of(file, key));
    // `version` for `required_version`: a shortened name is as likely as a typo.
    let suffix = allowed.iter().copied().find(|a| a.ends_with(&format!("_{name}")));
    match did_you_mean(name, allowed.iter().copied()).or(suffix) {
        Some(s) => e.with_help(format!("did you mean \"{s}\"?")),
        None => e.with_help(format!("arguments allowed here: {}", allowed.join(", "))),
    }
}

/// "unsupported block" with a did-you-mean over `allowed`.
pub(crate) fn unexpected_block(file: &Arc<SourceFile>, b: &Block, allowed: &[&str]) -> Diagnostic {
    let name = b.ident.value().as_str();
    let e = Diagnostic::error(format!("unsupported block type \"{name}\"")).at(span_of(file, &b.ident));
    match did_you_mean(name, allowed.iter().copied()) {
        Some(s) => e.with_help(format!("did you mean \"{s}\"?")),
        None if allowed.is_empty() => e.with_help("no blocks are allowed here"),
        None => e.with_help(format!("blocks allowed here: {}", allowed.join(", "))),
    }
}

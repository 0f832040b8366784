//! `build` blocks: the sources they use (with per-build overrides), their provisioners and
//! post-processor chains, turned into `plan::BuildBlock`s and, at the full stage, one
//! `plan::Build` per (build block, source) with `only`/`except`/`override` applied.

use std::sync::Arc;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};

use super::blocks::{unexpected_arg, unexpected_block, Decls, RawSource};
use super::body::{body_members, merge_members, value_to_node};
use super::dynamic::{self, Item};
use super::eval::{eval, span_of};
use super::scope::{BuildRefs, Ctx, Scope};
use crate::plan::{Build, BuildBlock, PostProcessor, Provisioner};
use crate::value::Value;
use kiln_config::diag::{did_you_mean, Diagnostic, SourceFile, Span};
use kiln_config::node::Node;

const BUILD_ARGS: &[&str] = &["name", "description", "sources"];
const BUILD_BLOCKS: &[&str] =
    &["source", "provisioner", "post-processor", "post-processors", "error-cleanup-provisioner", "hcp_packer_registry"];
const PROV_RESERVED: &[&str] = &["only", "except", "override", "pause_before", "max_retries", "timeout", "name"];
const PP_RESERVED: &[&str] = &["only", "except", "name", "keep_input_artifact"];

/// One source a build uses.
struct SourceUse<'d> {
    src: &'d RawSource,
    /// The build-local name (`name = "x"` in the build's source block), else the source's.
    name: String,
    overrides: Option<Item>,
    span: Span,
}

pub(crate) struct Out {
    pub blocks: Vec<BuildBlock>,
    pub builds: Vec<Build>,
}

pub(crate) fn builds(decls: &Decls, ctx: &Ctx, full: bool, diags: &mut Vec<Diagnostic>) -> Out {
    let mut out = Out { blocks: Vec::new(), builds: Vec::new() };
    for (file, block) in &decls.builds {
        one_build(file, block, decls, ctx, full, diags, &mut out);
    }
    out
}

fn one_build(
    file: &Arc<SourceFile>,
    block: &Block,
    decls: &Decls,
    ctx: &Ctx,
    full: bool,
    diags: &mut Vec<Diagnostic>,
    out: &mut Out,
) {
    let scope = Scope::new(file, ctx);
    let mut bb = BuildBlock { span: Some(span_of(file, block)), ..BuildBlock::default() };
    let mut uses: Vec<SourceUse> = Vec::new();
    let mut provs: Vec<Item> = Vec::new();
    let mut cleanup: Option<Item> = None;
    let mut chains: Vec<Vec<Item>> = Vec::new();
    // The sources as `inspect` shows them, resolved or not (Packer's `type.name` of the reference).
    let mut shown: Vec<Option<String>> = Vec::new();
    for a in block.body.iter().filter_map(|s| s.as_attribute()) {
        match a.key.value().as_str() {
            "name" => bb.name = string_attr(&a.value, &scope, diags),
            "description" => bb.description = string_attr(&a.value, &scope, diags),
            "sources" => {
                for (r, at) in source_refs(&a.value, &scope, diags) {
                    shown.push(shown_ref(&r));
                    if let Some(src) = resolve(&r, &at, decls, ctx.lenient, diags) {
                        uses.push(SourceUse { src, name: src.name.clone(), overrides: None, span: at });
                    }
                }
            }
            other => diags.push(unexpected_arg(file, &a.key, other, BUILD_ARGS)),
        }
    }
    for item in dynamic::items(&block.body, file, &scope, diags) {
        let kind = item.kind().to_string();
        let needs_label =
            matches!(kind.as_str(), "source" | "provisioner" | "post-processor" | "error-cleanup-provisioner");
        if needs_label && item.block.labels.len() != 1 {
            diags.push(
                Diagnostic::error(format!("a {kind} block takes exactly one label, its type"))
                    .at(item.span.clone())
                    .with_help(format!("write it as `{kind} \"type\" {{ ... }}`")),
            );
            continue;
        }
        match kind.as_str() {
            "source" => {
                let at = item.block.labels.first().map_or_else(|| item.span.clone(), |l| span_of(file, l));
                let at = if at.start == 0 && at.end == 0 { item.span.clone() } else { at };
                shown.push(shown_ref(item.label().unwrap_or("")));
                let Some(src) = resolve(item.label().unwrap_or(""), &at, decls, ctx.lenient, diags) else { continue };
                let mut name = src.name.clone();
                if let Some(a) = item.block.body.get_attribute("name") {
                    if let Some(n) = string_attr(&a.value, &item.scope(&scope), diags) {
                        name = n;
                    }
                }
                uses.push(SourceUse { src, name, overrides: Some(item), span: at });
            }
            "provisioner" => provs.push(item),
            "error-cleanup-provisioner" => cleanup = Some(item),
            "post-processor" => chains.push(vec![item]),
            "post-processors" => {
                let inner_scope = item.scope(&scope);
                let mut chain = Vec::new();
                for s in item.block.body.iter().filter(|s| s.as_attribute().is_some()) {
                    diags.push(
                        Diagnostic::error("a post-processors block holds only post-processor blocks")
                            .at(span_of(file, s)),
                    );
                }
                for p in dynamic::items(&item.block.body, file, &inner_scope, diags) {
                    if p.kind() == "post-processor" && p.block.labels.len() == 1 {
                        chain.push(p);
                    } else {
                        diags.push(unexpected_block(file, &p.block, &["post-processor"]));
                    }
                }
                chains.push(chain);
            }
            "hcp_packer_registry" => diags.push(
                Diagnostic::warning("hcp_packer_registry is not supported by kiln and is ignored")
                    .at(span_of(file, &item.block.ident))
                    .with_help("kiln never talks to HCP Packer; remove the block to silence this warning"),
            ),
            _ => diags.push(unexpected_block(file, &item.block, BUILD_BLOCKS)),
        }
    }
    // Packer drops a build whose source reference is not `type.name` (it is an error at `validate`).
    if ctx.lenient && shown.iter().any(Option::is_none) {
        return;
    }
    if full && shown.is_empty() {
        diags.push(
            Diagnostic::error("missing source reference")
                .at(span_of(file, &block.ident))
                .with_detail("this build names no source, so there is nothing to build")
                .with_help("add `sources = [\"source.type.name\"]` or a `source \"source.type.name\" { }` block"),
        );
    }
    bb.sources = shown.into_iter().flatten().collect();
    bb.provisioners = provs.iter().map(|p| display_name(p, &scope)).collect();
    bb.post_processors = chains.iter().map(|c| c.iter().map(|p| display_name(p, &scope)).collect()).collect();
    if full {
        for u in &uses {
            out.builds.push(make_build(file, &bb, u, &provs, cleanup.as_ref(), &chains, ctx, diags));
        }
    }
    out.blocks.push(bb);
}

#[allow(clippy::too_many_arguments)]
fn make_build(
    file: &Arc<SourceFile>,
    bb: &BuildBlock,
    u: &SourceUse,
    provs: &[Item],
    cleanup: Option<&Item>,
    chains: &[Vec<Item>],
    ctx: &Ctx,
    diags: &mut Vec<Diagnostic>,
) -> Build {
    let source = Some((u.src.ty.clone(), u.name.clone()));
    let mut src_scope = Scope::new(&u.src.file, ctx);
    src_scope.source = source.clone();
    let mut members = body_members(&u.src.body, &src_scope, &[], diags);
    if let Some(over) = &u.overrides {
        let mut oscope = over.scope(&Scope::new(file, ctx));
        oscope.source = source.clone();
        merge_members(&mut members, body_members(&over.block.body, &oscope, &["name"], diags));
    }
    let short = format!("{}.{}", u.src.ty, u.name);
    let mut late = Scope::new(file, ctx);
    late.source = source;
    late.build = BuildRefs::Late;
    late.build_name = Some(bb.name.clone().unwrap_or_default());
    let applies = |b: &Item, diags: &mut Vec<Diagnostic>| {
        let s = b.scope(&late);
        let only = list_attr(&b.block.body, "only", &s, diags);
        let except = list_attr(&b.block.body, "except", &s, diags);
        let hit = |l: &[String]| l.iter().any(|x| *x == short || *x == u.name || *x == format!("source.{short}"));
        (only.is_empty() || hit(&only)) && !hit(&except)
    };
    let mut provisioners = Vec::new();
    for p in provs {
        if applies(p, diags) {
            provisioners.push(provisioner(file, p, &short, &u.name, &p.scope(&late), diags));
        }
    }
    let error_cleanup_provisioner = cleanup.map(|p| provisioner(file, p, &short, &u.name, &p.scope(&late), diags));
    let mut post_processors = Vec::new();
    for chain in chains {
        let mut c = Vec::new();
        for p in chain {
            if applies(p, diags) {
                c.push(post_processor(file, p, &p.scope(&late), diags));
            }
        }
        if !c.is_empty() {
            post_processors.push(c);
        }
    }
    Build {
        name: match &bb.name {
            Some(n) => format!("{n}.{short}"),
            None => short,
        },
        builder_type: u.src.ty.clone(),
        config: Node::object(members, Some(u.src.span.clone())),
        provisioners,
        error_cleanup_provisioner,
        post_processors,
        span: Some(u.span.clone()),
        hcl2: true,
    }
}

fn provisioner(
    file: &Arc<SourceFile>,
    item: &Item,
    short: &str,
    local_name: &str,
    scope: &Scope,
    diags: &mut Vec<Diagnostic>,
) -> Provisioner {
    let b = &item.block;
    let ty = item.label().unwrap_or_default().to_string();
    let mut members = body_members(&b.body, scope, PROV_RESERVED, diags);
    if let Some(a) = b.body.get_attribute("override") {
        match eval(&a.value, scope) {
            Ok(Value::Object(m)) => {
                let vspan = span_of(file, &a.value);
                for (k, v) in m {
                    if k != short && k != local_name && k != format!("source.{short}") {
                        continue;
                    }
                    match value_to_node(&v, &vspan).kind {
                        kiln_config::node::NodeKind::Object(over) => merge_members(&mut members, over),
                        _ => diags.push(
                            Diagnostic::error(format!("override for \"{k}\" must be an object of settings"))
                                .at(vspan.clone()),
                        ),
                    }
                }
            }
            Ok(Value::Unknown) => {}
            Ok(other) => diags.push(
                Diagnostic::error(format!("override must be an object, found a {}", other.type_name()))
                    .at(span_of(file, &a.value))
                    .with_help("write `override = { \"type.name\" = { setting = value } }`"),
            ),
            Err(e) => diags.push(*e),
        }
    }
    let dur = |name: &str, diags: &mut Vec<Diagnostic>| {
        let a = b.body.get_attribute(name)?;
        let s = string_attr(&a.value, scope, diags)?;
        match kiln_config::golang::parse_go_duration(s.trim()).ok() {
            Some(d) => Some(d),
            None => {
                diags.push(
                    Diagnostic::error(format!("invalid duration {s:?} for {name}"))
                        .at(span_of(file, &a.value))
                        .with_help("write durations like \"30s\", \"5m\" or \"1h30m\""),
                );
                None
            }
        }
    };
    let pause_before = dur("pause_before", diags);
    let timeout = dur("timeout", diags);
    let max_retries = match b.body.get_attribute("max_retries") {
        None => 0,
        Some(a) => match eval(&a.value, scope) {
            Ok(v) => match super::eval::to_number(&v).and_then(|n| n.to_i64()).and_then(|n| u32::try_from(n).ok()) {
                Some(n) => n,
                _ => {
                    diags.push(Diagnostic::error("max_retries must be a whole number").at(span_of(file, &a.value)));
                    0
                }
            },
            Err(e) => {
                diags.push(*e);
                0
            }
        },
    };
    let name = b.body.get_attribute("name").and_then(|a| string_attr(&a.value, scope, diags));
    let volatile = super::volatile::volatile_uses(&b.body, scope);
    Provisioner {
        provisioner_type: ty,
        name,
        config: Node::object(members, Some(item.span.clone())),
        pause_before,
        max_retries,
        timeout,
        span: Some(item.span.clone()),
        volatile,
    }
}

fn post_processor(file: &Arc<SourceFile>, item: &Item, scope: &Scope, diags: &mut Vec<Diagnostic>) -> PostProcessor {
    let b = &item.block;
    let ty = item.label().unwrap_or_default().to_string();
    let members = body_members(&b.body, scope, PP_RESERVED, diags);
    let keep_input_artifact = b.body.get_attribute("keep_input_artifact").and_then(|a| match eval(&a.value, scope) {
        Ok(v) => super::eval::to_bool(&v).or_else(|| {
            diags.push(Diagnostic::error("keep_input_artifact must be true or false").at(span_of(file, &a.value)));
            None
        }),
        Err(e) => {
            diags.push(*e);
            None
        }
    });
    PostProcessor {
        post_processor_type: ty,
        name: b.body.get_attribute("name").and_then(|a| string_attr(&a.value, scope, diags)),
        config: Node::object(members, Some(item.span.clone())),
        keep_input_artifact,
        span: Some(item.span.clone()),
    }
}

/// The name `inspect` shows: `type.name` when the block has a `name`, else the type. Errors in
/// `name` are reported where the block is evaluated for a build.
fn display_name(item: &Item, scope: &Scope) -> String {
    let mut ignored = Vec::new();
    let named =
        item.block.body.get_attribute("name").and_then(|a| string_attr(&a.value, &item.scope(scope), &mut ignored));
    let ty = item.label().unwrap_or_default();
    match named {
        Some(n) if !n.is_empty() => format!("{ty}.{n}"),
        _ => ty.to_string(),
    }
}

/// A source reference (`source.type.name` or `type.name`) as Packer shows it: `type.name`,
/// whatever `name` a build's source block sets. `None` when it is not of that form.
fn shown_ref(r: &str) -> Option<String> {
    let parts: Vec<&str> = r.split('.').collect();
    let parts = if parts.len() > 2 { &parts[1..] } else { &parts[..] };
    match parts {
        [ty, name, ..] if is_identifier(ty) && is_identifier(name) => Some(format!("{ty}.{name}")),
        _ => None,
    }
}

/// HCL's identifier: a letter or `_` first, then letters, digits, `_` and `-`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Records an evaluation error, except at the syntax stage, where Packer does not evaluate
/// build blocks (their references may need variables that are not set yet).
fn eval_error(scope: &Scope, diags: &mut Vec<Diagnostic>, e: Diagnostic) {
    if !scope.ctx.lenient {
        diags.push(e);
    }
}

fn string_attr(e: &Expression, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match eval(e, scope) {
        Ok(Value::Unknown) => None,
        Ok(v) => match v.to_template_string() {
            Some(s) => Some(s),
            None => {
                diags.push(
                    Diagnostic::error(format!("a string is required here, found a {}", v.type_name()))
                        .at(span_of(scope.file, e)),
                );
                None
            }
        },
        Err(err) => {
            eval_error(scope, diags, *err);
            None
        }
    }
}

fn list_attr(body: &Body, name: &str, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let Some(a) = body.get_attribute(name) else { return Vec::new() };
    match eval(&a.value, scope) {
        Ok(Value::List(items)) => items.iter().filter_map(Value::to_template_string).collect(),
        Ok(Value::Unknown | Value::Null) => Vec::new(),
        Ok(other) => {
            diags.push(
                Diagnostic::error(format!("{name} must be a list of source names, found a {}", other.type_name()))
                    .at(span_of(scope.file, &a.value))
                    .with_help(format!("write `{name} = [\"source.type.name\"]`")),
            );
            Vec::new()
        }
        Err(e) => {
            diags.push(*e);
            Vec::new()
        }
    }
}

/// The entries of `sources = [...]`: quoted strings or bare `source.type.name` references.
fn source_refs(e: &Expression, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Vec<(String, Span)> {
    let Expression::Array(items) = e else {
        // An expression (`sources = var.enabled`): its value must be a list of strings.
        return match eval(e, scope) {
            Ok(Value::List(items)) => {
                let at = span_of(scope.file, e);
                items.iter().filter_map(Value::to_template_string).map(|s| (s, at.clone())).collect()
            }
            Ok(Value::Unknown) => Vec::new(),
            Ok(other) => {
                diags.push(
                    Diagnostic::error(format!("sources must be a list, found a {}", other.type_name()))
                        .at(span_of(scope.file, e))
                        .with_help("write `sources = [\"source.type.name\"]`"),
                );
                Vec::new()
            }
            Err(err) => {
                eval_error(scope, diags, *err);
                Vec::new()
            }
        };
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let at = span_of(scope.file, item);
        match item {
            Expression::Traversal(_) => out.push((at.text().trim().to_string(), at)),
            _ => {
                if let Some(s) = string_attr(item, scope, diags) {
                    out.push((s, at));
                }
            }
        }
    }
    out
}

/// Finds the source named by `source.type.name` (the `source.` prefix is optional; Packer also
/// takes `sources.type.name`, which its own test fixtures use).
fn resolve<'d>(
    r: &str,
    at: &Span,
    decls: &'d Decls,
    lenient: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'d RawSource> {
    let key = r.strip_prefix("source.").or_else(|| r.strip_prefix("sources.")).unwrap_or(r);
    if let Some(s) = decls.sources.iter().find(|s| format!("{}.{}", s.ty, s.name) == key) {
        return Some(s);
    }
    // A single file may use sources declared in another file of its folder; Packer's syntax
    // check does not resolve references either.
    if lenient {
        return None;
    }
    let known: Vec<String> = decls.sources.iter().map(|s| format!("source.{}.{}", s.ty, s.name)).collect();
    let e = Diagnostic::error(format!("unknown source \"{r}\"")).at(at.clone());
    diags.push(match did_you_mean(&format!("source.{key}"), known.iter().map(String::as_str)) {
        Some(s) => e.with_help(format!("did you mean \"{s}\"?")),
        None if known.is_empty() => e.with_help("declare it with a `source \"type\" \"name\" { }` block"),
        None => e.with_help(format!("declared sources: {}", known.join(", "))),
    });
    None
}

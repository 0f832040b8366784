//! One runnable [`Build`] per builder: provisioners and post-processors filtered by
//! `only`/`except`, overrides merged, every string rendered with the build's context.

use std::collections::BTreeMap;

use super::interp::{render_node, render_node_late, volatile_uses, Renderer};
use super::structure::{Named, Raw, RawPp, RawProv};
use crate::plan::{Build, PostProcessor, Provisioner};
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_config::node::{Node, NodeKind};
use kiln_gotmpl::Context;

/// Checks that `only`/`except`/`override` name existing builders (Packer's template validation).
pub fn check_references(raw: &Raw, diags: &mut Diagnostics) {
    let names: Vec<&str> = raw.builders.iter().map(|b| b.name.as_str()).collect();
    let both = |only: &[Named], except: &[Named], owner: &str, diags: &mut Diagnostics| {
        if let (Some(first), false) = (only.first(), except.is_empty()) {
            diags.push(
                Diagnostic::error(format!("{owner}: only one of \"only\" or \"except\" may be set"))
                    .at_opt(first.1.clone())
                    .with_help("keep \"only\" (the builds it runs for) or \"except\" (the builds it skips), not both"),
            );
        }
    };
    for (i, p) in raw.provisioners.iter().enumerate() {
        both(&p.only, &p.except, &format!("provisioner {} ({})", i + 1, p.provisioner_type), diags);
    }
    for (i, chain) in raw.post_processors.iter().enumerate() {
        for (j, pp) in chain.iter().enumerate() {
            both(
                &pp.only,
                &pp.except,
                &format!("post-processor {}.{} ({})", i + 1, j + 1, pp.post_processor_type),
                diags,
            );
        }
    }
    if raw.builders.is_empty() {
        diags.push(Diagnostic::error("the template defines no builders").at_opt(raw.builders_at.clone()).with_help(
            "add at least one builder to \"builders\", such as { \"type\": \"null\", \"communicator\": \"none\" }",
        ));
    }
    let mut check = |list: &[Named], what: &str, owner: &str| {
        for (n, span) in list {
            if !names.contains(&n.as_str()) {
                let mut d =
                    Diagnostic::error(format!("{owner}: \"{what}\" names the builder \"{n}\", which does not exist"))
                        .at_opt(span.clone());
                d = match did_you_mean(n, names.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help(format!("the builders are: {}", names.join(", "))),
                };
                diags.push(d);
            }
        }
    };
    for (i, p) in raw.provisioners.iter().enumerate() {
        let owner = format!("provisioner {} ({})", i + 1, p.provisioner_type);
        check(&p.only, "only", &owner);
        check(&p.except, "except", &owner);
        let overrides: Vec<Named> = p.overrides.iter().map(|(k, _)| (k.name.clone(), k.span.clone())).collect();
        check(&overrides, "override", &owner);
    }
    for (i, chain) in raw.post_processors.iter().enumerate() {
        for (j, pp) in chain.iter().enumerate() {
            let owner = format!("post-processor {}.{} ({})", i + 1, j + 1, pp.post_processor_type);
            check(&pp.only, "only", &owner);
            check(&pp.except, "except", &owner);
        }
    }
}

fn runs_for(only: &[Named], except: &[Named], build: &str) -> bool {
    (only.is_empty() || only.iter().any(|(n, _)| n == build)) && !except.iter().any(|(n, _)| n == build)
}

/// The builds, rendered with `base` (user variables, env, clock, template_dir) plus each
/// build's name and type. `volatile_vars`: the user variables that change on every run.
pub fn builds(
    raw: &Raw,
    base: &Context,
    volatile_vars: &BTreeMap<String, String>,
    render: Renderer,
    diags: &mut Diagnostics,
) -> Vec<Build> {
    let mut out = Vec::new();
    for b in &raw.builders {
        let mut ctx = base.clone();
        ctx.allow_env = false;
        ctx.build_name = Some(b.name.clone());
        ctx.build_type = Some(b.builder_type.clone());
        let mut config = b.config.clone();
        render_node(&mut config, &ctx, render, diags);
        // `only`/`except` match the name as written; the build runs under the rendered name.
        let name = if b.name.contains("{{") {
            let mut named = base.clone();
            named.allow_env = false;
            render(&b.name, &named).unwrap_or_else(|_| b.name.clone())
        } else {
            b.name.clone()
        };
        let provisioners = raw
            .provisioners
            .iter()
            .filter(|p| runs_for(&p.only, &p.except, &b.name))
            .map(|p| provisioner(p, &b.name, &ctx, volatile_vars, render, diags))
            .collect();
        let error_cleanup_provisioner = raw
            .error_cleanup
            .as_ref()
            .filter(|p| runs_for(&p.only, &p.except, &b.name))
            .map(|p| provisioner(p, &b.name, &ctx, volatile_vars, render, diags));
        let post_processors = raw
            .post_processors
            .iter()
            .map(|chain| {
                chain
                    .iter()
                    .filter(|pp| runs_for(&pp.only, &pp.except, &b.name))
                    .map(|pp| post_processor(pp, &ctx, render, diags))
                    .collect::<Vec<_>>()
            })
            .filter(|chain| !chain.is_empty())
            .collect();
        out.push(Build {
            name,
            builder_type: b.builder_type.clone(),
            config,
            provisioners,
            error_cleanup_provisioner,
            post_processors,
            span: b.span.clone(),
            hcl2: false,
        });
    }
    out
}

fn provisioner(
    p: &RawProv,
    build: &str,
    ctx: &Context,
    volatile_vars: &BTreeMap<String, String>,
    render: Renderer,
    diags: &mut Diagnostics,
) -> Provisioner {
    let mut config = p.config.clone();
    if let Some((_, o)) = p.overrides.iter().find(|(k, _)| k.name == build) {
        merge(&mut config, o);
    }
    let volatile = volatile_uses(&config, volatile_vars);
    render_node_late(&mut config, ctx, render, diags);
    Provisioner {
        provisioner_type: p.provisioner_type.clone(),
        name: None,
        config,
        pause_before: p.pause_before,
        max_retries: p.max_retries,
        timeout: p.timeout,
        span: p.span.clone(),
        volatile,
    }
}

/// Packer passes the override as a second configuration: its top-level keys replace the
/// provisioner's.
fn merge(config: &mut Node, over: &Node) {
    let (NodeKind::Object(base), NodeKind::Object(extra)) = (&mut config.kind, &over.kind) else {
        return;
    };
    for (k, v) in extra {
        match base.iter_mut().find(|(bk, _)| bk.name == k.name) {
            Some(slot) => *slot = (k.clone(), v.clone()),
            None => base.push((k.clone(), v.clone())),
        }
    }
}

fn post_processor(pp: &RawPp, ctx: &Context, render: Renderer, diags: &mut Diagnostics) -> PostProcessor {
    let mut config = pp.config.clone();
    render_node_late(&mut config, ctx, render, diags);
    PostProcessor {
        post_processor_type: pp.post_processor_type.clone(),
        name: pp.name.clone(),
        config,
        keep_input_artifact: pp.keep_input_artifact,
        span: pp.span.clone(),
    }
}

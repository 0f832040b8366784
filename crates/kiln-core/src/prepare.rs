//! Preparing builds: every component of a build constructed from the [`Registry`] and
//! configured, with every error of every component reported before anything runs. `validate`
//! stops here ([`check_build`]); `build` hands the prepared builds to the scheduler.

use std::sync::Arc;

use kiln_config::build::Build;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};

use crate::component::{BuildInfo, Builder, PostProcessor};
use crate::hook::{PreparedProvisioner, Provisioners};
use crate::registry::{ComponentKind, Registry};

pub struct PreparedPostProcessor {
    pub label: String,
    pub post_processor: Box<dyn PostProcessor>,
    pub keep_input_artifact: Option<bool>,
}

/// A build whose components are constructed and configured, ready to run.
pub struct PreparedBuild {
    pub info: Arc<BuildInfo>,
    pub builder: Box<dyn Builder>,
    pub provisioners: Arc<Provisioners>,
    pub post_processors: Vec<Vec<PreparedPostProcessor>>,
}

/// The configuration a component decodes: the node without the `type`/`name` keys the
/// template format itself uses (loaders may leave them in).
fn component_config(node: &Node) -> Node {
    match &node.kind {
        NodeKind::Object(m) => Node::object(
            m.iter().filter(|(k, _)| k.name != "type" && k.name != "name").cloned().collect(),
            node.span.clone(),
        ),
        _ => node.clone(),
    }
}

/// The error for a type the registry cannot construct.
fn unknown(reg: &Registry, kind: ComponentKind, name: &str, span: Option<&Span>) -> Diagnostics {
    match check_type(reg, kind, name, span) {
        Err(d) => d.into(),
        Ok(()) => Diagnostic::error(format!("the {} type {name:?} cannot be constructed", kind.noun()))
            .at_opt(span.cloned())
            .into(),
    }
}

/// Constructs and configures every component of `build`. Returns warnings, or every error.
pub fn prepare_build(
    reg: &Registry,
    build: &Build,
    info: &BuildInfo,
) -> Result<(PreparedBuild, Vec<Diagnostic>), Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut warnings = Vec::new();
    let mut keep = |r: Result<Vec<Diagnostic>, Diagnostics>| match r {
        Ok(w) => warnings.extend(w),
        Err(d) => errors.extend(d),
    };
    let builder = match reg.new_builder(&build.builder_type) {
        Some(mut b) => {
            keep(b.prepare(&component_config(&build.config), info));
            Some(b)
        }
        None => {
            keep(Err(unknown(reg, ComponentKind::Builder, &build.builder_type, build.span.as_ref())));
            None
        }
    };
    let mut provisioners = Provisioners::default();
    let all =
        build.provisioners.iter().map(|p| (p, false)).chain(build.error_cleanup_provisioner.iter().map(|p| (p, true)));
    for (p, is_cleanup) in all {
        let Some(mut prov) = reg.new_provisioner(&p.provisioner_type) else {
            keep(Err(unknown(reg, ComponentKind::Provisioner, &p.provisioner_type, p.span.as_ref())));
            continue;
        };
        keep(prov.prepare(&component_config(&p.config), info));
        let prepared = PreparedProvisioner {
            label: p.name.clone().unwrap_or_else(|| p.provisioner_type.clone()),
            provisioner: prov,
            pause_before: p.pause_before,
            max_retries: p.max_retries,
            timeout: p.timeout,
        };
        if is_cleanup {
            provisioners.error_cleanup = Some(prepared);
        } else {
            provisioners.list.push(prepared);
        }
    }
    let mut chains = Vec::new();
    for chain in &build.post_processors {
        let mut out = Vec::new();
        for pp in chain {
            let Some(mut post) = reg.new_post_processor(&pp.post_processor_type) else {
                keep(Err(unknown(reg, ComponentKind::PostProcessor, &pp.post_processor_type, pp.span.as_ref())));
                continue;
            };
            keep(post.configure(&component_config(&pp.config), info));
            out.push(PreparedPostProcessor {
                label: pp.name.clone().unwrap_or_else(|| pp.post_processor_type.clone()),
                post_processor: post,
                keep_input_artifact: pp.keep_input_artifact,
            });
        }
        chains.push(out);
    }
    match builder {
        Some(builder) if !errors.has_errors() => Ok((
            PreparedBuild {
                info: Arc::new(info.clone()),
                builder,
                provisioners: Arc::new(provisioners),
                post_processors: chains,
            },
            warnings,
        )),
        _ => {
            errors.0.extend(warnings);
            Err(errors)
        }
    }
}

/// Whether `name` is a component type `reg` can construct; otherwise the error to show at
/// `span`: "not implemented in kiln yet" for a type Packer has, "unknown" (with a suggestion)
/// for any other.
pub fn check_type(reg: &Registry, kind: ComponentKind, name: &str, span: Option<&Span>) -> Result<(), Diagnostic> {
    let implemented = reg.names(kind);
    let known = reg.known_to_packer(kind);
    if implemented.contains(&name) {
        return Ok(());
    }
    let noun = kind.noun();
    let d = if known.contains(&name) {
        Diagnostic::error(format!("the {noun} type {name:?} is not implemented in kiln yet"))
            .with_detail(format!("kiln implements these {noun}s: {}", list_or_none(implemented)))
    } else {
        let all = implemented.iter().chain(known).copied();
        let d = Diagnostic::error(format!("unknown {noun} type {name:?}"));
        match did_you_mean(name, all) {
            Some(s) => d.with_help(format!("did you mean {s:?}?")),
            None => d.with_detail(format!("kiln implements these {noun}s: {}", list_or_none(implemented))),
        }
    };
    Err(d.at_opt(span.cloned()))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none yet".to_string()
    } else {
        names.join(", ")
    }
}

/// Every problem with a build's components: unknown or unimplemented types, and every error
/// (and warning) of decoding and checking their configuration, as `validate` reports them.
/// The components see the build as `build` would run it with no flags.
pub fn check_build(reg: &Registry, build: &Build) -> Vec<Diagnostic> {
    let info = BuildInfo { name: build.name.clone(), builder_type: build.builder_type.clone(), ..BuildInfo::default() };
    match prepare_build(reg, build, &info) {
        Ok((_, warnings)) => warnings,
        Err(d) => d.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_but_unimplemented_and_unknown_types_are_told_apart() {
        let reg =
            Registry::new().known(ComponentKind::Builder, "vmware-iso").known(ComponentKind::Builder, "amazon-ebs");
        let e = check_type(&reg, ComponentKind::Builder, "vmware-iso", None).unwrap_err();
        assert!(e.summary.contains("not implemented in kiln yet"), "{e}");
        let e = check_type(&reg, ComponentKind::Builder, "amazon-eb", None).unwrap_err();
        assert_eq!(e.summary, "unknown builder type \"amazon-eb\"");
        assert_eq!(e.help.as_deref(), Some("did you mean \"amazon-ebs\"?"));
    }
}

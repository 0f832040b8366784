//! Preparing builds: every component of a build constructed from the [`Registry`] and
//! configured, with every error of every component reported before anything runs. `validate`
//! stops here ([`check_build`]); `build` hands the prepared builds to the scheduler.

use std::sync::Arc;

use kiln_config::build::Build;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};

use crate::component::{BuildInfo, Builder, GeneratedData, PostProcessor};
use crate::hook::{PreparedProvisioner, Provisioners};
use crate::registry::{ComponentKind, Registry};

/// Makes a new, unconfigured post-processor of one type.
pub type PostProcessorFactory = Arc<dyn Fn() -> Box<dyn PostProcessor> + Send + Sync>;

pub struct PreparedPostProcessor {
    pub label: String,
    /// Configured with `config` as it was before the build ran.
    pub post_processor: Box<dyn PostProcessor>,
    /// Its configuration as loaded, late values unresolved.
    pub config: Node,
    /// Makes a fresh one to configure with the resolved configuration, when `config` has late
    /// values.
    pub factory: PostProcessorFactory,
    pub keep_input_artifact: Option<bool>,
}

impl PreparedPostProcessor {
    /// The post-processor to run with the build's `data`: configured again with its
    /// configuration's late values resolved, or the one configured before the build when
    /// nothing in its configuration waited for the build.
    pub fn for_run(&self, data: &GeneratedData, info: &BuildInfo) -> crate::Result<Option<Box<dyn PostProcessor>>> {
        if !self.config.has_late() {
            return Ok(None);
        }
        let resolved = self.config.resolve(data).map_err(|d| crate::Error::new(d.to_string()))?;
        let mut fresh = (self.factory)();
        fresh.configure(&resolved, info).map_err(|d| crate::Error::new(d.to_string()))?;
        Ok(Some(fresh))
    }
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
            // What provisioners and post-processors may refer to as `build.X`.
            let keys = b.generated_data_keys();
            let configs = build
                .provisioners
                .iter()
                .chain(&build.error_cleanup_provisioner)
                .map(|p| &p.config)
                .chain(build.post_processors.iter().flatten().map(|p| &p.config));
            for c in configs {
                keep(match crate::generated::check_refs(c, &keys, &build.builder_type) {
                    e if e.is_empty() => Ok(Vec::new()),
                    e => Err(Diagnostics(e)),
                });
            }
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
        let Some(factory) = reg.provisioner_factory(&p.provisioner_type) else {
            keep(Err(unknown(reg, ComponentKind::Provisioner, &p.provisioner_type, p.span.as_ref())));
            continue;
        };
        let mut prov = factory();
        let config = component_config(&p.config);
        keep(prov.prepare(&config, info));
        let prepared = PreparedProvisioner {
            label: p.name.clone().unwrap_or_else(|| p.provisioner_type.clone()),
            kind: p.provisioner_type.clone(),
            volatile: p.volatile.clone(),
            provisioner: prov,
            config,
            factory,
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
            let Some(factory) = reg.post_processor_factory(&pp.post_processor_type) else {
                keep(Err(unknown(reg, ComponentKind::PostProcessor, &pp.post_processor_type, pp.span.as_ref())));
                continue;
            };
            let mut post = factory();
            let config = component_config(&pp.config);
            keep(post.configure(&config, info));
            out.push(PreparedPostProcessor {
                label: pp.name.clone().unwrap_or_else(|| pp.post_processor_type.clone()),
                post_processor: post,
                config,
                factory,
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
    let info = BuildInfo {
        name: build.name.clone(),
        builder_type: build.builder_type.clone(),
        hcl2: build.hcl2,
        ..BuildInfo::default()
    };
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

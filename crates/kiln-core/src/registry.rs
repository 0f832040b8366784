//! The one table that maps every component type name to what kiln knows about it.

use std::sync::OnceLock;

use crate::component::{Builder, PostProcessor, Provisioner};

/// The kind of a component, as Packer names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Builder,
    Provisioner,
    PostProcessor,
    DataSource,
}

impl ComponentKind {
    pub fn noun(self) -> &'static str {
        match self {
            ComponentKind::Builder => "builder",
            ComponentKind::Provisioner => "provisioner",
            ComponentKind::PostProcessor => "post-processor",
            ComponentKind::DataSource => "data source",
        }
    }
}

/// Component types kiln implements, per kind: the names in the installed [`Registry`].
pub fn implemented(kind: ComponentKind) -> &'static [&'static str] {
    match REGISTRY.get() {
        Some(r) => r.names(kind),
        None => &[],
    }
}

pub type BuilderCtor = fn() -> Box<dyn Builder>;
pub type ProvisionerCtor = fn() -> Box<dyn Provisioner>;
pub type PostProcessorCtor = fn() -> Box<dyn PostProcessor>;

/// The table of type names to constructors. The binary fills it in one place (one line per
/// component) and [`install`]s it; kiln-core knows no concrete component.
#[derive(Default)]
pub struct Registry {
    builders: Vec<(&'static str, BuilderCtor)>,
    provisioners: Vec<(&'static str, ProvisionerCtor)>,
    post_processors: Vec<(&'static str, PostProcessorCtor)>,
    names: [Vec<&'static str>; 4],
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn builder(mut self, name: &'static str, ctor: BuilderCtor) -> Registry {
        self.builders.push((name, ctor));
        self.names[0].push(name);
        self
    }

    pub fn provisioner(mut self, name: &'static str, ctor: ProvisionerCtor) -> Registry {
        self.provisioners.push((name, ctor));
        self.names[1].push(name);
        self
    }

    pub fn post_processor(mut self, name: &'static str, ctor: PostProcessorCtor) -> Registry {
        self.post_processors.push((name, ctor));
        self.names[2].push(name);
        self
    }

    pub fn names(&self, kind: ComponentKind) -> &[&'static str] {
        match kind {
            ComponentKind::Builder => &self.names[0],
            ComponentKind::Provisioner => &self.names[1],
            ComponentKind::PostProcessor => &self.names[2],
            ComponentKind::DataSource => &self.names[3],
        }
    }

    pub fn new_builder(&self, name: &str) -> Option<Box<dyn Builder>> {
        self.builders.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    pub fn new_provisioner(&self, name: &str) -> Option<Box<dyn Provisioner>> {
        self.provisioners.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    pub fn new_post_processor(&self, name: &str) -> Option<Box<dyn PostProcessor>> {
        self.post_processors.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();
static EMPTY: OnceLock<Registry> = OnceLock::new();

/// Makes `r` the process's registry (used by `validate` and `build`). Only the first call counts.
pub fn install(r: Registry) {
    let _ = REGISTRY.set(r);
}

/// The installed registry, or an empty one.
pub fn global() -> &'static Registry {
    REGISTRY.get().unwrap_or_else(|| EMPTY.get_or_init(Registry::new))
}

/// Component types Packer (core and its official plugins) knows, so that a template naming one
/// gets "not implemented in kiln yet" rather than "unknown".
pub fn known_to_packer(kind: ComponentKind) -> &'static [&'static str] {
    match kind {
        ComponentKind::Builder => &[
            "alicloud-ecs",
            "amazon-chroot",
            "amazon-ebs",
            "amazon-ebssurrogate",
            "amazon-ebsvolume",
            "amazon-instance",
            "azure-arm",
            "azure-chroot",
            "azure-dtl",
            "cloudstack",
            "digitalocean",
            "docker",
            "file",
            "googlecompute",
            "hcloud",
            "hyperone",
            "hyperv-iso",
            "hyperv-vmcx",
            "jdcloud",
            "linode",
            "lxc",
            "lxd",
            "ncloud",
            "null",
            "oneandone",
            "openstack",
            "oracle-classic",
            "oracle-oci",
            "osc-bsu",
            "osc-bsusurrogate",
            "osc-bsuvolume",
            "osc-chroot",
            "parallels-iso",
            "parallels-pvm",
            "profitbricks",
            "proxmox",
            "proxmox-clone",
            "proxmox-iso",
            "qemu",
            "scaleway",
            "tencentcloud-cvm",
            "triton",
            "ucloud-uhost",
            "vagrant",
            "virtualbox-iso",
            "virtualbox-ovf",
            "virtualbox-vm",
            "vmware-iso",
            "vmware-vmx",
            "vsphere-clone",
            "vsphere-iso",
            "yandex",
        ],
        ComponentKind::Provisioner => &[
            "ansible",
            "ansible-local",
            "breakpoint",
            "chef-client",
            "chef-solo",
            "converge",
            "file",
            "inspec",
            "powershell",
            "puppet-masterless",
            "puppet-server",
            "salt-masterless",
            "shell",
            "shell-local",
            "windows-restart",
            "windows-shell",
        ],
        ComponentKind::PostProcessor => &[
            "alicloud-import",
            "amazon-import",
            "artifice",
            "checksum",
            "compress",
            "digitalocean-import",
            "docker-import",
            "docker-push",
            "docker-save",
            "docker-tag",
            "exoscale-import",
            "googlecompute-export",
            "googlecompute-import",
            "manifest",
            "shell-local",
            "ucloud-import",
            "vagrant",
            "vagrant-cloud",
            "vsphere",
            "vsphere-template",
            "yandex-export",
            "yandex-import",
        ],
        ComponentKind::DataSource => &["amazon-ami", "amazon-secretsmanager", "amazon-parameterstore", "http", "null"],
    }
}

use kiln_config::build::Build;
use kiln_config::diag::{did_you_mean, Diagnostic, Span};

/// Whether `name` is a component kiln can run; otherwise the error to show at `span`.
pub fn check_type(kind: ComponentKind, name: &str, span: Option<&Span>) -> Result<(), Diagnostic> {
    check_type_for(global(), kind, name, span)
}

/// [`check_type`] against a given registry.
pub fn check_type_for(reg: &Registry, kind: ComponentKind, name: &str, span: Option<&Span>) -> Result<(), Diagnostic> {
    let implemented = reg.names(kind);
    if implemented.contains(&name) {
        return Ok(());
    }
    let noun = kind.noun();
    let d = if known_to_packer(kind).contains(&name) {
        Diagnostic::error(format!("the {noun} type {name:?} is not implemented in kiln yet"))
            .with_detail(format!("kiln implements these {noun}s: {}", list_or_none(implemented)))
    } else {
        let all = implemented.iter().chain(known_to_packer(kind)).copied();
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
/// (and warning) of decoding and checking their configuration.
pub fn check_build(build: &Build) -> Vec<Diagnostic> {
    check_build_in(global(), build)
}

/// [`check_build`] against a given registry.
pub fn check_build_in(reg: &Registry, build: &Build) -> Vec<Diagnostic> {
    let info = crate::scheduler::build_info(build, &crate::scheduler::RunOptions::default());
    match crate::scheduler::prepare_build(reg, build, &info) {
        Ok((_, warnings)) => warnings,
        Err(d) => d.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_but_unimplemented_and_unknown_types_are_told_apart() {
        let reg = Registry::new();
        let e = check_type_for(&reg, ComponentKind::Builder, "vmware-iso", None).unwrap_err();
        assert!(e.summary.contains("not implemented in kiln yet"), "{e}");
        let e = check_type_for(&reg, ComponentKind::Builder, "amazon-eb", None).unwrap_err();
        assert_eq!(e.summary, "unknown builder type \"amazon-eb\"");
        assert_eq!(e.help.as_deref(), Some("did you mean \"amazon-ebs\"?"));
    }
}

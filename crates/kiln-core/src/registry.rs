//! The one table that maps every component type name to what kiln knows about it.

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

/// Component types kiln implements, per kind. Empty until the build engine lands.
pub fn implemented(kind: ComponentKind) -> &'static [&'static str] {
    match kind {
        ComponentKind::Builder => &[],
        ComponentKind::Provisioner => &[],
        ComponentKind::PostProcessor => &[],
        ComponentKind::DataSource => &[],
    }
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

use kiln_template::diag::{did_you_mean, Diagnostic, Span};
use kiln_template::plan::Build;

/// Whether `name` is a component kiln can run; otherwise the error to show at `span`.
pub fn check_type(kind: ComponentKind, name: &str, span: Option<&Span>) -> Result<(), Diagnostic> {
    if implemented(kind).contains(&name) {
        return Ok(());
    }
    let noun = kind.noun();
    let d = if known_to_packer(kind).contains(&name) {
        Diagnostic::error(format!("the {noun} type {name:?} is not implemented in kiln yet"))
            .with_detail(format!("kiln implements these {noun}s: {}", list_or_none(implemented(kind))))
    } else {
        let all = implemented(kind).iter().chain(known_to_packer(kind)).copied();
        let d = Diagnostic::error(format!("unknown {noun} type {name:?}"));
        match did_you_mean(name, all) {
            Some(s) => d.with_help(format!("did you mean {s:?}?")),
            None => d.with_detail(format!("kiln implements these {noun}s: {}", list_or_none(implemented(kind)))),
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

/// Every problem with a build's components: unknown or unimplemented types.
pub fn check_build(build: &Build) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut check = |kind, name: &str, span: Option<&Span>| {
        if let Err(d) = check_type(kind, name, span) {
            out.push(d);
        }
    };
    check(ComponentKind::Builder, &build.builder_type, build.span.as_ref());
    for p in build.provisioners.iter().chain(build.error_cleanup_provisioner.as_ref()) {
        check(ComponentKind::Provisioner, &p.provisioner_type, p.span.as_ref());
    }
    for pp in build.post_processors.iter().flatten() {
        check(ComponentKind::PostProcessor, &pp.post_processor_type, pp.span.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_but_unimplemented_and_unknown_types_are_told_apart() {
        let e = check_type(ComponentKind::Builder, "vmware-iso", None).unwrap_err();
        assert!(e.summary.contains("not implemented in kiln yet"), "{e}");
        let e = check_type(ComponentKind::Builder, "amazon-eb", None).unwrap_err();
        assert_eq!(e.summary, "unknown builder type \"amazon-eb\"");
        assert_eq!(e.help.as_deref(), Some("did you mean \"amazon-ebs\"?"));
    }
}

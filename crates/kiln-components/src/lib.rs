//! kiln-components is the one table of component types: every type a template may name, with
//! its constructor when kiln implements it. Everything that needs the list reads it here:
//!
//! - the [`Registry`] the binary passes to `validate` and `build` ([`registry`]);
//! - the names Packer has that kiln does not implement yet, so that a template naming one gets
//!   "not implemented in kiln yet" rather than "unknown" (and `init` can say what is missing);
//! - the generated documentation: each implemented entry names the source files whose `Config`
//!   struct documents it (`docs/components/*.md`, by `crates/kiln/tests/component_docs.rs`).
//!
//! Adding a component is one line here (and its crate as a dependency).

use kiln_core::datasource::Output;
use kiln_core::registry::{BuilderCtor, ComponentKind, DataSourceCtor, PostProcessorCtor, ProvisionerCtor, Registry};

/// How kiln makes a component of one type.
#[derive(Clone, Copy)]
pub enum Ctor {
    Builder(BuilderCtor),
    Provisioner(ProvisionerCtor),
    PostProcessor(PostProcessorCtor),
    DataSource(DataSourceCtor),
}

/// One component type, as templates name it.
#[derive(Clone, Copy)]
pub struct Component {
    pub kind: ComponentKind,
    pub name: &'static str,
    /// `None`: Packer has this type; kiln does not implement it yet.
    pub ctor: Option<Ctor>,
    /// The source files (relative to `crates/`) whose `pub struct Config` documents the options,
    /// in page order; empty for types kiln does not implement.
    pub doc_sources: &'static [&'static str],
}

/// A generated documentation page, `docs/components/<name>.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocPage {
    pub name: String,
    pub title: String,
    /// Files (relative to `crates/`) whose `pub struct Config` lists the options, in page order;
    /// `file#Struct` names another struct (an embedded part such as a builder toolkit's).
    pub sources: &'static [&'static str],
    /// A data source's outputs (empty for other kinds).
    pub outputs: &'static [Output],
}

const fn builder(name: &'static str, ctor: BuilderCtor, doc_sources: &'static [&'static str]) -> Component {
    Component { kind: ComponentKind::Builder, name, ctor: Some(Ctor::Builder(ctor)), doc_sources }
}

const fn provisioner(name: &'static str, ctor: ProvisionerCtor, doc_sources: &'static [&'static str]) -> Component {
    Component { kind: ComponentKind::Provisioner, name, ctor: Some(Ctor::Provisioner(ctor)), doc_sources }
}

const fn post_processor(
    name: &'static str,
    ctor: PostProcessorCtor,
    doc_sources: &'static [&'static str],
) -> Component {
    Component { kind: ComponentKind::PostProcessor, name, ctor: Some(Ctor::PostProcessor(ctor)), doc_sources }
}

const fn data_source(name: &'static str, ctor: DataSourceCtor, doc_sources: &'static [&'static str]) -> Component {
    Component { kind: ComponentKind::DataSource, name, ctor: Some(Ctor::DataSource(ctor)), doc_sources }
}

const fn packer_only(kind: ComponentKind, name: &'static str) -> Component {
    Component { kind, name, ctor: None, doc_sources: &[] }
}

/// Every component type Packer (core and its official plugins) has, and kiln's implementations
/// of them, per kind in Packer's order.
pub const COMPONENTS: &[Component] = &[
    // Builders
    packer_only(ComponentKind::Builder, "alicloud-ecs"),
    packer_only(ComponentKind::Builder, "amazon-chroot"),
    builder(
        "amazon-ebs",
        kiln_amazon::ebs::new,
        &[
            "kiln-amazon/src/ebs/config.rs",
            "kiln-amazon/src/common/access.rs",
            "kiln-amazon/src/common/ami.rs",
            "kiln-amazon/src/common/run.rs",
            "kiln-comm/src/config.rs",
        ],
    ),
    packer_only(ComponentKind::Builder, "amazon-ebssurrogate"),
    packer_only(ComponentKind::Builder, "amazon-ebsvolume"),
    packer_only(ComponentKind::Builder, "amazon-instance"),
    packer_only(ComponentKind::Builder, "azure-arm"),
    packer_only(ComponentKind::Builder, "azure-chroot"),
    packer_only(ComponentKind::Builder, "azure-dtl"),
    packer_only(ComponentKind::Builder, "cloudstack"),
    packer_only(ComponentKind::Builder, "digitalocean"),
    builder("docker", kiln_docker::builder::new, &["kiln-docker/src/builder/config.rs", "kiln-comm/src/config.rs"]),
    builder("file", kiln_builders::file::new, &["kiln-builders/src/file/config.rs"]),
    packer_only(ComponentKind::Builder, "googlecompute"),
    packer_only(ComponentKind::Builder, "hcloud"),
    packer_only(ComponentKind::Builder, "hyperone"),
    packer_only(ComponentKind::Builder, "hyperv-iso"),
    packer_only(ComponentKind::Builder, "hyperv-vmcx"),
    packer_only(ComponentKind::Builder, "jdcloud"),
    packer_only(ComponentKind::Builder, "linode"),
    packer_only(ComponentKind::Builder, "lxc"),
    packer_only(ComponentKind::Builder, "lxd"),
    packer_only(ComponentKind::Builder, "ncloud"),
    builder("null", kiln_builders::null::new, &["kiln-builders/src/null/config.rs", "kiln-comm/src/config.rs"]),
    packer_only(ComponentKind::Builder, "oneandone"),
    packer_only(ComponentKind::Builder, "openstack"),
    packer_only(ComponentKind::Builder, "oracle-classic"),
    packer_only(ComponentKind::Builder, "oracle-oci"),
    packer_only(ComponentKind::Builder, "osc-bsu"),
    packer_only(ComponentKind::Builder, "osc-bsusurrogate"),
    packer_only(ComponentKind::Builder, "osc-bsuvolume"),
    packer_only(ComponentKind::Builder, "osc-chroot"),
    packer_only(ComponentKind::Builder, "parallels-iso"),
    packer_only(ComponentKind::Builder, "parallels-pvm"),
    packer_only(ComponentKind::Builder, "profitbricks"),
    packer_only(ComponentKind::Builder, "proxmox"),
    packer_only(ComponentKind::Builder, "proxmox-clone"),
    packer_only(ComponentKind::Builder, "proxmox-iso"),
    builder(
        "qemu",
        kiln_builders::qemu::new,
        &[
            "kiln-builders/src/qemu/config.rs",
            "kiln-builders/src/qemu/config.rs#BootConfig",
            "kiln-toolkit/src/download/mod.rs#IsoConfig",
            "kiln-toolkit/src/output.rs#OutputConfig",
            "kiln-toolkit/src/http.rs#HttpConfig",
            "kiln-toolkit/src/media_steps.rs#CdConfig",
            "kiln-toolkit/src/media_steps.rs#FloppyConfig",
            "kiln-toolkit/src/shutdown.rs#ShutdownConfig",
            "kiln-comm/src/config.rs",
        ],
    ),
    packer_only(ComponentKind::Builder, "scaleway"),
    packer_only(ComponentKind::Builder, "tencentcloud-cvm"),
    packer_only(ComponentKind::Builder, "triton"),
    packer_only(ComponentKind::Builder, "ucloud-uhost"),
    packer_only(ComponentKind::Builder, "vagrant"),
    packer_only(ComponentKind::Builder, "virtualbox-iso"),
    packer_only(ComponentKind::Builder, "virtualbox-ovf"),
    packer_only(ComponentKind::Builder, "virtualbox-vm"),
    packer_only(ComponentKind::Builder, "vmware-iso"),
    packer_only(ComponentKind::Builder, "vmware-vmx"),
    packer_only(ComponentKind::Builder, "vsphere-clone"),
    packer_only(ComponentKind::Builder, "vsphere-iso"),
    packer_only(ComponentKind::Builder, "yandex"),
    // Provisioners
    provisioner("ansible", kiln_provisioners::ansible::new, &["kiln-provisioners/src/ansible/mod.rs"]),
    provisioner("ansible-local", kiln_provisioners::ansible_local::new, &["kiln-provisioners/src/ansible_local.rs"]),
    provisioner("breakpoint", kiln_provisioners::breakpoint::new, &["kiln-provisioners/src/breakpoint.rs"]),
    packer_only(ComponentKind::Provisioner, "chef-client"),
    provisioner("chef-solo", kiln_provisioners::chef_solo::new, &["kiln-provisioners/src/chef_solo.rs"]),
    packer_only(ComponentKind::Provisioner, "converge"),
    provisioner("file", kiln_provisioners::file::new, &["kiln-provisioners/src/file.rs"]),
    packer_only(ComponentKind::Provisioner, "inspec"),
    packer_only(ComponentKind::Provisioner, "powershell"),
    provisioner(
        "puppet-masterless",
        kiln_provisioners::puppet_masterless::new,
        &["kiln-provisioners/src/puppet_masterless.rs"],
    ),
    packer_only(ComponentKind::Provisioner, "puppet-server"),
    packer_only(ComponentKind::Provisioner, "salt-masterless"),
    provisioner("shell", kiln_provisioners::shell::new, &["kiln-provisioners/src/shell.rs"]),
    provisioner("shell-local", kiln_provisioners::shell_local::new, &["kiln-comm/src/shell_local/config.rs"]),
    provisioner("sleep", kiln_provisioners::sleep::new, &["kiln-provisioners/src/sleep.rs"]),
    packer_only(ComponentKind::Provisioner, "windows-restart"),
    packer_only(ComponentKind::Provisioner, "windows-shell"),
    // Post-processors
    packer_only(ComponentKind::PostProcessor, "alicloud-import"),
    packer_only(ComponentKind::PostProcessor, "amazon-import"),
    post_processor("artifice", kiln_post::artifice::new, &["kiln-post/src/artifice.rs"]),
    post_processor("checksum", kiln_post::checksum::new, &["kiln-post/src/checksum.rs"]),
    post_processor("compress", kiln_post::compress::new, &["kiln-post/src/compress/mod.rs"]),
    packer_only(ComponentKind::PostProcessor, "digitalocean-import"),
    post_processor("docker-import", kiln_docker::post::import::new, &["kiln-docker/src/post/import.rs"]),
    post_processor("docker-push", kiln_docker::post::push::new, &["kiln-docker/src/post/push.rs"]),
    post_processor("docker-save", kiln_docker::post::save::new, &["kiln-docker/src/post/save.rs"]),
    post_processor("docker-tag", kiln_docker::post::tag::new, &["kiln-docker/src/post/tag.rs"]),
    packer_only(ComponentKind::PostProcessor, "exoscale-import"),
    packer_only(ComponentKind::PostProcessor, "googlecompute-export"),
    packer_only(ComponentKind::PostProcessor, "googlecompute-import"),
    post_processor("manifest", kiln_post::manifest::new, &["kiln-post/src/manifest.rs"]),
    post_processor("shell-local", kiln_post::shell_local::new, &["kiln-comm/src/shell_local/config.rs"]),
    packer_only(ComponentKind::PostProcessor, "ucloud-import"),
    post_processor("vagrant", kiln_post::vagrant::new, &["kiln-post/src/vagrant.rs"]),
    packer_only(ComponentKind::PostProcessor, "vagrant-cloud"),
    packer_only(ComponentKind::PostProcessor, "vsphere"),
    packer_only(ComponentKind::PostProcessor, "vsphere-template"),
    packer_only(ComponentKind::PostProcessor, "yandex-export"),
    packer_only(ComponentKind::PostProcessor, "yandex-import"),
    // Data sources
    data_source(
        "amazon-ami",
        kiln_amazon::data::ami::new,
        &["kiln-amazon/src/common/run.rs#AmiFilter", "kiln-amazon/src/common/access.rs"],
    ),
    data_source(
        "amazon-secretsmanager",
        kiln_amazon::data::secretsmanager::new,
        &["kiln-amazon/src/data/secretsmanager.rs", "kiln-amazon/src/common/access.rs"],
    ),
    data_source(
        "amazon-parameterstore",
        kiln_amazon::data::parameterstore::new,
        &["kiln-amazon/src/data/parameterstore.rs", "kiln-amazon/src/common/access.rs"],
    ),
    // HCP Packer's registry (a HashiCorp service kiln does not reach).
    packer_only(ComponentKind::DataSource, "hcp-packer-artifact"),
    packer_only(ComponentKind::DataSource, "hcp-packer-image"),
    packer_only(ComponentKind::DataSource, "hcp-packer-iteration"),
    packer_only(ComponentKind::DataSource, "hcp-packer-version"),
    data_source("http", kiln_datasources::http::new, &["kiln-datasources/src/http.rs"]),
    data_source("null", kiln_datasources::null::new, &["kiln-datasources/src/null.rs"]),
];

/// Every generated page: one per implemented type (`builder-null`, `provisioner-shell` …), then
/// the communicator options every builder that reaches a machine shares.
pub fn doc_pages() -> Vec<DocPage> {
    let components = COMPONENTS.iter().filter(|c| !c.doc_sources.is_empty()).map(|c| DocPage {
        name: format!("{}-{}", c.kind.noun().replace(' ', "-"), c.name),
        title: format!("`{}` {}", c.name, c.kind.noun()),
        sources: c.doc_sources,
        outputs: match c.ctor {
            Some(Ctor::DataSource(f)) => f().outputs(),
            _ => &[],
        },
    });
    let communicators = DocPage {
        name: "communicators".into(),
        title: "Communicator options".into(),
        sources: &["kiln-comm/src/config.rs"],
        outputs: &[],
    };
    components.chain([communicators]).collect()
}

/// The registry of [`COMPONENTS`]: the constructors of the implemented types and every name
/// Packer has.
pub fn registry() -> Registry {
    // How `kiln cleanup` deletes each kind of resource builders write to the cleanup journal.
    let cleaners = kiln_amazon::common::journal::CLEANERS.into_iter().fold(
        Registry::new()
            .cleaner(kiln_docker::JOURNAL_CONTAINER, kiln_docker::clean_container)
            .cleaner(kiln_docker::CACHE_SNAPSHOT, kiln_docker::clean_snapshot)
            .cleaner(kiln_builders::qemu::CACHE_SNAPSHOT, kiln_builders::qemu::clean_snapshot),
        |reg, (kind, cleaner)| reg.cleaner(kind, cleaner),
    );
    COMPONENTS.iter().fold(cleaners, |reg, c| {
        let reg = reg.known(c.kind, c.name);
        match c.ctor {
            Some(Ctor::Builder(f)) => reg.builder(c.name, f),
            Some(Ctor::Provisioner(f)) => reg.provisioner(c.name, f),
            Some(Ctor::PostProcessor(f)) => reg.post_processor(c.name, f),
            Some(Ctor::DataSource(f)) => reg.data_source(c.name, f),
            None => reg,
        }
    })
}

/// The step cache's shared store a `-cache-shared` / `KILN_CACHE_SHARED` URL names:
/// `file:///path` (a folder every machine mounts), `s3://bucket/prefix` (an S3 bucket) or
/// `oci://registry/repository` (an OCI registry).
pub fn shared_store(url: &str) -> Result<std::sync::Arc<dyn kiln_core::cache::SharedStore>, String> {
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(format!("{url:?}: a file:// URL needs an absolute path (file:///srv/kiln-cache)"));
        }
        return Ok(std::sync::Arc::new(kiln_core::cache::FolderStore::new(std::path::Path::new(path))));
    }
    if url.starts_with("s3://") {
        return Ok(std::sync::Arc::new(kiln_amazon::share::S3Store::from_url(url)?));
    }
    if url.starts_with("oci://") {
        return Ok(std::sync::Arc::new(kiln_docker::share::OciStore::from_url(url)?));
    }
    Err(format!(
        "{url:?}: the shared step cache is a file:///path, an s3://bucket/prefix or an oci://registry/repository URL"
    ))
}

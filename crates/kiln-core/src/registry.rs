//! The registry: component type names to constructors, and the names Packer knows.
//!
//! kiln-core knows no concrete component and no component name: the table in kiln-components
//! fills a [`Registry`], which is passed (`&Registry`) to whatever needs it. Constructing and
//! checking a build's components is [`crate::prepare`]'s job.

use std::sync::Arc;

use crate::component::{Builder, PostProcessor, Provisioner};
use crate::datasource::DataSource;
use crate::hook::ProvisionerFactory;
use crate::prepare::PostProcessorFactory;

/// The kind of a component, as Packer names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Builder,
    Provisioner,
    PostProcessor,
    DataSource,
}

impl ComponentKind {
    /// Every kind, in Packer's order.
    pub const ALL: [ComponentKind; 4] =
        [ComponentKind::Builder, ComponentKind::Provisioner, ComponentKind::PostProcessor, ComponentKind::DataSource];

    fn index(self) -> usize {
        match self {
            ComponentKind::Builder => 0,
            ComponentKind::Provisioner => 1,
            ComponentKind::PostProcessor => 2,
            ComponentKind::DataSource => 3,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            ComponentKind::Builder => "builder",
            ComponentKind::Provisioner => "provisioner",
            ComponentKind::PostProcessor => "post-processor",
            ComponentKind::DataSource => "data source",
        }
    }
}

pub type BuilderCtor = fn() -> Box<dyn Builder>;
pub type ProvisionerCtor = fn() -> Box<dyn Provisioner>;
pub type PostProcessorCtor = fn() -> Box<dyn PostProcessor>;
pub type DataSourceCtor = fn() -> Box<dyn DataSource>;

/// What a cleaner returns: deleting one journaled resource.
pub type CleanerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = crate::Result<()>> + Send>>;
/// Deletes a resource a killed kiln process left in the cleanup journal (`kiln cleanup`);
/// a resource already gone is success.
pub type Cleaner = fn(crate::journal::Entry) -> CleanerFuture;

/// A constructor that may hold state (an external plugin's binary and component name).
pub type BuilderFactory = Arc<dyn Fn() -> Box<dyn Builder> + Send + Sync>;

/// A data source constructor that may hold state.
pub type DataSourceFactory = Arc<dyn Fn() -> Box<dyn DataSource> + Send + Sync>;

/// Where a component type comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into kiln.
    BuiltIn,
    /// An external Packer plugin: how it is started (its binary and arguments).
    Plugin(String),
}

/// Type names to constructors, per kind, and the type names Packer has (so that a template
/// naming one kiln lacks gets "not implemented in kiln yet" rather than "unknown").
///
/// Names are `&'static str`: built-in ones are literals, and the few an external plugin adds
/// are leaked once (a registry lives as long as the command).
#[derive(Default)]
pub struct Registry {
    builders: Vec<(&'static str, BuilderFactory, Origin)>,
    provisioners: Vec<(&'static str, ProvisionerFactory, Origin)>,
    post_processors: Vec<(&'static str, PostProcessorFactory, Origin)>,
    data_sources: Vec<(&'static str, DataSourceFactory, Origin)>,
    names: [Vec<&'static str>; 4],
    known: [Vec<&'static str>; 4],
    cleaners: Vec<(&'static str, Cleaner)>,
}

/// Adds or replaces `name` in `list` (a later registration wins: an external plugin can take a
/// built-in type's place).
fn put<F>(
    list: &mut Vec<(&'static str, F, Origin)>,
    names: &mut Vec<&'static str>,
    name: &'static str,
    f: F,
    o: Origin,
) {
    match list.iter_mut().find(|(n, ..)| *n == name) {
        Some(entry) => *entry = (name, f, o),
        None => {
            list.push((name, f, o));
            names.push(name);
        }
    }
}

/// A `&'static str` for a name only known at run time (see [`Registry`]).
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn builder(mut self, name: &'static str, ctor: BuilderCtor) -> Registry {
        put(&mut self.builders, &mut self.names[0], name, Arc::new(ctor), Origin::BuiltIn);
        self
    }

    pub fn provisioner(mut self, name: &'static str, ctor: ProvisionerCtor) -> Registry {
        put(&mut self.provisioners, &mut self.names[1], name, Arc::new(ctor), Origin::BuiltIn);
        self
    }

    pub fn post_processor(mut self, name: &'static str, ctor: PostProcessorCtor) -> Registry {
        put(&mut self.post_processors, &mut self.names[2], name, Arc::new(ctor), Origin::BuiltIn);
        self
    }

    pub fn data_source(mut self, name: &'static str, ctor: DataSourceCtor) -> Registry {
        put(&mut self.data_sources, &mut self.names[3], name, Arc::new(ctor), Origin::BuiltIn);
        self
    }

    /// Registers how to delete journaled resources of `kind` ([`crate::journal`]).
    pub fn cleaner(mut self, kind: &'static str, cleaner: Cleaner) -> Registry {
        self.cleaners.push((kind, cleaner));
        self
    }

    /// The cleaner of journal entries of `kind`.
    pub fn cleaner_for(&self, kind: &str) -> Option<Cleaner> {
        self.cleaners.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c)
    }

    /// Adds (or replaces) builder type `name` made by `f`.
    pub fn builder_factory(mut self, name: &str, f: BuilderFactory, origin: Origin) -> Registry {
        let name = self.static_name(ComponentKind::Builder, name);
        put(&mut self.builders, &mut self.names[0], name, f, origin);
        self
    }

    /// Adds (or replaces) provisioner type `name` made by `f`.
    pub fn provisioner_factory_with(mut self, name: &str, f: ProvisionerFactory, origin: Origin) -> Registry {
        let name = self.static_name(ComponentKind::Provisioner, name);
        put(&mut self.provisioners, &mut self.names[1], name, f, origin);
        self
    }

    /// Adds (or replaces) post-processor type `name` made by `f`.
    pub fn post_processor_factory_with(mut self, name: &str, f: PostProcessorFactory, origin: Origin) -> Registry {
        let name = self.static_name(ComponentKind::PostProcessor, name);
        put(&mut self.post_processors, &mut self.names[2], name, f, origin);
        self
    }

    /// Adds (or replaces) data source type `name` made by `f`.
    pub fn data_source_factory(mut self, name: &str, f: DataSourceFactory, origin: Origin) -> Registry {
        let name = self.static_name(ComponentKind::DataSource, name);
        put(&mut self.data_sources, &mut self.names[3], name, f, origin);
        self
    }

    /// The registered or known `&'static` spelling of `name`, or a leaked copy.
    fn static_name(&self, kind: ComponentKind, name: &str) -> &'static str {
        let i = kind.index();
        self.names[i].iter().chain(&self.known[i]).find(|n| **n == name).copied().unwrap_or_else(|| leak(name))
    }

    /// Records that Packer has component type `name`, whether or not this registry can
    /// construct it.
    pub fn known(mut self, kind: ComponentKind, name: &'static str) -> Registry {
        self.known[kind.index()].push(name);
        self
    }

    /// The types this registry can construct, in the order they were added.
    pub fn names(&self, kind: ComponentKind) -> &[&'static str] {
        &self.names[kind.index()]
    }

    /// The types Packer has (implemented here or not), in the order they were recorded.
    pub fn known_to_packer(&self, kind: ComponentKind) -> &[&'static str] {
        &self.known[kind.index()]
    }

    /// Where type `name` comes from, when this registry can construct it.
    pub fn origin(&self, kind: ComponentKind, name: &str) -> Option<&Origin> {
        fn find<'a, F>(list: &'a [(&'static str, F, Origin)], name: &str) -> Option<&'a Origin> {
            list.iter().find(|(n, ..)| *n == name).map(|(.., o)| o)
        }
        match kind {
            ComponentKind::Builder => find(&self.builders, name),
            ComponentKind::Provisioner => find(&self.provisioners, name),
            ComponentKind::PostProcessor => find(&self.post_processors, name),
            ComponentKind::DataSource => find(&self.data_sources, name),
        }
    }

    pub fn new_builder(&self, name: &str) -> Option<Box<dyn Builder>> {
        self.builders.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c())
    }

    pub fn new_provisioner(&self, name: &str) -> Option<Box<dyn Provisioner>> {
        self.provisioners.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c())
    }

    pub fn new_post_processor(&self, name: &str) -> Option<Box<dyn PostProcessor>> {
        self.post_processors.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c())
    }

    pub fn new_data_source(&self, name: &str) -> Option<Box<dyn DataSource>> {
        self.data_sources.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c())
    }

    /// What makes provisioners of type `name`, for preparing them again at run time.
    pub fn provisioner_factory(&self, name: &str) -> Option<ProvisionerFactory> {
        self.provisioners.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c.clone())
    }

    /// What makes post-processors of type `name`, for configuring them again at run time.
    pub fn post_processor_factory(&self, name: &str) -> Option<PostProcessorFactory> {
        self.post_processors.iter().find(|(n, ..)| *n == name).map(|(_, c, _)| c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct B(&'static str);

    #[async_trait::async_trait]
    impl Builder for B {
        fn prepare(
            &mut self,
            _: &kiln_config::node::Node,
            _: &crate::component::BuildInfo,
        ) -> Result<Vec<kiln_config::diag::Diagnostic>, kiln_config::diag::Diagnostics> {
            Err(kiln_config::diag::Diagnostic::error(self.0).into())
        }
        async fn run(
            &self,
            _: &crate::component::RunContext,
            _: Arc<dyn crate::component::ProvisionHook>,
        ) -> crate::Result<Option<Arc<dyn crate::component::Artifact>>> {
            Ok(None)
        }
    }

    fn which(reg: &Registry, name: &str) -> String {
        let mut b = reg.new_builder(name).unwrap();
        b.prepare(&kiln_config::node::Node::null(), &Default::default()).unwrap_err().0[0].summary.clone()
    }

    #[test]
    fn a_later_registration_replaces_the_type_and_says_where_it_comes_from() {
        let reg = Registry::new().builder("null", || Box::new(B("built-in")));
        assert_eq!(which(&reg, "null"), "built-in");
        assert_eq!(reg.origin(ComponentKind::Builder, "null"), Some(&Origin::BuiltIn));
        let plugin = Origin::Plugin("packer-builder-null".into());
        let reg = reg
            .builder_factory("null", Arc::new(|| Box::new(B("plugin")) as Box<dyn Builder>), plugin.clone())
            .builder_factory("vsphere-iso", Arc::new(|| Box::new(B("vsphere")) as Box<dyn Builder>), plugin.clone());
        assert_eq!(which(&reg, "null"), "plugin");
        assert_eq!(which(&reg, "vsphere-iso"), "vsphere");
        assert_eq!(reg.names(ComponentKind::Builder), ["null", "vsphere-iso"]);
        assert_eq!(reg.origin(ComponentKind::Builder, "null"), Some(&plugin));
        assert_eq!(reg.origin(ComponentKind::Builder, "nope"), None);
    }
}

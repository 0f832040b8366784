//! The registry: component type names to constructors, and the names Packer knows.
//!
//! kiln-core knows no concrete component and no component name: the table in kiln-components
//! fills a [`Registry`], which is passed (`&Registry`) to whatever needs it. Constructing and
//! checking a build's components is [`crate::prepare`]'s job.

use crate::component::{Builder, PostProcessor, Provisioner};
use crate::datasource::DataSource;

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

/// Type names to constructors, per kind, and the type names Packer has (so that a template
/// naming one kiln lacks gets "not implemented in kiln yet" rather than "unknown").
#[derive(Default)]
pub struct Registry {
    builders: Vec<(&'static str, BuilderCtor)>,
    provisioners: Vec<(&'static str, ProvisionerCtor)>,
    post_processors: Vec<(&'static str, PostProcessorCtor)>,
    data_sources: Vec<(&'static str, DataSourceCtor)>,
    names: [Vec<&'static str>; 4],
    known: [Vec<&'static str>; 4],
    cleaners: Vec<(&'static str, Cleaner)>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn builder(mut self, name: &'static str, ctor: BuilderCtor) -> Registry {
        self.builders.push((name, ctor));
        self.names[ComponentKind::Builder.index()].push(name);
        self
    }

    pub fn provisioner(mut self, name: &'static str, ctor: ProvisionerCtor) -> Registry {
        self.provisioners.push((name, ctor));
        self.names[ComponentKind::Provisioner.index()].push(name);
        self
    }

    pub fn post_processor(mut self, name: &'static str, ctor: PostProcessorCtor) -> Registry {
        self.post_processors.push((name, ctor));
        self.names[ComponentKind::PostProcessor.index()].push(name);
        self
    }

    pub fn data_source(mut self, name: &'static str, ctor: DataSourceCtor) -> Registry {
        self.data_sources.push((name, ctor));
        self.names[ComponentKind::DataSource.index()].push(name);
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

    pub fn new_builder(&self, name: &str) -> Option<Box<dyn Builder>> {
        self.builders.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    pub fn new_provisioner(&self, name: &str) -> Option<Box<dyn Provisioner>> {
        self.provisioners.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    pub fn new_post_processor(&self, name: &str) -> Option<Box<dyn PostProcessor>> {
        self.post_processors.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    pub fn new_data_source(&self, name: &str) -> Option<Box<dyn DataSource>> {
        self.data_sources.iter().find(|(n, _)| *n == name).map(|(_, c)| c())
    }

    /// What makes provisioners of type `name`, for preparing them again at run time.
    pub fn provisioner_factory(&self, name: &str) -> Option<crate::hook::ProvisionerFactory> {
        let ctor = self.provisioners.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)?;
        Some(std::sync::Arc::new(ctor))
    }

    /// What makes post-processors of type `name`, for configuring them again at run time.
    pub fn post_processor_factory(&self, name: &str) -> Option<crate::prepare::PostProcessorFactory> {
        let ctor = self.post_processors.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)?;
        Some(std::sync::Arc::new(ctor))
    }
}

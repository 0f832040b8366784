//! kiln-core is the runtime between a loaded template and finished artifacts: the component
//! traits (builder, provisioner, post-processor, communicator), the one registry table of
//! component types, the step runner with cleanup, events and their renderers, and the scheduler
//! that runs builds in parallel.

pub mod registry;
pub mod select;

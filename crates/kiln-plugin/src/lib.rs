//! Packer's plugin protocol, host side: kiln starts an unmodified Packer plugin binary (Packer
//! 1.6.6's built-in components served with `packer plugin packer-builder-NAME`, or a
//! packer-plugin-sdk plugin `packer-plugin-NAME start builder NAME`) and drives its components.
//!
//! Layers, bottom up: [`process`] (start, handshake, log tail, SIGKILL on drop), [`yamux`]
//! (the multiplexer), `broker` (numbered streams either side serves), `rpc` (Go's net/rpc
//! framing with msgpack bodies, concurrent calls matched by sequence number), `gob` (the few
//! gob values the protocol carries), and the component clients on top.

mod artifact;
mod broker;
mod client;
pub mod communicator;
mod components;
pub mod describe;
pub mod error;
pub mod gob;
pub mod handshake;
pub mod hcldec;
pub mod host;
pub mod msgpack;
pub mod process;
pub mod proto;
mod rpc;
mod services;
pub mod yamux;

pub use artifact::ArtifactClient;
pub use client::{Client, StartTimings};
pub use components::{
    BuilderClient, ConfigValue, DatasourceClient, PostProcessed, PostProcessorClient, Prepared, ProvisionerClient,
};
pub use describe::{describe, ComponentKind, Description};
pub use error::{Error, ErrorKind, Result};
pub use host::{BoxRead, BoxWrite, CancelSignal, HostArtifact, HostCommunicator, HostHook, HostUi};
pub use process::PluginCommand;

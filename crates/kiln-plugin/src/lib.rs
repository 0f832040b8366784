//! Packer's plugin protocol, host side: kiln starts an unmodified Packer plugin binary (Packer
//! 1.6.6's built-in components served with `packer plugin packer-builder-NAME`, or a
//! packer-plugin-sdk plugin `packer-plugin-NAME start builder NAME`) and drives its components.
//!
//! ```text
//! let client = Client::start(PluginCommand::sdk(path, ComponentKind::Builder, "vsphere-iso")).await?;
//! let builder = client.builder();
//! let spec = builder.config_spec().await?;                 // for the HCL2 loader
//! builder.prepare(&[ConfigValue::Json(config), ConfigValue::Json(packer_values)]).await?;
//! let artifact = builder.run(ui, hook).await?;              // hook: HostHook, gets a PluginCommunicator
//! ```
//!
//! Layers, bottom up: [`process`] (start, handshake, log tail, SIGKILL of the process group on
//! drop), [`yamux`] (the multiplexer), `broker` (numbered streams either side serves), `rpc`
//! (Go's net/rpc framing with msgpack bodies, concurrent calls matched by sequence number, the
//! host's servers answering the plugin's callbacks concurrently), [`gob`] and [`proto`] (the
//! encodings the protocol carries specs and values in), and the component clients on top.
//!
//! Facts checked against Packer 1.6.6 and a packer-plugin-sdk style plugin (tests/):
//! - the cookie is `PACKER_PLUGIN_MAGIC_COOKIE`=`d602bf8f…72b2`; the handshake is `5|unix|PATH`
//!   (1.6.6) or `5|0|unix|PATH` (SDK); the plugin unlinks its socket once connected, and ignores
//!   SIGTERM only after that;
//! - kiln is the yamux client and dials stream 0 for the component; a broker stream starts with
//!   its little-endian u32 id, echoed back by the side that accepts it;
//! - requests are `{ServiceMethod, Seq}` + argument, replies `{ServiceMethod, Seq, Error}` +
//!   result, msgpack maps keyed by Go field names; a `[]byte` travels as `bin`, a `time.Time`
//!   as the timestamp extension (-1);
//! - `ConfigSpec` is gob of an hcldec.ObjectSpec whose cty types are nested gob streams (protobuf
//!   under `--protobuf`); HCL2 configs go as the bytes of cty's JSON `{"value","type"}`;
//! - a command's exit status comes back as gob `CommandFinished{ExitStatus}` on its own stream.
//!
//! yamux is this crate's own (about 450 lines of tokio): the libp2p `yamux` crate was tried
//! first and interoperates too, but needs the futures compatibility layer and a task polling
//! its connection; owning it keeps the dependency tree small and lets a broken session say
//! what happened to the plugin. Start-up cost on top of the plugin's own (spawn to handshake,
//! ~30-50 ms for Packer 1.6.6): about 1 ms to connect, open yamux and get stream 0 acknowledged.

pub mod adapter;
mod artifact;
mod broker;
mod client;
pub mod communicator;
mod components;
pub mod core_comm;
pub mod describe;
pub mod discover;
pub mod error;
pub mod gob;
pub mod handshake;
pub mod hcldec;
pub mod host;
pub mod install;
pub mod msgpack;
pub mod process;
pub mod proto;
mod rpc;
pub mod runtime;
mod services;
pub mod version;
pub mod yamux;

pub use artifact::ArtifactClient;
pub use client::{Client, StartTimings};
pub use components::{
    BuilderClient, ConfigValue, DatasourceClient, PostProcessed, PostProcessorClient, Prepared, ProvisionerClient,
};
pub use core_comm::CoreCommunicator;
pub use describe::{describe, ComponentKind, Description};
pub use error::{Error, ErrorKind, Result};
pub use host::{BoxRead, BoxWrite, CancelSignal, HostArtifact, HostCommunicator, HostHook, HostUi};
pub use process::PluginCommand;

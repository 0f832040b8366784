//! The builder toolkit: Packer's common builder steps, typed, shared by every builder.
//!
//! A builder's state embeds a [`CommonState`] ([`HasCommon`], [`impl_has_common!`]) and its
//! `steps()` list takes the shared steps from here: [`output::StepOutputDir`],
//! [`download::StepDownload`], [`http::StepHttpServer`], [`media_steps::StepCreateCd`] /
//! [`media_steps::StepCreateFloppy`], [`keypair::StepTempKeyPair`], [`connect::StepConnect`],
//! [`shutdown::StepShutdown`]; [`reserve`] holds ports, VNC displays and paths so parallel
//! builds (threads or processes) never share one. Each part has its config struct with Packer's
//! option names, decoded from the builder's configuration object with the builder's own options
//! (`kiln_config::decode::decode_parts`). docs/architecture.md ("builder toolkit") is the guide.
//!
//! [`media`] writes the CD (ISO9660 with Rock Ridge and Joliet) and floppy (FAT12/FAT16)
//! images that builders attach to their machines (`cd_files`, `cd_content`, `cd_label`,
//! `floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label`), in pure Rust and with the
//! same bytes for the same input.

pub mod common;
pub mod connect;
pub mod download;
pub mod http;
pub mod keypair;
pub mod media;
pub mod media_steps;
pub mod output;
pub mod reserve;
pub mod shutdown;
pub mod testing;

pub use common::{CommonState, HasCommon};

#[doc(hidden)]
pub mod __private {
    pub use kiln_comm::authorized_keys::HasTempKey;
    pub use kiln_comm::keys::TempKeyPair;
    pub use kiln_core::cache::Snapshot;
    pub use kiln_core::hook::HasCommunicator;
    pub use kiln_core::{Communicator, GeneratedData};
}

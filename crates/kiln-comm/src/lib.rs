//! Communicators: how a build runs commands on its machine and moves files to and from it.
//!
//! [`config::Config`] holds Packer's communicator options (embedded in builders' configs with
//! [`kiln_config::decode::decode_split`]); [`config::Config::connect`] turns it into a
//! [`kiln_core::Communicator`]. `local` runs on this machine (shell-local uses it), `none`
//! refuses every operation, `ssh` reaches a machine over SSH (russh).
//! [`authorized_keys`] removes a build's temporary key from the machine
//! (`ssh_clear_authorized_keys`). [`shell_local`] is the engine that runs commands and scripts
//! on this machine for the `shell-local` provisioner and post-processor.

pub mod authorized_keys;
pub mod config;
pub mod keys;
pub mod local;
pub mod none;
pub mod shell_local;
pub mod ssh;
#[doc(hidden)]
pub mod transfer;

pub use config::Config;
pub use local::Local;
pub use none::NoneComm;

/// Shell quoting lives with the communicator seam (its provided `remove_file` needs it).
pub use kiln_core::communicator::{escape_single_quoted, shell_quote};

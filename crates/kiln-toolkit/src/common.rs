//! What every builder's state holds for the toolkit's steps: [`CommonState`], reached through
//! [`HasCommon`], so one step serves every builder while each builder keeps its own typed state.
//!
//! A builder embeds a `CommonState` field in its state struct and names it with
//! [`impl_has_common!`](crate::impl_has_common), which also implements kiln-core's
//! `HasCommunicator` (for `StepProvision`) and kiln-comm's `HasTempKey` (for
//! `StepCleanupTempKeys`). A builder with nothing of its own can use `CommonState` as its state.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use kiln_comm::keys::TempKeyPair;
use kiln_core::{Communicator, GeneratedData};

use crate::reserve::Reservation;

/// The part of a build's state the toolkit's steps read and write. Each field is set by one
/// step (named on the field) and read by later ones; builders read them too (the CD's path to
/// attach it, the HTTP port for a boot command).
#[derive(Default)]
pub struct CommonState {
    /// The connection to the machine (`StepConnect`); dropped by its cleanup.
    pub comm: Option<Arc<dyn Communicator>>,
    /// The build's generated data (`build.Host`, `HTTPPort` …), filled by the steps and the
    /// builder; what provisioners and post-processors see.
    pub generated: GeneratedData,
    /// The build's temporary SSH key pair (`StepTempKeyPair`), which `StepConnect` logs in with.
    pub temp_key: Option<TempKeyPair>,
    /// The machine's address as the builder knows it (an instance's IP; QEMU: `127.0.0.1`),
    /// used by `StepConnect` when `ssh_host` is not set.
    pub host: Option<String>,
    /// The port the builder forwarded to the machine's SSH port (QEMU's host port), used by
    /// `StepConnect` instead of `ssh_port` when set.
    pub port: Option<u16>,
    /// Where the HTTP server listens (`StepHttpServer`).
    pub http_addr: Option<SocketAddr>,
    /// The running HTTP server (`StepHttpServer`); dropping it stops it.
    pub http_server: Option<crate::http::HttpServer>,
    /// The build's output directory (`StepOutputDir`).
    pub output_dir: Option<PathBuf>,
    /// The downloaded (or local) ISO or disk image (`StepDownload`).
    pub iso_path: Option<PathBuf>,
    /// The CD image to attach (`StepCreateCd`).
    pub cd_path: Option<PathBuf>,
    /// The floppy image to attach (`StepCreateFloppy`).
    pub floppy_path: Option<PathBuf>,
    /// Ports, displays and paths held for the build's life (released when dropped).
    pub reservations: Vec<Reservation>,
}

impl CommonState {
    /// Sets one generated-data value (`Host`, `HTTPPort` …).
    pub fn set_data(&mut self, key: &str, value: impl Into<String>) {
        self.generated.insert(key.to_string(), value.into());
    }
}

/// Build state that embeds a [`CommonState`]: what the toolkit's steps are generic over.
pub trait HasCommon: Send + Sync {
    fn common(&self) -> &CommonState;
    fn common_mut(&mut self) -> &mut CommonState;
}

impl HasCommon for CommonState {
    fn common(&self) -> &CommonState {
        self
    }
    fn common_mut(&mut self) -> &mut CommonState {
        self
    }
}

impl kiln_core::hook::HasCommunicator for CommonState {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
    fn generated_data(&self) -> GeneratedData {
        self.generated.clone()
    }
}

impl kiln_comm::authorized_keys::HasTempKey for CommonState {
    fn temp_key(&self) -> Option<&TempKeyPair> {
        self.temp_key.as_ref()
    }
}

/// Implements [`HasCommon`], kiln-core's `HasCommunicator` and kiln-comm's `HasTempKey` for a
/// builder's state struct through its `CommonState` field:
///
/// ```ignore
/// struct State { common: kiln_toolkit::CommonState, vm: Option<Vm> }
/// kiln_toolkit::impl_has_common!(State, common);
/// ```
#[macro_export]
macro_rules! impl_has_common {
    ($ty:ty, $field:ident) => {
        $crate::impl_has_common!(@common $ty, $field, {});
    };
    // A state that also implements kiln-core's `cache::Snapshot` (the step cache).
    ($ty:ty, $field:ident, snapshots) => {
        $crate::impl_has_common!(@common $ty, $field, {
            fn snapshots(&mut self) -> Option<&mut dyn $crate::__private::Snapshot> {
                Some(self)
            }
        });
    };
    (@common $ty:ty, $field:ident, { $($extra:tt)* }) => {
        impl $crate::__private::HasCommunicator for $ty {
            fn communicator(&self) -> Option<std::sync::Arc<dyn $crate::__private::Communicator>> {
                self.$field.comm.clone()
            }
            fn generated_data(&self) -> $crate::__private::GeneratedData {
                self.$field.generated.clone()
            }
            $($extra)*
        }
        impl $crate::HasCommon for $ty {
            fn common(&self) -> &$crate::CommonState {
                &self.$field
            }
            fn common_mut(&mut self) -> &mut $crate::CommonState {
                &mut self.$field
            }
        }
        impl $crate::__private::HasTempKey for $ty {
            fn temp_key(&self) -> Option<&$crate::__private::TempKeyPair> {
                self.$field.temp_key.as_ref()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_comm::authorized_keys::HasTempKey;
    use kiln_core::hook::HasCommunicator;

    struct State {
        common: CommonState,
        own: u32,
    }
    crate::impl_has_common!(State, common);

    #[test]
    fn a_builder_state_reaches_the_common_part() {
        let mut s = State { common: CommonState::default(), own: 7 };
        s.common_mut().set_data("Host", "10.0.0.5");
        s.common_mut().temp_key = Some(TempKeyPair::generate("packer_t").unwrap());
        assert_eq!(s.generated_data()["Host"], "10.0.0.5");
        assert!(s.communicator().is_none());
        assert!(s.temp_key().unwrap().public_authorized_key.ends_with(" packer_t"));
        assert_eq!(s.own, 7);
    }
}

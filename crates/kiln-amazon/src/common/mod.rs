//! What the amazon builders share: the option sets Packer's amazon builders have in common
//! (access, AMI, run), tags and block devices, names of temporary resources, the address kiln
//! connects from, and the AMI artifact.

pub mod access;
pub mod ami;
pub mod artifact;
pub mod block_device;
pub mod decode;
pub mod find_image;
pub mod journal;
pub mod names;
pub mod regions;
pub mod run;
pub mod source_address;
pub mod tags;

/// A client error as a build error; the client's cancellation becomes the build's.
pub fn aws_error(e: crate::client::Error, what: impl std::fmt::Display) -> kiln_core::Error {
    match e {
        crate::client::Error::Cancelled => kiln_core::Error::cancelled(),
        e => kiln_core::Error::new(format!("{what}: {e}")),
    }
}

//! CD and floppy images for builders: `cd_*` and `floppy_*` options.

mod error;
pub mod fat;
mod glob;
pub mod iso9660;
pub mod time;
mod tree;

use std::path::PathBuf;

pub use error::MediaError;
pub use fat::FloppySpec;
pub use iso9660::CdSpec;
pub use time::Timestamp;

/// Where one entry of an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local file, opened when the image is written and copied in pieces (never loaded
    /// whole). Symbolic links are followed.
    File(PathBuf),
    /// Content held in memory (`cd_content`, `floppy_content`).
    Bytes(Vec<u8>),
    /// A directory; empty unless other entries go below it.
    Directory,
}

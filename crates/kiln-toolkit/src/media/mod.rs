//! CD and floppy images for builders: Packer's `cd_*` and `floppy_*` options.
//!
//! A builder turns its options into a spec ([`CdOptions::spec`], [`FloppyOptions::spec`]),
//! or builds a [`CdSpec`] / [`FloppySpec`] itself, and writes the image with `create(path)`.
//! Images are written in pure Rust ([`iso9660`]: ISO9660 + Rock Ridge + Joliet; [`fat`]:
//! FAT12/FAT16 with long names), file contents streamed from disk, and the same spec always
//! gives the same bytes (one timestamp: `SOURCE_DATE_EPOCH`, else 1980-01-01; entries sorted).
//!
//! # Packer's options, as implemented
//!
//! Behaviour follows Packer's documentation and, where it says nothing, what Packer's code
//! does (checked side by side with Packer 1.6.6 in `tests/packer_oracle.rs`).
//!
//! - **Relative paths and patterns** start at the directory the builder passes (Packer: the
//!   working directory). A path containing `*`, `?` or `[` is a glob (Go's `filepath.Glob`:
//!   `*` stays within one directory and matches dot files, `[^a-z]` negates, `\` escapes,
//!   no `**`, a pattern ending in `/` matches nothing); a glob that matches nothing adds
//!   nothing, a malformed one is an error. Any other path must exist.
//! - **`cd_files`**: a file goes to the CD's root under its own name. A directory written
//!   without a trailing slash (`dir`) is copied as itself, `dir/`, `dir/.` and `.` copy its
//!   content to the root; each match of a glob is taken as written that way (`dir/*` puts the
//!   directory's files and subdirectories at the root). Directories are copied recursively with
//!   empty directories; a later entry replaces an earlier file at the same path.
//! - **`cd_content`**: path → content, added after `cd_files`; it replaces a file of the same
//!   path, creates the directories it needs; `..` may not climb out of the root.
//! - **`cd_label`**: empty means `packer` (as in Packer); kept as written (`cidata`), at most 32
//!   printable ASCII characters (Joliet holds the first 16).
//! - **`floppy_files`**: every file goes to the floppy's root; a directory contributes every
//!   file below it, recursively, flattened. Two files that end up with one name (case
//!   ignored, as FAT does) are an error, as they are in Packer.
//! - **`floppy_dirs`**: a directory is copied as itself with its structure, with or without a
//!   trailing slash (`.` is copied under its own name); a file goes to the root; globs allowed.
//! - **`floppy_content`**: path → content, added last, replacing a file of the same name (case
//!   ignored); directories are created.
//! - **`floppy_label`**: empty means `packer`; kept as written (lower case too), at most 11
//!   characters of what a FAT label may hold. The floppy is 1.44 MB FAT12 and content that
//!   does not fit is an error before anything is written.
//! - **Symbolic links** are followed everywhere (Packer copies a link's target); a link back
//!   into its own parent directories is an error. Sockets, devices and fifos are errors.
//!
//! Where kiln differs from Packer (listed in docs/compatibility.md): a floppy keeps the case
//! of every name (Packer's FAT library stores a name that fits 8.3 in upper case only);
//! symbolic links to directories inside a copied directory are followed (Packer fails on
//! them); `..` in content paths and `..` as a `cd_files` entry never leave the image's root;
//! a `cd_files` file and directory at one path, or a `*_content` key naming a directory, is
//! an error before the image is written.

mod error;
pub mod fat;
mod glob;
pub mod iso9660;
pub(crate) mod options;
pub mod time;
mod tree;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use error::MediaError;
pub use fat::FloppySpec;
pub use iso9660::CdSpec;
pub use options::{CdOptions, FloppyOptions, DEFAULT_LABEL};
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

/// Writes an image to a new file at `path` with `write` (an existing file is never replaced);
/// on error the partial file is removed.
fn create_image(
    path: &Path,
    write: impl FnOnce(&mut dyn Write, Option<&Path>) -> Result<u64, MediaError>,
) -> Result<u64, MediaError> {
    let werr = |source| MediaError::Write { path: Some(path.to_path_buf()), source };
    let file = fs::File::create_new(path).map_err(werr)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let result = write(&mut out, Some(path)).and_then(|n| out.flush().map(|_| n).map_err(werr));
    if result.is_err() {
        drop(out);
        let _ = fs::remove_file(path);
    }
    result
}

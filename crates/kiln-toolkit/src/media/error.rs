//! What can go wrong while gathering files for a CD or floppy and writing its image.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An error from [`crate::media`]: each says which file or path it is about and what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum MediaError {
    /// A local file or directory could not be read.
    Read { path: PathBuf, source: io::Error },
    /// The image could not be written.
    Write { path: Option<PathBuf>, source: io::Error },
    /// A path named in an option does not exist.
    NotFound { option: &'static str, path: String },
    /// A glob pattern is malformed (Go's `filepath.Match` syntax).
    BadPattern { option: &'static str, pattern: String, reason: &'static str },
    /// A local path is neither a regular file nor a directory (socket, device, fifo).
    NotRegular { path: PathBuf },
    /// A local directory contains itself through a symbolic link.
    SymlinkLoop { path: PathBuf },
    /// A local file name is not valid UTF-8, so it has no name on the image.
    NonUtf8Name { path: PathBuf },
    /// A destination path cannot be placed on the image (empty, `..`, NUL …).
    BadPath { path: String, reason: String },
    /// A file name cannot be stored on this kind of image.
    BadName { path: String, medium: &'static str, reason: String },
    /// Two entries want the same place (a file where a directory is, or the reverse; or two
    /// files whose names a FAT file system sees as one).
    Conflict { path: String, reason: String },
    /// The volume label cannot be used.
    BadLabel { label: String, medium: &'static str, reason: String },
    /// One file is too large for the image format.
    FileTooLarge { path: String, size: u64, limit: u64, hint: &'static str },
    /// The content does not fit on the image.
    DoesNotFit { needed: u64, capacity: u64, hint: String },
    /// The image would need more directory entries or directories than the format allows.
    TooManyEntries { path: String, needed: u64, limit: u64, hint: &'static str },
    /// A file's size changed between planning the image and copying it.
    Changed { path: PathBuf, expected: u64 },
    /// The requested image size is not one this writer can format.
    BadSize { size: u64, reason: String },
    /// `SOURCE_DATE_EPOCH` is set but is not a number of seconds since 1970.
    BadSourceDateEpoch { value: String },
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MediaError::*;
        match self {
            Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Write { path: Some(path), source } => {
                write!(f, "cannot write the image {}: {source}", path.display())
            }
            Write { path: None, source } => write!(f, "cannot write the image: {source}"),
            NotFound { option, path } => {
                write!(
                    f,
                    "{option}: {path} does not exist; check the path (relative paths start at the working directory)"
                )
            }
            BadPattern { option, pattern, reason } => {
                write!(
                    f,
                    "{option}: the pattern {pattern:?} is malformed ({reason}); escape a literal *, ? or [ with \\"
                )
            }
            NotRegular { path } => {
                write!(
                    f,
                    "{} is neither a regular file nor a directory; only files and directories can go on the image",
                    path.display()
                )
            }
            SymlinkLoop { path } => {
                write!(f, "{} leads back into one of its own parent directories through a symbolic link; remove the link or list the files you need", path.display())
            }
            NonUtf8Name { path } => {
                write!(f, "the name of {} is not valid UTF-8; rename the file", path.display())
            }
            BadPath { path, reason } => write!(f, "the path {path:?} cannot be placed on the image: {reason}"),
            BadName { path, medium, reason } => {
                write!(f, "the name {path:?} cannot be stored on a {medium}: {reason}; rename the file")
            }
            Conflict { path, reason } => write!(f, "{path:?}: {reason}"),
            BadLabel { label, medium, reason } => write!(f, "the {medium} label {label:?} cannot be used: {reason}"),
            FileTooLarge { path, size, limit, hint } => {
                write!(f, "{path:?} is {size} bytes, more than the {limit} bytes one file may have here; {hint}")
            }
            DoesNotFit { needed, capacity, hint } => {
                write!(f, "the content does not fit: it needs {needed} bytes, the image holds {capacity}; {hint}")
            }
            TooManyEntries { path, needed, limit, hint } => {
                write!(f, "{path:?} needs {needed} entries, at most {limit} are possible; {hint}")
            }
            Changed { path, expected } => {
                write!(f, "{} changed while the image was written (it was {expected} bytes); write the image again once the file is stable", path.display())
            }
            BadSize { size, reason } => write!(f, "an image of {size} bytes cannot be made: {reason}"),
            BadSourceDateEpoch { value } => {
                write!(f, "SOURCE_DATE_EPOCH is {value:?}, not a whole number of seconds since 1970-01-01; set it to one or unset it")
            }
        }
    }
}

impl std::error::Error for MediaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MediaError::Read { source, .. } | MediaError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub(crate) fn read_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> MediaError {
    let path = path.into();
    move |source| MediaError::Read { path, source }
}

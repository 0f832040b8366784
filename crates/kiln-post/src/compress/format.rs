//! Which archive and which compression an output name or a `format` asks for.

use std::path::Path;

/// Packing several files into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    Zip,
}

/// Compressing one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Gzip,
    Lz4,
    Bgzf,
    Xz,
}

impl Algorithm {
    /// The name Packer's messages use.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Gzip => "pgzip",
            Algorithm::Lz4 => "lz4",
            Algorithm::Bgzf => "bgzf",
            Algorithm::Xz => "xz",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Algorithm::Gzip => "gz",
            Algorithm::Lz4 => "lz4",
            Algorithm::Bgzf => "bgzf",
            Algorithm::Xz => "xz",
        }
    }
    /// Whether kiln compresses it on every core.
    pub fn parallel(self) -> bool {
        matches!(self, Algorithm::Gzip | Algorithm::Bgzf | Algorithm::Xz)
    }
}

/// An archive, a compression, or both (`.tar.gz`). Zip compresses by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub archive: Option<ArchiveKind>,
    pub algorithm: Option<Algorithm>,
}

const TAR_GZ: Format = Format { archive: Some(ArchiveKind::Tar), algorithm: Some(Algorithm::Gzip) };

/// The values `format` takes (with or without a leading dot, any case).
pub const NAMES: &[&str] = &["tar.gz", "tgz", "gz", "zip", "tar", "lz4", "tar.lz4", "bgzf", "tar.bgzf", "xz", "tar.xz"];

fn algorithm(ext: &str) -> Option<Algorithm> {
    Some(match ext {
        "gz" => Algorithm::Gzip,
        "lz4" => Algorithm::Lz4,
        "bgzf" => Algorithm::Bgzf,
        "xz" => Algorithm::Xz,
        _ => return None,
    })
}

/// The format of a file name's last one or two extensions (`a.tar.gz`, `a.zip`, `a.lz4`);
/// tar + gzip when they name no format (Packer's fallback).
fn from_exts(last: &str, before: Option<&str>) -> Option<Format> {
    let tar_before = before == Some("tar");
    Some(match last {
        "zip" => Format { archive: Some(ArchiveKind::Zip), algorithm: None },
        "tar" => Format { archive: Some(ArchiveKind::Tar), algorithm: None },
        "tgz" => TAR_GZ,
        e => {
            let a = algorithm(e)?;
            Format { archive: tar_before.then_some(ArchiveKind::Tar), algorithm: Some(a) }
        }
    })
}

/// The format of the final output file name.
pub fn detect(output: &str) -> Format {
    let name =
        Path::new(output).file_name().map_or_else(|| output.to_lowercase(), |n| n.to_string_lossy().to_lowercase());
    let mut parts = name.rsplit('.');
    let last = parts.next();
    let before = parts.next();
    match (last, before) {
        // A name without a dot has no extension at all.
        (Some(last), Some(before)) => {
            // `before` is only an extension when something precedes it (`.tar.gz` vs `tar.gz`)...
            let before = if parts.next().is_some() { Some(before) } else { None };
            from_exts(last, before).unwrap_or(TAR_GZ)
        }
        _ => TAR_GZ,
    }
}

/// A `format` value, `None` when unknown.
pub fn parse(format: &str) -> Option<Format> {
    let f = format.trim().trim_start_matches('.').to_lowercase();
    if !NAMES.contains(&f.as_str()) {
        return None;
    }
    let mut parts = f.rsplit('.');
    let last = parts.next()?;
    from_exts(last, parts.next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(archive: Option<ArchiveKind>, algorithm: Option<Algorithm>) -> Format {
        Format { archive, algorithm }
    }

    #[test]
    fn from_final_names() {
        use Algorithm::*;
        use ArchiveKind::*;
        assert_eq!(detect("out/a.tar.gz"), f(Some(Tar), Some(Gzip)));
        assert_eq!(detect("a.tgz"), f(Some(Tar), Some(Gzip)));
        assert_eq!(detect("disk.raw.gz"), f(None, Some(Gzip)));
        assert_eq!(detect("a.zip"), f(Some(Zip), None));
        assert_eq!(detect("a.tar"), f(Some(Tar), None));
        assert_eq!(detect("a.LZ4"), f(None, Some(Lz4)));
        assert_eq!(detect("a.tar.lz4"), f(Some(Tar), Some(Lz4)));
        assert_eq!(detect("a.bgzf"), f(None, Some(Bgzf)));
        assert_eq!(detect("a.tar.bgzf"), f(Some(Tar), Some(Bgzf)));
        assert_eq!(detect("a.tar.xz"), f(Some(Tar), Some(Xz)));
        // No or unknown extension: tar + gzip, as Packer.
        assert_eq!(detect("packer_null_null"), TAR_GZ);
        assert_eq!(detect("a.box"), TAR_GZ);
        // Only the file name counts, not the folders.
        assert_eq!(detect("out.zip/image"), TAR_GZ);
        assert_eq!(detect("tar.gz"), f(None, Some(Gzip)));
    }

    #[test]
    fn format_values() {
        assert_eq!(parse("tar.gz"), Some(TAR_GZ));
        assert_eq!(parse(".ZIP"), Some(f(Some(ArchiveKind::Zip), None)));
        assert_eq!(parse("gz"), Some(f(None, Some(Algorithm::Gzip))));
        assert_eq!(parse("bogus"), None);
        assert_eq!(parse("tar.zip"), None);
    }
}

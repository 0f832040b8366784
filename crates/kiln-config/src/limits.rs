//! The size cap on what kiln reads and computes from a template: one limit, one reader.
//!
//! Every template, variable file and file a template function reads goes through
//! [`read_input`]: it must be a regular file (a FIFO or `/dev/zero` would never end) and no larger
//! than [`max_bytes`]. Evaluators check the values they build against the same cap
//! ([`check_size`]), so a chain of locals that each double a string stops with an error at the
//! expression that crossed it instead of exhausting memory. The cap is 256 MiB unless the
//! environment variable `KILN_MAX_VALUE_BYTES` sets another number of bytes.

use std::io::Read;
use std::path::Path;

use crate::diag::{Diagnostic, SourceFile, Span};

/// The environment variable that sets the cap, in bytes.
pub const MAX_BYTES_ENV: &str = "KILN_MAX_VALUE_BYTES";

const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The cap on a file read for a template and on one value computed from it, in bytes.
pub fn max_bytes() -> u64 {
    std::env::var(MAX_BYTES_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(DEFAULT_MAX_BYTES)
}

/// The error for a value of `size` bytes over the cap, without location (callers add it).
pub fn check_size(size: usize) -> Result<(), String> {
    let max = max_bytes();
    if size as u64 > max {
        return Err(format!(
            "the value is {size} bytes, more than the limit of {max} bytes (set {MAX_BYTES_ENV} to raise it)"
        ));
    }
    Ok(())
}

/// Reads the file at `path` whole: a regular file (symlinks to one are fine) of at most
/// [`max_bytes`]. The error says which rule was broken, without the path (callers name it).
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a directory" } else { "not a regular file (a device, FIFO or socket)" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {what}")));
    }
    let max = max_bytes();
    if meta.len() > max {
        return Err(too_big(meta.len(), max));
    }
    // The file may grow while it is read: never read past the cap.
    read_bounded(file)
}

/// Reads `r` to its end, refusing more than [`max_bytes`] (standard input, a pipe).
pub fn read_bounded(r: impl Read) -> std::io::Result<Vec<u8>> {
    let max = max_bytes();
    let mut bytes = Vec::new();
    r.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64, max));
    }
    Ok(bytes)
}

fn too_big(len: u64, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("it is {len} bytes, more than the limit of {max} bytes (set {MAX_BYTES_ENV} to raise it)"),
    )
}

/// Reads a template or variable file as text: [`read_input`], then UTF-8, with invalid UTF-8
/// reported at the line and column of the first bad byte. `what` names the file in errors
/// ("the template", "the variable file").
pub fn read_source(path: &Path, what: &str) -> Result<String, Diagnostic> {
    let bytes = read_input(path).map_err(|e| {
        Diagnostic::error(format!("cannot read {what} {}: {e}", path.display()))
            .with_help("name a readable regular file")
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        // The lossy text has the same bytes up to the first invalid one.
        let file = SourceFile::new(path, text);
        Diagnostic::error(format!("{what} is not valid UTF-8"))
            .at(Span::at_char(&file, at))
            .with_help("save the file as UTF-8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_input(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_input(Path::new("/")).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let dir = std::env::temp_dir().join(format!("kiln-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.pkr.hcl");
        std::fs::write(&p, b"a = 1\n# caf\xe9\n").unwrap();
        let d = read_source(&p, "the template").unwrap_err().to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(d.contains("t.pkr.hcl:2:6"), "{d}");
    }
}

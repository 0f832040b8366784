//! The tree of files and directories an image holds, built from `(destination, source)` pairs.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::error::read_err;
use super::{MediaError, Source};

/// The longest name a component may have: Rock Ridge's and Linux's limit, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 255;

#[derive(Debug)]
pub(crate) struct Dir<'a> {
    /// Sorted by name (bytes), so every walk over the tree is in one fixed order.
    pub children: BTreeMap<String, Node<'a>>,
}

#[derive(Debug)]
pub(crate) enum Node<'a> {
    File(File<'a>),
    Dir(Dir<'a>),
}

#[derive(Debug)]
pub(crate) struct File<'a> {
    pub content: Content<'a>,
    pub size: u64,
    /// A local file with an execute bit keeps it (Rock Ridge mode 0755 instead of 0644).
    pub executable: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Content<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

impl<'a> Dir<'a> {
    /// Builds the tree. A later file replaces an earlier one at the same path; a file and a
    /// directory at one path is an error.
    pub fn build(entries: &'a [(String, Source)]) -> Result<Dir<'a>, MediaError> {
        let mut root = Dir { children: BTreeMap::new() };
        for (dest, source) in entries {
            let parts = split_dest(dest)?;
            let node = match source {
                Source::Directory => None,
                Source::Bytes(bytes) => {
                    Some(File { content: Content::Bytes(bytes), size: bytes.len() as u64, executable: false })
                }
                Source::File(path) => Some(local_file(path)?),
            };
            root.insert(dest, &parts, node)?;
        }
        Ok(root)
    }

    fn insert(&mut self, dest: &str, parts: &[&str], node: Option<File<'a>>) -> Result<(), MediaError> {
        let mut dir = self;
        let (last, parents) = parts.split_last().ok_or_else(|| bad_path(dest, "it names no file"))?;
        for (i, part) in parents.iter().enumerate() {
            let child = dir.children.entry(part.to_string()).or_insert_with(|| Node::Dir(Dir::empty()));
            dir = match child {
                Node::Dir(d) => d,
                Node::File(_) => {
                    return Err(MediaError::Conflict {
                        path: dest.to_string(),
                        reason: format!("{} is a file, so it cannot hold other files", parts[..=i].join("/")),
                    })
                }
            };
        }
        let conflict = |what: &str| MediaError::Conflict { path: dest.to_string(), reason: what.to_string() };
        match (dir.children.get(*last), node) {
            (Some(Node::Dir(_)), Some(_)) => Err(conflict("a directory is already at this path, so a file cannot be")),
            (Some(Node::File(_)), None) => Err(conflict("a file is already at this path, so a directory cannot be")),
            (Some(Node::Dir(_)), None) => Ok(()),
            (_, Some(file)) => {
                dir.children.insert(last.to_string(), Node::File(file));
                Ok(())
            }
            (None, None) => {
                dir.children.insert(last.to_string(), Node::Dir(Dir::empty()));
                Ok(())
            }
        }
    }

    pub fn empty() -> Dir<'a> {
        Dir { children: BTreeMap::new() }
    }
}

fn bad_path(dest: &str, reason: &str) -> MediaError {
    MediaError::BadPath { path: dest.to_string(), reason: reason.to_string() }
}

/// The components of a destination path: `/` separates them, empty and `.` components are
/// dropped (so `/a//b/./c` is `a/b/c`), `..` is refused rather than resolved.
pub(crate) fn split_dest(dest: &str) -> Result<Vec<&str>, MediaError> {
    let parts: Vec<&str> = dest.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.is_empty() {
        return Err(bad_path(dest, "it names no file (empty, or only `/` and `.`)"));
    }
    for part in &parts {
        if *part == ".." {
            return Err(bad_path(dest, "`..` would leave the image's root; write the path without it"));
        }
        if part.contains('\0') {
            return Err(bad_path(dest, "it contains a NUL character"));
        }
        if part.len() > MAX_NAME_BYTES {
            return Err(bad_path(dest, &format!("the name {part:?} is longer than {MAX_NAME_BYTES} bytes")));
        }
    }
    Ok(parts)
}

fn local_file(path: &Path) -> Result<File<'_>, MediaError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => MediaError::NotFound { option: "file", path: path.display().to_string() },
        _ => read_err(path)(e),
    })?;
    if !meta.is_file() {
        return Err(MediaError::NotRegular { path: path.to_path_buf() });
    }
    Ok(File { content: Content::Path(path), size: meta.len(), executable: is_executable(&meta) })
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &fs::Metadata) -> bool {
    false
}

/// Copies exactly `file.size` bytes of the file to `out`; a local file that has grown or shrunk
/// since the tree was built is an error rather than a silently wrong image.
pub(crate) fn copy_content(file: &File<'_>, out: &mut dyn Write, out_path: Option<&Path>) -> Result<(), MediaError> {
    let write_err = |source| MediaError::Write { path: out_path.map(Path::to_path_buf), source };
    match file.content {
        Content::Bytes(bytes) => out.write_all(bytes).map_err(write_err),
        Content::Path(path) => {
            let changed = || MediaError::Changed { path: PathBuf::from(path), expected: file.size };
            let mut input = fs::File::open(path).map_err(read_err(path))?;
            // Large pieces: reading data not yet cached is several times faster that way.
            let mut buf = vec![0u8; (file.size.clamp(1, 1 << 20)) as usize];
            let mut left = file.size;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = match input.read(&mut buf[..want]) {
                    Ok(0) => return Err(changed()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(read_err(path)(e)),
                };
                out.write_all(&buf[..n]).map_err(write_err)?;
                left -= n as u64;
            }
            match input.read(&mut buf[..1]) {
                Ok(0) => Ok(()),
                Ok(_) => Err(changed()),
                Err(e) => Err(read_err(path)(e)),
            }
        }
    }
}

/// Writes `n` zero bytes.
pub(crate) fn write_zeros(out: &mut dyn Write, mut n: u64) -> io::Result<()> {
    const ZEROS: [u8; 8192] = [0; 8192];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        out.write_all(&ZEROS[..k])?;
        n -= k as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Dir<'_>) -> Vec<String> {
        dir.children.keys().cloned().collect()
    }

    #[test]
    fn later_files_replace_earlier_ones_and_directories_merge() {
        let entries = vec![
            ("b/x".to_string(), Source::Bytes(b"one".to_vec())),
            ("/a".to_string(), Source::Directory),
            ("b//./x".to_string(), Source::Bytes(b"two".to_vec())),
            ("b".to_string(), Source::Directory),
        ];
        let root = Dir::build(&entries).unwrap();
        assert_eq!(names(&root), ["a", "b"]);
        let Some(Node::Dir(b)) = root.children.get("b") else { panic!("b is a directory") };
        let Some(Node::File(x)) = b.children.get("x") else { panic!("b/x is a file") };
        assert!(matches!(x.content, Content::Bytes(b"two")));
    }

    #[test]
    fn a_file_that_changed_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        for size in [4, 6] {
            let file = File { content: Content::Path(&path), size, executable: false };
            let err = copy_content(&file, &mut Vec::new(), None).unwrap_err();
            assert!(matches!(err, MediaError::Changed { expected, .. } if expected == size), "{err}");
        }
        let file = File { content: Content::Path(&path), size: 5, executable: false };
        let mut out = Vec::new();
        copy_content(&file, &mut out, None).unwrap();
        assert_eq!(out, b"12345");
    }

    #[test]
    fn conflicts_and_bad_paths_are_errors() {
        let long = "x".repeat(256);
        let cases: Vec<Vec<(&str, Source)>> = vec![
            vec![("a", Source::Bytes(vec![])), ("a/b", Source::Bytes(vec![]))],
            vec![("a/b", Source::Bytes(vec![])), ("a", Source::Bytes(vec![]))],
            vec![("a", Source::Bytes(vec![])), ("a", Source::Directory)],
            vec![("../a", Source::Bytes(vec![]))],
            vec![("./", Source::Bytes(vec![]))],
            vec![("a\0b", Source::Bytes(vec![]))],
            vec![(long.as_str(), Source::Bytes(vec![]))],
        ];
        for case in cases {
            let entries: Vec<(String, Source)> = case.into_iter().map(|(d, s)| (d.to_string(), s)).collect();
            let err = Dir::build(&entries).unwrap_err();
            assert!(matches!(err, MediaError::Conflict { .. } | MediaError::BadPath { .. }), "{err}");
        }
    }
}

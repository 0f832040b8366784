//! Packer's `cd_*` and `floppy_*` options turned into image specs, with Packer's meaning.
//! The module documentation of [`crate::media`] lists the behaviours.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::error::read_err;
use super::glob;
use super::{CdSpec, FloppySpec, MediaError, Source};

/// Packer's label when `cd_label` or `floppy_label` is empty.
pub const DEFAULT_LABEL: &str = "packer";

/// Packer's CD options (`cd_files`, `cd_content`, `cd_label`), as a builder's config holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdOptions {
    /// `cd_files`: files, directories and glob patterns.
    pub files: Vec<String>,
    /// `cd_content`: path on the CD to its content.
    pub content: BTreeMap<String, String>,
    /// `cd_label`; empty means `packer`.
    pub label: String,
}

/// Packer's floppy options (`floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloppyOptions {
    /// `floppy_files`: files, directories and glob patterns, all put at the floppy's root.
    pub files: Vec<String>,
    /// `floppy_dirs`: directories (and files, and glob patterns) copied with their structure.
    pub dirs: Vec<String>,
    /// `floppy_content`: path on the floppy to its content.
    pub content: BTreeMap<String, String>,
    /// `floppy_label`; empty means `packer`.
    pub label: String,
}

/// One gathered entry and the local path or option it came from (for error messages).
struct Item {
    dest: String,
    source: Source,
    origin: String,
}

impl CdOptions {
    /// No CD is made when there is nothing to put on it (as in Packer).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.content.is_empty()
    }

    /// The CD these options describe, checked ([`CdSpec::check`]). Relative paths and
    /// patterns start at `base` (Packer: the working directory). Local files are read when
    /// the image is written.
    pub fn spec(&self, base: &Path) -> Result<CdSpec, MediaError> {
        let mut items = Vec::new();
        for entry in &self.files {
            for (disk, shown) in expand("cd_files", base, entry)? {
                let meta = stat(&disk)?;
                if meta.is_dir() {
                    let prefix = dir_name_as_written(&shown);
                    if !prefix.is_empty() {
                        items.push(Item { dest: prefix.clone(), source: Source::Directory, origin: shown.clone() });
                    }
                    Walker { flat: false, items: &mut items }.walk(&disk, &prefix, &mut Vec::new())?;
                } else {
                    items.push(file_item(&disk, &shown, base_name(&shown))?);
                }
            }
        }
        let files = with_content(items, &self.content, false)?;
        let label = if self.label.is_empty() { DEFAULT_LABEL.to_string() } else { self.label.clone() };
        let spec = CdSpec { label, files, timestamp: None };
        spec.check()?;
        Ok(spec)
    }
}

impl FloppyOptions {
    /// No floppy is made when there is nothing to put on it (as in Packer).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty() && self.content.is_empty()
    }

    /// The floppy these options describe (1.44 MB), checked ([`FloppySpec::check`]): content
    /// that does not fit is an error here. Relative paths and patterns start at `base`
    /// (Packer: the working directory).
    pub fn spec(&self, base: &Path) -> Result<FloppySpec, MediaError> {
        let mut items = Vec::new();
        for entry in &self.files {
            for (disk, shown) in expand("floppy_files", base, entry)? {
                if stat(&disk)?.is_dir() {
                    Walker { flat: true, items: &mut items }.walk(&disk, "", &mut Vec::new())?;
                } else {
                    items.push(file_item(&disk, &shown, base_name(&shown))?);
                }
            }
        }
        for entry in &self.dirs {
            for (disk, shown) in expand("floppy_dirs", base, entry)? {
                if stat(&disk)?.is_dir() {
                    let prefix = last_component(&lexical_absolute(&disk));
                    if !prefix.is_empty() {
                        items.push(Item { dest: prefix.clone(), source: Source::Directory, origin: shown.clone() });
                    }
                    Walker { flat: false, items: &mut items }.walk(&disk, &prefix, &mut Vec::new())?;
                } else {
                    items.push(file_item(&disk, &shown, base_name(&shown))?);
                }
            }
        }
        // Packer's FAT library refuses a second file of the same name (case ignored).
        let mut seen: HashMap<String, &Item> = HashMap::new();
        for item in items.iter().filter(|i| !matches!(i.source, Source::Directory)) {
            if let Some(first) = seen.insert(item.dest.to_uppercase(), item) {
                return Err(MediaError::Conflict {
                    path: item.dest.clone(),
                    reason: format!(
                        "both {} and {} would be this file on the floppy (floppy_files puts every file at the root, and FAT names ignore case); rename one, or use floppy_dirs to keep directories",
                        first.origin, item.origin
                    ),
                });
            }
        }
        let files = with_content(items, &self.content, true)?;
        let label = if self.label.is_empty() { DEFAULT_LABEL.to_string() } else { self.label.clone() };
        let spec = FloppySpec { label, files, ..FloppySpec::default() };
        spec.check()?;
        Ok(spec)
    }
}

/// A pattern's matches (none is fine, as in Packer), or the path itself, which must exist.
fn expand(option: &'static str, base: &Path, entry: &str) -> Result<Vec<(PathBuf, String)>, MediaError> {
    if glob::is_pattern(entry) {
        return glob::glob(base, entry).map_err(|reason| MediaError::BadPattern {
            option,
            pattern: entry.to_string(),
            reason,
        });
    }
    let disk = base.join(entry);
    match fs::metadata(&disk) {
        Ok(_) => Ok(vec![(disk, entry.to_string())]),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(MediaError::NotFound { option, path: entry.to_string() }),
        Err(e) => Err(read_err(disk)(e)),
    }
}

/// Follows symbolic links, as Packer does (`os.Stat`).
fn stat(path: &Path) -> Result<fs::Metadata, MediaError> {
    fs::metadata(path).map_err(read_err(path))
}

fn file_item(disk: &Path, shown: &str, dest: String) -> Result<Item, MediaError> {
    let meta = stat(disk)?;
    if !meta.is_file() {
        return Err(MediaError::NotRegular { path: disk.to_path_buf() });
    }
    Ok(Item { dest, source: Source::File(disk.to_path_buf()), origin: shown.to_string() })
}

/// The last name in a path as written, trailing slashes ignored (Go's `filepath.Base`).
fn base_name(shown: &str) -> String {
    shown.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string()
}

/// `cd_files`' rule: a directory written with a trailing `/` (or as `.`, `dir/.`, `..`)
/// copies its content to the root; otherwise the directory itself, by its name.
fn dir_name_as_written(shown: &str) -> String {
    match shown.rsplit('/').next().unwrap_or_default() {
        "" | "." | ".." => String::new(),
        name => name.to_string(),
    }
}

/// `path` made absolute (from the working directory) and cleaned of `.` and `..` without
/// touching the file system, as Go's `filepath.Abs` does.
pub(crate) fn lexical_absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn last_component(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Adds `*_content` after the files: content takes precedence over a file at the same path
/// (on a floppy also one whose name differs only in case). Keys are cleaned as Go's
/// `filepath.Join` cleans them, but may not climb out of the root.
fn with_content(
    mut items: Vec<Item>,
    content: &BTreeMap<String, String>,
    ignore_case: bool,
) -> Result<Vec<(String, Source)>, MediaError> {
    let norm = |s: &str| if ignore_case { s.to_uppercase() } else { s.to_string() };
    for (key, value) in content {
        let dest = clean_key(key)?;
        items.retain(|i| matches!(i.source, Source::Directory) || norm(&i.dest) != norm(&dest));
        items.push(Item { dest, source: Source::Bytes(value.clone().into_bytes()), origin: key.clone() });
    }
    Ok(items.into_iter().map(|i| (i.dest, i.source)).collect())
}

fn clean_key(key: &str) -> Result<String, MediaError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in key.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(MediaError::BadPath {
                        path: key.to_string(),
                        reason: "`..` climbs out of the image's root; write the path from the root".into(),
                    });
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(MediaError::BadPath { path: key.to_string(), reason: "it names no file".into() });
    }
    Ok(parts.join("/"))
}

/// Walks a local directory in name order, following symbolic links.
struct Walker<'i> {
    /// `floppy_files`: every file at the root, no directories.
    flat: bool,
    items: &'i mut Vec<Item>,
}

impl Walker<'_> {
    fn walk(&mut self, dir: &Path, dest: &str, ancestors: &mut Vec<PathBuf>) -> Result<(), MediaError> {
        let canonical = fs::canonicalize(dir).map_err(read_err(dir))?;
        if ancestors.contains(&canonical) {
            return Err(MediaError::SymlinkLoop { path: dir.to_path_buf() });
        }
        ancestors.push(canonical);
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_err(dir))? {
            let entry = entry.map_err(read_err(dir))?;
            let name = entry.file_name().into_string().map_err(|_| MediaError::NonUtf8Name { path: entry.path() })?;
            names.push(name);
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let child_dest = if dest.is_empty() { name.clone() } else { format!("{dest}/{name}") };
            let meta = stat(&path)?;
            let origin = path.display().to_string();
            if meta.is_dir() {
                if !self.flat {
                    self.items.push(Item { dest: child_dest.clone(), source: Source::Directory, origin });
                }
                self.walk(&path, &child_dest, ancestors)?;
            } else {
                let dest = if self.flat { name } else { child_dest };
                self.items.push(file_item(&path, &origin, dest)?);
            }
        }
        ancestors.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_packer_reads_them() {
        assert_eq!(base_name("a/b/"), "b");
        assert_eq!(base_name("file"), "file");
        assert_eq!(dir_name_as_written("dir/"), "");
        assert_eq!(dir_name_as_written("./dir"), "dir");
        assert_eq!(dir_name_as_written("dir/."), "");
        assert_eq!(clean_key("/a/./b/../c").unwrap(), "a/c");
        assert!(clean_key("../x").is_err());
        assert!(clean_key("a/..").is_err());
    }
}

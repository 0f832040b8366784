//! Local file and folder copies with Packer's folder rule: a source ending in `/` copies the
//! folder's contents into the destination; without it, the folder itself is copied into it.

use std::path::Path;

use kiln_core::{Error, Result};

pub fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
    }
    std::fs::copy(src, dst).map_err(|e| Error::new(format!("copying {} to {}: {e}", src.display(), dst.display())))?;
    Ok(())
}

/// Copies folder `src` to `dst` with the trailing-slash rule; `exclude` names entries (relative
/// to `src`) to skip.
pub fn copy_dir_packer(src: &Path, dst: &Path, exclude: &[String]) -> Result<()> {
    let contents_only = src.to_string_lossy().ends_with('/');
    let target = if contents_only {
        dst.to_path_buf()
    } else {
        match src.file_name() {
            Some(name) => dst.join(name),
            None => dst.to_path_buf(),
        }
    };
    copy_tree(src, &target, Path::new(""), exclude)
}

fn copy_tree(src: &Path, dst: &Path, rel: &Path, exclude: &[String]) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| Error::new(format!("creating {}: {e}", dst.display())))?;
    let entries = std::fs::read_dir(src).map_err(|e| Error::new(format!("reading {}: {e}", src.display())))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let rel = rel.join(&name);
        if exclude.iter().any(|x| Path::new(x) == rel) {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&from, &to, &rel, exclude)?;
        } else {
            copy_file(&from, &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_rule() {
        let base = std::env::temp_dir().join(format!("kiln-transfer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("src/sub")).unwrap();
        std::fs::write(base.join("src/a"), "a").unwrap();
        std::fs::write(base.join("src/sub/b"), "b").unwrap();
        std::fs::write(base.join("src/skip"), "x").unwrap();
        let skip = vec!["skip".to_string()];
        copy_dir_packer(&base.join("src"), &base.join("d1"), &skip).unwrap();
        assert!(base.join("d1/src/sub/b").is_file());
        assert!(!base.join("d1/src/skip").exists());
        let with_slash = format!("{}/", base.join("src").display());
        copy_dir_packer(Path::new(&with_slash), &base.join("d2"), &[]).unwrap();
        assert_eq!(std::fs::read_to_string(base.join("d2/a")).unwrap(), "a");
        assert!(base.join("d2/sub/b").is_file());
        let _ = std::fs::remove_dir_all(&base);
    }
}

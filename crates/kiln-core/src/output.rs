//! Output folders and files of builders and post-processors, with Packer's `-force` rule: an
//! existing output is never overwritten unless `-force` asks for it (then it is deleted first).

use std::path::Path;

use crate::{Error, Result};

/// Makes `dir` ready to receive a build's output: an error if it exists (and is not empty)
/// without `force`; deleted and recreated with `force`.
pub fn prepare_output_dir(dir: &Path, force: bool) -> Result<()> {
    let exists_non_empty = dir.read_dir().map(|mut r| r.next().is_some()).unwrap_or(false);
    if exists_non_empty || dir.is_file() {
        if !force {
            return Err(Error::new(format!(
                "output directory {} already exists; delete it, choose another output_directory, or run with -force",
                dir.display()
            )));
        }
        let r = if dir.is_file() { std::fs::remove_file(dir) } else { std::fs::remove_dir_all(dir) };
        r.map_err(|e| Error::new(format!("deleting {} for -force: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))
}

/// Checks that an output file may be written: an error if it exists without `force`.
pub fn check_output_file(file: &Path, force: bool) -> Result<()> {
    if file.exists() && !force {
        return Err(Error::new(format!("output file {} already exists; delete it or run with -force", file.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_rule() {
        let d = std::env::temp_dir().join(format!("kiln-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        prepare_output_dir(&d, false).unwrap();
        // Empty folders are fine.
        prepare_output_dir(&d, false).unwrap();
        std::fs::write(d.join("disk.img"), "x").unwrap();
        let e = prepare_output_dir(&d, false).unwrap_err();
        assert!(e.message.contains("run with -force"), "{e}");
        assert!(check_output_file(&d.join("disk.img"), false).is_err());
        check_output_file(&d.join("disk.img"), true).unwrap();
        prepare_output_dir(&d, true).unwrap();
        assert!(!d.join("disk.img").exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}

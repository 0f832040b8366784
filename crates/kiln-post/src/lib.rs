//! kiln's post-processors, one module each.

pub mod artifice;
pub mod checksum;
pub mod compress;
pub mod manifest;
pub mod shell_local;

use kiln_core::BuildInfo;
use std::collections::BTreeMap;

/// The fields Packer's post-processor templates know (`{{.BuildName}}`, `{{.BuilderType}}`).
pub(crate) fn template_data(info: &BuildInfo) -> BTreeMap<String, String> {
    [("BuildName", info.name.as_str()), ("BuilderType", info.builder_type.as_str())]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `Created artifact from files: a, b` — the description Packer gives file artifacts.
pub(crate) fn files_description(files: &[String]) -> String {
    format!("Created artifact from files: {}", files.join(", "))
}

#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    /// A fresh folder for one test, `kiln-post-<tag>-<pid>` in the system's temporary folder,
    /// removed when dropped (also when the test fails).
    pub struct Dir(pub PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let d = std::env::temp_dir().join(format!("kiln-post-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
        /// Writes `data` to `name` in the folder; its path.
        pub fn file(&self, name: &str, data: &[u8]) -> String {
            let p = self.0.join(name);
            std::fs::write(&p, data).unwrap();
            p.to_string_lossy().into_owned()
        }
        pub fn path(&self, name: &str) -> String {
            self.0.join(name).to_string_lossy().into_owned()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use kiln_plugin::PluginCommand;

/// Whether `tool` is on PATH; when it is not, the test is skipped with a note, or fails under
/// KILN_REQUIRE_TOOLS=1.
pub fn have(tool: &str) -> bool {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false);
    if !found {
        if std::env::var("KILN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{tool} is required (KILN_REQUIRE_TOOLS=1) but not on PATH");
        }
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Packer 1.6.6 serving one of its built-in components as a plugin.
pub fn packer(component: &str) -> PluginCommand {
    PluginCommand::new("packer").args(["plugin", component]).call_timeout(Duration::from_secs(60))
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kiln-plugin-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

use std::sync::Mutex;

use async_trait::async_trait;
use kiln_plugin::communicator::PluginCommunicator;
use kiln_plugin::{CancelSignal, HostHook, HostUi};

/// A Ui that keeps what the plugin said, as `kind: text` lines.
#[derive(Default)]
pub struct RecordingUi(pub Mutex<Vec<String>>);

impl RecordingUi {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, kind: &str, text: &str) {
        self.0.lock().unwrap().push(format!("{kind}: {text}"));
    }
}

#[async_trait]
impl HostUi for RecordingUi {
    async fn say(&self, m: &str) {
        self.push("say", m)
    }
    async fn message(&self, m: &str) {
        self.push("message", m)
    }
    async fn error(&self, m: &str) {
        self.push("error", m)
    }
    async fn machine(&self, category: &str, args: &[String]) {
        self.push("machine", &format!("{category} {args:?}"))
    }
}

/// A hook that records its calls and succeeds.
#[derive(Default)]
pub struct RecordingHook(pub Mutex<Vec<(String, serde_json::Value)>>);

#[async_trait]
impl HostHook for RecordingHook {
    async fn run(
        &self,
        name: &str,
        _comm: PluginCommunicator,
        data: serde_json::Value,
        _cancel: CancelSignal,
    ) -> Result<(), String> {
        self.0.lock().unwrap().push((name.to_string(), data));
        Ok(())
    }
}

/// The `packer_*` values Packer passes next to a legacy template's builder config.
pub fn packer_values(build_name: &str, builder_type: &str) -> serde_json::Value {
    serde_json::json!({
        "packer_build_name": build_name,
        "packer_builder_type": builder_type,
        "packer_core_version": "1.6.6",
        "packer_debug": false,
        "packer_force": false,
        "packer_on_error": "cleanup",
        "packer_template_path": "/dev/null",
        "packer_user_variables": {},
    })
}

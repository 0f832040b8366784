//! Test support for the engine tests: templates through the real JSON loader, a run with the
//! component registry, output capture; temporary folders are kiln_testing::TempDir.
#![allow(dead_code)]

pub use kiln_testing::TempDir;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use kiln_template::plan::Template;

/// A legacy JSON template loaded by kiln's own JSON loader, as `kiln build` loads it
/// (spans name `template.json`).
pub fn template(json: &str) -> Template {
    let opts = kiln_template::LoadOptions { stage: kiln_template::Stage::Full, ..Default::default() };
    let file = kiln_template::SourceFile::new("template.json", json);
    kiln_template::json::load_source(file, &opts, kiln_gotmpl::render).unwrap_or_else(|e| panic!("{e}"))
}

/// A shared byte buffer to render into.
#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `t` with `settings`, rendering with `format` into a buffer: (exit code, output).
pub fn run(t: &Template, settings: &kiln_core::RunSettings, format: kiln_core::render::Format) -> (u8, String) {
    let buf = Buf::default();
    let ui = kiln_core::Ui::new(kiln_core::render::renderer_to(format, Box::new(buf.clone())));
    let reg = kiln_components::registry();
    let reported = std::sync::Mutex::new(String::new());
    let report = |s: &str| reported.lock().unwrap().push_str(s);
    let input = kiln_core::RunInput { builds: &t.builds, sensitive_values: &t.sensitive_values };
    let r = kiln_core::run_template(&reg, input, settings, &ui, &report);
    let reported = reported.into_inner().unwrap();
    (r.exit_code(), format!("{reported}{}", buf.text()))
}

pub fn plain() -> kiln_core::render::Format {
    kiln_core::render::Format::Human { color: false, timestamps: false }
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// A null builder connecting to `sshd` (a private sshd on 127.0.0.1) with its key.
pub fn sshd_builder(sshd: &kiln_testing::sshd::Sshd) -> serde_json::Value {
    serde_json::json!({"type": "null", "ssh_host": "127.0.0.1", "ssh_port": sshd.port,
        "ssh_username": sshd.user, "ssh_private_key_file": sshd.key})
}

/// Builds a template of [`sshd_builder`] and `provisioners` (a JSON list): exit code and output.
pub fn build_on_sshd(sshd: &kiln_testing::sshd::Sshd, provisioners: serde_json::Value) -> (u8, String) {
    let t = serde_json::json!({"builders": [sshd_builder(sshd)], "provisioners": provisioners});
    run(&template(&t.to_string()), &kiln_core::RunSettings::default(), plain())
}

/// Writes `text` to `path`, creating its folder.
pub fn write_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `path`'s text; a failure names the file.
pub fn read_file(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

//! Builds through kiln's engine, as `kiln build` runs them: a JSON template loaded by
//! kiln's loader, a registry with the docker components and kiln's shell and file
//! provisioners, `kiln_core::run_template`, human output captured.

use std::io::Write;
use std::sync::{Arc, Mutex};

use kiln_core::registry::Registry;
use kiln_core::RunSettings;
use kiln_template::plan::Template;

/// The components these tests use (the binary's table registers the same constructors).
pub fn registry() -> Registry {
    Registry::new()
        .builder("docker", kiln_docker::builder::new)
        .provisioner("shell", kiln_provisioners::shell::new)
        .provisioner("file", kiln_provisioners::file::new)
        .post_processor("docker-import", kiln_docker::post::import::new)
        .post_processor("docker-tag", kiln_docker::post::tag::new)
        .post_processor("docker-push", kiln_docker::post::push::new)
        .post_processor("docker-save", kiln_docker::post::save::new)
}

/// A legacy JSON template through kiln's own loader (spans name `template.json`).
pub fn template(json: &str) -> Template {
    let opts = kiln_template::LoadOptions { stage: kiln_template::Stage::Full, ..Default::default() };
    let file = kiln_template::SourceFile::new("template.json", json);
    kiln_template::json::load_source(file, &opts, kiln_gotmpl::render).unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `t` against the engine at `host` (None: no engine is needed): (exit code,
/// output). Blocking: call it from `spawn_blocking` or a plain test. Every test of a
/// test binary must use the same host: the override is the process's.
pub fn run(host: Option<&str>, t: &Template, settings: &RunSettings) -> (u8, String) {
    if let Some(host) = host {
        kiln_docker::set_host_override(Some(host.to_string()));
    }
    let buf = Buf::default();
    let format = kiln_core::render::Format::Human { color: false, timestamps: false };
    let ui = kiln_core::Ui::new(kiln_core::render::renderer_to(format, Box::new(buf.clone())));
    let reported = Mutex::new(String::new());
    let report = |s: &str| {
        if let Ok(mut r) = reported.lock() {
            r.push_str(s);
        }
    };
    let r = kiln_core::run_template(
        &registry(),
        kiln_core::RunInput { builds: &t.builds, sensitive_values: &t.sensitive_values },
        settings,
        &ui,
        &report,
    );
    let text = String::from_utf8_lossy(&buf.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned();
    let reported = reported.into_inner().unwrap_or_default();
    (r.exit_code(), format!("{reported}{text}"))
}

/// The container IDs a build's output names (`Container ID: …`).
pub fn containers(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.split("Container ID: ").nth(1)).map(|s| s.trim().to_string()).collect()
}

/// The image ID a commit's output names (`Image ID: …`).
pub fn image_id(out: &str) -> Option<String> {
    out.lines().find_map(|l| l.split("Image ID: ").nth(1)).map(|s| s.trim().to_string())
}

/// JSON string literal of `s`, for templates written with format!.
pub fn js(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

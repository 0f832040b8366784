//! Test support for the engine tests: a tiny stand-in for the JSON loader (no interpolation)
//! that turns a legacy JSON template into a plan, and a registry and output capture.
#![allow(dead_code)]

#[path = "../../src/components.rs"]
pub mod components;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kiln_template::node::{Node, NodeKind};
use kiln_template::plan::{self, Template, TemplateKind};

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("kiln-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn go_duration(n: Option<&Node>) -> Option<std::time::Duration> {
    n.and_then(Node::as_str).and_then(|s| kiln_template::decode::parse_go_duration(s).ok())
}

fn without(n: &Node, keys: &[&str]) -> Node {
    match &n.kind {
        NodeKind::Object(m) => {
            Node::object(m.iter().filter(|(k, _)| !keys.contains(&k.name.as_str())).cloned().collect(), n.span.clone())
        }
        _ => n.clone(),
    }
}

fn items(n: Option<&Node>) -> Vec<Node> {
    match n.map(|n| &n.kind) {
        Some(NodeKind::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

/// A JSON template as the JSON loader will hand it over (no `{{ }}` support).
pub fn template(json: &str) -> Template {
    let root = kiln_template::testing::json_node("template.json", json).unwrap();
    let mut t = Template::new(TemplateKind::Json, "template.json");
    let names: Vec<String> = items(root.get("builders"))
        .iter()
        .map(|b| b.get("name").or(b.get("type")).and_then(Node::as_str).unwrap_or("").to_string())
        .collect();
    for b in items(root.get("builders")) {
        let ty = b.get("type").and_then(Node::as_str).unwrap_or("").to_string();
        let name = b.get("name").and_then(Node::as_str).unwrap_or(&ty).to_string();
        let mut provisioners = Vec::new();
        for p in items(root.get("provisioners")) {
            let listed =
                |k: &str| items(p.get(k)).iter().filter_map(|n| n.as_str().map(String::from)).collect::<Vec<_>>();
            let (only, except) = (listed("only"), listed("except"));
            if (!only.is_empty() && !only.contains(&name)) || except.contains(&name) {
                continue;
            }
            provisioners.push(plan::Provisioner {
                provisioner_type: p.get("type").and_then(Node::as_str).unwrap_or("").into(),
                name: None,
                config: without(&p, &["type", "only", "except", "pause_before", "max_retries", "timeout", "override"]),
                pause_before: go_duration(p.get("pause_before")),
                max_retries: p
                    .get("max_retries")
                    .and_then(|n| match n.kind {
                        NodeKind::Number(x) => Some(x as u32),
                        _ => None,
                    })
                    .unwrap_or(0),
                timeout: go_duration(p.get("timeout")),
                span: p.span.clone(),
            });
        }
        let mut chains = Vec::new();
        for c in items(root.get("post-processors")) {
            let chain = match &c.kind {
                NodeKind::Array(a) => a.clone(),
                _ => vec![c.clone()],
            };
            chains.push(
                chain
                    .iter()
                    .map(|pp| plan::PostProcessor {
                        post_processor_type: pp.get("type").and_then(Node::as_str).unwrap_or("").into(),
                        name: None,
                        config: without(pp, &["type", "keep_input_artifact", "only", "except"]),
                        keep_input_artifact: pp.get("keep_input_artifact").and_then(|n| match n.kind {
                            NodeKind::Bool(b) => Some(b),
                            _ => None,
                        }),
                        span: pp.span.clone(),
                    })
                    .collect(),
            );
        }
        t.builds.push(plan::Build {
            name,
            builder_type: ty,
            config: without(&b, &["type", "name"]),
            provisioners,
            error_cleanup_provisioner: root.get("error-cleanup-provisioner").map(|p| plan::Provisioner {
                provisioner_type: p.get("type").and_then(Node::as_str).unwrap_or("").into(),
                name: None,
                config: without(p, &["type"]),
                pause_before: None,
                max_retries: 0,
                timeout: None,
                span: p.span.clone(),
            }),
            post_processors: chains,
            span: b.span.clone(),
        });
    }
    let _ = names;
    t
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
    let reg = components::registry();
    let reported = std::sync::Mutex::new(String::new());
    let report = |s: &str| reported.lock().unwrap().push_str(s);
    let r = kiln_core::run_template(&reg, t, settings, &ui, &report);
    let reported = reported.into_inner().unwrap();
    (r.exit_code(), format!("{reported}{}", buf.text()))
}

pub fn plain() -> kiln_core::render::Format {
    kiln_core::render::Format::Human { color: false, timestamps: false }
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

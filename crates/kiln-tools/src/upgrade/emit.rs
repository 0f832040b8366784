//! Writing JSON values as HCL2: attributes, nested blocks and expressions. The text is written
//! without indentation; the formatter lays it out afterwards.

use super::actions::{translate, Names, Place, Translation};
use kiln_template::hcl::is_identifier;
use serde_json::{Map, Value};

/// Option names whose JSON object value is a map (an HCL attribute `name = { … }`), not a nested
/// block. Packer decides this from each component's schema, which kiln's template layer does not
/// know; these are the map-typed options of the common components.
const MAP_OPTIONS: &[&str] = &[
    "tags",
    "run_tags",
    "run_volume_tags",
    "spot_tags",
    "snapshot_tags",
    "volume_tags",
    "filters",
    "labels",
    "metadata",
    "environment",
    "env",
    "extra_vars",
    "vars",
    "override",
    "build_args",
    "azure_tags",
    "shared_image_gallery",
    "image_labels",
    "instance_tags",
    "resource_tags",
    "custom_data",
    "vars_inline",
    "vars_env",
    "vmx_data",
    "vmx_data_post",
    "export_opts",
    "boot_key_interval",
];

fn is_map_option(key: &str) -> bool {
    MAP_OPTIONS.contains(&key)
        || key.ends_with("_tags")
        || key.ends_with("_labels")
        || key.ends_with("_vars")
        || key.starts_with("vars_")
        || key.ends_with("_metadata")
}

/// Collects, while writing, what the translations of strings needed.
pub struct Writer<'a> {
    pub out: String,
    pub locals: &'a dyn Names,
    pub users: std::collections::BTreeSet<String>,
    pub timestamp: bool,
    /// Notes about actions left as written in the block being written.
    pub notes: Vec<String>,
    /// JSON build names (a builder's `name`, else its type) → HCL2 source names (`type.name`),
    /// for `only` / `except`.
    pub build_names: std::collections::BTreeMap<String, String>,
}

impl<'a> Writer<'a> {
    pub fn new(locals: &'a dyn Names) -> Writer<'a> {
        Writer {
            out: String::new(),
            locals,
            users: Default::default(),
            timestamp: false,
            notes: Vec::new(),
            build_names: Default::default(),
        }
    }

    pub fn string(&mut self, s: &str, place: Place) -> String {
        let t: Translation = translate(s, place, self.locals);
        self.users.extend(t.users);
        self.timestamp |= t.timestamp;
        for n in t.unhandled {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
        format!("\"{}\"", t.text)
    }

    /// A JSON value as an HCL expression.
    pub fn expr(&mut self, v: &Value) -> String {
        match v {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => self.string(s, Place::Elsewhere),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|i| self.expr(i)).collect();
                if parts.iter().any(|p| p.contains('\n')) {
                    format!("[\n{}\n]", parts.join(",\n"))
                } else {
                    format!("[{}]", parts.join(", "))
                }
            }
            Value::Object(map) => {
                if map.is_empty() {
                    return "{}".to_string();
                }
                let mut s = String::from("{\n");
                for (k, v) in sorted(map) {
                    let key = if is_identifier(k) { k.to_string() } else { self.string(k, Place::Elsewhere) };
                    s.push_str(&format!("{key} = {}\n", self.expr(v)));
                }
                s.push('}');
                s
            }
        }
    }

    pub fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// The body of a block from a JSON object, keys sorted, minus `skip`.
    pub fn body(&mut self, map: &Map<String, Value>, skip: &[&str]) {
        for (k, v) in sorted(map) {
            if skip.contains(&k.as_str()) {
                continue;
            }
            if let ("only" | "except", Value::Array(names)) = (k.as_str(), v) {
                // JSON filters name builds; HCL2 filters name sources as `type.name`.
                let mapped: Vec<Value> = names
                    .iter()
                    .map(|n| match n.as_str().and_then(|n| self.build_names.get(n)) {
                        Some(m) => Value::String(m.clone()),
                        None => n.clone(),
                    })
                    .collect();
                self.member(k, &Value::Array(mapped));
                continue;
            }
            self.member(k, v);
        }
    }

    fn member(&mut self, k: &str, v: &Value) {
        if !is_identifier(k) {
            self.notes.push(format!("the option {k:?} is not a valid HCL2 name and was left out"));
            return;
        }
        let as_blocks = !is_map_option(k)
            && match v {
                Value::Object(m) => !m.is_empty() && m.keys().all(|k| is_identifier(k)),
                Value::Array(items) => {
                    !items.is_empty()
                        && items.iter().all(|i| matches!(i, Value::Object(m) if m.keys().all(|k| is_identifier(k))))
                }
                _ => false,
            };
        if !as_blocks {
            let e = self.expr(v);
            self.line(&format!("{k} = {e}"));
            return;
        }
        let items: Vec<&Map<String, Value>> = match v {
            Value::Object(m) => vec![m],
            Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        for m in items {
            self.line(&format!("{k} {{"));
            self.body(m, &[]);
            self.line("}");
        }
    }

    /// Comment lines about the actions that were kept as written, placed before a block.
    pub fn take_notes(&mut self) -> String {
        let mut s = String::new();
        if self.notes.is_empty() {
            return s;
        }
        let n = self.notes.len();
        s.push_str(&format!(
            "\n# kiln hcl2_upgrade: {n} template call{} in the next block could not be upgraded and {} left as written:\n",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" }
        ));
        for note in self.notes.drain(..) {
            s.push_str(&format!("# - {note}\n"));
        }
        s
    }
}

pub fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

//! `hcl2_upgrade`: legacy JSON template → HCL2 configuration.
//!
//! Variables become `variable` blocks (or `locals` when their default needs other variables or
//! template calls), builders become `source` blocks, and provisioners and post-processors go into
//! one `build` block. Go-template actions are translated where HCL2 has an equivalent (see
//! [`actions`]). The result is run through the formatter, so it is in canonical layout.

pub mod actions;
mod emit;

use actions::{hcl_string, Place};
use emit::Writer;
use kiln_config::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use kiln_config::node::{Node, NodeKind};
use kiln_template::hcl::is_identifier;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// Add comments explaining the generated blocks.
    pub with_annotations: bool,
}

/// Upgrades the JSON template `src` (read from `file`) to HCL2 text. The template is read by
/// kiln-template's JSON parser, so errors point at line:col of the JSON file.
pub fn upgrade(src: &str, file: &Arc<SourceFile>, opts: &UpgradeOptions) -> Result<String, Diagnostics> {
    let file = if file.text == src { file.clone() } else { SourceFile::new(&file.path, src) };
    let node = kiln_template::json::parse(&file)?;
    // Numbers as Packer reads them: float64, integers printed as integers.
    let Value::Object(root) = node.to_json() else {
        return Err(Diagnostic::error("a JSON template must be an object")
            .at_opt(node.span.clone())
            .with_help("a template looks like {\"builders\": [...], \"provisioners\": [...]}")
            .into());
    };
    let mut diags = Diagnostics::new();
    let t = Template::read(&root, &node, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let text = t.write(opts);
    crate::fmt::format(&SourceFile::new(format!("{}.pkr.hcl", file.path.display()), text.clone())).map_err(|d| {
        // The writer produced invalid HCL: a bug, reported rather than written out.
        let mut out = Diagnostics::from(
            Diagnostic::error("internal error: the upgraded configuration does not parse")
                .with_help("please report this with the template that caused it"),
        );
        out.extend(d);
        out
    })
}

/// The span of key `key` itself in object node `n`.
fn key_span(n: &Node, key: &str) -> Option<Span> {
    match &n.kind {
        NodeKind::Object(m) => m.iter().find(|(k, _)| k.name == key).and_then(|(k, _)| k.span.clone()),
        _ => None,
    }
}

/// Item `i` of array node `n`.
fn item(n: Option<&Node>, i: usize) -> Option<&Node> {
    match &n?.kind {
        NodeKind::Array(a) => a.get(i),
        _ => None,
    }
}

struct Component<'a> {
    kind: String,
    body: &'a Map<String, Value>,
}

struct Template<'a> {
    min_version: Option<String>,
    description: Option<String>,
    variables: Vec<(String, Value)>,
    sensitive: BTreeSet<String>,
    builders: Vec<(String, Component<'a>)>,
    provisioners: Vec<Component<'a>>,
    cleanup: Option<Component<'a>>,
    /// Each chain is a list of post-processors.
    post: Vec<Vec<Component<'a>>>,
}

const KNOWN_KEYS: &[&str] = &[
    "min_packer_version",
    "description",
    "variables",
    "sensitive-variables",
    "builders",
    "provisioners",
    "post-processors",
    "error-cleanup-provisioner",
    // Atlas push settings: obsolete, ignored by Packer and dropped here.
    "push",
];

impl<'a> Template<'a> {
    fn read(root: &'a Map<String, Value>, node: &Node, diags: &mut Diagnostics) -> Template<'a> {
        for k in root.keys() {
            if !KNOWN_KEYS.contains(&k.as_str()) && !k.starts_with('_') {
                let mut d = Diagnostic::error(format!("unknown template key {k:?}")).at_opt(key_span(node, k));
                if let Some(s) = kiln_config::diag::did_you_mean(k, KNOWN_KEYS.iter().copied()) {
                    d = d.with_help(format!("did you mean {s:?}?"));
                }
                diags.push(d);
            }
        }
        let mut t = Template {
            min_version: root.get("min_packer_version").and_then(Value::as_str).map(String::from),
            description: root.get("description").and_then(Value::as_str).map(String::from),
            variables: Vec::new(),
            sensitive: BTreeSet::new(),
            builders: Vec::new(),
            provisioners: Vec::new(),
            cleanup: None,
            post: Vec::new(),
        };
        match root.get("variables") {
            Some(Value::Object(vars)) => t.variables = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => diags.push(
                Diagnostic::error("\"variables\" must be an object of names to default values")
                    .at_opt(node.span_of("variables")),
            ),
            None => {}
        }
        if let Some(Value::Array(s)) = root.get("sensitive-variables") {
            t.sensitive = s.iter().filter_map(Value::as_str).map(String::from).collect();
        }
        let component = |v: &'a Value, what: &str, i: usize, at: Option<&Node>, diags: &mut Diagnostics| {
            read_component(v, what, i, at.or(node.get(what)).or(Some(node)), diags)
        };
        if let Some(Value::Array(bs)) = root.get("builders") {
            let mut used = BTreeSet::new();
            for (i, b) in bs.iter().enumerate() {
                let at = item(node.get("builders"), i);
                let Some(c) = component(b, "builders", i, at, diags) else { continue };
                // A source's name is a fixed label in HCL2: a templated builder name cannot stay.
                let name = match c.body.get("name").and_then(Value::as_str) {
                    Some(n) if !n.contains("{{") && !n.trim().is_empty() => source_name(n),
                    _ => format!("autogenerated_{}", i + 1),
                };
                if !used.insert(name.clone()) {
                    diags.push(
                        Diagnostic::error(format!("two builders are named {name:?}"))
                            .at_opt(at.and_then(|b| b.span_of("name")))
                            .with_help("give each builder a unique \"name\""),
                    );
                }
                t.builders.push((name, c));
            }
        }
        if let Some(Value::Array(ps)) = root.get("provisioners") {
            t.provisioners = ps
                .iter()
                .enumerate()
                .filter_map(|(i, p)| component(p, "provisioners", i, item(node.get("provisioners"), i), diags))
                .collect();
        }
        if let Some(p) = root.get("error-cleanup-provisioner") {
            t.cleanup = component(p, "error-cleanup-provisioner", 0, None, diags);
        }
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let post_one = |v: &'a Value, i: usize, at: Option<&Node>, diags: &mut Diagnostics| -> Option<Component<'a>> {
            match v {
                Value::String(kind) => Some(Component { kind: kind.clone(), body: EMPTY.get_or_init(Map::new) }),
                _ => component(v, "post-processors", i, at, diags),
            }
        };
        if let Some(Value::Array(pps)) = root.get("post-processors") {
            for (i, pp) in pps.iter().enumerate() {
                let at = item(node.get("post-processors"), i);
                let chain: Vec<Component> = match pp {
                    Value::Array(items) => {
                        items.iter().enumerate().filter_map(|(j, x)| post_one(x, i, item(at, j), diags)).collect()
                    }
                    other => post_one(other, i, at, diags).into_iter().collect(),
                };
                if !chain.is_empty() {
                    t.post.push(chain);
                }
            }
        }
        t
    }

    fn write(&self, opts: &UpgradeOptions) -> String {
        let ann = opts.with_annotations;
        // Variables whose default uses other variables or template calls become locals.
        let mut locals: BTreeSet<String> = BTreeSet::new();
        for (name, v) in &self.variables {
            if let Value::String(s) = v {
                let t = actions::translate(s, Place::VariableDefault, &BTreeSet::new());
                if t.needs_local || !t.users.is_empty() {
                    locals.insert(name.clone());
                }
            }
        }
        let mut w = Writer::new(&locals);
        for (name, c) in &self.builders {
            let build_name = c.body.get("name").and_then(Value::as_str).unwrap_or(&c.kind);
            w.build_names.insert(build_name.to_string(), format!("{}.{name}", c.kind));
        }
        // Sources and build first, so that variables they use but do not declare are known.
        let sources = self.write_sources(&mut w, ann);
        let build = self.write_build(&mut w, ann);

        let mut head = Writer::new(&locals);
        if ann {
            head.out.push_str(HEADER);
        }
        if let Some(v) = &self.min_version {
            if ann {
                head.line("\n# The Packer version this configuration needs.");
            }
            let e = head.string(&format!(">= {v}"), Place::Elsewhere);
            head.line(&format!("packer {{\nrequired_version = {e}\n}}"));
        }
        let declared: BTreeSet<&str> = self.variables.iter().map(|(n, _)| n.as_str()).collect();
        let mut vars: Vec<(String, Option<&Value>)> =
            self.variables.iter().filter(|(n, _)| !locals.contains(n)).map(|(n, v)| (n.clone(), Some(v))).collect();
        let undeclared: BTreeSet<String> = w.users.iter().filter(|u| !declared.contains(u.as_str())).cloned().collect();
        vars.extend(undeclared.into_iter().map(|n| (n, None)));
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        if ann && !vars.is_empty() {
            head.line("\n# Input variables. JSON templates only have strings, so every variable is a string;");
            head.line("# change the type where another one fits better.");
        }
        for (name, v) in &vars {
            head.line("");
            let start = head.out.len();
            head.line(&format!("variable {} {{", hcl_string(name)));
            match v {
                Some(Value::Null) | None => head.line("type = string"),
                Some(Value::String(s)) => {
                    let d = head.string(s, Place::VariableDefault);
                    head.line(&format!("type = string\ndefault = {d}"));
                }
                Some(other) => {
                    let d = head.expr(other);
                    head.line(&format!("default = {d}"));
                }
            }
            if self.sensitive.contains(name) {
                head.line("sensitive = true");
            }
            head.line("}");
            let notes = head.take_notes();
            head.out.insert_str(start, &notes);
        }
        let mut locals_text = Writer::new(&locals);
        if !locals.is_empty() {
            locals_text.line("");
            if ann {
                locals_text
                    .line("# Variables whose default used template calls or other variables are locals in HCL2.");
            }
            let start = locals_text.out.len();
            locals_text.line("locals {");
            for (name, v) in &self.variables {
                if let (true, Value::String(s)) = (locals.contains(name), v) {
                    if self.sensitive.contains(name) {
                        // Packer 1.6.6 has no `local "name" { sensitive = true }` block.
                        locals_text.notes.push(format!(
                            "{name:?} was a sensitive variable; a local cannot be marked sensitive, so its value may be shown in logs"
                        ));
                    }
                    let e = locals_text.string(s, Place::Elsewhere);
                    locals_text.line(&format!("{name} = {e}"));
                }
            }
            locals_text.line("}");
            let notes = locals_text.take_notes();
            locals_text.out.insert_str(start, &notes);
        }
        if w.timestamp || locals_text.timestamp || head.timestamp {
            head.line("");
            if ann {
                head.line("# `{{timestamp}}` of JSON templates: the build's start time as digits only.");
            }
            head.line("locals { timestamp = regex_replace(timestamp(), \"[- TZ:]\", \"\") }");
        }
        let mut out = head.out;
        out.push_str(&locals_text.out);
        out.push_str(&sources);
        out.push_str(&build);
        out.trim_start_matches('\n').to_string()
    }

    fn write_sources(&self, w: &mut Writer, ann: bool) -> String {
        let mut out = String::new();
        if ann && !self.builders.is_empty() {
            out.push_str("\n# Each builder of the JSON template is a source; the build block below uses them.\n");
        }
        for (name, c) in &self.builders {
            w.out.clear();
            w.line(&format!("source {} {} {{", hcl_string(&c.kind), hcl_string(name)));
            w.body(c.body, &["type", "name"]);
            w.line("}");
            out.push('\n');
            out.push_str(&w.take_notes());
            out.push_str(&w.out);
        }
        w.out.clear();
        out
    }

    fn write_build(&self, w: &mut Writer, ann: bool) -> String {
        if self.builders.is_empty() {
            return String::new();
        }
        let mut out = String::from("\n");
        if ann {
            out.push_str("# The build runs the provisioners and post-processors on each source.\n");
        }
        let description = self.description.as_ref().map(|d| w.string(d, Place::Elsewhere));
        out.push_str(&w.take_notes());
        out.push_str("build {\n");
        if let Some(e) = description {
            out.push_str(&format!("description = {e}\n"));
        }
        let sources: Vec<String> = self.builders.iter().map(|(n, c)| format!("\"source.{}.{}\"", c.kind, n)).collect();
        out.push_str(&format!("sources = [{}]\n", sources.join(", ")));
        let block = |w: &mut Writer, keyword: &str, c: &Component, out: &mut String| {
            w.out.clear();
            w.line(&format!("{keyword} {} {{", hcl_string(&c.kind)));
            w.body(c.body, &["type"]);
            w.line("}");
            out.push_str(&w.take_notes());
            out.push_str(&w.out);
        };
        for p in &self.provisioners {
            out.push('\n');
            block(w, "provisioner", p, &mut out);
        }
        if let Some(c) = &self.cleanup {
            out.push('\n');
            block(w, "error-cleanup-provisioner", c, &mut out);
        }
        for chain in &self.post {
            out.push('\n');
            if let [one] = chain.as_slice() {
                block(w, "post-processor", one, &mut out);
            } else {
                out.push_str("post-processors {\n");
                for c in chain {
                    block(w, "post-processor", c, &mut out);
                }
                out.push_str("}\n");
            }
        }
        out.push_str("}\n");
        w.out.clear();
        out
    }
}

/// Component `i` of `what`; `at` is its node, where errors point.
fn read_component<'a>(
    v: &'a Value,
    what: &str,
    i: usize,
    at: Option<&Node>,
    diags: &mut Diagnostics,
) -> Option<Component<'a>> {
    let Value::Object(body) = v else {
        diags.push(
            Diagnostic::error(format!("{what} {} must be an object", i + 1)).at_opt(at.and_then(|n| n.span.clone())),
        );
        return None;
    };
    match body.get("type").and_then(Value::as_str) {
        Some(kind) if !kind.is_empty() => Some(Component { kind: kind.to_string(), body }),
        _ => {
            diags.push(
                Diagnostic::error(format!("{what} {} has no \"type\"", i + 1))
                    .at_opt(at.and_then(|n| n.span_of("type")))
                    .with_help("add \"type\": \"...\" naming the component"),
            );
            None
        }
    }
}

/// A builder's `name` as a source name: trimmed, with characters HCL does not allow in a name
/// replaced by `_`.
fn source_name(n: &str) -> String {
    let s: String =
        n.trim().chars().map(|c| if c.is_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if is_identifier(&s) {
        s
    } else {
        format!("_{s}")
    }
}

const HEADER: &str = "# Generated by `kiln hcl2_upgrade` from a JSON template. Check it before relying on it:
# template calls that have no HCL2 equivalent are left as written and listed in comments.
# The blocks can be split into several files (variables.pkr.hcl, sources.pkr.hcl …) in one
# folder; `kiln inspect FOLDER` shows what the folder defines.
";

#[cfg(test)]
mod tests;

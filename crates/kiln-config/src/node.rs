//! The configuration tree handed to components: plain data with a span on every node, so a
//! component's decode error can point at `file:line:col`.
//!
//! JSON templates produce it from the JSON document (after `{{ }}` interpolation); HCL2 produces
//! it from evaluated attributes and nested blocks. A value that can only be finished when the
//! build runs (HCL2 `build.Host` and any expression around it, JSON `{{ build `Host` }}` or
//! `{{ .Host }}` in a provisioner or post-processor) is a [`NodeKind::Late`] node: it carries
//! the value to check the configuration with before the build runs (Packer's `"<unknown>"`
//! placeholders) and a [`Resolve`]r that computes the real value from the build's
//! [`GeneratedData`]. The engine resolves every late node of a component's configuration in one
//! place ([`Node::resolve`]) and prepares the component again with the result.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::diag::{Diagnostics, Span};

/// What a builder makes known at run time (HCL2 `build.Host`, JSON `{{ build `Host` }}`):
/// Packer's generated data, by key.
pub type GeneratedData = BTreeMap<String, String>;

/// Computes a late value once the build's generated data is known.
pub trait Resolve: Send + Sync + fmt::Debug {
    fn resolve(&self, data: &GeneratedData) -> Result<Node, Diagnostics>;
}

/// A reference to one key of the generated data (`build.Host`), where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct LateRef {
    pub name: String,
    pub span: Option<Span>,
}

/// A value known only when the build runs.
#[derive(Clone)]
pub struct LateValue {
    /// The value before the build runs (generated data replaced by `"<unknown>"`, or the JSON
    /// string with its actions), for the checks made before anything runs.
    pub placeholder: Box<Node>,
    /// The expression or template as written (for messages and input digests).
    pub text: String,
    /// The generated-data keys it refers to (checked against what the builder sets).
    pub refs: Vec<LateRef>,
    resolver: Arc<dyn Resolve>,
}

impl LateValue {
    pub fn new(placeholder: Node, text: impl Into<String>, refs: Vec<LateRef>, resolver: Arc<dyn Resolve>) -> Self {
        LateValue { placeholder: Box::new(placeholder), text: text.into(), refs, resolver }
    }

    pub fn resolve(&self, data: &GeneratedData) -> Result<Node, Diagnostics> {
        self.resolver.resolve(data)
    }
}

impl fmt::Debug for LateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LateValue").field("text", &self.text).field("refs", &self.refs).finish()
    }
}

impl PartialEq for LateValue {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.refs == other.refs && self.placeholder == other.placeholder
    }
}

/// A key of an object node, with the span of the key itself (for "unknown option" errors).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Node>),
    /// Members in source order. Keys are unique (loaders report duplicates).
    Object(Vec<(Key, Node)>),
    /// One or more HCL2 nested blocks of the same type (`launch_block_device_mappings { }` twice).
    /// Decodes as a sequence of objects, or as one object when the target is not a sequence and
    /// exactly one block is present. Each element is an `Object`.
    Blocks(Vec<Node>),
    /// A value known only when the build runs; decodes as its placeholder until resolved.
    Late(LateValue),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Option<Span>,
}

impl Node {
    pub fn new(kind: NodeKind, span: Option<Span>) -> Node {
        Node { kind, span }
    }

    pub fn null() -> Node {
        Node::new(NodeKind::Null, None)
    }

    pub fn string(s: impl Into<String>, span: Option<Span>) -> Node {
        Node::new(NodeKind::String(s.into()), span)
    }

    pub fn object(members: Vec<(Key, Node)>, span: Option<Span>) -> Node {
        Node::new(NodeKind::Object(members), span)
    }

    /// Member `name` of an object node.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.settled().kind {
            NodeKind::Object(m) => m.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The span of member `key`, else this node's: where an error about one option points.
    pub fn span_of(&self, key: &str) -> Option<Span> {
        self.get(key).and_then(|n| n.span.clone()).or_else(|| self.span.clone())
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.settled().kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's kind for error messages ("a string", "a list").
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a bool",
            NodeKind::Number(_) => "a number",
            NodeKind::String(_) => "a string",
            NodeKind::Array(_) => "a list",
            NodeKind::Object(_) => "an object",
            NodeKind::Blocks(_) => "a block",
            NodeKind::Late(l) => l.placeholder.kind_name(),
        }
    }

    /// Plain JSON value of the tree (spans dropped); blocks become arrays of objects.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            NodeKind::Null => J::Null,
            NodeKind::Bool(b) => J::Bool(*b),
            NodeKind::Number(n) => crate::number::to_json(*n),
            NodeKind::String(s) => J::String(s.clone()),
            NodeKind::Array(items) | NodeKind::Blocks(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Object(m) => J::Object(m.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()),
            NodeKind::Late(l) => l.placeholder.to_json(),
        }
    }

    /// The node itself, or a late value's placeholder: what decoding sees before the build runs.
    pub fn settled(&self) -> &Node {
        match &self.kind {
            NodeKind::Late(l) => l.placeholder.settled(),
            _ => self,
        }
    }

    /// Whether any part of the tree is known only at run time.
    pub fn has_late(&self) -> bool {
        match &self.kind {
            NodeKind::Late(_) => true,
            NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().any(Node::has_late),
            NodeKind::Object(m) => m.iter().any(|(_, v)| v.has_late()),
            _ => false,
        }
    }

    /// Every generated-data reference of the tree's late values, in tree order.
    pub fn late_refs(&self) -> Vec<&LateRef> {
        let mut out = Vec::new();
        self.walk_late(&mut |l| out.extend(l.refs.iter()));
        out
    }

    fn walk_late<'a>(&'a self, f: &mut dyn FnMut(&'a LateValue)) {
        match &self.kind {
            NodeKind::Late(l) => f(l),
            NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().for_each(|n| n.walk_late(f)),
            NodeKind::Object(m) => m.iter().for_each(|(_, n)| n.walk_late(f)),
            _ => {}
        }
    }

    /// The tree with every late value replaced by its value for `data` (the build's generated
    /// data). Every error of every late value is returned.
    pub fn resolve(&self, data: &GeneratedData) -> Result<Node, Diagnostics> {
        let mut errors = Diagnostics::new();
        let out = self.resolve_into(data, &mut errors);
        errors.into_result()?;
        Ok(out)
    }

    fn resolve_into(&self, data: &GeneratedData, errors: &mut Diagnostics) -> Node {
        let kind = match &self.kind {
            NodeKind::Late(l) => match l.resolve(data) {
                Ok(n) => return n,
                Err(d) => {
                    errors.extend(d);
                    return (*l.placeholder).clone();
                }
            },
            NodeKind::Array(items) => NodeKind::Array(items.iter().map(|n| n.resolve_into(data, errors)).collect()),
            NodeKind::Blocks(items) => NodeKind::Blocks(items.iter().map(|n| n.resolve_into(data, errors)).collect()),
            NodeKind::Object(m) => {
                NodeKind::Object(m.iter().map(|(k, v)| (k.clone(), v.resolve_into(data, errors))).collect())
            }
            other => other.clone(),
        };
        Node::new(kind, self.span.clone())
    }

    /// Every string in the tree, depth first (used to find secrets and late values).
    pub fn strings(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk_strings(&mut out);
        out
    }

    fn walk_strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.kind {
            NodeKind::String(s) => out.push(s),
            NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().for_each(|n| n.walk_strings(out)),
            NodeKind::Object(m) => m.iter().for_each(|(_, n)| n.walk_strings(out)),
            NodeKind::Late(l) => l.placeholder.walk_strings(out),
            _ => {}
        }
    }
}

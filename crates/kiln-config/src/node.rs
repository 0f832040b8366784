//! The configuration tree handed to components: plain data (no expressions left) with a span on
//! every node, so a component's decode error can point at `file:line:col`.
//!
//! JSON templates produce it from the JSON document (after `{{ }}` interpolation); HCL2 produces
//! it from evaluated attributes and nested blocks. Strings may still hold run-time Go-template
//! actions such as `{{ .HTTPIP }}` or `{{ .Path }}`: those are "late values" that a component
//! renders with the Go-template engine (kiln-gotmpl) once the value is known. In HCL2, `build.X` references inside
//! provisioners and post-processors evaluate to the late value `{{ .X }}` in the same way.

use crate::diag::Span;

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
        match &self.kind {
            NodeKind::Object(m) => m.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's kind for error messages ("a string", "a list").
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a bool",
            NodeKind::Number(_) => "a number",
            NodeKind::String(_) => "a string",
            NodeKind::Array(_) => "a list",
            NodeKind::Object(_) => "an object",
            NodeKind::Blocks(_) => "a block",
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
        }
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
            _ => {}
        }
    }
}

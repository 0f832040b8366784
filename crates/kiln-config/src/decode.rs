//! Decoding a component's configuration: a serde `Deserializer` over a spanned [`Node`] tree.
//!
//! Components declare one `#[derive(Deserialize)] #[serde(deny_unknown_fields)]` struct and call
//! [`decode`] (or [`decode_component`]). Every error becomes a [`Diagnostic`] at the offending
//! node (an unknown option at its key, with a did-you-mean over the struct's fields).
//!
//! Typing is as lenient as Packer's (mapstructure's `WeaklyTypedInput`): `"10"` decodes as a
//! number, `"true"` and `1` as a bool, numbers and bools as strings, a single value as a
//! one-element list, an empty list as an empty map. [`Duration`] reads Go durations (`"1h30m"`).
//!
//! Serde stops at the first error of a struct; to report all of them in one run, [`decode`]
//! removes the node that failed and decodes again until nothing more fails.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use crate::node::{Key, Node, NodeKind};

/// Decodes `node` into `T`, reporting every error found.
pub fn decode<T: DeserializeOwned>(node: &Node) -> Result<T, Diagnostics> {
    decode_inner(node, None)
}

/// Like [`decode`], naming the component (`the "shell" provisioner`) in unknown-option errors.
pub fn decode_component<T: DeserializeOwned>(node: &Node, component: &str) -> Result<T, Diagnostics> {
    decode_inner(node, Some(component))
}

fn decode_inner<T: DeserializeOwned>(node: &Node, component: Option<&str>) -> Result<T, Diagnostics> {
    let component = component.map_or(Owner::Unnamed, Owner::Component);
    let mut diags = Diagnostics::new();
    let mut work = node.clone();
    // Each retry removes one node, so the tree's size bounds the loop.
    let mut budget = count_nodes(node) + 1;
    let mut removed: Vec<Vec<usize>> = Vec::new();
    loop {
        match T::deserialize(NodeDe { node: work.settled(), component }) {
            Ok(v) if diags.is_empty() => return Ok(v),
            Ok(_) => return Err(diags),
            Err(e) => {
                let path = e.path.clone();
                // A required option we removed ourselves after an error in it is not a new error.
                let cascade = e.missing && removed.iter().any(|r| r.len() == path.len() + 1 && r.starts_with(&path));
                if !cascade {
                    diags.push(e.into_diagnostic(node.span.clone()));
                }
                removed.push(path.clone());
                budget = budget.saturating_sub(1);
                if path.is_empty() || budget == 0 || !remove_at(&mut work, &path) {
                    return Err(diags);
                }
            }
        }
    }
}

fn count_nodes(n: &Node) -> usize {
    1 + match &n.kind {
        NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Object(m) => m.iter().map(|(_, v)| count_nodes(v)).sum(),
        _ => 0,
    }
}

/// Removes the member or element at `path` (indices from the root). False when not found.
fn remove_at(node: &mut Node, path: &[usize]) -> bool {
    let Some((&first, rest)) = path.split_first() else {
        return false;
    };
    match &mut node.kind {
        NodeKind::Object(m) if first < m.len() => {
            if rest.is_empty() {
                m.remove(first);
                true
            } else {
                remove_at(&mut m[first].1, rest)
            }
        }
        NodeKind::Array(items) | NodeKind::Blocks(items) if first < items.len() => {
            if rest.is_empty() {
                items.remove(first);
                true
            } else {
                remove_at(&mut items[first], rest)
            }
        }
        // A single block decoded as a struct: the path goes through index 0 implicitly.
        _ => false,
    }
}

/// A decode error on its way up: the diagnostic so far and the path of the node that failed.
/// Boxed: it travels through every `Result` of the deserializer.
#[derive(Debug)]
pub struct Error(Box<ErrorInner>);

#[derive(Debug)]
pub struct ErrorInner {
    summary: String,
    span: Option<Span>,
    help: Option<String>,
    detail: Option<String>,
    /// Indices from the root to the failing node (each level puts its own index in front while
    /// the error bubbles up).
    path: Vec<usize>,
    located: bool,
    /// A `missing_field` error (see the retry loop in `decode_inner`).
    missing: bool,
}

impl std::ops::Deref for Error {
    type Target = ErrorInner;
    fn deref(&self) -> &ErrorInner {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorInner {
        &mut self.0
    }
}

impl Error {
    fn new(summary: impl Into<String>) -> Error {
        Error(Box::new(ErrorInner {
            summary: summary.into(),
            span: None,
            help: None,
            detail: None,
            path: Vec::new(),
            located: false,
            missing: false,
        }))
    }

    fn at(mut self, span: &Option<Span>) -> Error {
        if !self.located {
            self.span = span.clone();
            self.located = true;
        }
        self
    }

    fn into_diagnostic(self, root: Option<Span>) -> Diagnostic {
        let e = *self.0;
        let mut d = Diagnostic::error(e.summary).at_opt(e.span).at_opt(root);
        d.help = e.help;
        d.detail = e.detail;
        d
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Error {
        Error::new(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Error {
        Error::new(format!("expected {exp}, found {}", describe_unexpected(&unexp)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Error {
        let mut e = Error::new(format!("unknown option {field:?}"));
        if let Some(s) = did_you_mean(field, expected.iter().copied()) {
            e.help = Some(format!("did you mean {s:?}?"));
        }
        e.detail = Some(format!("the options are: {}", expected.join(", ")));
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Error {
        let mut e = Error::new(format!("invalid value {variant:?}"));
        if let Some(s) = did_you_mean(variant, expected.iter().copied()) {
            e.help = Some(format!("did you mean {s:?}?"));
        }
        e.detail = Some(format!("the accepted values are: {}", expected.join(", ")));
        e
    }

    fn missing_field(field: &'static str) -> Error {
        let mut e = Error::new(format!("the option {field:?} is required"));
        e.help = Some(format!("add {field:?}"));
        e.missing = true;
        e
    }
}

fn describe_unexpected(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("the bool {b}"),
        U::Unsigned(n) => format!("the number {n}"),
        U::Signed(n) => format!("the number {n}"),
        U::Float(n) => format!("the number {n}"),
        U::Str(s) => format!("the string {s:?}"),
        U::Seq => "a list".to_string(),
        U::Map => "an object".to_string(),
        U::Unit | U::Option => "null".to_string(),
        other => other.to_string(),
    }
}

/// What a node is, for "expected X, found Y".
fn found(node: &Node) -> String {
    match &node.kind {
        NodeKind::String(s) => format!("the string {s:?}"),
        NodeKind::Number(n) => format!("the number {}", crate::number::format_number(*n)),
        NodeKind::Bool(b) => format!("the bool {b}"),
        _ => node.kind_name().to_string(),
    }
}

/// Whose options a map holds, for unknown-option errors: the component's (at the top), or a
/// nested option's (`"build"`, `"qemu_img_args"`).
#[derive(Clone, Copy)]
enum Owner<'a> {
    Unnamed,
    Component(&'a str),
    Option(&'a str),
}

#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
    component: Owner<'a>,
}

impl<'a> NodeDe<'a> {
    fn err(&self, expected: &str) -> Error {
        Error::new(format!("expected {expected}, found {}", found(self.node))).at(&self.node.span)
    }

    fn locate(&self, e: Error) -> Error {
        e.at(&self.node.span)
    }

    /// A number, from a number, a numeric string (empty = 0) or a bool, as mapstructure allows.
    fn number(&self) -> Result<f64, Error> {
        match &self.node.kind {
            NodeKind::Number(n) => Ok(*n),
            // null is "not set": the zero value, as mapstructure leaves it.
            NodeKind::Null => Ok(0.0),
            NodeKind::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            NodeKind::String(s) if s.trim().is_empty() => Ok(0.0),
            NodeKind::String(s) => s.trim().parse::<f64>().map_err(|_| {
                let mut e = self.err("a number");
                e.help = Some("write a number such as 10".into());
                e
            }),
            _ => Err(self.err("a number")),
        }
    }

    fn integer(&self, min: f64, max: f64) -> Result<f64, Error> {
        let n = self.number()?;
        if n.fract() != 0.0 {
            return Err(Error::new(format!("expected a whole number, found {n}")).at(&self.node.span));
        }
        if n < min || n > max {
            return Err(Error::new(format!("the number {n} is out of range ({min} to {max})")).at(&self.node.span));
        }
        Ok(n)
    }

    fn string(&self) -> Result<String, Error> {
        match &self.node.kind {
            NodeKind::String(s) => Ok(s.clone()),
            NodeKind::Null => Ok(String::new()),
            NodeKind::Number(n) => Ok(crate::number::format_number(*n)),
            NodeKind::Bool(b) => Ok(if *b { "1" } else { "0" }.to_string()),
            _ => Err(self.err("a string")),
        }
    }

    fn child(&self, node: &'a Node) -> NodeDe<'a> {
        NodeDe { node: node.settled(), component: self.component }
    }
}

macro_rules! int_method {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let n = self.integer(<$ty>::MIN as f64, <$ty>::MAX as f64)?;
            v.$visit(n as $ty).map_err(|e| self.locate(e))
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Null => v.visit_unit(),
            NodeKind::Bool(b) => v.visit_bool(*b),
            NodeKind::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                if *n < 0.0 {
                    v.visit_i64(*n as i64)
                } else {
                    v.visit_u64(*n as u64)
                }
            }
            NodeKind::Number(n) => v.visit_f64(*n),
            NodeKind::String(s) => v.visit_str(s),
            NodeKind::Array(items) | NodeKind::Blocks(items) => v.visit_seq(Seq::new(items, self.component)),
            NodeKind::Object(m) => v.visit_map(Map::new(m, self.component)),
            // `child` settles it: decoding sees the placeholder.
            NodeKind::Late(l) => return self.child(&l.placeholder).deserialize_any(v),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let b = match &self.node.kind {
            NodeKind::Bool(b) => *b,
            NodeKind::Null => false,
            NodeKind::Number(n) => *n != 0.0,
            NodeKind::String(s) if s.is_empty() => false,
            NodeKind::String(s) => match parse_go_bool(s) {
                Some(b) => b,
                None => {
                    let mut e = self.err("a bool");
                    e.help = Some("write true or false".into());
                    return Err(e);
                }
            },
            _ => return Err(self.err("a bool")),
        };
        v.visit_bool(b).map_err(|e| self.locate(e))
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let n = self.number()?;
        v.visit_f32(n as f32).map_err(|e| self.locate(e))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let n = self.number()?;
        v.visit_f64(n).map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let s = self.string()?;
        v.visit_string(s).map_err(|e| self.locate(e))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let s = self.string()?;
        v.visit_byte_buf(s.into_bytes()).map_err(|e| self.locate(e))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
        .map_err(|e| self.locate(e))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => v.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.err("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self).map_err(|e| self.locate(e))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Array(items) | NodeKind::Blocks(items) => v.visit_seq(Seq::new(items, self.component)),
            // Packer accepts a single value where a list is expected.
            NodeKind::Null => v.visit_seq(Seq::new(&[], self.component)),
            _ => v.visit_seq(Seq::new(std::slice::from_ref(self.node), self.component)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _n: &'static str, _l: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Object(m) => v.visit_map(Map::new(m, self.component)),
            NodeKind::Blocks(items) if items.len() == 1 => {
                return self.child(&items[0]).deserialize_map(v).map_err(|mut e| {
                    e.path.insert(0, 0);
                    e
                })
            }
            NodeKind::Blocks(items) => {
                return Err(Error::new(format!("expected one block, found {}", items.len()))
                    .at(&items.get(1).and_then(|n| n.span.clone()).or(self.node.span.clone())));
            }
            // mapstructure turns an empty list into an empty map.
            NodeKind::Array(items) if items.is_empty() => v.visit_map(Map::new(&[], self.component)),
            NodeKind::Null => v.visit_map(Map::new(&[], self.component)),
            _ => return Err(self.err("an object")),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::String(s) => {
                let d: de::value::StrDeserializer<'_, Error> = s.as_str().into_deserializer();
                v.visit_enum(d).map_err(|e| self.locate(e))
            }
            _ => Err(self.err("a string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_string(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

use crate::golang::parse_go_bool;

struct Seq<'a> {
    items: &'a [Node],
    next: usize,
    component: Owner<'a>,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Node], component: Owner<'a>) -> Seq<'a> {
        Seq { items, next: 0, component }
    }
}

impl<'de, 'a> de::SeqAccess<'de> for Seq<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.get(self.next) else {
            return Ok(None);
        };
        let i = self.next;
        self.next += 1;
        seed.deserialize(NodeDe { node: node.settled(), component: self.component }).map(Some).map_err(|mut e| {
            e = e.at(&node.span);
            e.path.insert(0, i);
            e
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct Map<'a> {
    members: &'a [(Key, Node)],
    next: usize,
    component: Owner<'a>,
}

impl<'a> Map<'a> {
    fn new(members: &'a [(Key, Node)], component: Owner<'a>) -> Map<'a> {
        Map { members, next: 0, component }
    }
}

impl<'de, 'a> de::MapAccess<'de> for Map<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, _)) = self.members.get(self.next) else {
            return Ok(None);
        };
        let i = self.next;
        let d: de::value::StrDeserializer<'_, Error> = key.name.as_str().into_deserializer();
        seed.deserialize(d).map(Some).map_err(|mut e| {
            if let Some(list) = e.detail.as_deref().and_then(|d| d.strip_prefix("the options are: ")) {
                let owner = match self.component {
                    Owner::Component(c) => Some(c.to_string()),
                    Owner::Option(k) => Some(format!("{k:?}")),
                    Owner::Unnamed => None,
                };
                if let Some(owner) = owner {
                    e.detail = Some(format!("the options of {owner} are: {list}"));
                }
            }
            e = e.at(&key.span);
            e.path.insert(0, i);
            e
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let i = self.next;
        self.next += 1;
        let Some((key, node)) = self.members.get(i) else {
            return Err(Error::new("internal: value requested before key"));
        };
        seed.deserialize(NodeDe { node: node.settled(), component: Owner::Option(&key.name) }).map_err(|mut e| {
            e = e.at(&node.span);
            e.path.insert(0, i);
            e
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len() - self.next)
    }
}

mod duration;
mod split;

pub use duration::{parse_go_duration, Duration};
pub use split::{decode_parts, decode_split, fields_of, Parts};

//! One configuration object shared by two config structs: a component's own options and an
//! embedded common set (a communicator's), since serde's `flatten` cannot be combined with
//! `deny_unknown_fields`.

use serde::de::{self, DeserializeOwned, Visitor};

use super::{decode_component, Error};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::node::{Node, NodeKind};

/// The option names of a config struct (its serde field names), for embedding one struct's
/// options in another's (serde's `flatten` cannot be combined with `deny_unknown_fields`).
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Error> {
            Err(Error::new("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _v: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::new("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Decodes one object node into two config structs that share it: `A` (the component's own
/// options) and `B` (embedded common options such as a communicator's). An option neither
/// knows is an error naming the options of both. Neither struct should deny unknown fields.
pub fn decode_split<A: DeserializeOwned, B: DeserializeOwned>(
    node: &Node,
    component: &str,
) -> Result<(A, B), Diagnostics> {
    let fa = fields_of::<A>();
    let fb = fields_of::<B>();
    let mut diags = Diagnostics::new();
    let (mut ma, mut mb) = (Vec::new(), Vec::new());
    match &node.kind {
        NodeKind::Object(m) => {
            for (k, v) in m {
                if fa.contains(&k.name.as_str()) {
                    ma.push((k.clone(), v.clone()));
                } else if fb.contains(&k.name.as_str()) {
                    mb.push((k.clone(), v.clone()));
                } else {
                    let all: Vec<&str> = fa.iter().chain(fb).copied().collect();
                    let mut d = Diagnostic::error(format!("unknown option {:?}", k.name))
                        .at_opt(k.span.clone())
                        .at_opt(node.span.clone())
                        .with_detail(format!("the options of {component} are: {}", all.join(", ")));
                    if let Some(s) = did_you_mean(&k.name, all.iter().copied()) {
                        d = d.with_help(format!("did you mean {s:?}?"));
                    }
                    diags.push(d);
                }
            }
        }
        NodeKind::Null => {}
        _ => {
            diags.push(
                Diagnostic::error(format!("expected an object, found {}", node.kind_name())).at_opt(node.span.clone()),
            );
            return Err(diags);
        }
    }
    let a = decode_component::<A>(&Node::object(ma, node.span.clone()), component);
    let b = decode_component::<B>(&Node::object(mb, node.span.clone()), component);
    match (a, b) {
        (Ok(a), Ok(b)) if diags.is_empty() => Ok((a, b)),
        (a, b) => {
            diags.extend(a.err().unwrap_or_default());
            diags.extend(b.err().unwrap_or_default());
            diags.0.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
            Err(diags)
        }
    }
}

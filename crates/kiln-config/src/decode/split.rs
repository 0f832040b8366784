//! One configuration object shared by several config structs: a component's own options and
//! embedded common sets (a communicator's, the builder toolkit's parts), since serde's `flatten`
//! cannot be combined with `deny_unknown_fields`.

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

/// Config structs that share one configuration object: tuples of 2 to 10 structs (a
/// component's own options, then embedded common parts such as the communicator's, the HTTP
/// server's, the ISO download's). Implemented for tuples; see [`decode_parts`].
pub trait Parts: Sized {
    /// Each part's option names, in order.
    fn fields() -> Vec<&'static [&'static str]>;
    /// Decodes each part from its own object (one per part, in order), collecting every error.
    fn decode_each(nodes: &[Node], component: &str, diags: &mut Diagnostics) -> Option<Self>;
}

macro_rules! parts {
    ($($t:ident $v:ident $i:tt),+) => {
        impl<$($t: DeserializeOwned),+> Parts for ($($t,)+) {
            fn fields() -> Vec<&'static [&'static str]> {
                vec![$(fields_of::<$t>()),+]
            }
            fn decode_each(nodes: &[Node], component: &str, diags: &mut Diagnostics) -> Option<Self> {
                $(
                    let $v = match decode_component::<$t>(&nodes[$i], component) {
                        Ok(v) => Some(v),
                        Err(d) => {
                            diags.extend(d);
                            None
                        }
                    };
                )+
                Some(($($v?,)+))
            }
        }
    };
}

parts!(A a 0, B b 1);
parts!(A a 0, B b 1, C c 2);
parts!(A a 0, B b 1, C c 2, D d 3);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i 8);
parts!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i 8, J j 9);

/// Decodes one object node into several config structs that share it (a tuple, see [`Parts`]):
/// each option goes to the first part that has it. An option no part knows is an error naming
/// the options of all of them, with a did-you-mean over all of them; every part's errors are
/// reported at once. The parts may deny unknown fields (each sees only its own options).
pub fn decode_parts<T: Parts>(node: &Node, component: &str) -> Result<T, Diagnostics> {
    let fields = T::fields();
    let mut diags = Diagnostics::new();
    let mut buckets: Vec<Vec<_>> = vec![Vec::new(); fields.len()];
    match &node.kind {
        NodeKind::Object(m) => {
            for (k, v) in m {
                match fields.iter().position(|f| f.contains(&k.name.as_str())) {
                    Some(i) => buckets[i].push((k.clone(), v.clone())),
                    None => {
                        let all: Vec<&str> = fields.iter().flat_map(|f| f.iter()).copied().collect();
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
        }
        NodeKind::Null => {}
        _ => {
            diags.push(
                Diagnostic::error(format!("expected an object, found {}", node.kind_name())).at_opt(node.span.clone()),
            );
            return Err(diags);
        }
    }
    let nodes: Vec<Node> = buckets.into_iter().map(|b| Node::object(b, node.span.clone())).collect();
    let decoded = T::decode_each(&nodes, component, &mut diags);
    match decoded {
        Some(v) if diags.is_empty() => Ok(v),
        _ => {
            diags.0.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
            Err(diags)
        }
    }
}

/// Decodes one object node into two config structs that share it: `A` (the component's own
/// options) and `B` (embedded common options such as a communicator's). [`decode_parts`] for two.
pub fn decode_split<A: DeserializeOwned, B: DeserializeOwned>(
    node: &Node,
    component: &str,
) -> Result<(A, B), Diagnostics> {
    decode_parts::<(A, B)>(node, component)
}

//! The HCL2 decoding specification a component returns from `ConfigSpec` (an hcldec.ObjectSpec,
//! gob-encoded), turned into plain Rust: what the HCL2 loader needs to decode a block for the
//! plugin, and what it sends back (the value with its cty type, as cty's JSON).

use std::fmt;

use crate::gob::{self, GobValue};

#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// Attributes and blocks by name (hcldec.ObjectSpec), sorted by name.
    Object(Vec<(String, Spec)>),
    Attr {
        name: String,
        ty: CtyType,
        required: bool,
    },
    Block {
        type_name: String,
        nested: Box<Spec>,
        required: bool,
    },
    BlockList {
        type_name: String,
        nested: Box<Spec>,
        min_items: u64,
        max_items: u64,
    },
    BlockSet {
        type_name: String,
        nested: Box<Spec>,
        min_items: u64,
        max_items: u64,
    },
    BlockMap {
        type_name: String,
        label_names: Vec<String>,
        nested: Box<Spec>,
    },
    BlockAttrs {
        type_name: String,
        element_type: CtyType,
        required: bool,
    },
    Tuple(Vec<Spec>),
    Default {
        primary: Box<Spec>,
        default: Box<Spec>,
    },
    /// A constant (its cty.Value, still gob-encoded).
    Literal(Vec<u8>),
    /// A spec kind kiln does not know: its registered Go type name.
    Unknown(String),
}

/// A cty type.
#[derive(Debug, Clone, PartialEq)]
pub enum CtyType {
    String,
    Number,
    Bool,
    Dynamic,
    List(Box<CtyType>),
    Map(Box<CtyType>),
    Set(Box<CtyType>),
    Object(Vec<(String, CtyType)>),
    Tuple(Vec<CtyType>),
}

impl CtyType {
    /// cty's JSON form of the type (`"string"`, `["list","number"]`, `["object",{…}]`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            CtyType::String => json!("string"),
            CtyType::Number => json!("number"),
            CtyType::Bool => json!("bool"),
            CtyType::Dynamic => json!("dynamic"),
            CtyType::List(t) => json!(["list", t.to_json()]),
            CtyType::Map(t) => json!(["map", t.to_json()]),
            CtyType::Set(t) => json!(["set", t.to_json()]),
            CtyType::Object(attrs) => {
                let m: serde_json::Map<_, _> = attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", m])
            }
            CtyType::Tuple(ts) => json!(["tuple", ts.iter().map(CtyType::to_json).collect::<Vec<_>>()]),
        }
    }
}

impl fmt::Display for CtyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtyType::String => f.write_str("string"),
            CtyType::Number => f.write_str("number"),
            CtyType::Bool => f.write_str("bool"),
            CtyType::Dynamic => f.write_str("any"),
            CtyType::List(t) => write!(f, "list({t})"),
            CtyType::Map(t) => write!(f, "map({t})"),
            CtyType::Set(t) => write!(f, "set({t})"),
            CtyType::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    write!(f, "{}{k}={t}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("})")
            }
            CtyType::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    write!(f, "{}{t}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("])")
            }
        }
    }
}

impl Spec {
    /// Decodes a gob-encoded hcldec.ObjectSpec (the bytes of `ConfigSpec`'s reply).
    pub fn from_gob(data: &[u8]) -> Result<Spec, String> {
        object(&gob::decode(data)?)
    }

    fn write_tree(&self, f: &mut fmt::Formatter<'_>, indent: usize) -> fmt::Result {
        let pad = "  ".repeat(indent);
        match self {
            Spec::Object(entries) => {
                for (name, spec) in entries {
                    write!(f, "{pad}{name}: ")?;
                    spec.write_tree(f, indent)?;
                }
                Ok(())
            }
            Spec::Attr { name, ty, required } => {
                writeln!(f, "attribute {name:?} {ty}{}", if *required { " (required)" } else { "" })
            }
            Spec::Block { type_name, nested, required } => {
                writeln!(f, "block {type_name:?}{}", if *required { " (required)" } else { "" })?;
                nested.write_tree(f, indent + 1)
            }
            Spec::BlockList { type_name, nested, min_items, max_items }
            | Spec::BlockSet { type_name, nested, min_items, max_items } => {
                let kind = if matches!(self, Spec::BlockList { .. }) { "list" } else { "set" };
                writeln!(f, "block {kind} {type_name:?} [{min_items}..{max_items}]")?;
                nested.write_tree(f, indent + 1)
            }
            Spec::BlockMap { type_name, label_names, nested } => {
                writeln!(f, "block map {type_name:?} labels {label_names:?}")?;
                nested.write_tree(f, indent + 1)
            }
            Spec::BlockAttrs { type_name, element_type, required } => {
                writeln!(
                    f,
                    "block attributes {type_name:?} of {element_type}{}",
                    if *required { " (required)" } else { "" }
                )
            }
            Spec::Tuple(items) => {
                writeln!(f, "tuple")?;
                for s in items {
                    write!(f, "{pad}  - ")?;
                    s.write_tree(f, indent + 1)?;
                }
                Ok(())
            }
            Spec::Default { primary, .. } => {
                write!(f, "with default, ")?;
                primary.write_tree(f, indent)
            }
            Spec::Literal(_) => writeln!(f, "literal"),
            Spec::Unknown(name) => writeln!(f, "unknown spec {name}"),
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_tree(f, 0)
    }
}

fn object(v: &GobValue) -> Result<Spec, String> {
    let GobValue::Map(entries) = v else { return Err(format!("hcldec: expected an ObjectSpec, got {v:?}")) };
    let mut out = Vec::new();
    for (k, v) in entries {
        let GobValue::String(name) = k else { return Err(format!("hcldec: an ObjectSpec key {k:?}")) };
        out.push((name.clone(), spec(v)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Spec::Object(out))
}

/// A Spec interface value.
fn spec(v: &GobValue) -> Result<Spec, String> {
    let GobValue::Interface(Some((name, value))) = v else {
        return Err(format!("hcldec: expected a Spec interface value, got {v:?}"));
    };
    let kind = name.rsplit('.').next().unwrap_or(name);
    let value = value.as_ref();
    let s = |f: &str| match value.field(f) {
        Some(GobValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let b = |f: &str| matches!(value.field(f), Some(GobValue::Bool(true)));
    let n = |f: &str| match value.field(f) {
        Some(GobValue::Int(i)) => (*i).max(0) as u64,
        Some(GobValue::Uint(u)) => *u,
        _ => 0,
    };
    let nested = |f: &str| -> Result<Box<Spec>, String> {
        match value.field(f) {
            Some(v) => Ok(Box::new(spec(v)?)),
            None => Ok(Box::new(Spec::Object(Vec::new()))),
        }
    };
    Ok(match kind {
        "ObjectSpec" => object(value)?,
        "AttrSpec" => Spec::Attr { name: s("Name"), ty: cty_type(value.field("Type"))?, required: b("Required") },
        "BlockSpec" => Spec::Block { type_name: s("TypeName"), nested: nested("Nested")?, required: b("Required") },
        "BlockListSpec" => Spec::BlockList {
            type_name: s("TypeName"),
            nested: nested("Nested")?,
            min_items: n("MinItems"),
            max_items: n("MaxItems"),
        },
        "BlockSetSpec" => Spec::BlockSet {
            type_name: s("TypeName"),
            nested: nested("Nested")?,
            min_items: n("MinItems"),
            max_items: n("MaxItems"),
        },
        "BlockMapSpec" => Spec::BlockMap {
            type_name: s("TypeName"),
            label_names: match value.field("LabelNames") {
                Some(GobValue::List(l)) => l
                    .iter()
                    .map(|v| match v {
                        GobValue::String(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect(),
                _ => Vec::new(),
            },
            nested: nested("Nested")?,
        },
        "BlockAttrsSpec" => Spec::BlockAttrs {
            type_name: s("TypeName"),
            element_type: cty_type(value.field("ElementType"))?,
            required: b("Required"),
        },
        "TupleSpec" => match value {
            GobValue::List(items) => Spec::Tuple(items.iter().map(spec).collect::<Result<_, _>>()?),
            _ => Spec::Tuple(Vec::new()),
        },
        "DefaultSpec" => Spec::Default { primary: nested("Primary")?, default: nested("Default")? },
        "LiteralSpec" => Spec::Literal(match value.field("Value") {
            Some(GobValue::Encoded { bytes, .. }) => bytes.clone(),
            _ => Vec::new(),
        }),
        _ => Spec::Unknown(name.clone()),
    })
}

/// A cty.Type field: its GobEncode bytes are a gob stream of `gobType{Version, Impl}`.
fn cty_type(v: Option<&GobValue>) -> Result<CtyType, String> {
    let Some(GobValue::Encoded { bytes, .. }) = v else {
        // A zero cty.Type (no type at all) is sent as nothing.
        return Ok(CtyType::Dynamic);
    };
    let gt = gob::decode(bytes)?;
    let Some(GobValue::Interface(Some((name, imp)))) = gt.field("Impl").or_else(|| gt.field("Type")) else {
        return Ok(CtyType::Dynamic);
    };
    let kind = name.rsplit('.').next().unwrap_or(name);
    let elem = |f: &str| -> Result<Box<CtyType>, String> { Ok(Box::new(cty_type(imp.field(f))?)) };
    Ok(match kind {
        "primitiveType" => match imp.field("Kind") {
            Some(GobValue::Uint(83)) => CtyType::String,
            Some(GobValue::Uint(78)) => CtyType::Number,
            Some(GobValue::Uint(66)) => CtyType::Bool,
            other => return Err(format!("cty: a primitive type of kind {other:?}")),
        },
        "typeList" => CtyType::List(elem("ElementTypeT")?),
        "typeMap" => CtyType::Map(elem("ElementTypeT")?),
        "typeSet" => CtyType::Set(elem("ElementTypeT")?),
        "typeObject" => CtyType::Object(match imp.field("AttrTypes") {
            Some(GobValue::Map(entries)) => {
                let mut attrs = Vec::new();
                for (k, t) in entries {
                    let GobValue::String(k) = k else { continue };
                    attrs.push((k.clone(), cty_type(Some(t))?));
                }
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                attrs
            }
            _ => Vec::new(),
        }),
        "typeTuple" => CtyType::Tuple(match imp.field("ElemTypes") {
            Some(GobValue::List(items)) => items.iter().map(|t| cty_type(Some(t))).collect::<Result<_, _>>()?,
            _ => Vec::new(),
        }),
        "pseudoTypeDynamic" => CtyType::Dynamic,
        other => return Err(format!("cty: unknown type kind {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ConfigSpec reply of Packer 1.6.6's null builder (`packer plugin packer-builder-null`).
    const NULL_BUILDER: &[u8] = include_bytes!("../tests/data/null-builder-configspec.gob");

    #[test]
    fn decodes_the_null_builders_spec() {
        let Spec::Object(entries) = Spec::from_gob(NULL_BUILDER).unwrap() else { panic!("not an object") };
        let get = |n: &str| entries.iter().find(|(k, _)| k == n).map(|(_, s)| s.clone());
        assert_eq!(get("ssh_pty"), Some(Spec::Attr { name: "ssh_pty".into(), ty: CtyType::Bool, required: false }));
        assert_eq!(
            get("communicator"),
            Some(Spec::Attr { name: "communicator".into(), ty: CtyType::String, required: false })
        );
        assert_eq!(get("ssh_port"), Some(Spec::Attr { name: "ssh_port".into(), ty: CtyType::Number, required: false }));
        assert!(entries.len() > 50, "{} entries", entries.len());
        assert!(entries.iter().all(|(_, s)| !matches!(s, Spec::Unknown(_))), "{entries:?}");
    }

    #[test]
    fn every_truncation_of_the_spec_is_an_error() {
        for cut in (0..NULL_BUILDER.len()).step_by(97) {
            assert!(Spec::from_gob(&NULL_BUILDER[..cut]).is_err(), "cut at {cut}");
        }
    }
}

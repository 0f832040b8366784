//! What a packer-plugin-sdk plugin started with `--protobuf` sends instead of gob: its HCL2
//! spec as a protobuf message (Spec: object/attr/block/block list; CtyType: primitive by Go
//! name, list, map), and a data source's value as cty's msgpack of a dynamic value.

use crate::hcldec::{CtyType, Spec};
use crate::msgpack::Value;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("protobuf: a varint runs past the end")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("protobuf: a varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() - self.pos {
            return Err("protobuf: a field runs past the end".into());
        }
        self.pos += n;
        Ok(&self.buf[self.pos - n..self.pos])
    }

    /// The next field number and its value, `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Other
            }
            2 => {
                let n = self.varint()? as usize;
                Field::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Field::Other
            }
            w => return Err(format!("protobuf: wire type {w}")),
        };
        Ok(Some((key >> 3, field)))
    }
}

fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Spec {
    /// Decodes the protobuf form of a spec (`ConfigSpec`/`OutputSpec` under `--protobuf`).
    pub fn from_protobuf(data: &[u8]) -> Result<Spec, String> {
        spec(data, 0)
    }
}

fn spec(data: &[u8], depth: usize) -> Result<Spec, String> {
    if depth > 32 {
        return Err("protobuf: specs nested more than 32 deep".into());
    }
    let mut r = Reader::new(data);
    let mut out = None;
    while let Some((n, f)) = r.next()? {
        let Field::Bytes(b) = f else { continue };
        out = Some(match n {
            1 => object(b, depth)?,
            2 => attr(b)?,
            3 => block(b, depth, false)?,
            4 => block(b, depth, true)?,
            _ => continue,
        });
    }
    out.ok_or_else(|| "protobuf: an empty spec".to_string())
}

fn object(data: &[u8], depth: usize) -> Result<Spec, String> {
    let mut r = Reader::new(data);
    let mut entries = Vec::new();
    while let Some((n, f)) = r.next()? {
        let (1, Field::Bytes(entry)) = (n, f) else { continue };
        let (mut key, mut value) = (String::new(), None);
        let mut e = Reader::new(entry);
        while let Some((n, f)) = e.next()? {
            match (n, f) {
                (1, Field::Bytes(k)) => key = string(k),
                (2, Field::Bytes(v)) => value = Some(spec(v, depth + 1)?),
                _ => {}
            }
        }
        entries.push((key.clone(), value.ok_or_else(|| format!("protobuf: no spec for {key:?}"))?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Spec::Object(entries))
}

fn attr(data: &[u8]) -> Result<Spec, String> {
    let mut r = Reader::new(data);
    let (mut name, mut ty, mut required) = (String::new(), None, false);
    while let Some((n, f)) = r.next()? {
        match (n, f) {
            (1, Field::Bytes(b)) => name = string(b),
            (2, Field::Bytes(b)) => ty = Some(cty_type(b, 0)?),
            (3, Field::Varint(v)) => required = v != 0,
            _ => {}
        }
    }
    let ty = ty.ok_or_else(|| format!("protobuf: attribute {name:?} without a type"))?;
    Ok(Spec::Attr { name, ty, required })
}

fn block(data: &[u8], depth: usize, list: bool) -> Result<Spec, String> {
    let mut r = Reader::new(data);
    let (mut name, mut required, mut nested) = (String::new(), false, Spec::Object(Vec::new()));
    while let Some((n, f)) = r.next()? {
        match (n, f, list) {
            (1, Field::Bytes(b), _) => name = string(b),
            (2, Field::Varint(v), false) => required = v != 0,
            (3, Field::Bytes(b), false) | (2, Field::Bytes(b), true) => nested = spec(b, depth + 1)?,
            _ => {}
        }
    }
    let nested = Box::new(nested);
    Ok(if list {
        Spec::BlockList { type_name: name, nested, min_items: 0, max_items: 0 }
    } else {
        Spec::Block { type_name: name, nested, required }
    })
}

fn cty_type(data: &[u8], depth: usize) -> Result<CtyType, String> {
    if depth > 32 {
        return Err("protobuf: types nested more than 32 deep".into());
    }
    let mut r = Reader::new(data);
    while let Some((n, f)) = r.next()? {
        let Field::Bytes(b) = f else { continue };
        let element = |b: &[u8]| -> Result<Box<CtyType>, String> {
            let mut e = Reader::new(b);
            while let Some((n, f)) = e.next()? {
                if let (1, Field::Bytes(t)) = (n, f) {
                    return Ok(Box::new(cty_type(t, depth + 1)?));
                }
            }
            Err("protobuf: a collection type without its element type".into())
        };
        return match n {
            1 => {
                let mut p = Reader::new(b);
                let mut name = String::new();
                while let Some((n, f)) = p.next()? {
                    if let (1, Field::Bytes(s)) = (n, f) {
                        name = string(s);
                    }
                }
                match name.as_str() {
                    "cty.String" => Ok(CtyType::String),
                    "cty.Number" => Ok(CtyType::Number),
                    "cty.Bool" => Ok(CtyType::Bool),
                    other => Err(format!("protobuf: unknown primitive type {other:?}")),
                }
            }
            2 => Ok(CtyType::List(element(b)?)),
            3 => Ok(CtyType::Map(element(b)?)),
            _ => continue,
        };
    }
    Err("protobuf: an empty type".into())
}

/// A cty value as cty's msgpack of a dynamic value (`[type JSON, value]`): the value and its
/// type, both in cty's JSON forms.
pub fn cty_dynamic_from_msgpack(data: &[u8]) -> Result<(serde_json::Value, serde_json::Value), String> {
    let (v, n) = Value::decode(data).map_err(|e| e.to_string())?.ok_or("cty msgpack: the value is cut short")?;
    if n != data.len() {
        return Err("cty msgpack: bytes after the value".into());
    }
    let Value::Array(parts) = v else { return Err(format!("cty msgpack: expected [type, value], got {v:?}")) };
    let [ty, value] = parts.as_slice() else { return Err("cty msgpack: expected [type, value]".into()) };
    let ty_json = match ty {
        Value::Bin(b) => b.as_slice(),
        Value::Str(s) => s.as_bytes(),
        other => return Err(format!("cty msgpack: a type of {other:?}")),
    };
    let ty: serde_json::Value = serde_json::from_slice(ty_json).map_err(|e| format!("cty msgpack: its type: {e}"))?;
    Ok((cty_value(value)?, ty))
}

fn cty_value(v: &Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        // Extension 0 is an unknown value: a data source's result is always known.
        Value::Ext(..) => return Err("cty msgpack: an unknown value".into()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(cty_value).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                m.insert(k.as_str().unwrap_or_default().to_string(), cty_value(v)?);
            }
            serde_json::Value::Object(m)
        }
        other => other.to_json(),
    })
}

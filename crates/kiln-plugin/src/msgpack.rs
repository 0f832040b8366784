//! msgpack as ugorji's codec writes it for Packer's RPC (`MsgpackHandle{WriteExt: true}`):
//! structs as maps keyed by field name, strings as `str` (str8 included), byte slices as `bin`,
//! nil interfaces and pointers as `nil`. A dynamic [`Value`] is all the protocol needs.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    F32(f32),
    F64(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in wire order (Go maps have none; structs keep field order).
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

impl Value {
    /// A Go struct: a map keyed by field names.
    pub fn record<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(fields.into_iter().map(|(k, v)| (Value::Str(k.into()), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// The value of a struct field or a string-keyed map entry.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Uint(u) => Some(u),
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Uint(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// A `[]string` (nil counts as empty).
    pub fn as_strings(&self) -> Option<Vec<String>> {
        match self {
            Value::Nil => Some(Vec::new()),
            Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    }

    /// A JSON value of the same shape (the form generated data and artifact state take in kiln).
    /// Byte strings become strings; extension values become null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil | Value::Ext(..) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Uint(u) => J::from(*u),
            Value::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
            Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bin(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Value::Str(s) => s.clone(),
                            other => other.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// The msgpack form of a JSON value (a legacy template's configuration map, generated data).
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::Uint(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::F64(n.as_f64().unwrap_or(0.0))
                }
            }
            J::String(s) => Value::Str(s.clone()),
            J::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(o.iter().map(|(k, v)| (Value::Str(k.clone()), Value::from_json(v))).collect()),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Nil => out.push(0xc0),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Uint(u) => encode_uint(*u, out),
            Value::Int(i) if *i >= 0 => encode_uint(*i as u64, out),
            Value::Int(i) => {
                let i = *i;
                if i >= -32 {
                    out.push(i as i8 as u8);
                } else if i >= i64::from(i8::MIN) {
                    out.push(0xd0);
                    out.push(i as i8 as u8);
                } else if i >= i64::from(i16::MIN) {
                    out.push(0xd1);
                    out.extend_from_slice(&(i as i16).to_be_bytes());
                } else if i >= i64::from(i32::MIN) {
                    out.push(0xd2);
                    out.extend_from_slice(&(i as i32).to_be_bytes());
                } else {
                    out.push(0xd3);
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
            Value::F32(f) => {
                out.push(0xca);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::F64(f) => {
                out.push(0xcb);
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => {
                let n = s.len();
                if n < 32 {
                    out.push(0xa0 | n as u8);
                } else {
                    encode_len(n, [0xd9, 0xda, 0xdb], out);
                }
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bin(b) => {
                encode_len(b.len(), [0xc4, 0xc5, 0xc6], out);
                out.extend_from_slice(b);
            }
            Value::Array(a) => {
                if a.len() < 16 {
                    out.push(0x90 | a.len() as u8);
                } else {
                    encode_len16(a.len(), [0xdc, 0xdd], out);
                }
                for v in a {
                    v.encode(out);
                }
            }
            Value::Map(m) => {
                if m.len() < 16 {
                    out.push(0x80 | m.len() as u8);
                } else {
                    encode_len16(m.len(), [0xde, 0xdf], out);
                }
                for (k, v) in m {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Value::Ext(ty, data) => {
                match data.len() {
                    1 => out.push(0xd4),
                    2 => out.push(0xd5),
                    4 => out.push(0xd6),
                    8 => out.push(0xd7),
                    16 => out.push(0xd8),
                    n => encode_len(n, [0xc7, 0xc8, 0xc9], out),
                }
                out.push(*ty as u8);
                out.extend_from_slice(data);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one value from the front of `buf`: `Ok(None)` when `buf` holds only part of it.
    pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, DecodeError> {
        let mut d = Decoder { buf, pos: 0, depth: 0 };
        match d.value() {
            Ok(v) => Ok(Some((v, d.pos))),
            Err(Need::More) => Ok(None),
            Err(Need::Bad(e)) => Err(e),
        }
    }
}

fn encode_uint(u: u64, out: &mut Vec<u8>) {
    if u < 128 {
        out.push(u as u8);
    } else if u <= u64::from(u8::MAX) {
        out.push(0xcc);
        out.push(u as u8);
    } else if u <= u64::from(u16::MAX) {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn encode_len(n: usize, tags: [u8; 3], out: &mut Vec<u8>) {
    if n <= usize::from(u8::MAX) {
        out.push(tags[0]);
        out.push(n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(tags[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tags[2]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_len16(n: usize, tags: [u8; 2], out: &mut Vec<u8>) {
    if n <= usize::from(u16::MAX) {
        out.push(tags[0]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(tags[1]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "msgpack: {}", self.0)
    }
}

enum Need {
    More,
    Bad(DecodeError),
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Need> {
        if self.buf.len() - self.pos < n {
            return Err(Need::More);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, Need> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, Need> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn value(&mut self) -> Result<Value, Need> {
        let tag = self.byte()?;
        Ok(match tag {
            0x00..=0x7f => Value::Uint(u64::from(tag)),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f))?,
            0xa0..=0xbf => self.string(usize::from(tag & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (tag - 0xc4))? as usize;
                Value::Bin(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (tag - 0xc7))? as usize;
                let ty = self.byte()? as i8;
                Value::Ext(ty, self.take(n)?.to_vec())
            }
            0xca => Value::F32(f32::from_bits(self.be(4)? as u32)),
            0xcb => Value::F64(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Value::Uint(self.be(1 << (tag - 0xcc))?),
            0xd0 => Value::Int(i64::from(self.byte()? as i8)),
            0xd1 => Value::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Int(self.be(8)? as i64),
            0xd4..=0xd8 => {
                let ty = self.byte()? as i8;
                Value::Ext(ty, self.take(1 << (tag - 0xd4))?.to_vec())
            }
            0xd9..=0xdb => {
                let n = self.be(1 << (tag - 0xd9))? as usize;
                self.string(n)?
            }
            0xdc | 0xdd => {
                let n = self.be(2 << (tag - 0xdc))? as usize;
                self.array(n)?
            }
            0xde | 0xdf => {
                let n = self.be(2 << (tag - 0xde))? as usize;
                self.map(n)?
            }
            0xe0..=0xff => Value::Int(i64::from(tag as i8)),
            0xc1 => return Err(Need::Bad(DecodeError("the reserved byte 0xc1".into()))),
        })
    }

    fn string(&mut self, n: usize) -> Result<Value, Need> {
        Ok(Value::Str(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }

    fn nest(&mut self) -> Result<(), Need> {
        self.depth += 1;
        if self.depth > 100 {
            return Err(Need::Bad(DecodeError("values nested more than 100 deep".into())));
        }
        Ok(())
    }

    fn array(&mut self, n: usize) -> Result<Value, Need> {
        self.nest()?;
        // Each element takes at least a byte: don't trust a count the buffer cannot hold.
        let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            items.push(self.value()?);
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize) -> Result<Value, Need> {
        self.nest()?;
        let mut entries = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            let k = self.value()?;
            let v = self.value()?;
            entries.push((k, v));
        }
        self.depth -= 1;
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let v = Value::record([
            ("nil", Value::Nil),
            ("t", Value::Bool(true)),
            ("small", Value::Uint(5)),
            ("big", Value::Uint(1 << 40)),
            ("neg", Value::Int(-5)),
            ("neg16", Value::Int(-1000)),
            ("neg64", Value::Int(-(1 << 40))),
            ("f", Value::F64(1.5)),
            ("long", Value::str("x".repeat(300))),
            ("bin", Value::Bin(vec![1, 2, 3])),
            ("arr", Value::Array((0..20).map(Value::Uint).collect())),
            ("ext", Value::Ext(-1, vec![0; 12])),
        ]);
        let bytes = v.to_bytes();
        assert_eq!(Value::decode(&bytes).unwrap(), Some((v, bytes.len())));
        for cut in 0..bytes.len() {
            assert_eq!(Value::decode(&bytes[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn decodes_a_response_header_as_the_plugin_wrote_it() {
        // Captured from `packer plugin packer-builder-null`: the header of Builder.ConfigSpec's reply.
        let bytes = b"\x83\xadServiceMethod\xb2Builder.ConfigSpec\xa3Seq\x00\xa5Error\xa0";
        let (v, n) = Value::decode(bytes).unwrap().unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(v.get("ServiceMethod").and_then(Value::as_str), Some("Builder.ConfigSpec"));
        assert_eq!(v.get("Seq").and_then(Value::as_u64), Some(0));
        assert_eq!(v.get("Error").and_then(Value::as_str), Some(""));
    }

    #[test]
    fn rejects_garbage_and_absurd_nesting() {
        assert!(Value::decode(&[0xc1]).is_err());
        assert!(Value::decode(&[0x91; 200]).is_err());
    }
}

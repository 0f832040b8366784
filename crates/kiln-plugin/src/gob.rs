//! The part of Go's encoding/gob the plugin protocol needs: decoding any gob stream into a
//! dynamic [`GobValue`] (type definitions, structs, slices, maps, interface values with their
//! registered names, values of types with their own GobEncode as raw bytes), and encoding the
//! one struct the host sends, `CommandFinished`.
//!
//! A gob stream is a sequence of messages, each prefixed with its byte count. A message starts
//! with a type id: negative, a type definition follows; positive, a value of that type. Type
//! definitions an interface value needs may arrive in messages of their own in the middle of
//! the value that contains it, so values are read from "the current message", pulling the next
//! one when it runs out, as Go's decoder does.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum GobValue {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bytes(Vec<u8>),
    String(String),
    Complex(f64, f64),
    /// Fields that were sent (gob omits zero values), with the struct's type name.
    Struct {
        name: String,
        fields: Vec<(String, GobValue)>,
    },
    /// A slice or an array.
    List(Vec<GobValue>),
    Map(Vec<(GobValue, GobValue)>),
    /// An interface value: its registered concrete type name and the value (nil: `None`).
    Interface(Option<(String, Box<GobValue>)>),
    /// A value of a type with its own GobEncode/MarshalBinary/MarshalText: the type's name and
    /// the bytes its encoder made (for cty.Type and cty.Value, a gob stream of their own).
    Encoded {
        name: String,
        bytes: Vec<u8>,
    },
}

impl GobValue {
    /// A struct field by name (absent: the field held its zero value).
    pub fn field(&self, name: &str) -> Option<&GobValue> {
        match self {
            GobValue::Struct { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum WireType {
    List(i64),
    Struct { name: String, fields: Vec<(String, i64)> },
    Map(i64, i64),
    Encoded(String),
}

// Go's predefined type ids.
const T_BOOL: i64 = 1;
const T_INT: i64 = 2;
const T_UINT: i64 = 3;
const T_FLOAT: i64 = 4;
const T_BYTES: i64 = 5;
const T_STRING: i64 = 6;
const T_COMPLEX: i64 = 7;
const T_INTERFACE: i64 = 8;

pub type GobResult<T> = Result<T, String>;

/// Decodes the first value of the gob stream `data`.
pub fn decode(data: &[u8]) -> GobResult<GobValue> {
    let mut d = Decoder { data, pos: 0, msg_end: 0, types: HashMap::new(), depth: 0 };
    let id = d.type_sequence(false)?;
    d.top_value(id)
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    /// The end of the current message.
    msg_end: usize,
    types: HashMap<i64, WireType>,
    depth: usize,
}

impl Decoder<'_> {
    fn recv_message(&mut self) -> GobResult<bool> {
        if self.pos >= self.data.len() {
            return Ok(false);
        }
        self.msg_end = self.data.len();
        let n = self.uint()? as usize;
        if n == 0 || n > self.data.len() - self.pos {
            return Err(format!("gob: a message of {n} bytes where {} remain", self.data.len() - self.pos));
        }
        self.msg_end = self.pos + n;
        Ok(true)
    }

    fn byte(&mut self) -> GobResult<u8> {
        if self.pos >= self.msg_end {
            return Err("gob: a value runs past the end of its message".into());
        }
        self.pos += 1;
        Ok(self.data[self.pos - 1])
    }

    fn take(&mut self, n: usize) -> GobResult<&[u8]> {
        if n > self.msg_end - self.pos {
            return Err(format!("gob: {n} bytes wanted, {} left in the message", self.msg_end - self.pos));
        }
        self.pos += n;
        Ok(&self.data[self.pos - n..self.pos])
    }

    fn uint(&mut self) -> GobResult<u64> {
        let b = self.byte()?;
        if b < 0x80 {
            return Ok(u64::from(b));
        }
        let n = (-(b as i8)) as usize;
        if n > 8 {
            return Err(format!("gob: an unsigned integer of {n} bytes"));
        }
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn int(&mut self) -> GobResult<i64> {
        let u = self.uint()?;
        Ok(if u & 1 == 1 { !(u >> 1) as i64 } else { (u >> 1) as i64 })
    }

    fn string(&mut self) -> GobResult<String> {
        let n = self.uint()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Reads type definitions until a value's type id (Go's decodeTypeSequence).
    fn type_sequence(&mut self, in_interface: bool) -> GobResult<i64> {
        loop {
            if self.pos >= self.msg_end && !self.recv_message()? {
                return Err("gob: the stream ended before a value".into());
            }
            let id = self.int()?;
            if id >= 0 {
                return Ok(id);
            }
            let wire = self.wire_type()?;
            self.types.insert(-id, wire);
            if self.pos < self.msg_end {
                if !in_interface {
                    return Err("gob: extra data after a type definition".into());
                }
                // The byte count of the delimited value that follows.
                self.uint()?;
            }
        }
    }

    /// Walks the fields of a struct value: `field` gets each field number sent (gob sends
    /// deltas and leaves zero values out), until the terminating zero.
    fn each_field(&mut self, mut field: impl FnMut(&mut Self, i64) -> GobResult<()>) -> GobResult<()> {
        let mut f = -1i64;
        loop {
            let delta = self.uint()? as i64;
            if delta == 0 {
                return Ok(());
            }
            f += delta;
            field(self, f)?;
        }
    }

    /// A `wireType` struct: exactly one of its fields is set.
    fn wire_type(&mut self) -> GobResult<WireType> {
        let mut result = None;
        self.each_field(|d, field| {
            result = Some(match field {
                // ArrayT {CommonType, Elem, Len}, SliceT {CommonType, Elem}
                0 | 1 => WireType::List(d.common_then_ids()?.1[0]),
                // StructT {CommonType, Field []fieldType}
                2 => {
                    let mut name = String::new();
                    let mut fields = Vec::new();
                    d.each_field(|d, f| {
                        match f {
                            0 => name = d.name_and_id()?.0,
                            1 => {
                                for _ in 0..d.uint()? {
                                    fields.push(d.name_and_id()?);
                                }
                            }
                            _ => return Err("gob: bad structType".into()),
                        }
                        Ok(())
                    })?;
                    WireType::Struct { name, fields }
                }
                // MapT {CommonType, Key, Elem}
                3 => {
                    let (_, ids) = d.common_then_ids()?;
                    WireType::Map(ids[0], ids[1])
                }
                // GobEncoderT, BinaryMarshalerT, TextMarshalerT {CommonType}
                4..=6 => WireType::Encoded(d.common_then_ids()?.0),
                _ => return Err(format!("gob: unknown wireType field {field}")),
            });
            Ok(())
        })?;
        result.ok_or_else(|| "gob: an empty type definition".to_string())
    }

    /// A struct whose field 0 is a CommonType and whose fields 1 and 2 are integers (type ids,
    /// an array's length): the type's name and those two.
    fn common_then_ids(&mut self) -> GobResult<(String, [i64; 2])> {
        let mut name = String::new();
        let mut ids = [0; 2];
        self.each_field(|d, f| {
            match f {
                0 => name = d.name_and_id()?.0,
                1 | 2 => ids[f as usize - 1] = d.int()?,
                _ => return Err("gob: bad type definition".into()),
            }
            Ok(())
        })?;
        Ok((name, ids))
    }

    /// CommonType and fieldType, both {Name string, Id typeId}.
    fn name_and_id(&mut self) -> GobResult<(String, i64)> {
        let (mut name, mut id) = (String::new(), 0);
        self.each_field(|d, f| {
            match f {
                0 => name = d.string()?,
                1 => id = d.int()?,
                _ => return Err("gob: bad CommonType or fieldType".into()),
            }
            Ok(())
        })?;
        Ok((name, id))
    }

    /// A value at the top of a message or inside an interface: structs as they are, anything
    /// else after a zero "singleton" field delta.
    fn top_value(&mut self, id: i64) -> GobResult<GobValue> {
        if matches!(self.types.get(&id), Some(WireType::Struct { .. })) {
            return self.value(id);
        }
        if self.uint()? != 0 {
            return Err("gob: a non-zero delta before a single value".into());
        }
        self.value(id)
    }

    fn value(&mut self, id: i64) -> GobResult<GobValue> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("gob: values nested more than 64 deep".into());
        }
        let v = self.value_inner(id);
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self, id: i64) -> GobResult<GobValue> {
        Ok(match id {
            T_BOOL => GobValue::Bool(self.uint()? != 0),
            T_INT => GobValue::Int(self.int()?),
            T_UINT => GobValue::Uint(self.uint()?),
            T_FLOAT => GobValue::Float(float(self.uint()?)),
            T_COMPLEX => GobValue::Complex(float(self.uint()?), float(self.uint()?)),
            T_BYTES => {
                let n = self.uint()? as usize;
                GobValue::Bytes(self.take(n)?.to_vec())
            }
            T_STRING => GobValue::String(self.string()?),
            T_INTERFACE => self.interface()?,
            _ => match self.types.get(&id).cloned() {
                None => return Err(format!("gob: a value of undefined type {id}")),
                Some(WireType::List(elem)) => {
                    let n = self.uint()?;
                    let mut items = Vec::new();
                    for _ in 0..n {
                        items.push(self.value(elem)?);
                    }
                    GobValue::List(items)
                }
                Some(WireType::Map(k, v)) => {
                    let n = self.uint()?;
                    let mut entries = Vec::new();
                    for _ in 0..n {
                        let key = self.value(k)?;
                        let val = self.value(v)?;
                        entries.push((key, val));
                    }
                    GobValue::Map(entries)
                }
                Some(WireType::Encoded(name)) => {
                    let n = self.uint()? as usize;
                    GobValue::Encoded { name, bytes: self.take(n)?.to_vec() }
                }
                Some(WireType::Struct { name, fields: wire_fields }) => {
                    let mut fields = Vec::new();
                    self.each_field(|d, f| {
                        let Some((fname, fid)) = usize::try_from(f).ok().and_then(|i| wire_fields.get(i)).cloned()
                        else {
                            return Err(format!("gob: field {f} of {name}, which has {}", wire_fields.len()));
                        };
                        fields.push((fname, d.value(fid)?));
                        Ok(())
                    })?;
                    GobValue::Struct { name, fields }
                }
            },
        })
    }

    fn interface(&mut self) -> GobResult<GobValue> {
        let name = self.string()?;
        if name.is_empty() {
            return Ok(GobValue::Interface(None));
        }
        let id = self.type_sequence(true)?;
        // The byte count of the value (for skipping it); we read it instead.
        self.uint()?;
        let v = self.top_value(id)?;
        Ok(GobValue::Interface(Some((name, Box::new(v)))))
    }
}

fn float(u: u64) -> f64 {
    f64::from_bits(u.swap_bytes())
}

fn put_uint(u: u64, out: &mut Vec<u8>) {
    if u < 0x80 {
        out.push(u as u8);
        return;
    }
    let bytes = u.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push((-((8 - skip) as i8)) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn put_int(i: i64, out: &mut Vec<u8>) {
    let u = if i < 0 { (!(i as u64) << 1) | 1 } else { (i as u64) << 1 };
    put_uint(u, out);
}

fn put_string(s: &str, out: &mut Vec<u8>) {
    put_uint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

fn put_message(body: &[u8], out: &mut Vec<u8>) {
    put_uint(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// The gob stream of `CommandFinished{ExitStatus: status}` (a fresh encoder's: the type
/// definition, then the value), as a host-side communicator reports a command's end.
pub fn encode_command_finished(status: i64) -> Vec<u8> {
    const ID: i64 = 65; // the first id Go gives a user type; any unused id works
    let mut def = Vec::new();
    put_int(-ID, &mut def);
    // wireType{StructT: &structType{CommonType{Name, Id}, Field: [{ExitStatus, int}]}}
    put_uint(3, &mut def); // field 2: StructT
    put_uint(1, &mut def); // CommonType
    put_uint(1, &mut def);
    put_string("CommandFinished", &mut def);
    put_uint(1, &mut def);
    put_int(ID, &mut def);
    def.push(0);
    put_uint(1, &mut def); // Field
    put_uint(1, &mut def);
    put_uint(1, &mut def);
    put_string("ExitStatus", &mut def);
    put_uint(1, &mut def);
    put_int(T_INT, &mut def);
    def.push(0);
    def.push(0); // end structType
    def.push(0); // end wireType
    let mut val = Vec::new();
    put_int(ID, &mut val);
    if status != 0 {
        put_uint(1, &mut val);
        put_int(status, &mut val);
    }
    val.push(0);
    let mut out = Vec::new();
    put_message(&def, &mut out);
    put_message(&val, &mut out);
    out
}

/// The exit status in a gob `CommandFinished` stream.
pub fn decode_command_finished(data: &[u8]) -> GobResult<i64> {
    match decode(data)? {
        v @ GobValue::Struct { .. } => match v.field("ExitStatus") {
            None => Ok(0),
            Some(GobValue::Int(i)) => Ok(*i),
            Some(other) => Err(format!("gob: ExitStatus is {other:?}")),
        },
        other => Err(format!("gob: expected CommandFinished, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // What Go 1.19's encoding/gob writes for `Encode(&CommandFinished{n})` in a fresh program.
    const GO_COMMAND_FINISHED: [(i64, &str); 4] = [
        (0, "2cff810301010f436f6d6d616e6446696e697368656401ff82000101010a45786974537461747573010400000003ff8200"),
        (1, "2cff810301010f436f6d6d616e6446696e697368656401ff82000101010a45786974537461747573010400000005ff82010200"),
        (-1, "2cff810301010f436f6d6d616e6446696e697368656401ff82000101010a45786974537461747573010400000005ff82010100"),
        (300, "2cff810301010f436f6d6d616e6446696e697368656401ff82000101010a45786974537461747573010400000007ff8201fe025800"),
    ];

    #[test]
    fn command_finished_matches_go_byte_for_byte() {
        for (status, go) in GO_COMMAND_FINISHED {
            assert_eq!(encode_command_finished(status), hex(go), "status {status}");
            assert_eq!(decode_command_finished(&hex(go)), Ok(status));
        }
    }

    #[test]
    fn truncated_streams_are_errors_not_panics() {
        let full = hex(GO_COMMAND_FINISHED[3].1);
        for cut in 0..full.len() {
            assert!(decode(&full[..cut]).is_err(), "cut at {cut}");
        }
    }
}

//! `jsondecode`'s values: serde_json checks the document (its errors are the ones users see),
//! then this reader builds the value with each number read from its own text, at 512 bits as
//! cty reads JSON numbers (serde_json would round them to an f64 first).

use std::collections::BTreeMap;

use crate::value::{Number, Value};

pub(crate) fn decode(src: &str) -> Result<Value, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(src).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut r = Reader { s: src.as_bytes(), i: 0 };
    r.value().ok_or_else(|| "invalid JSON".to_string())
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        Some(match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                loop {
                    self.ws();
                    match *self.s.get(self.i)? {
                        b'}' => break,
                        b',' => self.i += 1,
                        _ => {
                            let k = self.string()?;
                            self.ws();
                            self.i += 1; // ':'
                            let v = self.value()?;
                            m.insert(k, v);
                        }
                    }
                }
                self.i += 1;
                Value::Object(m)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match *self.s.get(self.i)? {
                        b']' => break,
                        b',' => self.i += 1,
                        _ => items.push(self.value()?),
                    }
                }
                self.i += 1;
                Value::List(items)
            }
            b'"' => Value::String(self.string()?),
            b't' => self.word(4, Value::Bool(true)),
            b'f' => self.word(5, Value::Bool(false)),
            b'n' => self.word(4, Value::Null),
            _ => {
                let start = self.i;
                while self.s.get(self.i).is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    self.i += 1;
                }
                Value::Number(Number::parse(std::str::from_utf8(&self.s[start..self.i]).ok()?)?)
            }
        })
    }

    fn word(&mut self, len: usize, v: Value) -> Value {
        self.i += len;
        v
    }

    /// A string token: serde_json has checked it, so it decodes its escapes too.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => break,
                _ => {}
            }
        }
        serde_json::from_slice(&self.s[start..self.i]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits() {
        let v = decode(r#"{"b": [1.0000000000000000000001, -2e3, "x\"y", null, true, false], "a": {}}"#).unwrap();
        assert_eq!(
            crate::functions::encoding::json_string(&v),
            r#"{"a":{},"b":[1.0000000000000000000001,-2000,"x\"y",null,true,false]}"#
        );
        assert_eq!(
            decode("12345678901234567890").unwrap().to_template_string().as_deref(),
            Some("12345678901234567890")
        );
        assert!(decode("[1,").unwrap_err().starts_with("invalid JSON"));
    }
}

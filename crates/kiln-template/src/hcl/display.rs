//! Values as `packer inspect` and `packer console` show them: strings bare at the top level,
//! everything else in HCL syntax, lists and objects one element a line.

use crate::value::Value;

/// The text Packer shows for a value (`cidata`, `2`, `null`, `[\n  "a",\n]`); `<unknown>`
/// when any part of it is not known. `console` and `inspect` print values alike.
pub fn display_value(v: &Value) -> String {
    crate::inspect::printable(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn shows_values_like_packer_inspect() {
        assert_eq!(display_value(&Value::string("cidata")), "cidata");
        assert_eq!(display_value(&Value::int(2)), "2");
        assert_eq!(display_value(&Value::Null), "null");
        let l = Value::List(vec![Value::string("A"), Value::string("B")]);
        assert_eq!(display_value(&l), "[\n  \"A\",\n  \"B\",\n]");
        let mut m = BTreeMap::new();
        m.insert("key".to_string(), Value::string("value"));
        let mut inner = BTreeMap::new();
        inner.insert("foo".to_string(), Value::string("bar"));
        m.insert("something".to_string(), Value::Object(inner));
        assert_eq!(
            display_value(&Value::Object(m)),
            "{\n  \"key\" = \"value\"\n  \"something\" = {\n    \"foo\" = \"bar\"\n  }\n}"
        );
        assert_eq!(display_value(&Value::List(vec![])), "[]");
    }
}

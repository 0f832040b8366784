//! `jsondecode`'s values: the document is read by the template's JSON parser
//! (`crate::json::parse_keeping_duplicates`; a repeated key keeps its last value, as cty's
//! does), each number from its own text at 512 bits as cty reads JSON numbers.

use kiln_config::diag::SourceFile;

use crate::value::Value;

pub(crate) fn decode(src: &str) -> Result<Value, String> {
    let file = SourceFile::new("jsondecode", src);
    let node = crate::json::parse_keeping_duplicates(&file).map_err(|d| match &d.span {
        Some(s) => {
            let (line, col) = s.line_col();
            format!("invalid JSON: {} (line {line}, column {col} of the string)", d.summary)
        }
        None => format!("invalid JSON: {}", d.summary),
    })?;
    Ok(Value::from_json_node(&node))
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
        let e = decode("{\"a\":1,}").unwrap_err();
        assert!(e.contains("trailing comma") && e.contains("line 1, column 8"), "{e}");
        // Packer 1.6.6: `jsondecode("{\"a\":1,\"a\":2}")` is `{ "a" = 2 }`.
        let v = decode(r#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(crate::functions::encoding::json_string(&v), r#"{"a":2}"#);
    }
}

//! Test support: configuration written as JSON text becomes a spanned [`Node`] tree, so tests of
//! decoding and of the build engine can check `file:line:col` in errors. It is the template
//! loader's JSON parser without the template (no interpolation, no template structure).

use kiln_config::diag::SourceFile;
use kiln_config::node::Node;

/// Parses `text` (strict JSON) as file `path`. Errors are the parser's diagnostic, as text.
pub fn json_node(path: &str, text: &str) -> Result<Node, String> {
    crate::json::parse(&SourceFile::new(path, text)).map_err(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_config::node::NodeKind;

    #[test]
    fn spans_point_at_values_and_keys() {
        let n = json_node("t.json", "{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": true}\n}").unwrap();
        let NodeKind::Object(m) = &n.kind else { panic!("not an object") };
        assert_eq!(m[1].0.span.as_ref().unwrap().line_col(), (3, 3));
        let c = n.get("b").and_then(|b| b.get("c")).unwrap();
        assert_eq!(c.span.as_ref().unwrap().line_col(), (3, 14));
        assert_eq!(c.kind, NodeKind::Bool(true));
        assert!(json_node("t", "{\"a\" 1}").is_err());
    }
}

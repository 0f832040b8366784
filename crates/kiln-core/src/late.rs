//! Rendering late values: strings whose `{{ .Field }}` actions are only known at run time
//! (`{{.Vars}} {{.Script}}` in an `execute_command`, `{{.BuildName}}` in a checksum `output`).

use std::collections::BTreeMap;

/// Renders `src` with the fields in `data`. Plain `{{ .Field }}` actions are substituted here;
/// anything richer goes to the Go-template engine.
pub fn render(src: &str, data: &BTreeMap<String, String>) -> crate::Result<String> {
    if let Some(s) = substitute_fields(src, data) {
        return Ok(s);
    }
    let ctx = kiln_gotmpl::Context { data: data.clone(), strict_fields: true, ..Default::default() };
    kiln_gotmpl::render(src, &ctx).map_err(|e| crate::Error::new(format!("in {src:?}: {e}")))
}

/// `Some` when every action in `src` is a bare `.Field` present in `data`.
fn substitute_fields(src: &str, data: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let field = after[..end].trim().strip_prefix('.')?;
        if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        out.push_str(data.get(field)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Replaces the actions naming a field of `data` (`{{ .Host }}`, `{{build `Host`}}`) and leaves
/// every other action as it is, for a later render (`{{.Vars}}` in an `execute_command`).
pub fn render_known(src: &str, data: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = after[..end].trim().trim_start_matches('-').trim_end_matches('-').trim();
        let field = inner.strip_prefix('.').or_else(|| {
            inner.strip_prefix("build").map(str::trim).and_then(|a| {
                a.strip_prefix('`')
                    .and_then(|a| a.strip_suffix('`'))
                    .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
            })
        });
        match field.and_then(|f| data.get(f)) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// [`render_known`] over every string of a configuration tree.
pub fn render_node(node: &kiln_config::node::Node, data: &BTreeMap<String, String>) -> kiln_config::node::Node {
    use kiln_config::node::{Node, NodeKind};
    let kind = match &node.kind {
        NodeKind::String(s) if s.contains("{{") => NodeKind::String(render_known(s, data)),
        NodeKind::Array(items) => NodeKind::Array(items.iter().map(|n| render_node(n, data)).collect()),
        NodeKind::Blocks(items) => NodeKind::Blocks(items.iter().map(|n| render_node(n, data)).collect()),
        NodeKind::Object(m) => NodeKind::Object(m.iter().map(|(k, v)| (k.clone(), render_node(v, data))).collect()),
        other => other.clone(),
    };
    Node::new(kind, node.span.clone())
}

/// The configuration decoded again from `node` with build data filled in, when `node` refers
/// to any (`None`: the configuration decoded at prepare time stands).
pub fn redecode<T: serde::de::DeserializeOwned>(
    node: Option<&kiln_config::node::Node>,
    data: &BTreeMap<String, String>,
    component: &str,
) -> crate::Result<Option<T>> {
    match node {
        Some(n) if has_actions(n) => kiln_config::decode::decode_component(&render_node(n, data), component)
            .map(Some)
            .map_err(|d| crate::Error::new(d.to_string())),
        _ => Ok(None),
    }
}

/// Whether any string of `node` still holds a template action.
pub fn has_actions(node: &kiln_config::node::Node) -> bool {
    node.strings().iter().any(|s| s.contains("{{"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_substituted() {
        let data: BTreeMap<String, String> =
            [("Vars", "A='1' "), ("Script", "/tmp/s")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(render("{{.Vars}} {{ .Script }}", &data).unwrap(), "A='1'  /tmp/s");
        assert_eq!(render("plain", &data).unwrap(), "plain");
        assert_eq!(substitute_fields("{{ .Missing }}", &data), None);
        assert_eq!(substitute_fields("{{ upper .Vars }}", &data), None);
    }

    #[test]
    fn known_fields_only() {
        let data: BTreeMap<String, String> = [("Host".to_string(), "10.0.0.5".to_string())].into();
        assert_eq!(
            render_known("ssh {{ .Host }} {{build `Host`}} {{ build \"Host\" }} {{.Vars}} {{ .Port }}", &data),
            "ssh 10.0.0.5 10.0.0.5 10.0.0.5 {{.Vars}} {{ .Port }}"
        );
        assert_eq!(render_known("unclosed {{ .Host", &data), "unclosed {{ .Host");
    }
}

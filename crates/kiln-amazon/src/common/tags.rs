//! Tags: the maps of the template, their HCL2 block forms (`tag { key value }`), and their
//! rendering with the build data (`{{ .SourceAMIName }}`), as Packer renders them at run time.

use std::collections::BTreeMap;

use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::Node;
use serde::Deserialize;

use crate::client::Tags;

/// A `tag { key = … value = … }` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// The tag's key.
    #[serde(default)]
    pub key: String,
    /// The tag's value.
    #[serde(default)]
    pub value: String,
}

/// A `run_volume_tag { name = … value = … }` block (Packer names this one's key `name`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    /// The tag's key.
    #[serde(default)]
    pub name: String,
    /// The tag's value.
    #[serde(default)]
    pub value: String,
}

/// Adds the blocks `option` to the map; a block without a key is an error.
pub fn merge_blocks(
    map: &mut BTreeMap<String, String>,
    blocks: &[KeyValue],
    span: Option<Span>,
    option: &str,
    d: &mut Diagnostics,
) {
    for b in blocks {
        if b.key.is_empty() {
            d.push(Diagnostic::error(format!("a {option} block needs a key")).at_opt(span.clone()));
        } else {
            map.insert(b.key.clone(), b.value.clone());
        }
    }
}

/// [`merge_blocks`] for `name`/`value` blocks.
pub fn merge_named(
    map: &mut BTreeMap<String, String>,
    blocks: &[NameValue],
    span: Option<Span>,
    option: &str,
    d: &mut Diagnostics,
) {
    let kv: Vec<KeyValue> = blocks.iter().map(|b| KeyValue { key: b.name.clone(), value: b.value.clone() }).collect();
    merge_blocks(map, &kv, span, option, d);
}

/// Reports template syntax errors in the keys and values of the map `option` at prepare time.
pub fn check_templates(map: &BTreeMap<String, String>, option: &str, node: &Node, d: &mut Diagnostics) {
    let span = node.span_of(option);
    for s in map.iter().flat_map(|(k, v)| [k, v]) {
        check_template(s, option, span.clone(), d);
    }
}

/// Reports template syntax errors in one string option.
pub fn check_template(s: &str, option: &str, span: Option<Span>, d: &mut Diagnostics) {
    if let Some(e) = kiln_gotmpl::check(s).into_iter().next() {
        d.push(Diagnostic::error(format!("{option}: {}", e.message)).at_opt(span).with_detail(format!("in {s:?}")));
    }
}

/// The build data templates may use: `SourceAMI`, `SourceAMIName`, `SourceAMIOwner`,
/// `SourceAMIOwnerName`, `SourceAMICreationDate`, `BuildRegion`, and `SourceAMITags.<key>`.
pub type BuildData = BTreeMap<String, String>;

/// Renders one string with the build data; its own name `what` goes into errors.
pub fn render(src: &str, data: &BuildData, what: &str) -> Result<String, String> {
    if !src.contains("{{") {
        return Ok(src.to_string());
    }
    let ctx = kiln_gotmpl::Context {
        data: data.clone(),
        build_data: Some(data.clone()),
        build_type: Some("amazon-ebs".into()),
        strict_fields: true,
        ..kiln_gotmpl::Context::default()
    };
    kiln_gotmpl::render(src, &ctx).map_err(|e| format!("rendering {what} {src:?}: {}", e.message))
}

/// Renders every key and value of `tags`.
pub fn render_tags(tags: &BTreeMap<String, String>, data: &BuildData, option: &str) -> Result<Tags, String> {
    tags.iter().map(|(k, v)| Ok((render(k, data, option)?, render(v, data, &format!("{option} {k:?}"))?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_data_in_tags() {
        let data: BuildData =
            [("SourceAMIName", "ubuntu-focal"), ("BuildRegion", "us-east-1"), ("SourceAMITags.OS", "ubuntu")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let tags: BTreeMap<String, String> = [
            ("Base".to_string(), "{{ .SourceAMIName }}".to_string()),
            ("{{ .BuildRegion }}-os".to_string(), "{{ .SourceAMITags.OS }}".to_string()),
            ("plain".to_string(), "{{ build `BuildRegion` }}".to_string()),
        ]
        .into();
        let r = render_tags(&tags, &data, "tags").unwrap();
        assert_eq!(r["Base"], "ubuntu-focal");
        assert_eq!(r["us-east-1-os"], "ubuntu");
        assert_eq!(r["plain"], "us-east-1");
        let e = render("{{ .SourceAMINmae }}", &data, "ami_name").unwrap_err();
        assert!(e.contains("SourceAMIName"), "{e}");
    }
}

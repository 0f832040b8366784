//! Rendering late values: strings whose `{{ .Field }}` actions are only known at run time
//! (`{{.Vars}} {{.Script}}` in an `execute_command`, `{{.BuildName}}` in a checksum `output`).

use std::collections::BTreeMap;

/// Renders `src` with the fields in `data`. Plain `{{ .Field }}` actions are substituted here;
/// anything richer goes to the Go-template engine.
pub fn render(src: &str, data: &BTreeMap<String, String>) -> crate::Result<String> {
    if let Some(s) = substitute_fields(src, data) {
        return Ok(s);
    }
    let ctx = kiln_template::gotmpl::Context { data: data.clone(), strict_fields: true, ..Default::default() };
    kiln_template::gotmpl::render(src, &ctx).map_err(|e| crate::Error::new(format!("in {src:?}: {e}")))
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
}

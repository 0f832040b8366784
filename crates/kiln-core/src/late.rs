//! Component fields finished when the component runs: Go-template actions that name values only
//! the component knows at that moment (`{{ .Path }}` and `{{ .Vars }}` in a shell
//! `execute_command`, `{{ .HTTPIP }}` in a `boot_command`, `{{ .BuildName }}` in a checksum
//! `output`). A config struct types such a field as [`Late<String>`]; the component renders it
//! with its own fields. (Values the *build* makes known, `build.Host`, are resolved by the
//! engine before the component is prepared: see [`kiln_config::node::LateValue`].)

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A configuration value written as a template, rendered into a `T` when the component runs.
pub struct Late<T = String> {
    text: String,
    _t: PhantomData<fn() -> T>,
}

impl<T> Late<T> {
    pub fn new(text: impl Into<String>) -> Late<T> {
        Late { text: text.into(), _t: PhantomData }
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `.Field` names the template uses that `provided` does not hold (for `prepare` to
    /// report), or the template's syntax error.
    pub fn unknown_fields(&self, provided: &[&str]) -> Result<Vec<String>, String> {
        if !self.text.contains("{{") {
            return Ok(Vec::new());
        }
        let t = kiln_gotmpl::Template::parse(&self.text)
            .map_err(|e| e.first().map(|e| e.message.clone()).unwrap_or_default())?;
        Ok(t.fields()
            .into_iter()
            .map(|f| f.path.split('.').next().unwrap_or_default().to_string())
            .filter(|f| !provided.contains(&f.as_str()))
            .collect())
    }
}

impl<T: FromStr> Late<T>
where
    T::Err: fmt::Display,
{
    /// The value for the component's `fields`; a field the template names that `fields` lacks
    /// is an error.
    pub fn render(&self, fields: &BTreeMap<String, String>) -> crate::Result<T> {
        let s = render(&self.text, fields)?;
        s.parse::<T>().map_err(|e| crate::Error::new(format!("{:?} (from {:?}): {e}", s, self.text)))
    }
}

impl<T> Clone for Late<T> {
    fn clone(&self) -> Self {
        Late::new(self.text.clone())
    }
}

impl<T> fmt::Debug for Late<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Late({:?})", self.text)
    }
}

impl<T> PartialEq for Late<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Default for Late<T> {
    fn default() -> Self {
        Late::new(String::new())
    }
}

impl<'de, T> Deserialize<'de> for Late<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<fn() -> T>);
        impl<T> Visitor<'_> for V<T> {
            type Value = Late<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Late<T>, E> {
                Ok(Late::new(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Late<T>, E> {
                Ok(Late::new(v))
            }
        }
        d.deserialize_string(V(PhantomData))
    }
}

/// Renders `src` with the fields in `data` (the Go-template engine); a field missing from
/// `data` is an error.
pub fn render(src: &str, data: &BTreeMap<String, String>) -> crate::Result<String> {
    if !src.contains("{{") {
        return Ok(src.to_string());
    }
    let ctx = kiln_gotmpl::Context { data: data.clone(), strict_fields: true, ..Default::default() };
    kiln_gotmpl::render(src, &ctx).map_err(|e| crate::Error::new(format!("in {src:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fields_are_substituted() {
        let d = data(&[("Vars", "A='1' "), ("Script", "/tmp/s")]);
        assert_eq!(render("{{.Vars}} {{ .Script }}", &d).unwrap(), "A='1'  /tmp/s");
        assert_eq!(render("plain", &d).unwrap(), "plain");
        assert!(render("{{ .Missing }}", &d).is_err());
        assert_eq!(render("{{ upper .Script }}", &d).unwrap(), "/TMP/S");
    }

    #[test]
    fn typed_late_values_render_and_report_unknown_fields() {
        let port: Late<u16> = Late::new("{{ .SSHHostPort }}");
        assert_eq!(port.render(&data(&[("SSHHostPort", "2222")])).unwrap(), 2222);
        assert!(port.render(&data(&[("SSHHostPort", "x")])).is_err());
        let cmd: Late = Late::new("chmod +x {{ .Path }}; {{ .Varz }} {{ .Path }}");
        assert_eq!(cmd.unknown_fields(&["Path", "Vars"]).unwrap(), ["Varz"]);
        assert!(Late::<String>::new("{{ .Path ").unknown_fields(&["Path"]).is_err());
    }
}

//! Translates Go-template actions (`{{ user `x` }}`, `{{ timestamp }}` …) inside legacy JSON
//! strings into HCL2 template text (`${var.x}`, `${local.timestamp}` …).
//!
//! Only the calls that have a direct HCL2 equivalent are translated; any other action is kept as
//! written and reported, so the user can upgrade it by hand (the HCL2 engine leaves `{{ }}` text
//! alone, which is also what keeps `{{ .HTTPIP }}` working in boot commands).

use std::collections::BTreeSet;

/// Where a string appears: `env` may only be called in a variable's default in HCL2.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    VariableDefault,
    Elsewhere,
}

/// What translating one string needed or found.
#[derive(Default)]
pub struct Translation {
    /// The body of an HCL quoted string (without the quotes), escaped.
    pub text: String,
    /// Variables referenced through `user`.
    pub users: BTreeSet<String>,
    /// `{{ timestamp }}` was used: the `local.timestamp` local is needed.
    pub timestamp: bool,
    /// Some call other than `env` and plain text: a variable default with it must become a local.
    pub needs_local: bool,
    /// Actions left as written, with why.
    pub unhandled: Vec<String>,
}

/// Names of variables that were turned into locals (their references become `local.x`).
pub trait Names {
    fn is_local(&self, name: &str) -> bool;
}

impl Names for BTreeSet<String> {
    fn is_local(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// Escapes literal text for an HCL quoted string; `${` and `%{` must not start a template.
pub fn escape_literal(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Translates one JSON string. Its actions are found by kiln-gotmpl's lexer; a string the
/// lexer rejects (Packer's parser would too) is kept as literal text.
pub fn translate(s: &str, place: Place, locals: &dyn Names) -> Translation {
    let mut t = Translation::default();
    let Ok(spans) = kiln_gotmpl::action_spans(s) else {
        escape_literal(s, &mut t.text);
        return t;
    };
    let mut pos = 0;
    for span in spans {
        escape_literal(&s[pos..span.start], &mut t.text);
        match translate_action(&s[span.inner], place, locals, &mut t) {
            Some(expr) => {
                t.text.push_str("${");
                t.text.push_str(&expr);
                t.text.push('}');
            }
            None => escape_literal(&s[span.start..span.end], &mut t.text),
        }
        pos = span.end;
    }
    escape_literal(&s[pos..], &mut t.text);
    t
}

#[derive(Debug, PartialEq)]
enum Word {
    Ident(String),
    Field(String),
    Str(String),
    Other(String),
}

fn words(inner: &str) -> Vec<Word> {
    let s = inner.trim().trim_start_matches('-').trim_end_matches('-').trim();
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'`' {
            let end = s[i + 1..].find('`').map_or(s.len(), |e| i + 1 + e);
            out.push(Word::Str(s[i + 1..end].to_string()));
            i = end + 1;
        } else if c == b'"' {
            let mut j = i + 1;
            let mut val = String::new();
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' && j + 1 < b.len() {
                    j += 1;
                }
                let ch = s[j..].chars().next().unwrap_or(' ');
                val.push(ch);
                j += ch.len_utf8();
            }
            out.push(Word::Str(val));
            i = j + 1;
        } else {
            let end = s[i..].find(|ch: char| ch.is_whitespace() || ch == '`' || ch == '"').map_or(s.len(), |e| i + e);
            let w = &s[i..end];
            if let Some(f) = w.strip_prefix('.') {
                out.push(Word::Field(f.to_string()));
            } else if w.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                out.push(Word::Ident(w.to_string()));
            } else {
                out.push(Word::Other(w.to_string()));
            }
            i = end;
        }
    }
    out
}

/// `s` as an HCL quoted string.
pub(crate) fn hcl_string(s: &str) -> String {
    let mut out = String::from("\"");
    escape_literal(s, &mut out);
    out.push('"');
    out
}

fn translate_action(inner: &str, place: Place, locals: &dyn Names, t: &mut Translation) -> Option<String> {
    let w = words(inner);
    let simple = |name: &str| matches!(w.as_slice(), [Word::Ident(n)] if n == name);
    let one_arg = |name: &str| match w.as_slice() {
        [Word::Ident(n), Word::Str(a)] if n == name => Some(a.clone()),
        _ => None,
    };
    if let Some(v) = one_arg("user") {
        t.users.insert(v.clone());
        let scope = if locals.is_local(&v) { "local" } else { "var" };
        return Some(format!("{scope}.{v}"));
    }
    if let Some(v) = one_arg("env") {
        if place == Place::VariableDefault {
            return Some(format!("env({})", hcl_string(&v)));
        }
        t.unhandled.push(format!(
            "`env` can only be used in a variable's default in HCL2: declare a variable with `default = env(\"{v}\")` and use it here"
        ));
        return None;
    }
    if let Some(v) = one_arg("build") {
        t.needs_local = true;
        return Some(format!("build.{v}"));
    }
    if let Some(layout) = one_arg("isotime") {
        t.needs_local = true;
        return match go_layout_to_formatdate(&layout) {
            Some(f) => Some(format!("formatdate({}, timestamp())", hcl_string(&f))),
            None => {
                t.unhandled.push(format!(
                    "the isotime layout {layout:?} has no formatdate equivalent: rewrite it with formatdate() by hand"
                ));
                None
            }
        };
    }
    let direct = [
        ("isotime", "formatdate(\"YYYY-MM-DD'T'hh:mm:ssZ\", timestamp())"),
        ("uuid", "uuidv4()"),
        ("pwd", "path.cwd"),
        ("template_dir", "path.root"),
        ("packer_version", "packer.version"),
        ("build_name", "source.name"),
        ("build_type", "source.type"),
    ];
    for (name, expr) in direct {
        if simple(name) {
            t.needs_local = true;
            return Some(expr.to_string());
        }
    }
    if simple("timestamp") {
        t.needs_local = true;
        t.timestamp = true;
        return Some("local.timestamp".to_string());
    }
    if matches!(w.as_slice(), [Word::Field(_)]) {
        // A value only known while building (`{{ .HTTPIP }}`); HCL2 keeps it as it is.
        return None;
    }
    let name = match w.first() {
        Some(Word::Ident(n)) => n.clone(),
        _ => inner.trim().to_string(),
    };
    let name = if let Some(pos) = w.iter().position(|x| *x == Word::Other("|".into())) {
        match w.get(pos + 1) {
            Some(Word::Ident(n)) => n.clone(),
            _ => name,
        }
    } else {
        name
    };
    t.needs_local = true;
    t.unhandled.push(unhandled_help(&name));
    None
}

fn unhandled_help(name: &str) -> String {
    let instead = match name {
        "lower" => "lower(...)",
        "upper" => "upper(...)",
        "split" => "split(separator, string)",
        "replace" | "replace_all" => "replace(string, substring, replacement) or regex_replace(...)",
        "clean_resource_name" => "a validation block, replace() or regex_replace()",
        "aws_secretsmanager" => "a data source or the aws_secretsmanager() function",
        "consul_key" => "the consul_key() function",
        "vault" => "the vault() function",
        _ => "",
    };
    if instead.is_empty() {
        format!("the {name:?} call cannot be upgraded automatically; rewrite it in HCL2 by hand")
    } else {
        format!("the {name:?} call cannot be upgraded automatically; rewrite it with {instead}")
    }
}

/// Go's reference-time layout (`2006-01-02T15:04:05Z07:00`) as a formatdate() spec, or None when
/// it uses something formatdate cannot express (fractions of seconds, `_2` …).
pub fn go_layout_to_formatdate(layout: &str) -> Option<String> {
    // Longest tokens first, so that `2006` is not read as `2` + `006`.
    const TOKENS: &[(&str, &str)] = &[
        ("January", "MMMM"),
        ("Monday", "EEEE"),
        ("Z07:00", "Z"),
        ("-07:00", "ZZZZZ"),
        ("-0700", "ZZZZ"),
        ("2006", "YYYY"),
        ("Jan", "MMM"),
        ("Mon", "EEE"),
        ("MST", "ZZZ"),
        ("01", "MM"),
        ("02", "DD"),
        ("03", "HH"),
        ("04", "mm"),
        ("05", "ss"),
        ("06", "YY"),
        ("15", "hh"),
        ("PM", "AA"),
        ("pm", "aa"),
        ("1", "M"),
        ("2", "D"),
        ("3", "H"),
        ("4", "m"),
        ("5", "s"),
    ];
    let mut out = String::new();
    let mut literal = String::new();
    let flush = |literal: &mut String, out: &mut String| -> Option<()> {
        // A digit that is not part of a layout element means the layout was not meant as one
        // (`{{isotime "202205111847"}}`); there is no faithful translation.
        if literal.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        if literal.chars().any(|c| c.is_ascii_alphabetic() || c == '\'') {
            out.push('\'');
            out.push_str(&literal.replace('\'', "''"));
            out.push('\'');
        } else {
            out.push_str(literal);
        }
        literal.clear();
        Some(())
    };
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        if rest.starts_with("_2") || rest.starts_with(".0") || rest.starts_with(".9") || rest.starts_with("002") {
            return None;
        }
        for (go, spec) in TOKENS {
            if let Some(r) = rest.strip_prefix(go) {
                flush(&mut literal, &mut out)?;
                out.push_str(spec);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next()?;
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut literal, &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &str) -> Translation {
        translate(s, Place::Elsewhere, &BTreeSet::new())
    }

    #[test]
    fn user_timestamp_and_build_name() {
        let t = tr("ami-{{user `name`}}-{{ timestamp }} on {{build_name}}");
        assert_eq!(t.text, "ami-${var.name}-${local.timestamp} on ${source.name}");
        assert!(t.timestamp && t.unhandled.is_empty());
        assert_eq!(t.users.iter().collect::<Vec<_>>(), ["name"]);
        let locals: BTreeSet<String> = ["name".to_string()].into();
        assert_eq!(translate("{{ user \"name\" }}", Place::Elsewhere, &locals).text, "${local.name}");
    }

    #[test]
    fn runtime_fields_and_unknown_calls_are_kept() {
        let t = tr("http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg");
        assert_eq!(t.text, "http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg");
        assert!(t.unhandled.is_empty());
        let t = tr("{{ `X` | lower }}");
        assert_eq!(t.text, "{{ `X` | lower }}");
        assert!(t.unhandled[0].contains("\"lower\""), "{:?}", t.unhandled);
    }

    #[test]
    fn env_only_in_variable_defaults() {
        let t = translate("{{env `HOME`}}/x", Place::VariableDefault, &BTreeSet::new());
        assert_eq!(t.text, "${env(\"HOME\")}/x");
        assert!(!t.needs_local);
        assert_eq!(tr("{{env `HOME`}}").unhandled.len(), 1);
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(tr("a\"b\\c\n${x} %{y}").text, "a\\\"b\\\\c\\n$${x} %%{y}");
    }

    #[test]
    fn isotime_layouts() {
        assert_eq!(go_layout_to_formatdate("2006-01-02").as_deref(), Some("YYYY-MM-DD"));
        assert_eq!(go_layout_to_formatdate("2006-01-02T15:04:05Z07:00").as_deref(), Some("YYYY-MM-DD'T'hh:mm:ssZ"));
        assert_eq!(go_layout_to_formatdate("Jan 2 3:04PM MST").as_deref(), Some("MMM D H:mmAA ZZZ"));
        assert_eq!(go_layout_to_formatdate("20060102150405").as_deref(), Some("YYYYMMDDhhmmss"));
        assert_eq!(go_layout_to_formatdate("15:04:05.000"), None);
        assert_eq!(go_layout_to_formatdate("202205111847"), None);
        let t = tr("{{isotime \"2006\"}}");
        assert_eq!(t.text, "${formatdate(\"YYYY\", timestamp())}");
    }
}

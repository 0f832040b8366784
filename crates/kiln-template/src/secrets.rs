//! Credentials written straight into a template.
//!
//! An option named like a credential (`secret_key`, `password`, `client_secret`, `*_token` …)
//! that holds a literal string rather than a variable reference is reported with a warning that
//! names the place and the option, never the value. The values themselves go into the
//! template's `sensitive_values`, and [`mask_file`] gives a copy of the source whose snippets
//! show `<sensitive>` instead (whatever the value's length), so no diagnostic about that file can
//! print them.

use std::sync::Arc;

use kiln_config::diag::{Diagnostic, SourceFile, Span};
use kiln_config::node::{Node, NodeKind};

const EXACT: &[&str] = &[
    "access_key",
    "secret_key",
    "secret",
    "token",
    "password",
    "client_secret",
    "api_key",
    "api_token",
    "session_token",
    "security_token",
];

const SUFFIXES: &[&str] = &["_password", "_secret", "_token", "_secret_key", "_access_key", "_api_key"];

/// Whether an option of this name holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    EXACT.contains(&n.as_str()) || SUFFIXES.iter().any(|s| n.ends_with(s))
}

/// A literal: non-empty and not taken from a variable (`{{user ...}}`, `${var.x}`, `var.x`).
fn is_literal(s: &str) -> bool {
    !s.trim().is_empty() && !s.contains("{{") && !s.contains("${")
}

/// Hard-coded credentials in `node` (a component's configuration), one warning each.
/// `component` names the component in messages, e.g. `builder "amazon-ebs"`.
pub fn scan_hardcoded(node: &Node, component: &str) -> Vec<Diagnostic> {
    found(node)
        .into_iter()
        .map(|(option, key_span, _)| {
            Diagnostic::warning(format!("hard-coded credential in option \"{option}\" of {component}"))
                .at_opt(key_span)
                .with_detail("anyone who can read the template or its history can read this credential")
                .with_help(
                    "read it from a variable marked sensitive, set from the environment or a var file kept out of version control",
                )
        })
        .collect()
}

/// `diags` rendered with `values` masked: errors a loader returns quote values (a function's
/// "cannot convert ..."), sensitive ones included.
pub fn mask_diagnostics(diags: Vec<Diagnostic>, values: &[String]) -> Vec<Diagnostic> {
    let masker = Arc::new(kiln_config::mask::Masker::new(values));
    diags.into_iter().map(|d| d.masked(&masker)).collect()
}

/// The hard-coded credential values in `node`, for `sensitive_values`.
pub fn hardcoded_values(node: &Node) -> Vec<String> {
    found(node).into_iter().map(|(_, _, v)| v.as_str().unwrap_or_default().to_string()).collect()
}

/// The value nodes of hard-coded credentials (their spans are what [`mask_file`] hides).
pub fn hardcoded_nodes(node: &Node) -> Vec<&Node> {
    found(node).into_iter().map(|(_, _, v)| v).collect()
}

fn found(node: &Node) -> Vec<(&str, Option<Span>, &Node)> {
    let mut out = Vec::new();
    walk(node, &mut out);
    out
}

fn walk<'a>(node: &'a Node, out: &mut Vec<(&'a str, Option<Span>, &'a Node)>) {
    match &node.kind {
        NodeKind::Object(m) => {
            for (k, v) in m {
                match &v.kind {
                    NodeKind::String(s) if is_credential_name(&k.name) && is_literal(s) => {
                        out.push((&k.name, k.span.clone(), v))
                    }
                    _ => walk(v, out),
                }
            }
        }
        NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().for_each(|n| walk(n, out)),
        _ => {}
    }
}

/// A copy of `file` with the text inside each span hidden ([`kiln_config::mask::HIDDEN`], byte
/// for byte, so offsets and lines stay the same); diagnostics show each hidden run as
/// `<sensitive>`.
pub fn mask_file(file: &Arc<SourceFile>, spans: &[Span]) -> Arc<SourceFile> {
    let mut bytes = file.text.clone().into_bytes();
    for s in spans {
        let (start, end) = (s.start.min(bytes.len()), s.end.min(bytes.len()));
        for b in &mut bytes[start..end] {
            // Keep the quotes of a JSON string so the snippet still reads as JSON.
            if *b != b'"' {
                *b = kiln_config::mask::HIDDEN as u8;
            }
        }
    }
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    SourceFile::new(file.path.clone(), text)
}

/// Points every span in `node` that is in `from` at `to` instead.
pub fn respan(node: &mut Node, from: &Arc<SourceFile>, to: &Arc<SourceFile>) {
    let fix = |s: &mut Option<Span>| {
        if let Some(span) = s {
            if Arc::ptr_eq(&span.file, from) {
                span.file = Arc::clone(to);
            }
        }
    };
    fix(&mut node.span);
    match &mut node.kind {
        NodeKind::Object(m) => {
            for (k, v) in m {
                fix(&mut k.span);
                respan(v, from, to);
            }
        }
        NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter_mut().for_each(|n| respan(n, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn tree() -> (Arc<SourceFile>, Node) {
        let text = format!(
            "{{\"access_key\": \"AKIAIOSFODNN7EXAMPLE\",\n \"secret_key\": \"{SECRET}\",\n \"token\": \"{{{{user `t`}}}}\",\n \"ssh_private_key_file\": \"k.pem\", \"nested\": {{\"winrm_password\": \"pw\"}}, \"password\": \"\"}}"
        );
        let f = SourceFile::new("t.json", text);
        let n = crate::json::parse(&f).expect("parses");
        (f, n)
    }

    #[test]
    fn names_like_credentials() {
        for n in
            ["access_key", "secret_key", "ssh_password", "winrm_password", "client_secret", "vault_token", "Password"]
        {
            assert!(is_credential_name(n), "{n}");
        }
        for n in ["ssh_private_key_file", "kms_key_id", "ssh_username", "token_file", "password_file"] {
            assert!(!is_credential_name(n), "{n}");
        }
    }

    #[test]
    fn warns_on_literals_only_and_never_shows_the_value() {
        let (f, n) = tree();
        let warnings = scan_hardcoded(&n, "builder \"amazon-ebs\"");
        let opts: Vec<String> = warnings.iter().map(|w| w.summary.clone()).collect();
        assert_eq!(warnings.len(), 3, "{opts:?}");
        assert!(opts[1].contains("\"secret_key\""));
        assert_eq!(warnings[1].span.as_ref().map(Span::line_col), Some((2, 2)));
        assert_eq!(hardcoded_values(&n), ["AKIAIOSFODNN7EXAMPLE", SECRET, "pw"]);
        // Rendering a warning prints the source line: it must be masked.
        let spans: Vec<Span> = hardcoded_nodes(&n).iter().filter_map(|v| v.span.clone()).collect();
        let masked = mask_file(&f, &spans);
        let mut n2 = n.clone();
        respan(&mut n2, &f, &masked);
        let text: String = scan_hardcoded(&n2, "builder").iter().map(ToString::to_string).collect();
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
        assert!(text.contains("--> t.json:2:2"), "{text}");
        assert!(text.contains("\"secret_key\": \"<sensitive>\","), "{text}");
        // The snippet still points at the option.
        assert!(text.contains(" |  ^^^^^^^^^^^^\n"), "{text}");
    }
}

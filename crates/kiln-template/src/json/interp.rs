//! `{{ }}` interpolation of a configuration tree through a [`Renderer`] (normally
//! [`kiln_gotmpl::render`]), with errors mapped back to the exact place in the JSON file.

use std::collections::BTreeMap;
use std::ops::Range;

use kiln_config::build::Volatile;
use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::{GeneratedData, LateRef, LateValue, Node, NodeKind, Resolve};
use kiln_gotmpl::{Context, RenderError};

/// Renders one template string. Injectable so the loader can be tested on its own.
pub type Renderer = fn(&str, &Context) -> Result<String, RenderError>;

/// Renders every string of `node` in place. Errors are collected, one per string.
pub fn render_node(node: &mut Node, ctx: &Context, render: Renderer, diags: &mut Diagnostics) {
    match &mut node.kind {
        NodeKind::String(s) if s.contains("{{") => match render(s, ctx) {
            Ok(out) => *s = out,
            Err(e) => diags.push(render_error(&e, s, node.span.as_ref())),
        },
        NodeKind::Object(m) => m.iter_mut().for_each(|(_, v)| render_node(v, ctx, render, diags)),
        NodeKind::Array(items) | NodeKind::Blocks(items) => {
            items.iter_mut().for_each(|v| render_node(v, ctx, render, diags))
        }
        _ => {}
    }
}

/// [`render_node`] for a provisioner's or post-processor's configuration: a string whose output
/// still holds actions (`{{ build `Host` }}`, `{{ .Host }}`, `{{ .Vars }}`) becomes a late value,
/// rendered again with the build's generated data when the component runs. Actions naming
/// fields the generated data does not have stay for the component (`{{ .Vars }}` in an
/// `execute_command`).
pub fn render_node_late(node: &mut Node, ctx: &Context, render: Renderer, diags: &mut Diagnostics) {
    match &mut node.kind {
        NodeKind::String(s) if s.contains("{{") => match render(s, ctx) {
            Ok(out) if out.contains("{{") => {
                let refs = build_refs(s, node.span.as_ref());
                let resolver = JsonLate { template: out.clone(), ctx: ctx.clone(), span: node.span.clone() };
                let placeholder = Node::string(out, node.span.clone());
                let late = LateValue::new(placeholder, s.clone(), refs, std::sync::Arc::new(resolver));
                node.kind = NodeKind::Late(late);
            }
            Ok(out) => *s = out,
            Err(e) => diags.push(render_error(&e, s, node.span.as_ref())),
        },
        NodeKind::Object(m) => m.iter_mut().for_each(|(_, v)| render_node_late(v, ctx, render, diags)),
        NodeKind::Array(items) | NodeKind::Blocks(items) => {
            items.iter_mut().for_each(|v| render_node_late(v, ctx, render, diags))
        }
        _ => {}
    }
}

/// The ``{{ build `Name` }}`` references of `src`, located in the string literal at `span`.
fn build_refs(src: &str, span: Option<&Span>) -> Vec<LateRef> {
    let Ok(t) = kiln_gotmpl::Template::parse(src) else { return Vec::new() };
    t.calls()
        .into_iter()
        .filter(|c| c.name == "build")
        .filter_map(|c| {
            let name = c.args.first().cloned().flatten()?;
            let at = span.map(|sp| {
                let start = source_offset(sp, c.offset);
                Span::new(&sp.file, start, (start + "build".len()).min(sp.end))
            });
            Some(LateRef { name, span: at })
        })
        .collect()
}

/// A JSON string's late parts, rendered with the build's generated data.
#[derive(Debug)]
struct JsonLate {
    /// The string as the loader rendered it: its late actions left as template text.
    template: String,
    ctx: Context,
    span: Option<Span>,
}

impl Resolve for JsonLate {
    fn resolve(&self, data: &GeneratedData) -> Result<Node, Diagnostics> {
        let mut ctx = self.ctx.clone();
        ctx.data = data.clone();
        ctx.build_data = Some(data.clone());
        match kiln_gotmpl::render(&self.template, &ctx) {
            Ok(out) => Ok(Node::string(out, self.span.clone())),
            Err(e) => Err(Diagnostic::error(format!("template error: {}", e.message))
                .at_opt(self.span.clone())
                .with_detail(format!("in {:?}", self.template))
                .into()),
        }
    }
}

/// A render error as a diagnostic pointing into the string literal at `span`.
pub fn render_error(e: &RenderError, text: &str, span: Option<&Span>) -> Diagnostic {
    let d = Diagnostic::error(format!("template error: {}", e.message));
    let Some(span) = span else {
        return d.with_detail(format!("in {text:?}"));
    };
    let at = source_offset(span, e.offset);
    // Mark the whole action `{{ ... }}` the error is in, when it can be found.
    let action_end = text
        .get(e.offset..)
        .and_then(|rest| rest.find("}}"))
        .map(|i| source_offset(span, e.offset + i + 2))
        .unwrap_or(at + 1);
    d.at(Span::new(&span.file, at, action_end.max(at + 1).min(span.end)))
}

/// Maps a byte offset in a decoded JSON string to the file offset, given the span of the string
/// literal (quotes included). Escapes (`\n`, `\u00e9`) make the two differ.
pub fn source_offset(span: &Span, decoded: usize) -> usize {
    // Past the opening quote; the closing one stays in, so an offset past the end maps after it.
    span.start + 1 + kiln_gotmpl::raw_offset(span.text().get(1..).unwrap_or_default(), decoded)
}

/// Go-template functions whose value changes on every run (Packer's `isotime` and `strftime`
/// format the run's start time).
const VOLATILE: &[&str] = &["timestamp", "uuid", "isotime", "strftime"];

/// What a string uses, from one parse: its first call of a function whose value changes on
/// every run (`{{name}}` and the call's byte range) and its ``{{user `x`}}`` references (as
/// [`user_refs`]). A string that does not parse uses nothing (its render error is reported).
#[derive(Default)]
pub struct Uses {
    pub volatile_call: Option<(String, Range<usize>)>,
    pub user_refs: Vec<(String, Range<usize>)>,
}

/// [`Uses`] of `s`.
pub fn uses(s: &str) -> Uses {
    if !s.contains("{{") {
        return Uses::default();
    }
    let Ok(t) = kiln_gotmpl::Template::parse(s) else { return Uses::default() };
    let volatile_call = t
        .calls()
        .into_iter()
        .find(|c| VOLATILE.contains(&c.name.as_str()))
        .map(|c| (format!("{{{{{}}}}}", c.name), c.offset..c.offset + c.name.len()));
    Uses { volatile_call, user_refs: refs_of(&t, s) }
}

/// The options of a component's configuration (before rendering) that use a value changing on
/// every run, for the step cache: the first such use in each top-level option, either a call
/// or ``{{user `x`}}`` of a variable in `volatile_vars` (name → what its value uses).
pub fn volatile_uses(config: &Node, volatile_vars: &BTreeMap<String, String>) -> Vec<Volatile> {
    /// What in `s` comes first: a volatile call or a volatile variable.
    fn first(s: &str, vars: &BTreeMap<String, String>) -> Option<(String, Range<usize>)> {
        let Uses { volatile_call: call, user_refs } = uses(s);
        let var = user_refs.into_iter().find_map(|(name, action)| {
            vars.get(&name).map(|uses| (format!("{{{{user `{name}`}}}} (which uses {uses})"), action))
        });
        match (call, var) {
            (Some(c), Some(v)) => Some(if v.1.start < c.1.start { v } else { c }),
            (c, v) => c.or(v),
        }
    }
    fn walk(node: &Node, vars: &BTreeMap<String, String>) -> Option<(String, Option<Span>)> {
        match &node.kind {
            NodeKind::String(s) => {
                let (what, at) = first(s, vars)?;
                let span = node
                    .span
                    .as_ref()
                    .map(|sp| Span::new(&sp.file, source_offset(sp, at.start), source_offset(sp, at.end).min(sp.end)));
                Some((what, span))
            }
            NodeKind::Object(m) => m.iter().find_map(|(_, v)| walk(v, vars)),
            NodeKind::Array(items) | NodeKind::Blocks(items) => items.iter().find_map(|v| walk(v, vars)),
            _ => None,
        }
    }
    match &config.kind {
        NodeKind::Object(m) => m
            .iter()
            .filter_map(|(k, v)| {
                walk(v, volatile_vars).map(|(what, span)| Volatile { option: k.name.clone(), what, span })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every ``{{user `name`}}`` reference in `s` (from the Go-template parser): the name and the
/// byte range of the action holding it (from the same lexer). A template that does not parse
/// refers to nothing: its render error is reported instead.
pub fn user_refs(s: &str) -> Vec<(String, Range<usize>)> {
    if !s.contains("{{") {
        return Vec::new();
    }
    let Ok(t) = kiln_gotmpl::Template::parse(s) else { return Vec::new() };
    refs_of(&t, s)
}

/// The ``{{user `name`}}`` references of `t`, parsed from `s`.
fn refs_of(t: &kiln_gotmpl::Template, s: &str) -> Vec<(String, Range<usize>)> {
    let spans = kiln_gotmpl::action_spans(s).unwrap_or_default();
    t.user_vars()
        .into_iter()
        .map(|(name, at)| {
            let action = spans.iter().find(|a| a.start <= at && at < a.end).map_or(at..at, |a| a.start..a.end);
            (name, action)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_config::diag::SourceFile;

    #[test]
    fn finds_user_references() {
        let refs = user_refs("a-{{user `x`}}-{{ user \"y\" | lower }}-{{ .user }}-{{timestamp}}");
        let names: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(refs[0].1, 2..14);
        assert_eq!(refs[1].1, 15..37);
        assert!(user_refs("{{user `x`").is_empty());
        assert!(user_refs("no actions").is_empty());
    }

    #[test]
    fn offsets_map_through_escapes() {
        let f = SourceFile::new("t.json", "{\"a\": \"\\n\\u00e9{{bad}}\"}");
        let span = Span::new(&f, 6, 23);
        assert_eq!(span.text(), "\"\\n\\u00e9{{bad}}\"");
        // Decoded: "\n" (1 byte) + "é" (2 bytes) → the action starts at decoded offset 3.
        assert_eq!(source_offset(&span, 3), 15);
        let e = RenderError { message: "function \"bad\" not defined".into(), offset: 3 };
        let d = render_error(&e, "\né{{bad}}", Some(&span));
        assert_eq!(d.span.as_ref().map(Span::text), Some("{{bad}}"));
        // A surrogate pair is one 4-byte character.
        let f = SourceFile::new("t.json", "{\"a\": \"\\ud83d\\ude00{{bad}}\"}");
        let span = Span::new(&f, 6, 27);
        assert_eq!(span.text(), "\"\\ud83d\\ude00{{bad}}\"");
        assert_eq!(source_offset(&span, 4), 19);
        assert_eq!(source_offset(&span, 11), 26);
    }
}

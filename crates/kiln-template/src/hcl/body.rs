//! Evaluated bodies as configuration trees: attributes become spanned [`Node`]s, nested blocks
//! become [`NodeKind::Blocks`], and `dynamic "x" { for_each, iterator, content }` blocks expand
//! into as many `x` blocks as `for_each` has elements.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};

use super::dynamic::{check, iterator_value, Dynamic};
use super::eval::{eval, span_of};
use super::scope::{BuildRefs, Scope};
use crate::value::Value;
use kiln_config::diag::{Diagnostic, Span};
use kiln_config::node::{Key, Node, NodeKind};

/// The members of `body` (attributes and blocks, in source order, blocks of one type grouped
/// where the first appears), skipping the attributes named in `skip`.
pub(crate) fn body_members(body: &Body, scope: &Scope, skip: &[&str], diags: &mut Vec<Diagnostic>) -> Vec<(Key, Node)> {
    let mut members: Vec<(Key, Node)> = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for s in body.iter() {
        if let Some(attr) = s.as_attribute() {
            let name = attr.key.value().as_str();
            if skip.contains(&name) {
                continue;
            }
            let key_span = span_of(scope.file, &attr.key);
            if let Some(first) = seen.get(name) {
                diags.push(redefined(name, key_span, first));
                continue;
            }
            seen.insert(name.to_string(), key_span.clone());
            let vspan = span_of(scope.file, &attr.value);
            match eval(&attr.value, scope) {
                Ok(v) => {
                    let mut node = value_to_node_from(&v, &attr.value, scope, &vspan);
                    if scope.build == BuildRefs::Late {
                        let refs = super::late::build_refs(&attr.value, scope);
                        if !refs.is_empty() {
                            node = super::late::late_node(&attr.value, scope, refs, node);
                        }
                    }
                    members.push((Key { name: name.to_string(), span: Some(key_span) }, node))
                }
                Err(e) => diags.push(*e),
            }
        } else if let Some(block) = s.as_block() {
            let name = block.ident.value().as_str();
            if name == "dynamic" {
                expand_dynamic(block, scope, diags, &mut members);
            } else {
                let node = block_node(block, scope, diags);
                push_block(&mut members, name, span_of(scope.file, &block.ident), node);
            }
        }
    }
    members
}

pub(crate) fn redefined(name: &str, at: Span, first: &Span) -> Diagnostic {
    let (l, c) = first.line_col();
    Diagnostic::error(format!("attribute \"{name}\" is set more than once"))
        .at(at)
        .with_detail(format!("it was first set at {}:{l}:{c}", first.path().display()))
        .with_help("remove one of the two assignments")
}

fn block_node(block: &Block, scope: &Scope, diags: &mut Vec<Diagnostic>) -> Node {
    let span = span_of(scope.file, block);
    Node::object(body_members(&block.body, scope, &[], diags), Some(span))
}

fn push_block(members: &mut Vec<(Key, Node)>, name: &str, key_span: Span, node: Node) {
    if let Some((_, existing)) = members.iter_mut().find(|(k, _)| k.name == name) {
        if let NodeKind::Blocks(items) = &mut existing.kind {
            items.push(node);
            return;
        }
    }
    let span = node.span.clone();
    members.push((Key { name: name.to_string(), span: Some(key_span) }, Node::new(NodeKind::Blocks(vec![node]), span)));
}

fn expand_dynamic(block: &Block, scope: &Scope, diags: &mut Vec<Diagnostic>, members: &mut Vec<(Key, Node)>) {
    let example = "dynamic \"tag\" { for_each = ..., content { ... } }";
    let Some(Dynamic { label, iterator, content, pairs: items }) = check(block, scope.file, scope, example, diags)
    else {
        return;
    };
    for (k, v) in items {
        let mut inner = scope.child();
        inner.bind(&iterator, iterator_value(k, v));
        let node = Node::object(body_members(&content.body, &inner, &[], diags), Some(span_of(scope.file, content)));
        push_block(members, &label, span_of(scope.file, block), node);
    }
}

/// A value as a node; every part gets the span of the expression it came from. Unknown values
/// (known only at build time) become null.
pub(crate) fn value_to_node(v: &Value, span: &Span) -> Node {
    let kind = match v {
        Value::Null | Value::Unknown => NodeKind::Null,
        Value::Bool(b) => NodeKind::Bool(*b),
        // Components take numbers as Packer hands them over: int64 or float64.
        Value::Number(n) => NodeKind::Number(n.to_f64()),
        Value::String(s) => NodeKind::String(s.clone()),
        Value::List(items) => NodeKind::Array(items.iter().map(|i| value_to_node(i, span)).collect()),
        Value::Object(m) => NodeKind::Object(
            m.iter()
                .map(|(k, v)| (Key { name: k.clone(), span: Some(span.clone()) }, value_to_node(v, span)))
                .collect(),
        ),
    };
    Node::new(kind, Some(span.clone()))
}

/// [`value_to_node`], with the spans of the literal it was written as: the items of a list
/// written as `[...]` and the members of an object written as `{...}` get their own spans (so a
/// problem with one item points at that item, and into a plain string as in JSON templates).
/// A value computed by a function or a `for` expression gets `span` throughout.
pub(crate) fn value_to_node_from(v: &Value, expr: &Expression, scope: &Scope, span: &Span) -> Node {
    let here = |e: &Expression| span_of(scope.file, e);
    match (v, expr) {
        (_, Expression::Parenthesis(p)) => value_to_node_from(v, p.inner(), scope, &here(p.inner())),
        (Value::List(items), Expression::Array(a)) if a.len() == items.len() => {
            let kids = items.iter().zip(a.iter()).map(|(i, e)| value_to_node_from(i, e, scope, &here(e))).collect();
            Node::new(NodeKind::Array(kids), Some(span.clone()))
        }
        (Value::Object(m), Expression::Object(o)) => {
            // The literal's entries by key (identifiers and plain strings: computed keys are
            // left to the whole object's span).
            let written: Vec<(String, Span, &Expression)> = o
                .iter()
                .filter_map(|(k, val)| {
                    let name = match k {
                        ObjectKey::Ident(id) => id.value().as_str().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(_) => return None,
                    };
                    Some((name, span_of(scope.file, k), val.expr()))
                })
                .collect();
            let members = m
                .iter()
                .map(|(k, val)| match written.iter().find(|(n, _, _)| n == k) {
                    Some((_, kspan, e)) => (
                        Key { name: k.clone(), span: Some(kspan.clone()) },
                        value_to_node_from(val, e, scope, &here(e)),
                    ),
                    None => (Key { name: k.clone(), span: Some(span.clone()) }, value_to_node(val, span)),
                })
                .collect();
            Node::new(NodeKind::Object(members), Some(span.clone()))
        }
        _ => value_to_node(v, span),
    }
}

/// `over` on top of `base`: a member of `over` replaces the member of the same name (blocks of
/// one type are replaced as a whole, as Packer's body merge does).
pub(crate) fn merge_members(base: &mut Vec<(Key, Node)>, over: Vec<(Key, Node)>) {
    for (k, v) in over {
        match base.iter_mut().find(|(bk, _)| bk.name == k.name) {
            Some(slot) => *slot = (k, v),
            None => base.push((k, v)),
        }
    }
}

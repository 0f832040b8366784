//! What a parsed template refers to, without rendering it: the loader orders variables by the
//! ``{{user `x`}}`` they use and checks `env` placement; `validate` checks `.Field` names
//! against what a component provides.

use super::parse::{Arg, ArgKind, Node, Pipe};

/// A function call found in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncCall {
    pub name: String,
    /// Byte offset of the function's name.
    pub offset: usize,
    /// The call's arguments written as string constants (``user `x` `` → `[Some("x")]`);
    /// `None` for any other argument. A value piped in is not listed.
    pub args: Vec<Option<String>>,
}

/// A `.Field` reference (`.HTTPIP`, `.SourceAMITags.Name`) of the template's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The dotted path without the leading dot.
    pub path: String,
    pub offset: usize,
}

#[derive(Default)]
pub(crate) struct Refs {
    pub calls: Vec<FuncCall>,
    pub fields: Vec<FieldRef>,
}

pub(crate) fn collect(nodes: &[Node]) -> Refs {
    let mut refs = Refs::default();
    nodes_refs(nodes, true, &mut refs);
    refs.calls.sort_by_key(|c| c.offset);
    refs.fields.sort_by_key(|f| f.offset);
    refs
}

/// `root` says whether `.` is still the template's data (not inside `with`/`range`).
fn nodes_refs(nodes: &[Node], root: bool, refs: &mut Refs) {
    for n in nodes {
        match n {
            Node::Text(_) | Node::Break | Node::Continue => {}
            Node::Action { pipe, .. } => pipe_refs(pipe, root, refs),
            Node::If { branches, otherwise, .. } => {
                for (p, body) in branches {
                    pipe_refs(p, root, refs);
                    nodes_refs(body, root, refs);
                }
                nodes_refs(otherwise, root, refs);
            }
            Node::With { pipe, body, otherwise, .. } | Node::Range { pipe, body, otherwise, .. } => {
                pipe_refs(pipe, root, refs);
                nodes_refs(body, false, refs);
                nodes_refs(otherwise, root, refs);
            }
        }
    }
}

fn pipe_refs(pipe: &Pipe, root: bool, refs: &mut Refs) {
    for cmd in &pipe.cmds {
        if let Some(Arg { kind: ArgKind::Func(name), offset, .. }) = cmd.args.first() {
            let args = cmd.args[1..]
                .iter()
                .map(|a| match &a.kind {
                    ArgKind::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            refs.calls.push(FuncCall { name: name.clone(), offset: *offset, args });
        }
        for (i, a) in cmd.args.iter().enumerate() {
            arg_refs(a, root, i == 0, refs);
        }
    }
}

fn arg_refs(arg: &Arg, root: bool, first: bool, refs: &mut Refs) {
    match &arg.kind {
        ArgKind::Field(path) if root && !path.is_empty() => {
            refs.fields.push(FieldRef { path: path.join("."), offset: arg.offset })
        }
        ArgKind::Var(name, path) if name == "$" && !path.is_empty() => {
            refs.fields.push(FieldRef { path: path.join("."), offset: arg.offset })
        }
        ArgKind::Pipe(p, _) => pipe_refs(p, root, refs),
        // A bare function name used as an argument is a call without arguments.
        ArgKind::Func(name) if !first => {
            refs.calls.push(FuncCall { name: name.clone(), offset: arg.offset, args: Vec::new() })
        }
        _ => {}
    }
}

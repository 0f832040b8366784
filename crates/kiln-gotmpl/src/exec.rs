//! Executes a parsed template against a [`Context`].
//!
//! A value that is not known yet (a `.Field` missing from the context, `build_name` without a
//! build) makes the enclosing top-level action or structure "late": its source text is copied
//! to the output unchanged, so a later render with more context can finish it.

use std::collections::BTreeMap;

use super::parse::{Arg, ArgKind, Cmd, Node, Pipe};
use super::value::{display, truth, V};
use super::{funcs, printf};
use super::{Context, RenderError};
use kiln_config::diag::did_you_mean;

/// Why evaluation stopped.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A value is only known later (not an error unless the context is strict).
    Late,
    Err(RenderError),
    Break,
    Continue,
}

impl From<RenderError> for Fail {
    fn from(e: RenderError) -> Self {
        Fail::Err(e)
    }
}

pub(crate) fn fail(message: impl Into<String>, offset: usize) -> Fail {
    Fail::Err(RenderError { message: message.into(), offset })
}

/// What a render produced besides the text.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub warnings: Vec<RenderError>,
    pub late: bool,
    /// Verbatim copies: (offset in the output, offset in the source, length).
    pub copies: Vec<(usize, usize, usize)>,
    /// Output ranges written for late nodes (template text to be rendered again).
    pub late_ranges: Vec<(usize, usize)>,
}

pub(crate) struct Exec<'a> {
    pub ctx: &'a Context,
    pub src: &'a str,
    vars: Vec<(String, V)>,
    /// Variables written into the output as `{{ $x := value }}` for late copies, with the value.
    declared_in_output: Vec<(String, V)>,
    pub notes: Notes,
}

/// Upper bound for `range` over an integer, so a typo cannot hang a run.
const MAX_RANGE_ITEMS: usize = 1_000_000;

impl<'a> Exec<'a> {
    pub(crate) fn new(ctx: &'a Context, src: &'a str) -> Self {
        Exec { ctx, src, vars: vec![("$".into(), V::Root)], declared_in_output: Vec::new(), notes: Notes::default() }
    }

    /// Runs the top-level nodes: a late node is copied verbatim.
    pub(crate) fn run(&mut self, nodes: &[Node], out: &mut String) -> Result<(), RenderError> {
        for node in nodes {
            let mark = out.len();
            // Values of the variables as the node starts (usually only `$`), in case it is late.
            let before = if self.vars.len() > 1 { Some(self.vars.clone()) } else { None };
            match self.node(node, &V::Root, out) {
                Ok(()) => {}
                Err(Fail::Late) => {
                    out.truncate(mark);
                    self.vars = before.clone().unwrap_or_else(|| self.vars[..1].to_vec());
                    if !self.late_if(node, out)? {
                        let start = out.len();
                        self.emit_late(node, before, out);
                        self.notes.late_ranges.push((start, out.len()));
                    }
                }
                Err(Fail::Err(e)) => return Err(e),
                // The parser rejects break/continue outside range.
                Err(Fail::Break | Fail::Continue) => {}
            }
        }
        Ok(())
    }

    /// A late `if` whose condition is known now is replaced by its chosen branch, each node of
    /// which is rendered or copied on its own. Returns false when the condition is late too.
    fn late_if(&mut self, node: &Node, out: &mut String) -> Result<bool, RenderError> {
        let Node::If { branches, otherwise, .. } = node else { return Ok(false) };
        let mark = self.vars.len();
        let mut chosen = otherwise;
        for (pipe, body) in branches {
            match self.pipe(pipe, &V::Root) {
                Ok(v) if truth(&v, &self.ctx.data) => {
                    chosen = body;
                    break;
                }
                Ok(_) => {}
                Err(Fail::Err(e)) => return Err(e),
                Err(_) => {
                    self.vars.truncate(mark);
                    return Ok(false);
                }
            }
        }
        self.run(chosen, out)?;
        self.vars.truncate(mark);
        Ok(true)
    }

    /// Copies a late node to the output. Variables it uses that are known now are declared
    /// just before it with their values, so the copy renders on its own later; variables it
    /// declares or assigns become late.
    fn emit_late(&mut self, node: &Node, before: Option<Vec<(String, V)>>, out: &mut String) {
        self.notes.late = true;
        let before = before.unwrap_or_else(|| self.vars.clone());
        let mut used = Vec::new();
        used_vars(node, &mut used);
        for name in &used {
            let Some((_, v)) = before.iter().rev().find(|(n, _)| n == name) else { continue };
            if is_late(v) || self.declared_in_output.iter().any(|(n, d)| n == name && d == v) {
                continue;
            }
            if let Some(lit) = go_literal(v) {
                out.push_str(&format!("{{{{ {name} := {lit} }}}}"));
                self.declared_in_output.push((name.clone(), v.clone()));
            }
        }
        match node {
            Node::Action { pipe, span } => self.write_folded(pipe, *span, out),
            other => {
                if let Some((s, e)) = other.span() {
                    self.copy(s, e, out);
                }
            }
        }
        self.vars = before;
        if let Node::Action { pipe, .. } = node {
            if !pipe.assign {
                for d in &pipe.decl {
                    self.vars.push((d.clone(), late_marker()));
                }
            }
        }
        let mut assigned = Vec::new();
        assigned_vars(node, &mut assigned);
        for name in assigned {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
                slot.1 = late_marker();
            }
        }
    }

    fn list(&mut self, nodes: &[Node], dot: &V, out: &mut String) -> Result<(), Fail> {
        for n in nodes {
            self.node(n, dot, out)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node, dot: &V, out: &mut String) -> Result<(), Fail> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action { pipe, .. } => {
                let v = self.pipe(pipe, dot)?;
                // The whole data (`{{ . }}`) is only complete when the component renders.
                if v == V::Root && !self.ctx.strict_fields {
                    return Err(Fail::Late);
                }
                if pipe.decl.is_empty() {
                    out.push_str(&display(&v, &self.ctx.data));
                }
            }
            Node::If { branches, otherwise, .. } => {
                let mark = self.vars.len();
                let mut done = false;
                for (pipe, body) in branches {
                    let v = self.pipe(pipe, dot)?;
                    if truth(&v, &self.ctx.data) {
                        self.list(body, dot, out)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    self.list(otherwise, dot, out)?;
                }
                self.vars.truncate(mark);
            }
            Node::With { pipe, body, otherwise, .. } => {
                let mark = self.vars.len();
                let v = self.pipe(pipe, dot)?;
                if truth(&v, &self.ctx.data) {
                    self.list(body, &v, out)?;
                } else {
                    self.list(otherwise, dot, out)?;
                }
                self.vars.truncate(mark);
            }
            Node::Range { pipe, body, otherwise, .. } => {
                let mark = self.vars.len();
                let v = self.pipe_value(pipe, dot)?;
                let items: Vec<(V, V)> = match &v {
                    V::List(l) => l.iter().enumerate().map(|(i, x)| (V::Int(i as i64), x.clone())).collect(),
                    V::Map(m) => m.iter().map(|(k, x)| (V::Str(k.clone()), x.clone())).collect(),
                    V::Root => self.ctx.data.iter().map(|(k, x)| (V::Str(k.clone()), V::Str(x.clone()))).collect(),
                    V::Int(n) => (0..(*n).clamp(0, MAX_RANGE_ITEMS as i64)).map(|i| (V::Int(i), V::Int(i))).collect(),
                    V::Nil => Vec::new(),
                    other => return Err(fail(format!("range can't iterate over {}", other.describe()), pipe.offset)),
                };
                if items.is_empty() {
                    self.list(otherwise, dot, out)?;
                }
                for (key, item) in items {
                    let inner = self.vars.len();
                    match pipe.decl.as_slice() {
                        [e] => self.set_var(e, item.clone(), pipe.assign),
                        [k, e] => {
                            self.set_var(k, key, pipe.assign);
                            self.set_var(e, item.clone(), pipe.assign);
                        }
                        _ => {}
                    }
                    let r = self.list(body, &item, out);
                    self.vars.truncate(inner.max(mark));
                    match r {
                        Ok(()) | Err(Fail::Continue) => {}
                        Err(Fail::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                self.vars.truncate(mark);
            }
            Node::Break => return Err(Fail::Break),
            Node::Continue => return Err(Fail::Continue),
        }
        Ok(())
    }

    fn set_var(&mut self, name: &str, v: V, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    /// Evaluates a pipeline and binds its declared variables.
    fn pipe(&mut self, pipe: &Pipe, dot: &V) -> Result<V, Fail> {
        let v = self.pipe_value(pipe, dot)?;
        if let [name] = pipe.decl.as_slice() {
            self.set_var(name, v.clone(), pipe.assign);
        }
        Ok(v)
    }

    fn pipe_value(&mut self, pipe: &Pipe, dot: &V) -> Result<V, Fail> {
        let mut prev: Option<(V, usize)> = None;
        for cmd in &pipe.cmds {
            let v = self.command(cmd, dot, prev.take())?;
            prev = Some((v, cmd.offset));
        }
        Ok(prev.map(|(v, _)| v).unwrap_or(V::Nil))
    }

    pub(super) fn command(&mut self, cmd: &Cmd, dot: &V, piped: Option<(V, usize)>) -> Result<V, Fail> {
        let first = &cmd.args[0];
        if let ArgKind::Func(name) = &first.kind {
            return self.call(name, first.offset, &cmd.args[1..], dot, piped);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            let what = match &first.kind {
                ArgKind::Field(p) if !p.is_empty() => format!(".{}", p.join(".")),
                ArgKind::Field(_) => ".".into(),
                ArgKind::Var(v, _) => v.clone(),
                ArgKind::Str(x) => format!("{x:?}"),
                ArgKind::Int(n) => n.to_string(),
                ArgKind::Float(f) => f.to_string(),
                ArgKind::Bool(b) => b.to_string(),
                _ => "value".into(),
            };
            let at = cmd.args.get(1).map(|a| a.offset).unwrap_or(first.offset);
            return Err(fail(format!("can't give argument to non-function {what}: only functions take arguments"), at));
        }
        self.arg(first, dot)
    }

    fn call(&mut self, name: &str, at: usize, args: &[Arg], dot: &V, piped: Option<(V, usize)>) -> Result<V, Fail> {
        // `and` / `or` stop at the first deciding argument (Go 1.18+), so a late value after it
        // does not matter.
        if name == "and" || name == "or" {
            if args.is_empty() && piped.is_none() {
                return Err(fail(format!("wrong number of args for {name}: want at least 1 got 0"), at));
            }
            let mut last = V::Nil;
            for a in args {
                last = self.arg(a, dot)?;
                if truth(&last, &self.ctx.data) == (name == "or") {
                    return Ok(last);
                }
            }
            if let Some((v, _)) = piped {
                last = v;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push((self.arg(a, dot)?, a.offset));
        }
        if let Some(p) = piped {
            vals.push(p);
        }
        funcs::call(name, at, vals, self)
    }

    pub(super) fn arg(&mut self, arg: &Arg, dot: &V) -> Result<V, Fail> {
        match &arg.kind {
            ArgKind::Str(s) => Ok(V::Str(s.clone())),
            ArgKind::Int(n) => Ok(V::Int(*n)),
            ArgKind::Float(f) => Ok(V::Float(*f)),
            ArgKind::Bool(b) => Ok(V::Bool(*b)),
            ArgKind::Nil => Ok(V::Nil),
            ArgKind::Field(path) => self.fields(dot.clone(), path, arg.offset),
            ArgKind::Var(name, path) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err(fail(format!("undefined variable {name:?}"), arg.offset));
                };
                let v = v.clone();
                if is_late(&v) {
                    return Err(Fail::Late);
                }
                self.fields(v, path, arg.offset)
            }
            ArgKind::Pipe(pipe, path) => {
                let v = self.pipe_value(pipe, dot)?;
                self.fields(v, path, arg.offset)
            }
            ArgKind::Func(name) => self.call(name, arg.offset, &[], dot, None),
        }
    }

    /// Follows a field chain from `v`.
    fn fields(&mut self, mut v: V, path: &[String], at: usize) -> Result<V, Fail> {
        // Nested data (`.SourceAMITags.Name`) comes flattened in the context, under its dotted
        // path; the longest such key wins.
        if v == V::Root && path.len() > 1 {
            for n in (2..=path.len()).rev() {
                if let Some(s) = self.ctx.data.get(&path[..n].join(".")) {
                    return self.fields(V::Str(s.clone()), &path[n..], at);
                }
            }
        }
        for name in path {
            v = match v {
                V::Root => match self.ctx.data.get(name) {
                    Some(s) => V::Str(s.clone()),
                    None if self.ctx.strict_fields => {
                        // Root is only ever the start of a chain, so this is the whole path.
                        let name = &path.join(".");
                        let help = match did_you_mean(name, self.ctx.data.keys().map(|k| k.as_str())) {
                            Some(s) => format!("; did you mean .{s}?"),
                            None if self.ctx.data.is_empty() => "; no fields are available here".to_string(),
                            None => {
                                let names: Vec<String> = self.ctx.data.keys().map(|k| format!(".{k}")).collect();
                                format!("; available: {}", names.join(", "))
                            }
                        };
                        return Err(fail(format!("unknown field .{name}{help}"), at));
                    }
                    None => return Err(Fail::Late),
                },
                V::Map(mut m) => match m.remove(name) {
                    Some(x) => x,
                    None => V::Nil,
                },
                V::Nil => return Err(fail(format!("nil value has no field .{name}"), at)),
                other => {
                    return Err(fail(format!("can't evaluate field .{name} in {}", other.describe()), at));
                }
            };
        }
        Ok(v)
    }
}

/// Marks a variable whose declaration was late (copied verbatim): using it is late too.
const LATE_MARK: &str = "\u{0}late";

/// Names of the variables a node uses (other than `$`), anywhere inside it.
fn used_vars(node: &Node, out: &mut Vec<String>) {
    fn pipe(p: &Pipe, out: &mut Vec<String>) {
        if p.assign {
            out.extend(p.decl.iter().cloned());
        }
        for cmd in &p.cmds {
            for a in &cmd.args {
                match &a.kind {
                    ArgKind::Var(name, _) if name != "$" && !out.contains(name) => out.push(name.clone()),
                    ArgKind::Pipe(inner, _) => pipe(inner, out),
                    _ => {}
                }
            }
        }
    }
    match node {
        Node::Text(_) | Node::Break | Node::Continue => {}
        Node::Action { pipe: p, .. } => pipe(p, out),
        Node::If { branches, otherwise, .. } => {
            for (p, body) in branches {
                pipe(p, out);
                body.iter().for_each(|n| used_vars(n, out));
            }
            otherwise.iter().for_each(|n| used_vars(n, out));
        }
        Node::With { pipe: p, body, otherwise, .. } | Node::Range { pipe: p, body, otherwise, .. } => {
            pipe(p, out);
            body.iter().chain(otherwise).for_each(|n| used_vars(n, out));
        }
    }
}

/// A Go template constant for `v`, when it has one.
pub(super) fn go_literal(v: &V) -> Option<String> {
    match v {
        V::Str(s) => Some(printf::quote(s, false, false)),
        V::Int(n) => Some(n.to_string()),
        V::Bool(b) => Some(b.to_string()),
        V::Float(f) if f.is_finite() => {
            let s = super::value::format_float_g(*f, None);
            Some(if s.contains(['.', 'e']) { s } else { s + ".0" })
        }
        _ => None,
    }
}

/// Names of the variables a node assigns with `=` (anywhere inside it).
fn assigned_vars(node: &Node, out: &mut Vec<String>) {
    let pipe_vars = |p: &Pipe, out: &mut Vec<String>| {
        if p.assign {
            out.extend(p.decl.iter().cloned());
        }
    };
    match node {
        Node::Text(_) | Node::Break | Node::Continue => {}
        Node::Action { pipe, .. } => pipe_vars(pipe, out),
        Node::If { branches, otherwise, .. } => {
            for (p, body) in branches {
                pipe_vars(p, out);
                body.iter().for_each(|n| assigned_vars(n, out));
            }
            otherwise.iter().for_each(|n| assigned_vars(n, out));
        }
        Node::With { pipe, body, otherwise, .. } | Node::Range { pipe, body, otherwise, .. } => {
            pipe_vars(pipe, out);
            body.iter().chain(otherwise).for_each(|n| assigned_vars(n, out));
        }
    }
}

fn late_marker() -> V {
    V::Map(BTreeMap::from([(LATE_MARK.to_string(), V::Nil)]))
}

fn is_late(v: &V) -> bool {
    matches!(v, V::Map(m) if m.len() == 1 && m.contains_key(LATE_MARK))
}

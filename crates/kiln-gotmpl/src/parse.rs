//! Builds the tree of a template from the lexer's items: text, actions and the `if` / `range` /
//! `with` structures, checking function names and variables as Go's parser does.

use super::funcs;
use super::lexer::{Item, Tok, TokKind};
use super::RenderError;
use kiln_config::diag::did_you_mean;

/// A node of the template tree. `span` is the source range (for late values copied verbatim).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action { pipe: Pipe, span: (usize, usize) },
    If { branches: Vec<(Pipe, Vec<Node>)>, otherwise: Vec<Node>, span: (usize, usize) },
    With { pipe: Pipe, body: Vec<Node>, otherwise: Vec<Node>, span: (usize, usize) },
    Range { pipe: Pipe, body: Vec<Node>, otherwise: Vec<Node>, span: (usize, usize) },
    Break,
    Continue,
}

impl Node {
    pub(crate) fn span(&self) -> Option<(usize, usize)> {
        match self {
            Node::Text(_) | Node::Break | Node::Continue => None,
            Node::Action { span, .. } | Node::If { span, .. } | Node::With { span, .. } | Node::Range { span, .. } => {
                Some(*span)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    /// Declared (`:=`) or assigned (`=`) variables.
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub args: Vec<Arg>,
    pub offset: usize,
    /// Offset after the command's last argument.
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub kind: ArgKind,
    pub offset: usize,
    /// Offset after the argument (and its field chain).
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    /// `.A.B` (an empty path is `.`).
    Field(Vec<String>),
    /// `$x.A.B`
    Var(String, Vec<String>),
    Func(String),
    /// `(pipe).A.B`
    Pipe(Box<Pipe>, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// Parses `items`. Errors that do not stop parsing (unknown functions, undefined variables)
/// are collected so one run can report them all.
pub(crate) fn parse(items: Vec<Item>, src_len: usize) -> Result<Vec<Node>, Vec<RenderError>> {
    let mut p = Parser {
        items: items.into_iter().peekable(),
        errors: Vec::new(),
        scopes: vec![vec!["$".into()]],
        depth_range: 0,
        nesting: 0,
    };
    match p.list(None) {
        Ok((nodes, _)) if p.errors.is_empty() => Ok(nodes),
        Ok(_) => Err(p.errors),
        Err(e) => {
            p.errors.push(e);
            p.errors.sort_by_key(|e| e.offset);
            Err(p.errors)
        }
    }
    .map_err(|mut errs| {
        for e in &mut errs {
            e.offset = e.offset.min(src_len);
        }
        errs
    })
}

const MAX_NESTING: usize = 100;

/// What ended a list of nodes.
enum Stop {
    Eof,
    End(usize),
    Else { start: usize, toks: Vec<Tok> },
}

struct Parser {
    items: std::iter::Peekable<std::vec::IntoIter<Item>>,
    errors: Vec<RenderError>,
    scopes: Vec<Vec<String>>,
    depth_range: usize,
    /// Depth of structures and parentheses, bounded so hostile input cannot exhaust the stack.
    nesting: usize,
}

fn err(message: impl Into<String>, offset: usize) -> RenderError {
    RenderError { message: message.into(), offset }
}

fn describe(t: &Tok) -> String {
    match &t.kind {
        TokKind::Ident(s) => format!("`{s}`"),
        TokKind::Field(s) => format!("`.{s}`"),
        TokKind::Dot => "`.`".into(),
        TokKind::Var(s) => format!("`{s}`"),
        TokKind::Declare => "`:=`".into(),
        TokKind::Assign => "`=`".into(),
        TokKind::Pipe => "`|`".into(),
        TokKind::LParen => "`(`".into(),
        TokKind::RParen => "`)`".into(),
        TokKind::Comma => "`,`".into(),
        TokKind::Str(s) => format!("string {s:?}"),
        TokKind::Num(s) => format!("number {s}"),
        TokKind::Char(c) => format!("character {c:?}"),
        TokKind::Bool(b) => format!("`{b}`"),
        TokKind::Nil => "`nil`".into(),
    }
}

impl Parser {
    /// Parses nodes until EOF, `{{end}}` or `{{else …}}`; `inside` names the open structure.
    fn list(&mut self, inside: Option<(&str, usize)>) -> Result<(Vec<Node>, Stop), RenderError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action { start, end, toks } => {
                    let keyword = match toks.first().map(|t| &t.kind) {
                        Some(TokKind::Ident(w)) => Some(w.as_str()),
                        _ => None,
                    };
                    match keyword {
                        Some("end") => {
                            if inside.is_none() {
                                return Err(err(
                                    "unexpected {{end}}: there is no `if`, `range` or `with` to close",
                                    start,
                                ));
                            }
                            self.expect_only(&toks, "end")?;
                            return Ok((nodes, Stop::End(end)));
                        }
                        Some("else") => {
                            if inside.is_none() {
                                return Err(err(
                                    "unexpected {{else}}: there is no `if`, `range` or `with` before it",
                                    start,
                                ));
                            }
                            return Ok((nodes, Stop::Else { start, toks }));
                        }
                        Some(kw @ ("if" | "with" | "range")) => {
                            let kw = kw.to_string();
                            nodes.push(self.control(&kw, start, toks[0].start, &toks[1..])?)
                        }
                        Some(kw @ ("break" | "continue")) => {
                            if self.depth_range == 0 {
                                return Err(err(format!("{{{{{kw}}}}} outside {{{{range}}}}"), start));
                            }
                            self.expect_only(&toks, kw)?;
                            nodes.push(if kw == "break" { Node::Break } else { Node::Continue });
                        }
                        Some(kw @ ("define" | "template" | "block")) => {
                            return Err(err(
                                format!("`{kw}` is not supported in Packer templates: write the text inline"),
                                start,
                            ))
                        }
                        _ => {
                            let pipe = self.pipeline(&toks, start, "command", false)?;
                            nodes.push(Node::Action { pipe, span: (start, end) });
                        }
                    }
                }
            }
        }
        match inside {
            None => Ok((nodes, Stop::Eof)),
            Some((kw, at)) => Err(err(format!("unexpected EOF: this {{{{{kw}}}}} has no {{{{end}}}}"), at)),
        }
    }

    fn expect_only(&self, toks: &[Tok], kw: &str) -> Result<(), RenderError> {
        match toks.get(1) {
            None => Ok(()),
            Some(t) => Err(err(format!("unexpected {} in {{{{{kw}}}}}", describe(t)), t.start)),
        }
    }

    /// Parses `if` / `with` / `range` starting after the keyword, through `{{end}}`.
    fn control(&mut self, kw: &str, start: usize, kw_at: usize, toks: &[Tok]) -> Result<Node, RenderError> {
        if self.nesting >= MAX_NESTING {
            return Err(err(format!("structures nested more than {MAX_NESTING} deep"), start));
        }
        self.nesting += 1;
        self.scopes.push(Vec::new());
        let result = self.control_inner(kw, start, kw_at, toks);
        self.scopes.pop();
        self.nesting -= 1;
        result
    }

    fn control_inner(&mut self, kw: &str, start: usize, kw_at: usize, toks: &[Tok]) -> Result<Node, RenderError> {
        let pipe = self.pipeline(toks, kw_at, kw, kw == "range")?;
        if kw == "range" {
            self.depth_range += 1;
        }
        let body = self.list(Some((kw, start)));
        if kw == "range" {
            self.depth_range -= 1;
        }
        let (body, mut ending) = body?;
        let mut branches = vec![(pipe, body)];
        let mut otherwise = Vec::new();
        loop {
            match ending {
                Stop::Eof => return Err(err(format!("unexpected EOF: this {{{{{kw}}}}} has no {{{{end}}}}"), start)),
                Stop::End(end) => {
                    let span = (start, end);
                    return Ok(match kw {
                        "if" => Node::If { branches, otherwise, span },
                        _ => {
                            let (pipe, body) = branches.remove(0);
                            if kw == "with" {
                                Node::With { pipe, body, otherwise, span }
                            } else {
                                Node::Range { pipe, body, otherwise, span }
                            }
                        }
                    });
                }
                Stop::Else { start: else_at, toks } => {
                    if !otherwise.is_empty() || (branches.len() > 1 && kw != "if") {
                        return Err(err("unexpected {{else}} after {{else}}", else_at));
                    }
                    if toks.len() > 1 {
                        // `{{else if …}}` chains into the same `if`.
                        if kw == "if" && matches!(&toks[1].kind, TokKind::Ident(w) if w == "if") {
                            self.scopes.push(Vec::new());
                            let r = self.pipeline(&toks[2..], toks[1].start, "if", false).and_then(|p| {
                                let (body, e) = self.list(Some((kw, start)))?;
                                Ok((p, body, e))
                            });
                            self.scopes.pop();
                            let (p, body, e) = r?;
                            branches.push((p, body));
                            ending = e;
                            continue;
                        }
                        return Err(err(format!("unexpected {} in {{{{else}}}}", describe(&toks[1])), toks[1].start));
                    }
                    let (body, e) = self.list(Some((kw, start)))?;
                    otherwise = body;
                    if otherwise.is_empty() {
                        // Keep "an else was seen" even for an empty else.
                        otherwise.push(Node::Text(String::new()));
                    }
                    ending = e;
                }
            }
        }
    }

    fn declared(&self, name: &str) -> bool {
        self.scopes.iter().rev().any(|s| s.iter().any(|v| v == name))
    }

    /// Parses a pipeline: optional declaration, then commands separated by `|`.
    fn pipeline(&mut self, toks: &[Tok], at: usize, context: &str, is_range: bool) -> Result<Pipe, RenderError> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut i = 0;
        // Declarations: `$x :=`, `$x =`, and for range `$i, $e :=`.
        if let Some(TokKind::Var(first)) = toks.first().map(|t| &t.kind) {
            match toks.get(1).map(|t| &t.kind) {
                Some(TokKind::Declare) | Some(TokKind::Assign) => {
                    assign = toks[1].kind == TokKind::Assign;
                    decl.push(first.clone());
                    i = 2;
                }
                Some(TokKind::Comma) if is_range => {
                    if let (Some(TokKind::Var(second)), Some(TokKind::Declare | TokKind::Assign)) =
                        (toks.get(2).map(|t| &t.kind), toks.get(3).map(|t| &t.kind))
                    {
                        assign = toks[3].kind == TokKind::Assign;
                        decl.push(first.clone());
                        decl.push(second.clone());
                        i = 4;
                    } else {
                        return Err(err("range can only declare `$index, $element :=`", toks[1].start));
                    }
                }
                Some(TokKind::Comma) => {
                    return Err(err("too many declarations: only `range` declares two variables", toks[1].start))
                }
                _ => {}
            }
        }
        let offset = toks.get(i).map(|t| t.start).unwrap_or(at);
        let mut cmds = Vec::new();
        let rest = &toks[i..];
        if rest.is_empty() {
            return Err(err(format!("missing value for {context}"), toks.last().map(|t| t.start).unwrap_or(at)));
        }
        let mut parts: Vec<&[Tok]> = rest.split(|t| t.kind == TokKind::Pipe).collect();
        // Go 1.15 (Packer 1.6.6) accepts a trailing `|` and ignores it.
        if parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        for part in parts {
            let cmd_at = part.first().map(|t| t.start).unwrap_or(offset);
            if part.is_empty() {
                let pipe_at = rest.iter().find(|t| t.kind == TokKind::Pipe).map(|t| t.start).unwrap_or(cmd_at);
                return Err(err("missing command around `|`", pipe_at));
            }
            cmds.push(self.command(part, cmd_at)?);
        }
        // Variables are visible after their declaration (Go checks this while parsing).
        if assign {
            for d in &decl {
                if !self.declared(d) {
                    self.errors.push(err(format!("undefined variable {d:?}: declare it with `{d} := …` first"), at));
                }
            }
        } else if let Some(scope) = self.scopes.last_mut() {
            scope.extend(decl.iter().cloned());
        }
        Ok(Pipe { decl, assign, cmds, offset })
    }

    /// Parses one command: operands, with parenthesised pipelines inside.
    fn command(&mut self, toks: &[Tok], at: usize) -> Result<Cmd, RenderError> {
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (arg, next) = self.operand(toks, i)?;
            if !args.is_empty() && !toks[i].spaced {
                return Err(err(
                    format!("missing space before {}: separate arguments with spaces", describe(&toks[i])),
                    toks[i].start,
                ));
            }
            args.push(arg);
            i = next;
        }
        if args.is_empty() {
            return Err(err("missing value for command", at));
        }
        if let ArgKind::Nil = args[0].kind {
            return Err(err("nil is not a command", args[0].offset));
        }
        let end = args.last().map(|a| a.end).unwrap_or(at);
        Ok(Cmd { args, offset: at, end })
    }

    /// Parses one operand at `toks[i]` with its field chain; returns it and the next index.
    fn operand(&mut self, toks: &[Tok], i: usize) -> Result<(Arg, usize), RenderError> {
        let t = &toks[i];
        let offset = t.start;
        let mut next = i + 1;
        let kind = match &t.kind {
            TokKind::Field(f) => ArgKind::Field(vec![f.clone()]),
            TokKind::Dot => ArgKind::Field(Vec::new()),
            TokKind::Var(v) => {
                if !self.declared(v) {
                    self.errors
                        .push(err(format!("undefined variable {v:?}: declare it with `{v} := …` first"), offset));
                }
                ArgKind::Var(v.clone(), Vec::new())
            }
            TokKind::Ident(name) => {
                if matches!(name.as_str(), "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block") {
                    return Err(err(format!("unexpected `{name}` in operand: keywords start an action"), offset));
                }
                if !funcs::exists(name) {
                    let help = match did_you_mean(name, funcs::names()) {
                        Some(s) => format!("; did you mean {s:?}?"),
                        None => String::new(),
                    };
                    self.errors.push(err(format!("function {name:?} not defined{help}"), offset));
                }
                ArgKind::Func(name.clone())
            }
            TokKind::Str(s) => ArgKind::Str(s.clone()),
            TokKind::Char(c) => ArgKind::Int(*c as i64),
            TokKind::Bool(b) => ArgKind::Bool(*b),
            TokKind::Nil => ArgKind::Nil,
            TokKind::Num(n) => parse_number(n, offset)?,
            TokKind::LParen => {
                // Find the matching right paren.
                let mut depth = 0;
                let mut close = None;
                for (j, tk) in toks.iter().enumerate().skip(i) {
                    match tk.kind {
                        TokKind::LParen => depth += 1,
                        TokKind::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return Err(err("unclosed left paren: add `)`", offset));
                };
                if self.nesting >= MAX_NESTING {
                    return Err(err(format!("parentheses nested more than {MAX_NESTING} deep"), offset));
                }
                self.nesting += 1;
                let inner = self.pipeline(&toks[i + 1..close], offset, "parenthesized pipeline", false);
                self.nesting -= 1;
                let inner = inner?;
                if !inner.decl.is_empty() {
                    return Err(err("cannot declare variables inside parentheses", offset));
                }
                next = close + 1;
                ArgKind::Pipe(Box::new(inner), Vec::new())
            }
            _ => return Err(err(format!("unexpected {} in operand", describe(t)), offset)),
        };
        // A field chain touching the operand: `$x.A`, `(pipe).A`, `.A.B`.
        let mut chain = Vec::new();
        while let Some(TokKind::Field(f)) = toks.get(next).filter(|tk| !tk.spaced).map(|tk| &tk.kind) {
            chain.push(f.clone());
            next += 1;
        }
        let kind = match kind {
            ArgKind::Field(mut path) => {
                path.extend(chain);
                ArgKind::Field(path)
            }
            ArgKind::Var(v, _) => ArgKind::Var(v, chain),
            ArgKind::Pipe(p, _) => ArgKind::Pipe(p, chain),
            _ if !chain.is_empty() => {
                let at = toks[next - chain.len()].start;
                return Err(err(format!("unexpected field `.{}` after a value that has no fields", chain[0]), at));
            }
            other => other,
        };
        let end = toks.get(next.wrapping_sub(1)).map(|t| t.end).unwrap_or(offset);
        Ok((Arg { kind, offset, end }, next))
    }
}

/// Parses a Go number constant: integers (with base prefixes and `_`), floats, characters.
fn parse_number(text: &str, at: usize) -> Result<ArgKind, RenderError> {
    let bad = || err(format!("bad number syntax: {text:?}"), at);
    if text.ends_with('i') {
        return Err(err(format!("complex number {text} is not supported"), at));
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains('.') || h.contains('p') {
            None
        } else {
            Some(u64::from_str_radix(h, 16))
        }
    } else if let Some(o) = lower.strip_prefix("0o") {
        Some(u64::from_str_radix(o, 8))
    } else if let Some(b) = lower.strip_prefix("0b") {
        Some(u64::from_str_radix(b, 2))
    } else if !lower.contains(['.', 'e']) {
        if lower.len() > 1 && lower.starts_with('0') {
            Some(u64::from_str_radix(&lower[1..], 8))
        } else {
            Some(lower.parse::<u64>())
        }
    } else {
        None
    };
    match int {
        Some(Ok(n)) => {
            let n = if neg { -(n as i128) } else { n as i128 };
            i64::try_from(n).map(ArgKind::Int).map_err(|_| err(format!("number {text} is too large"), at))
        }
        Some(Err(_)) => {
            if lower.bytes().all(|b| b.is_ascii_digit()) && !lower.is_empty() {
                Err(err(format!("number {text} is too large"), at))
            } else {
                Err(bad())
            }
        }
        None => {
            if lower.starts_with("0x") {
                return Err(err(format!("hexadecimal float {text} is not supported"), at));
            }
            let f: f64 = body.parse().map_err(|_| bad())?;
            let f = if neg { -f } else { f };
            Ok(ArgKind::Float(f))
        }
    }
}

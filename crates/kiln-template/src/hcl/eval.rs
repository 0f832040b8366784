//! The expression evaluator: hcl-edit's AST to [`Value`], with cty's semantics for operators,
//! unknown values that propagate, and a [`Diagnostic`] with a span for every error.

use std::sync::Arc;

use hcl_edit::expr::{BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::Span as _;

use super::scope::Scope;
use super::template;
use crate::value::{Number, Value};
use kiln_config::diag::{did_you_mean, Diagnostic, SourceFile, Span};

pub(crate) type EvalResult = Result<Value, Box<Diagnostic>>;

/// The span of an hcl-edit node in `file` (the whole file's start when the parser gave none).
pub(crate) fn span_of(file: &Arc<SourceFile>, node: &dyn hcl_edit::Span) -> Span {
    match node.span() {
        Some(r) => Span::new(file, r.start, r.end),
        None => Span::new(file, 0, 0),
    }
}

pub(crate) fn err(summary: impl Into<String>, span: Span) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(summary).at(span))
}

/// Evaluates `expr` in `scope`.
pub(crate) fn eval(expr: &Expression, scope: &Scope) -> EvalResult {
    let span = || span_of(scope.file, expr);
    match expr {
        Expression::Null(_) => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(_) => match crate::value::number_literal(expr) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(err("number out of range", span())),
        },
        Expression::String(s) => Ok(Value::String(s.value().clone())),
        Expression::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            for e in a.iter() {
                items.push(eval(e, scope)?);
            }
            Ok(Value::List(items))
        }
        Expression::Object(o) => {
            let mut map = std::collections::BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(id) => id.value().as_str().to_string(),
                    ObjectKey::Expression(e) => match eval(e, scope)? {
                        Value::Unknown => return Ok(Value::Unknown),
                        kv => match kv.to_template_string() {
                            Some(s) => s,
                            None => {
                                return Err(err(
                                    format!("object key must be a string, found a {}", kv.type_name()),
                                    span_of(scope.file, e),
                                ))
                            }
                        },
                    },
                };
                map.insert(key, eval(v.expr(), scope)?);
            }
            Ok(Value::Object(map))
        }
        Expression::StringTemplate(t) => template::eval_template(t, scope, false, false),
        Expression::HeredocTemplate(h) => template::eval_template(&h.template, scope, false, false),
        Expression::Parenthesis(p) => eval(p.inner(), scope),
        Expression::Variable(v) => scope.root(v.value().as_str(), &span_of(scope.file, v)),
        Expression::Conditional(c) => match eval(&c.cond_expr, scope)? {
            Value::Unknown => Ok(Value::Unknown),
            cond => match to_bool(&cond) {
                Some(true) => eval(&c.true_expr, scope),
                Some(false) => eval(&c.false_expr, scope),
                None => Err(err(
                    format!("the condition must be a bool, found a {}", cond.type_name()),
                    span_of(scope.file, &c.cond_expr),
                )
                .with_help_box("compare the value, e.g. `var.x == \"yes\"`")),
            },
        },
        Expression::FuncCall(f) => eval_call(f, scope),
        Expression::Traversal(t) => {
            let (v, skip) = eval_traversal_root(&t.expr, &t.operators, scope)?;
            apply_operators(v, &t.operators[skip..], scope)
        }
        Expression::UnaryOp(u) => {
            let v = eval(&u.expr, scope)?;
            if v == Value::Unknown {
                return Ok(Value::Unknown);
            }
            let at = span_of(scope.file, &u.expr);
            match u.operator.value() {
                UnaryOperator::Neg => Ok(Value::Number(want_number(&v, at)?.neg())),
                UnaryOperator::Not => Ok(Value::Bool(!want_bool(&v, at)?)),
            }
        }
        Expression::BinaryOp(b) => eval_binary(b, scope),
        Expression::ForExpr(f) => eval_for(f, scope),
    }
}

/// [`Diagnostic::with_help`] and [`Diagnostic::with_detail`] for the boxed diagnostics that
/// evaluation returns.
pub(crate) trait BoxedDiagnostic {
    fn with_help_box(self, help: &str) -> Self;
    fn with_detail_box(self, detail: &str) -> Self;
}

impl BoxedDiagnostic for Box<Diagnostic> {
    fn with_help_box(mut self, help: &str) -> Self {
        self.help = Some(help.to_string());
        self
    }

    fn with_detail_box(mut self, detail: &str) -> Self {
        self.detail = Some(detail.to_string());
        self
    }
}

/// Resolves the root of a traversal: its value and how many operators it consumed. References
/// such as `var.x`, `local.y`, `path.root` or `build.Host` consume their first attribute.
fn eval_traversal_root(
    expr: &Expression,
    ops: &[hcl_edit::Decorated<TraversalOperator>],
    scope: &Scope,
) -> Result<(Value, usize), Box<Diagnostic>> {
    if let Expression::Variable(v) = expr {
        let name = v.value().as_str();
        if scope.is_namespace(name) {
            let Some(first) = ops.first() else {
                return Err(err(format!("`{name}` cannot be used on its own"), span_of(scope.file, v))
                    .with_help_box(&format!("refer to one of its attributes, e.g. `{name}.<name>`")));
            };
            let attr = match first.value() {
                TraversalOperator::GetAttr(a) => a.value().as_str().to_string(),
                TraversalOperator::Index(Expression::String(s)) => s.value().clone(),
                _ => return Err(err(format!("`{name}` must be followed by `.<name>`"), span_of(scope.file, first))),
            };
            let whole = match (v.span(), first.span()) {
                (Some(a), Some(b)) => Span::new(scope.file, a.start, b.end),
                _ => span_of(scope.file, v),
            };
            // `data.type.name` needs two attributes.
            if name == "data" {
                let Some(second) = ops.get(1) else {
                    return Err(err("a data source reference needs `data.<type>.<name>`", whole));
                };
                let TraversalOperator::GetAttr(n) = second.value() else {
                    return Err(err("a data source reference needs `data.<type>.<name>`", whole));
                };
                let whole2 = match (v.span(), second.span()) {
                    (Some(a), Some(b)) => Span::new(scope.file, a.start, b.end),
                    _ => whole,
                };
                let val = scope.data_ref(&attr, n.value().as_str(), &whole2)?;
                return Ok((val, 2));
            }
            let val = scope.namespaced(name, &attr, &whole)?;
            return Ok((val, 1));
        }
    }
    Ok((eval(expr, scope)?, 0))
}

fn apply_operators(mut v: Value, ops: &[hcl_edit::Decorated<TraversalOperator>], scope: &Scope) -> EvalResult {
    let mut i = 0;
    while i < ops.len() {
        if v == Value::Unknown {
            return Ok(Value::Unknown);
        }
        let op = &ops[i];
        let at = span_of(scope.file, op);
        match op.value() {
            TraversalOperator::GetAttr(a) => v = get_attr(v, a.value().as_str(), at)?,
            TraversalOperator::LegacyIndex(n) => v = index(v, &Value::int(*n.value() as i64), at)?,
            TraversalOperator::Index(e) => {
                let key = eval(e, scope)?;
                if key == Value::Unknown {
                    return Ok(Value::Unknown);
                }
                v = index(v, &key, at)?;
            }
            TraversalOperator::FullSplat(_) | TraversalOperator::AttrSplat(_) => {
                // `[*]` applies every following operator to each element; `.*` only the
                // attribute accesses right after it.
                let full = matches!(op.value(), TraversalOperator::FullSplat(_));
                let rest = &ops[i + 1..];
                let n = if full {
                    rest.len()
                } else {
                    rest.iter()
                        .take_while(|o| {
                            matches!(o.value(), TraversalOperator::GetAttr(_) | TraversalOperator::LegacyIndex(_))
                        })
                        .count()
                };
                let items = match v {
                    Value::List(items) => items,
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(apply_operators(item, &rest[..n], scope)?);
                }
                v = Value::List(out);
                i += 1 + n;
                continue;
            }
        }
        i += 1;
    }
    Ok(v)
}

pub(crate) fn get_attr(v: Value, name: &str, at: Span) -> EvalResult {
    match v {
        Value::Unknown => Ok(Value::Unknown),
        Value::Object(mut m) => match m.remove(name) {
            Some(x) => Ok(x),
            None => {
                let mut e = err(format!("this object has no attribute named \"{name}\""), at);
                if let Some(s) = did_you_mean(name, m.keys().map(String::as_str)) {
                    e.help = Some(format!("did you mean \"{s}\"?"));
                }
                Err(e)
            }
        },
        Value::Null => Err(err(format!("cannot read attribute \"{name}\" of a null value"), at)),
        other => Err(err(format!("cannot read attribute \"{name}\" of a {}", other.type_name()), at)
            .with_help_box("only objects and maps have attributes")),
    }
}

pub(crate) fn index(v: Value, key: &Value, at: Span) -> EvalResult {
    match v {
        Value::Unknown => Ok(Value::Unknown),
        Value::List(mut items) => {
            let n = match key {
                Value::Number(n) => Some(n.clone()),
                Value::String(s) => crate::types::parse_number(s.trim()),
                _ => None,
            };
            let Some(n) = n else {
                return Err(err(format!("a list index must be a number, found a {}", key.type_name()), at));
            };
            if !n.is_integer() {
                return Err(err(
                    format!("indexing a list requires a whole number, but the index {n} has a fractional part"),
                    at,
                ));
            }
            match n.to_i64().and_then(|i| usize::try_from(i).ok()).filter(|&i| i < items.len()) {
                Some(i) => Ok(items.swap_remove(i)),
                None => Err(err(format!("index {n} is out of range for a list of {} elements", items.len()), at)),
            }
        }
        Value::Object(mut m) => {
            let Some(k) = key.to_template_string() else {
                return Err(err(format!("a map key must be a string, found a {}", key.type_name()), at));
            };
            match m.remove(&k) {
                Some(x) => Ok(x),
                None => {
                    let mut e = err(format!("this map has no element with key \"{k}\""), at);
                    if let Some(s) = did_you_mean(&k, m.keys().map(String::as_str)) {
                        e.help = Some(format!("did you mean \"{s}\"?"));
                    }
                    Err(e)
                }
            }
        }
        Value::Null => Err(err("cannot index a null value", at)),
        other => Err(err(format!("cannot index a {}", other.type_name()), at)
            .with_help_box("only lists, tuples, maps and objects can be indexed")),
    }
}

/// Converts to bool as cty does: bools, and the strings "true"/"false".
pub(crate) fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Converts to a number as cty does: numbers and numeric strings.
pub(crate) fn to_number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => crate::types::parse_number(s.trim()),
        _ => None,
    }
}

/// What `for` expressions, `%{ for }` directives and `dynamic` blocks iterate over: a list's
/// (index, element) or an object's (key, value) pairs. `Err` gives back any other value.
pub(crate) fn iteration_pairs(v: Value) -> Result<Vec<(Value, Value)>, Value> {
    match v {
        Value::List(items) => Ok(items.into_iter().enumerate().map(|(i, v)| (Value::int(i as i64), v)).collect()),
        Value::Object(m) => Ok(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()),
        other => Err(other),
    }
}

fn want_number(v: &Value, at: Span) -> Result<Number, Box<Diagnostic>> {
    to_number(v).ok_or_else(|| err(format!("a number is required, found {}", describe(v)), at))
}

fn want_bool(v: &Value, at: Span) -> Result<bool, Box<Diagnostic>> {
    to_bool(v).ok_or_else(|| err(format!("a bool is required, found {}", describe(v)), at))
}

/// "a string (\"abc\")" style description for errors.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.len() <= 40 => format!("the string {:?}", s),
        Value::Number(_) | Value::Bool(_) => format!("the {} {v}", v.type_name()),
        Value::Null => "null".to_string(),
        _ => format!("a {}", v.type_name()),
    }
}

fn eval_binary(b: &hcl_edit::expr::BinaryOp, scope: &Scope) -> EvalResult {
    use BinaryOperator as Op;
    let op = *b.operator.value();
    let l = eval(&b.lhs_expr, scope)?;
    // `&&` / `||` short-circuit like cty does when the left side decides.
    if matches!(op, Op::And | Op::Or) && l != Value::Unknown {
        let lb = want_bool(&l, span_of(scope.file, &b.lhs_expr))?;
        if (op == Op::And && !lb) || (op == Op::Or && lb) {
            return Ok(Value::Bool(lb));
        }
    }
    let r = eval(&b.rhs_expr, scope)?;
    if l == Value::Unknown || r == Value::Unknown {
        return Ok(Value::Unknown);
    }
    let ls = || span_of(scope.file, &b.lhs_expr);
    let rs = || span_of(scope.file, &b.rhs_expr);
    match op {
        Op::Eq => Ok(Value::Bool(values_equal(&l, &r))),
        Op::NotEq => Ok(Value::Bool(!values_equal(&l, &r))),
        Op::And | Op::Or => Ok(Value::Bool(want_bool(&r, rs())?)),
        _ => {
            let x = want_number(&l, ls())?;
            let y = want_number(&r, rs())?;
            let nan = || err("the result is not a number (an infinity minus itself, or zero times one)", ls());
            Ok(match op {
                Op::Plus => Value::Number(x.add(&y).ok_or_else(nan)?),
                Op::Minus => Value::Number(x.sub(&y).ok_or_else(nan)?),
                Op::Mul => Value::Number(x.mul(&y).ok_or_else(nan)?),
                Op::Div => {
                    if y.is_zero() {
                        return Err(err("division by zero", rs()));
                    }
                    Value::Number(x.div(&y).ok_or_else(nan)?)
                }
                Op::Mod => {
                    if y.is_zero() {
                        return Err(err("modulo by zero", rs()));
                    }
                    // cty's modulo truncates the quotient: the sign of the dividend.
                    Value::Number(x.rem(&y).ok_or_else(nan)?)
                }
                Op::Less => Value::Bool(x < y),
                Op::LessEq => Value::Bool(x <= y),
                Op::Greater => Value::Bool(x > y),
                Op::GreaterEq => Value::Bool(x >= y),
                _ => Value::Bool(false),
            })
        }
    }
}

/// cty equality: no conversion between types (`1 == "1"` is false).
fn values_equal(a: &Value, b: &Value) -> bool {
    a == b
}

fn eval_for(f: &ForExpr, scope: &Scope) -> EvalResult {
    let pairs = match iteration_pairs(eval(&f.intro.collection_expr, scope)?) {
        Ok(pairs) => pairs,
        Err(Value::Unknown) => return Ok(Value::Unknown),
        Err(other) => {
            return Err(err(
                format!("a for expression needs a list, set, map or object, found {}", describe(&other)),
                span_of(scope.file, &f.intro.collection_expr),
            ))
        }
    };
    let kname = f.intro.key_var.as_ref().map(|k| k.value().as_str().to_string());
    let vname = f.intro.value_var.value().as_str().to_string();
    let mut list = Vec::new();
    let mut obj: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    let mut unknown = false;
    let mut size = 0usize;
    for (k, v) in pairs {
        // The result's size so far, checked per item: many copies of a large value stop here.
        size = size.saturating_add(list.last().map_or(0, Value::approx_size));
        kiln_config::limits::check_size(size)
            .map_err(|m| err(format!("the for expression's result is too large: {m}"), span_of(scope.file, f)))?;
        let mut inner = scope.child();
        if let Some(kn) = &kname {
            inner.bind(kn, k);
        }
        inner.bind(&vname, v);
        if let Some(cond) = &f.cond {
            match eval(&cond.expr, &inner)? {
                Value::Unknown => {
                    unknown = true;
                    continue;
                }
                c => {
                    if !want_bool(&c, span_of(scope.file, &cond.expr))? {
                        continue;
                    }
                }
            }
        }
        match &f.key_expr {
            None => list.push(eval(&f.value_expr, &inner)?),
            Some(ke) => {
                let key = eval(ke, &inner)?;
                if key == Value::Unknown {
                    unknown = true;
                    continue;
                }
                let Some(key) = key.to_template_string() else {
                    return Err(err(
                        format!("an object key must be a string, found {}", describe(&key)),
                        span_of(scope.file, ke),
                    ));
                };
                let val = eval(&f.value_expr, &inner)?;
                if f.grouping {
                    if let Value::List(items) = obj.entry(key).or_insert_with(|| Value::List(Vec::new())) {
                        items.push(val);
                    }
                } else {
                    match obj.entry(key) {
                        std::collections::btree_map::Entry::Occupied(o) => {
                            return Err(err(format!("duplicate object key \"{}\"", o.key()), span_of(scope.file, ke))
                                .with_help_box(
                                    "add `...` after the value to group values with the same key into lists",
                                ));
                        }
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert(val);
                        }
                    }
                }
            }
        }
    }
    if unknown {
        return Ok(Value::Unknown);
    }
    Ok(if f.key_expr.is_some() { Value::Object(obj) } else { Value::List(list) })
}

fn eval_call(f: &FuncCall, scope: &Scope) -> EvalResult {
    let name = f.name.name.value().as_str();
    let at = span_of(scope.file, f);
    if f.name.is_namespaced() {
        return Err(err(
            format!(
                "namespaced function calls such as `{}::{name}` are not supported",
                f.name.namespace.iter().map(|n| n.value().as_str()).collect::<Vec<_>>().join("::")
            ),
            at,
        ));
    }
    let args: Vec<&Expression> = f.args.iter().collect();
    match name {
        // Both need the errors of their arguments, so they evaluate them lazily here.
        "can" => {
            if args.len() != 1 {
                return Err(err(format!("can() takes exactly one argument, got {}", args.len()), at));
            }
            return Ok(match eval(args[0], scope) {
                Ok(v) if !v.is_known() => Value::Unknown,
                Ok(_) => Value::Bool(true),
                Err(_) => Value::Bool(false),
            });
        }
        "try" => {
            if args.is_empty() {
                return Err(err("try() needs at least one argument", at));
            }
            let mut last = None;
            for a in &args {
                match eval(a, scope) {
                    Ok(v) if !v.is_known() => return Ok(Value::Unknown),
                    Ok(v) => return Ok(v),
                    Err(e) => last = Some(e),
                }
            }
            let mut e = err("no expression given to try() succeeded", at);
            if let Some(last) = last {
                e.detail = Some(format!("the last one failed with: {}", last.summary));
            }
            return Err(e);
        }
        // Packer reads the environment only in variable defaults, so that a configuration's
        // inputs are all declared as variables.
        "env" => {
            if scope.ctx.vars_allowed {
                let mut e = err("env() can only be used in the default value of a variable", at);
                e.help =
                    Some("declare a variable with `default = env(\"NAME\")` and refer to it as var.<name>".to_string());
                return Err(e);
            }
            let [arg] = args.as_slice() else {
                return Err(err(format!("env() takes exactly one argument, got {}", args.len()), at));
            };
            return match eval(arg, scope)? {
                Value::String(k) => Ok(Value::String(scope.ctx.env.get(&k).cloned().unwrap_or_default())),
                Value::Unknown => Ok(Value::Unknown),
                other => Err(err(
                    format!("env() takes the name of a variable as a string, found {}", describe(&other)),
                    span_of(scope.file, *arg),
                )),
            };
        }
        // Its second argument is a type (`list(string)`), not a value.
        "convert" if args.len() == 2 => {
            let t = crate::types::Type::parse(args[1]).map_err(|m| {
                let mut e = err(format!("invalid type for convert(): {m}"), span_of(scope.file, args[1]));
                e.help = Some("write a type such as string, list(string) or map(number)".to_string());
                e
            })?;
            let v = eval(args[0], scope)?;
            if !v.is_known() {
                return Ok(Value::Unknown);
            }
            return crate::types::convert(&v, &t)
                .map_err(|m| err(format!("cannot convert the value: {m}"), span_of(scope.file, args[0])));
        }
        _ => {}
    }
    let Some(function) = crate::functions::function(name) else {
        let names = crate::functions::names();
        let mut e = err(format!("call to unknown function \"{name}\""), span_of(scope.file, &f.name.name));
        if let Some(s) = did_you_mean(name, names.iter().copied()) {
            e.help = Some(format!("did you mean \"{s}\"?"));
        }
        return Err(e);
    };
    let mut vals = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let v = eval(a, scope)?;
        if i + 1 == args.len() && f.args.expand_final() {
            match v {
                Value::List(items) => vals.extend(items),
                Value::Unknown => return Ok(Value::Unknown),
                other => {
                    return Err(err(
                        format!("`...` expands a list, found {}", describe(&other)),
                        span_of(scope.file, *a),
                    ))
                }
            }
        } else {
            vals.push(v);
        }
    }
    if vals.iter().any(|v| !v.is_known()) {
        return Ok(Value::Unknown);
    }
    let render = |src: &str, vars: &Value| template::render_template_file(src, vars, scope);
    let fctx = crate::functions::FuncContext {
        base_dir: scope.ctx.base_dir.clone(),
        now: scope.ctx.now,
        render_template: &render,
    };
    let v = function.call(&vals, &fctx).map_err(|m| {
        let mut e = err(format!("error in function call {name}(): {m}"), at.clone());
        e.help = Some(format!("check the arguments of {name}()"));
        e
    })?;
    kiln_config::limits::check_size(v.approx_size())
        .map_err(|m| err(format!("the result of {name}() is too large: {m}"), at))?;
    Ok(v)
}

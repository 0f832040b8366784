//! String templates: `${ }` interpolation, `%{ if }` / `%{ for }` directives and `~` strip
//! markers, for quoted strings and heredocs, and the text of `templatefile()`.

use std::sync::Arc;

use hcl_edit::template::{Directive, Element, Template};

use super::eval::{err, eval, iteration_pairs, span_of, to_bool, BoxedDiagnostic, EvalResult};
use super::scope::{Ctx, Scope};
use crate::value::Value;
use kiln_config::diag::SourceFile;

/// Evaluates a template. `strip_before`/`strip_after` say whether the enclosing directive's
/// tags strip the whitespace at the template's start/end.
pub(crate) fn eval_template(t: &Template, scope: &Scope, strip_before: bool, strip_after: bool) -> EvalResult {
    let elements: Vec<&Element> = t.iter().collect();
    // A template that is a single interpolation yields the value itself, not its string form.
    if let [Element::Interpolation(i)] = elements.as_slice() {
        if !strip_before && !strip_after {
            return eval(&i.expr, scope);
        }
    }
    let mut out = String::new();
    let mut unknown = false;
    for (idx, el) in elements.iter().enumerate() {
        match el {
            Element::Literal(lit) => {
                let mut s: &str = lit.value();
                let left = if idx == 0 { strip_before } else { strips_after(elements[idx - 1]) };
                let right = if idx + 1 == elements.len() { strip_after } else { strips_before(elements[idx + 1]) };
                if left {
                    s = s.trim_start();
                }
                if right {
                    s = s.trim_end();
                }
                out.push_str(s);
            }
            Element::Interpolation(i) => {
                let v = eval(&i.expr, scope)?;
                match v {
                    Value::Unknown => unknown = true,
                    Value::Null => {
                        return Err(err(
                            "cannot include a null value in a string template",
                            span_of(scope.file, &i.expr),
                        )
                        .with_help_box("use a conditional or coalesce() to give a fallback value"))
                    }
                    other => match other.to_template_string() {
                        Some(s) => {
                            // Checked before the string grows: locals that each double a string
                            // stop here, at the interpolation that crossed the cap.
                            kiln_config::limits::check_size(out.len() + s.len()).map_err(|m| {
                                err(format!("the string is too large: {m}"), span_of(scope.file, &i.expr))
                            })?;
                            out.push_str(&s)
                        }
                        None => {
                            if !other.is_known() {
                                unknown = true;
                            } else {
                                return Err(err(
                                    format!(
                                        "cannot include a {} in a string template: a string is required",
                                        other.type_name()
                                    ),
                                    span_of(scope.file, &i.expr),
                                )
                                .with_help_box("use join() for lists, or jsonencode() for structured values"));
                            }
                        }
                    },
                }
            }
            Element::Directive(d) => match d.as_ref() {
                Directive::If(ifd) => {
                    let c = eval(&ifd.if_expr.cond_expr, scope)?;
                    if c == Value::Unknown {
                        unknown = true;
                        continue;
                    }
                    let Some(c) = to_bool(&c) else {
                        return Err(err(
                            format!("the %{{if}} condition must be a bool, found a {}", c.type_name()),
                            span_of(scope.file, &ifd.if_expr.cond_expr),
                        ));
                    };
                    let if_end = ifd.if_expr.strip.strip_end();
                    let endif_start = ifd.endif_expr.strip.strip_start();
                    let part = if c {
                        let after = ifd.else_expr.as_ref().map_or(endif_start, |e| e.strip.strip_start());
                        Some(eval_template(&ifd.if_expr.template, scope, if_end, after)?)
                    } else if let Some(e) = &ifd.else_expr {
                        Some(eval_template(&e.template, scope, e.strip.strip_end(), endif_start)?)
                    } else {
                        None
                    };
                    if let Some(p) = part {
                        push_part(&mut out, &mut unknown, p, scope, &ifd.if_expr.cond_expr)?;
                    }
                }
                Directive::For(ford) => {
                    let f = &ford.for_expr;
                    let pairs = match iteration_pairs(eval(&f.collection_expr, scope)?) {
                        Ok(pairs) => pairs,
                        Err(Value::Unknown) => {
                            unknown = true;
                            continue;
                        }
                        Err(other) => {
                            return Err(err(
                                format!("%{{for}} needs a list or map, found a {}", other.type_name()),
                                span_of(scope.file, &f.collection_expr),
                            ))
                        }
                    };
                    for (k, v) in pairs {
                        let mut inner = scope.child();
                        if let Some(kv) = &f.key_var {
                            inner.bind(kv.value().as_str(), k);
                        }
                        inner.bind(f.value_var.value().as_str(), v);
                        let p = eval_template(
                            &f.template,
                            &inner,
                            f.strip.strip_end(),
                            ford.endfor_expr.strip.strip_start(),
                        )?;
                        push_part(&mut out, &mut unknown, p, scope, &f.collection_expr)?;
                    }
                }
            },
        }
    }
    Ok(if unknown { Value::Unknown } else { Value::String(out) })
}

fn push_part(
    out: &mut String,
    unknown: &mut bool,
    p: Value,
    scope: &Scope,
    at: &hcl_edit::expr::Expression,
) -> Result<(), Box<kiln_config::diag::Diagnostic>> {
    match p {
        Value::Unknown => *unknown = true,
        other => match other.to_template_string() {
            Some(s) => out.push_str(&s),
            None => {
                return Err(err(
                    format!("cannot include a {} in a string template", other.type_name()),
                    span_of(scope.file, at),
                ))
            }
        },
    }
    Ok(())
}

/// Whether element `e` strips the whitespace after it (its closing `~}`).
fn strips_after(e: &Element) -> bool {
    match e {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_end(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(i) => i.endif_expr.strip.strip_end(),
            Directive::For(f) => f.endfor_expr.strip.strip_end(),
        },
    }
}

/// Whether element `e` strips the whitespace before it (its opening `{~`).
fn strips_before(e: &Element) -> bool {
    match e {
        Element::Literal(_) => false,
        Element::Interpolation(i) => i.strip.strip_start(),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(i) => i.if_expr.strip.strip_start(),
            Directive::For(f) => f.for_expr.strip.strip_start(),
        },
    }
}

/// Renders the text of a `templatefile()` template with `vars` (an object) as its only names.
pub(crate) fn render_template_file(src: &str, vars: &Value, outer: &Scope) -> Result<String, String> {
    let t = hcl_edit::parser::parse_template(src).map_err(|e| {
        format!("template parse error at {}:{}: {}", e.location().line(), e.location().column(), e.message())
    })?;
    let file: Arc<SourceFile> = SourceFile::new("<templatefile>", src);
    let ctx: &Ctx = outer.ctx;
    let mut scope = Scope::new(&file, ctx);
    scope.isolated = true;
    if let Value::Object(m) = vars {
        for (k, v) in m {
            scope.bind(k, v.clone());
        }
    }
    match eval_template(&t, &scope, false, false) {
        Ok(Value::String(s)) => Ok(s),
        Ok(Value::Unknown) => Err("the template refers to values that are not known yet".to_string()),
        Ok(other) => other.to_template_string().ok_or_else(|| "the template result is not a string".to_string()),
        Err(e) => {
            let (l, c) = e.span.as_ref().map_or((0, 0), |s| s.line_col());
            Err(format!("{l}:{c}: {}", e.summary))
        }
    }
}

//! Shared by the functions_* tests: a tiny evaluator for literal expressions and function calls
//! (the real HCL evaluator lives elsewhere), and `packer console`'s way of printing values.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};
use kiln_template::functions::{self, FuncContext};
use kiln_template::Value;

/// One recorded case: an expression and what `packer console` printed (or `!error summary | detail`).
pub struct Case {
    pub expr: String,
    pub expected: String,
}

/// Reads `>>> expr` blocks; lines until the next `>>> ` are the expected output.
pub fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        if let Some(expr) = line.strip_prefix(">>> ") {
            cases.push(Case { expr: expr.to_string(), expected: String::new() });
        } else if let Some(c) = cases.last_mut() {
            if !c.expected.is_empty() {
                c.expected.push('\n');
            }
            c.expected.push_str(line);
        }
    }
    cases
}

/// Evaluates `src` with the function library. The clock is fixed at 2020-09-13T12:26:40Z.
pub fn eval_str(src: &str) -> Result<Value, String> {
    let expr: Expression = src.parse().map_err(|e| format!("test evaluator: cannot parse {src:?}: {e}"))?;
    let render = |tpl: &str, vars: &Value| -> Result<String, String> {
        // Enough for tests: ${name} substitution.
        let Value::Object(m) = vars else { return Err("vars must be an object".into()) };
        let mut out = tpl.to_string();
        for (k, v) in m {
            out = out.replace(&format!("${{{k}}}"), &v.to_template_string().unwrap_or_default());
        }
        Ok(out)
    };
    let ctx = FuncContext {
        base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        now: UNIX_EPOCH + Duration::from_secs(1_600_000_000),
        render_template: &render,
    };
    eval(&expr, &ctx)
}

fn eval(e: &Expression, ctx: &FuncContext) -> Result<Value, String> {
    Ok(match e {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(_) => Value::Number(kiln_template::value::number_literal(e).ok_or("bad number")?),
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::Array(a) => Value::List(a.iter().map(|x| eval(x, ctx)).collect::<Result<_, _>>()?),
        Expression::Object(o) => {
            let mut m = std::collections::BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(id) => id.as_str().to_string(),
                    ObjectKey::Expression(x) => match eval(x, ctx)? {
                        Value::String(s) => s,
                        other => other.to_template_string().ok_or("bad key")?,
                    },
                };
                m.insert(key, eval(v.expr(), ctx)?);
            }
            Value::Object(m)
        }
        Expression::Parenthesis(p) => eval(p.inner(), ctx)?,
        Expression::UnaryOp(u) if *u.operator.value() == UnaryOperator::Neg => match eval(&u.expr, ctx)? {
            Value::Number(n) => Value::Number(n.neg()),
            _ => return Err("test evaluator: - needs a number".into()),
        },
        Expression::FuncCall(c) => {
            let name = c.name.name.as_str();
            let args: Vec<&Expression> = c.args.iter().collect();
            let mut vals = Vec::new();
            for (i, a) in args.iter().enumerate() {
                // convert()'s second argument is a type expression, passed as its text.
                if name == "convert" && i == 1 {
                    vals.push(Value::String(a.to_string().trim().to_string()));
                } else {
                    vals.push(eval(a, ctx)?);
                }
            }
            functions::call(name, &vals, ctx)?
        }
        other => return Err(format!("test evaluator: unsupported expression {other}")),
    })
}

/// Prints a value as `packer console` does: strings bare at the top level, collections one
/// element a line with two-space indents and trailing commas.
pub fn console(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => nested(other, 0),
    }
}

fn nested(v: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Value::Null => "null".into(),
        Value::Unknown => "(known after apply)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.console_text(),
        Value::String(s) => quote(s),
        Value::List(items) if items.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::List(items) => {
            let mut out = String::from("[\n");
            for x in items {
                out.push_str(&format!("{pad}{},\n", nested(x, indent + 1)));
            }
            out + &end + "]"
        }
        Value::Object(m) => {
            let mut out = String::from("{\n");
            for (k, x) in m {
                out.push_str(&format!("{pad}{} = {}\n", quote(k), nested(x, indent + 1)));
            }
            out + &end + "}"
        }
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Cases where kiln deliberately differs from Packer 1.6.6, with the reason.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (r#"index(["a", "b", "c"], "b")"#, "1.6.6's index was element access; Packer's documented index finds a value"),
    (r#"index([1, 2, 3], 3)"#, "1.6.6's index was element access; Packer's documented index finds a value"),
    ("jsonencode(null)", "newer cty encodes null as \"null\" instead of rejecting it"),
    (
        r#"yamldecode("a: 1.5\nb: null\nc: ~\nd: yes\n")"#,
        "1.6.6 drops null attributes and reads YAML 1.1 yes as true; kiln keeps nulls and follows YAML 1.2",
    ),
    (r#"cidrsubnet("10.0.0.0/24", -1, 0)"#, "1.6.6 silently shortens the prefix for negative newbits; kiln rejects it"),
    (r#"cidrsubnet("10.0.0.0/24", 8, -1)"#, "1.6.6 returns a nonsense network for a negative netnum; kiln rejects it"),
    (r#"yamldecode("a: 0x10")"#, "YAML 1.2 reads 0x10 as the number 16; 1.6.6 kept the string"),
    (r#"yamldecode("- 1\n- [2, 3]\n- {x: y}")"#, "1.6.6 reads YAML 1.1's y as true; kiln follows YAML 1.2"),
    (r#"yamldecode("a: 2001-12-14")"#, "1.6.6 turns YAML 1.1 timestamps into RFC 3339 strings; kiln keeps the text"),
    (r#"element(["a", "b", "c"], -1)"#, "1.6.6 panics; newer cty counts negative indexes from the end"),
    ("merge()", "1.6.6 returns null; current cty returns an empty object"),
    ("floor(1e20)", "1.6.6 overflows to -9223372036854775808"),
    ("signum(-0.0001)", "1.6.6 accepted only whole numbers; newer Packer takes any number"),
];

pub struct Outcome {
    pub failures: Vec<String>,
    pub exact_errors: usize,
    pub errors: usize,
    pub values: usize,
}

pub fn check(cases: &[Case]) -> Outcome {
    let mut out = Outcome { failures: Vec::new(), exact_errors: 0, errors: 0, values: 0 };
    for c in cases {
        if KNOWN_DIFFERENCES.iter().any(|(e, _)| *e == c.expr) {
            continue;
        }
        let got = eval_str(&c.expr);
        match (c.expected.strip_prefix("!error "), got) {
            (Some(want), Err(msg)) => {
                out.errors += 1;
                let detail = want.split_once(" | ").map(|(_, d)| d).unwrap_or(want);
                // The parameter an error is about must be the one Packer names.
                if let Some(param) = param_of(detail) {
                    if !msg.contains(&format!("\"{param}\" parameter")) {
                        out.failures.push(format!("{}\n  want error about {param:?}: {detail}\n  got: {msg}", c.expr));
                        continue;
                    }
                }
                let norm = |s: &str| s.to_lowercase().replace(['.', ','], "");
                if norm(detail).contains(&norm(&msg)) || norm(&msg).contains(&norm(tail(detail))) {
                    out.exact_errors += 1;
                }
            }
            (Some(want), Ok(v)) => {
                out.failures.push(format!("{}\n  want error: {want}\n  got: {}", c.expr, console(&v)))
            }
            (None, Err(msg)) => out.failures.push(format!("{}\n  want: {}\n  got error: {msg}", c.expr, c.expected)),
            (None, Ok(v)) => {
                out.values += 1;
                // The recorded outputs had their trailing newlines trimmed.
                let got = console(&v).trim_end_matches('\n').to_string();
                if got != c.expected {
                    out.failures.push(format!("{}\n  want: {}\n  got:  {got}", c.expr, c.expected));
                }
            }
        }
    }
    out
}

/// `Invalid value for "num" parameter: …` → `num`.
fn param_of(detail: &str) -> Option<&str> {
    let rest = detail.strip_prefix("Invalid value for \"")?;
    rest.split_once("\" parameter").map(|(p, _)| p)
}

/// The part of a Packer error after `failed: ` or `parameter: `, without the final period.
fn tail(detail: &str) -> &str {
    let t = detail.rsplit_once("failed: ").map(|(_, t)| t).unwrap_or(detail);
    let t = t.split_once("parameter: ").map(|(_, t)| t).unwrap_or(t);
    t.trim_end_matches('.')
}

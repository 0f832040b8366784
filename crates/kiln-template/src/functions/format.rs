//! `format` and `formatlist`: Go-style verbs as cty implements them (%v %#v %s %q %d %f %e %g
//! %t %b %o %x %X %%, flags `+ - # 0 space`, width, precision and `%[n]` argument indexes).

use crate::types::{convert, Type};
use crate::value::{format_number, Value};

const MAX_WIDTH: usize = 10_000;

struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Formats `fmt` with `args`. Errors are about the verb at a byte offset, as cty reports them.
pub(super) fn format(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut used = vec![false; args.len()];
    let mut verbs = 0usize;
    let mut chars = fmt.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec =
            Spec { minus: false, plus: false, zero: false, space: false, sharp: false, width: None, prec: None };
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        if let Some(&(_, '[')) = chars.peek() {
            chars.next();
            let mut idx = String::new();
            while let Some(&(_, d)) = chars.peek() {
                chars.next();
                if d == ']' {
                    break;
                }
                idx.push(d);
            }
            match idx.parse::<usize>() {
                Ok(n) if n >= 1 => next_arg = n - 1,
                _ => return Err(format!("invalid argument index {idx:?} at {start}: must be a number from 1")),
            }
        }
        spec.width = read_int(&mut chars);
        if let Some(&(_, '.')) = chars.peek() {
            chars.next();
            spec.prec = Some(read_int(&mut chars).unwrap_or(0));
        }
        // Go would allocate whatever is asked; a template has no business asking for more.
        if spec.width.unwrap_or(0) > MAX_WIDTH || spec.prec.unwrap_or(0) > MAX_WIDTH {
            return Err(format!("width or precision at {start} is larger than {MAX_WIDTH}"));
        }
        let Some((_, verb)) = chars.next() else {
            return Err(format!(
                "unterminated format verb at {start}: add a verb letter such as %s, or write %% for a literal %"
            ));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !"vtbdoxXeEfgGsq".contains(verb) {
            let end = chars.peek().map(|(i, _)| *i).unwrap_or(fmt.len());
            return Err(format!("unsupported format verb '{verb}' in {:?} at offset {start}", &fmt[start..end]));
        }
        verbs += 1;
        let Some(arg) = args.get(next_arg) else {
            return Err(format!(
                "not enough arguments for \"%{verb}\" at {start}: need index {} but have {} total",
                next_arg + 1,
                args.len()
            ));
        };
        used[next_arg] = true;
        next_arg += 1;
        let s =
            format_one(verb, &spec, arg).map_err(|e| format!("unsupported value for \"%{verb}\" at {start}: {e}"))?;
        out.push_str(&pad(&s, &spec, verb));
    }
    if verbs == 0 && !args.is_empty() {
        return Err("too many arguments; no verbs in format string".into());
    }
    if let Some(n) = used.iter().rposition(|u| *u) {
        if n + 1 < args.len() && !used.iter().all(|u| *u) {
            return Err(format!("too many arguments; only {} used by format string", n + 1));
        }
    }
    Ok(out)
}

fn read_int(chars: &mut std::iter::Peekable<std::str::CharIndices>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, d)) = chars.peek() {
        let Some(v) = d.to_digit(10) else { break };
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize));
        chars.next();
    }
    n
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> Result<String, String> {
    if matches!(arg, Value::Null) {
        return match verb {
            'v' => Ok("null".into()),
            _ => Err("null value cannot be formatted".into()),
        };
    }
    match verb {
        'v' if spec.sharp => Ok(crate::functions::encoding::json_string(arg)),
        'v' => match arg {
            // Numbers print as Go's %g would (1e+06), unlike their string conversion.
            Value::Number(n) => Ok(go_g(*n)),
            Value::String(s) => Ok(s.clone()),
            _ => Ok(crate::functions::encoding::json_string(arg)),
        },
        's' => Ok(match spec.prec {
            Some(p) => string_arg(arg)?.chars().take(p).collect(),
            None => string_arg(arg)?,
        }),
        // cty quotes as JSON does (`\u0001`, `\u003c`), not as Go's strconv.Quote.
        'q' => Ok(crate::functions::encoding::json_string(&Value::String(string_arg(arg)?))),
        't' => match convert(arg, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b.to_string()),
            _ => Err("bool required".into()),
        },
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = match convert(arg, &Type::Number) {
                Ok(Value::Number(n)) => n,
                _ => return Err("number required".into()),
            };
            format_number_verb(verb, spec, n)
        }
        _ => Err(format!("unsupported format verb '{verb}'")),
    }
}

fn string_arg(arg: &Value) -> Result<String, String> {
    match convert(arg, &Type::String) {
        Ok(Value::String(s)) => Ok(s),
        _ => Err("string required".into()),
    }
}

fn sign(n: f64, spec: &Spec) -> &'static str {
    if n < 0.0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_number_verb(verb: char, spec: &Spec, n: f64) -> Result<String, String> {
    let abs = n.abs();
    let body = match verb {
        'd' | 'b' | 'o' | 'x' | 'X' => {
            if n.fract() != 0.0 || !n.is_finite() {
                return Err("an integer is required".into());
            }
            let i = abs as u128;
            match verb {
                'd' => i.to_string(),
                'b' => format!("{i:b}"),
                'o' => format!("{}{i:o}", if spec.sharp { "0" } else { "" }),
                'x' => format!("{}{i:x}", if spec.sharp { "0x" } else { "" }),
                _ => format!("{}{i:X}", if spec.sharp { "0X" } else { "" }),
            }
        }
        'f' => format!("{:.*}", spec.prec.unwrap_or(6), abs),
        'e' | 'E' => {
            let s = go_exp(abs, spec.prec.unwrap_or(6));
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => {
            // %g: shortest representation; exponent form for very large/small magnitudes, as Go.
            let s = match spec.prec {
                Some(p) => {
                    let p = p.max(1);
                    let e = if abs == 0.0 { 0 } else { abs.log10().floor() as i32 };
                    if e < -4 || e >= p as i32 {
                        go_exp(abs, p - 1)
                    } else {
                        let t = format!("{:.*}", (p as i32 - 1 - e).max(0) as usize, abs);
                        trim_zeros(&t)
                    }
                }
                None => go_g_shortest(abs),
            };
            if verb == 'G' {
                s.to_uppercase()
            } else {
                s
            }
        }
    };
    let sgn = sign(n, spec);
    if spec.zero && !spec.minus {
        if let Some(w) = spec.width {
            let len = sgn.len() + body.chars().count();
            if len < w {
                return Ok(format!("{sgn}{}{body}", "0".repeat(w - len)));
            }
        }
    }
    Ok(format!("{sgn}{body}"))
}

/// Go's %v (and %g without a precision) for a number, with its sign.
pub(crate) fn go_g(n: f64) -> String {
    if n < 0.0 {
        format!("-{}", go_g_shortest(-n))
    } else {
        go_g_shortest(n)
    }
}

/// Go's %g without a precision: the shortest digits, in exponent form when the decimal
/// exponent is below -4 or at least 6.
fn go_g_shortest(abs: f64) -> String {
    let e = format!("{abs:e}");
    let exp: i32 = e.split_once('e').and_then(|(_, x)| x.parse().ok()).unwrap_or(0);
    if abs != 0.0 && !(-4..6).contains(&exp) {
        fix_exp(&e)
    } else {
        format_number(abs)
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Go's %e form: mantissa with `prec` decimals, exponent with sign and at least two digits.
fn go_exp(abs: f64, prec: usize) -> String {
    fix_exp(&format!("{abs:.prec$e}"))
}

fn fix_exp(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sgn, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sgn}{digits:0>2}")
        }
        None => s.to_string(),
    }
}

fn pad(s: &str, spec: &Spec, verb: char) -> String {
    let Some(w) = spec.width else { return s.to_string() };
    let len = s.chars().count();
    if len >= w {
        return s.to_string();
    }
    let fill = " ".repeat(w - len);
    if spec.minus {
        format!("{s}{fill}")
    } else if spec.zero && !matches!(verb, 'v' | 's' | 'q' | 't') {
        s.to_string() // numbers were zero-padded already
    } else {
        format!("{fill}{s}")
    }
}

/// `formatlist`: list arguments are iterated in step (all of one length); others repeat.
pub(super) fn formatlist(fmt: &str, args: &[Value]) -> Result<Value, String> {
    let mut len: Option<(usize, usize)> = None;
    for (i, a) in args.iter().enumerate() {
        if let Value::List(items) = a {
            match len {
                None => len = Some((items.len(), i)),
                Some((n, j)) if n != items.len() => {
                    return Err(format!(
                        "argument {} has length {} but argument {} has length {n}: all list arguments must have the same length",
                        i + 1,
                        items.len(),
                        j + 1
                    ))
                }
                _ => {}
            }
        }
    }
    let Some((n, _)) = len else {
        return Ok(Value::List(vec![Value::String(format(fmt, args)?)]));
    };
    let mut out = Vec::with_capacity(n);
    for row in 0..n {
        let row_args: Vec<Value> = args
            .iter()
            .map(|a| match a {
                Value::List(items) => items[row].clone(),
                other => other.clone(),
            })
            .collect();
        out.push(Value::String(format(fmt, &row_args).map_err(|e| format!("error on format iteration {row}: {e}"))?));
    }
    Ok(Value::List(out))
}

//! `format` and `formatlist`: Go-style verbs as cty implements them (%v %#v %s %q %d %f %e %g
//! %t %b %o %x %X %%, flags `+ - # 0 space`, width, precision and `%[n]` argument indexes).

use crate::types::{convert, Type};
use crate::value::{Number, Value};

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
            Value::Number(n) => Ok(n.text('g', None)),
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

fn sign(n: &Number, spec: &Spec) -> &'static str {
    if n.is_negative() {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_number_verb(verb: char, spec: &Spec, n: Number) -> Result<String, String> {
    let body = match verb {
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let radix = match verb {
                'd' => 10,
                'b' => 2,
                'o' => 8,
                _ => 16,
            };
            let digits = n.int_digits(radix).ok_or("an integer is required")?;
            match verb {
                'o' if spec.sharp => format!("0{digits}"),
                'x' if spec.sharp => format!("0x{digits}"),
                'X' if spec.sharp => format!("0X{}", digits.to_uppercase()),
                'X' => digits.to_uppercase(),
                _ => digits,
            }
        }
        // Go's big.Float formatting at the number's own precision; %g without a precision
        // gives the shortest digits that read back to the value.
        'f' | 'e' | 'E' => n.abs().text(verb, Some(spec.prec.unwrap_or(6))),
        _ => n.abs().text(verb, spec.prec),
    };
    let sgn = sign(&n, spec);
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

//! Go's `fmt.Sprintf` for template values: flags, width, precision and the common verbs, with
//! Go's in-band error notes (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA …)`).

use std::collections::BTreeMap;

use super::value::{display, format_float_g, V};

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub(crate) fn sprintf(format: &str, args: &[V], data: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut next = 0;
    // Explicit argument indexes (`%[2]d`) switch off the "extra arguments" note, as in Go.
    let mut reordered = false;
    let mut bad_index = false;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut sp = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => sp.minus = true,
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                '0' => sp.zero = true,
                ' ' => sp.space = true,
                _ => break,
            }
            chars.next();
        }
        bad_index |= arg_index(&mut chars, args.len(), &mut next, &mut reordered);
        sp.width = read_num(&mut chars, args, &mut next, &mut out);
        if chars.peek() == Some(&'.') {
            chars.next();
            bad_index |= arg_index(&mut chars, args.len(), &mut next, &mut reordered);
            sp.prec = Some(read_num(&mut chars, args, &mut next, &mut out).unwrap_or(0));
        }
        bad_index |= arg_index(&mut chars, args.len(), &mut next, &mut reordered);
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            bad_index = false;
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = if verb == 'T' {
            Some(match arg {
                V::Nil => "<nil>".to_string(),
                V::List(_) => "[]interface {}".to_string(),
                V::Map(_) | V::Root => "map[string]interface {}".to_string(),
                other => other.type_name().to_string(),
            })
        } else {
            format_one(verb, arg, &sp, data)
        };
        let body = match body {
            Some(b) => b,
            None => {
                out.push_str(&format!("%!{verb}({})", typed(arg, data)));
                continue;
            }
        };
        out.push_str(&pad(body, &sp, verb, arg));
    }
    if !reordered && next < args.len() {
        let extra: Vec<String> = args[next..].iter().map(|a| typed(a, data)).collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// `type=value` as Go writes it in its error notes.
fn typed(v: &V, data: &BTreeMap<String, String>) -> String {
    match v {
        V::Nil => "<nil>".into(),
        V::List(_) => format!("[]interface {{}}={}", display(v, data)),
        V::Map(_) | V::Root => format!("map[string]interface {{}}={}", display(v, data)),
        other => format!("{}={}", other.type_name(), display(other, data)),
    }
}

/// Reads `[n]` (1-based) and moves to that argument; returns true when `n` is not valid.
fn arg_index(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    count: usize,
    next: &mut usize,
    reordered: &mut bool,
) -> bool {
    if chars.peek() != Some(&'[') {
        return false;
    }
    chars.next();
    *reordered = true;
    let mut n: usize = 0;
    let mut ok = false;
    while let Some(&c) = chars.peek() {
        chars.next();
        match c.to_digit(10) {
            Some(d) => n = n.saturating_mul(10).saturating_add(d as usize),
            None => {
                ok = c == ']';
                break;
            }
        }
    }
    if !ok || n == 0 || n > count {
        return true;
    }
    *next = n - 1;
    false
}

fn read_num(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    args: &[V],
    next: &mut usize,
    out: &mut String,
) -> Option<usize> {
    if chars.peek() == Some(&'*') {
        chars.next();
        let n = match args.get(*next) {
            Some(V::Int(n)) if *n >= 0 && *n <= 1_000_000 => Some(*n as usize),
            _ => {
                out.push_str("%!(BADWIDTH)");
                None
            }
        };
        *next += 1;
        return n;
    }
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        // Cap absurd widths so a template cannot ask for gigabytes of padding.
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1_000_000));
        chars.next();
    }
    n
}

fn pad(body: String, sp: &Spec, verb: char, arg: &V) -> String {
    let Some(width) = sp.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if sp.minus {
        return body + &" ".repeat(fill);
    }
    let numeric = matches!(arg, V::Int(_) | V::Float(_)) && !matches!(verb, 'c' | 'q' | 'U');
    if sp.zero && !(numeric && sp.prec.is_some() && matches!(arg, V::Int(_))) {
        if numeric {
            // Zeros go after the sign and any 0x prefix.
            let sign_len = body.chars().take_while(|c| matches!(c, '+' | '-' | ' ')).count();
            let (sign, rest) = body.split_at(sign_len);
            let (prefix, digits) = if sp.sharp && (rest.starts_with("0x") || rest.starts_with("0X")) {
                rest.split_at(2)
            } else {
                ("", rest)
            };
            return format!("{sign}{prefix}{}{digits}", "0".repeat(fill));
        }
        return "0".repeat(fill) + &body;
    }
    " ".repeat(fill) + &body
}

fn sign(sp: &Spec, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if sp.plus {
        "+"
    } else if sp.space {
        " "
    } else {
        ""
    }
}

fn format_one(verb: char, arg: &V, sp: &Spec, data: &BTreeMap<String, String>) -> Option<String> {
    match arg {
        V::Str(s) => match verb {
            'v' if sp.sharp => Some(quote(s, false, false)),
            's' | 'v' => Some(match sp.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            }),
            'q' => {
                let s: String = match sp.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                Some(quote(&s, sp.plus, sp.sharp))
            }
            'x' | 'X' => Some(hex_bytes(s.as_bytes(), verb == 'X', sp)),
            _ => None,
        },
        V::Int(n) => format_int(verb, *n, sp),
        V::Float(f) => format_float(verb, *f, sp),
        V::Bool(b) => match verb {
            't' | 'v' => Some(b.to_string()),
            _ => None,
        },
        V::Nil => match verb {
            'v' => Some("<nil>".into()),
            _ => None,
        },
        V::List(items) => {
            let parts: Vec<String> = items.iter().map(|i| format_one(verb, i, sp, data).unwrap_or_default()).collect();
            Some(format!("[{}]", parts.join(" ")))
        }
        V::Map(_) | V::Root => match verb {
            'v' | 's' => Some(display(arg, data)),
            _ => None,
        },
    }
}

fn format_int(verb: char, n: i64, sp: &Spec) -> Option<String> {
    let neg = n < 0;
    let abs = n.unsigned_abs();
    let (digits, prefix) = match verb {
        'd' | 'v' => (abs.to_string(), ""),
        'b' => (format!("{abs:b}"), if sp.sharp { "0b" } else { "" }),
        'o' => (format!("{abs:o}"), if sp.sharp && abs != 0 { "0" } else { "" }),
        'O' => (format!("{abs:o}"), "0o"),
        'x' => (format!("{abs:x}"), if sp.sharp { "0x" } else { "" }),
        'X' => (format!("{abs:X}"), if sp.sharp { "0X" } else { "" }),
        'c' => return Some(char::from_u32(n as u32).unwrap_or('\u{FFFD}').to_string()),
        'q' => {
            let c = char::from_u32(n as u32).unwrap_or('\u{FFFD}');
            return Some(if c == '\'' { "'\\''".into() } else { format!("'{}'", escape_char(c, '\'', false)) });
        }
        'U' => return Some(format!("U+{:04X}", n)),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return None,
        _ => return None,
    };
    let digits = match sp.prec {
        Some(0) if n == 0 => String::new(),
        Some(p) if digits.len() < p => "0".repeat(p - digits.len()) + &digits,
        _ => digits,
    };
    Some(format!("{}{prefix}{digits}", sign(sp, neg)))
}

fn format_float(verb: char, f: f64, sp: &Spec) -> Option<String> {
    let neg = f.is_sign_negative() && !f.is_nan();
    let a = f.abs();
    let body = match verb {
        'v' | 'g' => format_float_g(a, sp.prec),
        'G' => format_float_g(a, sp.prec).to_uppercase(),
        'f' | 'F' => {
            if !a.is_finite() {
                format_float_g(a, None)
            } else {
                format!("{:.*}", sp.prec.unwrap_or(6), a)
            }
        }
        'e' | 'E' => {
            let s = if !a.is_finite() { format_float_g(a, None) } else { exp_form(a, sp.prec.unwrap_or(6)) };
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => return None,
    };
    let body = body.trim_start_matches('+').to_string();
    Some(format!("{}{body}", sign(sp, neg)))
}

/// `1.500000e+00`: Go's `%e`, exponent with at least two digits.
fn exp_form(a: f64, prec: usize) -> String {
    let s = format!("{:.*e}", prec, a);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn hex_bytes(b: &[u8], upper: bool, sp: &Spec) -> String {
    let b = match sp.prec {
        Some(p) => &b[..p.min(b.len())],
        None => b,
    };
    let mut out = String::new();
    for (i, byte) in b.iter().enumerate() {
        if sp.space && i > 0 {
            out.push(' ');
        }
        if sp.sharp && (sp.space || i == 0) {
            out.push_str(if upper { "0X" } else { "0x" });
        }
        out.push_str(&if upper { format!("{byte:02X}") } else { format!("{byte:02x}") });
    }
    out
}

/// Go's `strconv.Quote` (`%q`): `ascii_only` (`%+q`) escapes every non-ASCII character, `sharp`
/// (`%#q`) prefers a raw backquoted string when Go's `strconv.CanBackquote` allows one.
pub fn quote(s: &str, ascii_only: bool, sharp: bool) -> String {
    let backquotable = || {
        s.chars()
            .all(|c| if c.is_ascii() { c == '\t' || (c >= ' ' && c != '`' && c != '\x7f') } else { c != '\u{feff}' })
    };
    if sharp && backquotable() {
        return format!("`{s}`");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        out.push_str(&escape_char(c, '"', ascii_only));
    }
    out.push('"');
    out
}

fn escape_char(c: char, quote: char, ascii_only: bool) -> String {
    match c {
        '\u{7}' => "\\a".into(),
        '\u{8}' => "\\b".into(),
        '\u{c}' => "\\f".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\u{b}' => "\\v".into(),
        '\\' => "\\\\".into(),
        c if c == quote => format!("\\{c}"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        c if (ascii_only && !c.is_ascii()) || !is_go_print(c) => {
            if (c as u32) < 0x10000 {
                format!("\\u{:04x}", c as u32)
            } else {
                format!("\\U{:08x}", c as u32)
            }
        }
        c => c.to_string(),
    }
}

/// Go's `strconv.IsPrint` without its tables of unassigned code points: not a control
/// character, not a space other than U+0020, not a line or paragraph separator, not a format
/// character (U+00AD, zero-width and bidi marks, U+FEFF …), not private use, not a noncharacter.
fn is_go_print(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || matches!(u, 0xa0 | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000 | 0x2028 | 0x2029)
        || matches!(
            u,
            0xad | 0x600..=0x605
                | 0x61c
                | 0x6dd
                | 0x70f
                | 0x8e2
                | 0x180e
                | 0x200b..=0x200f
                | 0x202a..=0x202e
                | 0x2060..=0x2064
                | 0x2066..=0x206f
                | 0xfeff
                | 0xfff9..=0xfffb
                | 0x110bd
                | 0x110cd
                | 0x13430..=0x13438
                | 0x1bca0..=0x1bca3
                | 0x1d173..=0x1d17a
                | 0xe0001
                | 0xe0020..=0xe007f
        )
        || matches!(u, 0xe000..=0xf8ff | 0xf0000..=0x10ffff | 0xfdd0..=0xfdef)
        || u & 0xfffe == 0xfffe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[V]) -> String {
        sprintf(format, args, &BTreeMap::new())
    }

    #[test]
    fn verbs_and_widths_match_go() {
        let s = |x: &str| V::Str(x.into());
        assert_eq!(
            f("%5.2f|%-4d|%q|%x|%v", &[V::Float(2.34567), V::Int(7), s("hi"), s("hi"), V::Float(1.5)]),
            " 2.35|7   |\"hi\"|6869|1.5"
        );
        assert_eq!(
            f(
                "%05d|%+d|%x|%X|%#x|%o|%b",
                &[V::Int(42), V::Int(3), V::Int(255), V::Int(255), V::Int(255), V::Int(8), V::Int(5)]
            ),
            "00042|+3|ff|FF|0xff|10|101"
        );
        assert_eq!(f("%-5s|%5s|%.2s", &[s("ab"), s("ab"), s("abc")]), "ab   |   ab|ab");
        assert_eq!(f("%e|%g|%.3g", &[V::Float(1.5), V::Float(1e6), V::Float(2.34567)]), "1.500000e+00|1e+06|2.35");
        assert_eq!(f("%t|%v|%c|%q", &[V::Bool(true), V::Nil, V::Int(65), V::Int(97)]), "true|<nil>|A|'a'");
        assert_eq!(f("%q", &[s("a\"b\n")]), "\"a\\\"b\\n\"");
        // Packer 1.6.6: everything Go's strconv.IsPrint rejects is escaped.
        assert_eq!(
            f("%q|%+q|%#q", &[s("a\u{85}\u{a0}\u{ad}\u{2028}\u{1}\u{7f}é"), s("\u{a0}é"), s("\u{85}x")]),
            "\"a\\u0085\\u00a0\\u00ad\\u2028\\x01\\x7fé\"|\"\\u00a0\\u00e9\"|`\u{85}x`"
        );
        assert_eq!(f("100%%", &[]), "100%");
    }

    #[test]
    fn mistakes_are_reported_in_band_like_go() {
        assert_eq!(f("%d %s", &[V::Str("x".into())]), "%!d(string=x) %!s(MISSING)");
        assert_eq!(f("%s", &[V::Int(1), V::Int(2)]), "%!s(int=1)%!(EXTRA int=2)");
        assert_eq!(f("a%", &[]), "a%!(NOVERB)");
    }
}

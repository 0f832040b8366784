//! Values flowing through a template's pipelines, printed as Go's `fmt` prints them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    // No Packer function returns a list yet; lists keep `range`/`index`/`slice` complete.
    #[allow(dead_code)]
    List(Vec<V>),
    Map(BTreeMap<String, V>),
    /// The template's data (`.`/`$` at the top): the context's fields, looked up lazily.
    Root,
}

impl V {
    /// Go's type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            V::Str(_) => "string",
            V::Int(_) => "int",
            V::Float(_) => "float64",
            V::Bool(_) => "bool",
            V::Nil => "nil",
            V::List(_) => "list",
            V::Map(_) | V::Root => "map",
        }
    }

    /// Describes the value for an error: `string "abc"`, `int 5`.
    pub(crate) fn describe(&self) -> String {
        match self {
            V::Str(s) => format!("string {s:?}"),
            V::Nil => "nil".into(),
            V::List(_) | V::Map(_) | V::Root => self.type_name().into(),
            other => format!("{} {}", other.type_name(), display(other, &BTreeMap::new())),
        }
    }
}

/// Go's truth: false, 0, nil and empty values are false.
pub(crate) fn truth(v: &V, data: &BTreeMap<String, String>) -> bool {
    match v {
        V::Str(s) => !s.is_empty(),
        V::Int(n) => *n != 0,
        V::Float(f) => *f != 0.0,
        V::Bool(b) => *b,
        V::Nil => false,
        V::List(l) => !l.is_empty(),
        V::Map(m) => !m.is_empty(),
        V::Root => !data.is_empty(),
    }
}

/// Prints a value as Go's `%v` does.
pub(crate) fn display(v: &V, data: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    write_value(&mut out, v, data);
    out
}

fn write_value(out: &mut String, v: &V, data: &BTreeMap<String, String>) {
    match v {
        V::Str(s) => out.push_str(s),
        V::Int(n) => out.push_str(&n.to_string()),
        V::Float(f) => out.push_str(&format_float_g(*f, None)),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Nil => out.push_str("<nil>"),
        V::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item, data);
            }
            out.push(']');
        }
        V::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, item, data);
            }
            out.push(']');
        }
        V::Root => {
            out.push_str("map[");
            for (i, (k, item)) in data.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                out.push_str(item);
            }
            out.push(']');
        }
    }
}

/// Decimal digits and exponent of the shortest representation that reads back as `f`
/// (`1234.5` → ("12345", 3)); `f` must be finite and non-zero.
pub fn shortest_digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Go's `%g` (shortest when `prec` is None): exponent form when the exponent is < -4 or
/// >= the precision (6 for shortest, as `%v` uses).
pub(crate) fn format_float_g(f: f64, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp, eprec) = match prec {
        None => {
            let (d, e) = shortest_digits(f);
            (d, e, 6)
        }
        Some(p) => {
            let p = p.max(1);
            let s = format!("{:.*e}", p - 1, f.abs());
            let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
            let d: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
            let d = d.trim_end_matches('0').to_string();
            let d = if d.is_empty() { "0".to_string() } else { d };
            (d, e.parse().unwrap_or(0), p as i32)
        }
    };
    let sign = if f < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    } else if exp < 0 {
        format!("{sign}0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{sign}{}{}", digits, "0".repeat(int_len - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float_g(1000.0, None), "1000");
        assert_eq!(format_float_g(1.5, None), "1.5");
        assert_eq!(format_float_g(1e21, None), "1e+21");
        assert_eq!(format_float_g(1e6, None), "1e+06");
        assert_eq!(format_float_g(123456.0, None), "123456");
        assert_eq!(format_float_g(123456789.0, None), "1.23456789e+08");
        assert_eq!(format_float_g(0.0001, None), "0.0001");
        assert_eq!(format_float_g(0.00001, None), "1e-05");
        assert_eq!(format_float_g(-2.25, None), "-2.25");
        assert_eq!(format_float_g(2.34567, Some(3)), "2.35");
        assert_eq!(format_float_g(1234567.0, Some(6)), "1.23457e+06");
    }
}

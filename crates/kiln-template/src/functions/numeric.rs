//! Numeric functions: abs ceil floor log max min parseint pow signum.

use super::{func, variadic, Args, Func};
use crate::value::{Number, Value};

pub(super) const FUNCS: &[Func] = &[
    func("abs", &["num"], |a| Ok(Value::Number(a.number(0)?.abs()))),
    // Exact, as current cty (1.6.6 went through float64 and int64: floor(1e20) overflowed).
    func("ceil", &["num"], |a| Ok(Value::Number(a.number(0)?.ceil()))),
    func("floor", &["num"], |a| Ok(Value::Number(a.number(0)?.floor()))),
    func("log", &["num", "base"], log),
    variadic("max", &[], "numbers", |a| extreme(a, std::cmp::Ordering::Greater)),
    variadic("min", &[], "numbers", |a| extreme(a, std::cmp::Ordering::Less)),
    func("parseint", &["number", "base"], parseint),
    func("pow", &["num", "power"], |a| finite(a.float(0)?.powf(a.float(1)?))),
    func("signum", &["num"], |a| {
        // Any number, as newer Packer (1.6.6 took whole numbers only).
        let n = a.number(0)?;
        Ok(Value::int(if n.is_zero() {
            0
        } else if n.is_negative() {
            -1
        } else {
            1
        }))
    }),
];

/// `pow` and `log` compute in float64, as cty does: their results carry 53 bits.
fn finite(n: f64) -> Result<Value, String> {
    if n.is_nan() {
        return Err("the result is not a number".into());
    }
    Ok(Value::float(n))
}

fn log(a: &Args) -> Result<Value, String> {
    let (n, base) = (a.float(0)?, a.float(1)?);
    finite(n.ln() / base.ln())
}

/// The first of the largest (or smallest) arguments, as given: its precision is kept.
fn extreme(a: &Args, want: std::cmp::Ordering) -> Result<Value, String> {
    if a.len() == 0 {
        return Err("invalid value for \"numbers\" parameter: must pass at least one number".into());
    }
    let mut best = a.number(0)?;
    for i in 1..a.len() {
        let n = a.number(i)?;
        if n.cmp(&best) == want {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

fn parseint(a: &Args) -> Result<Value, String> {
    let s = match a.get(0) {
        Value::String(s) => s.clone(),
        _ => return Err(a.err(0, "string required")),
    };
    let base = a.int(1)?;
    if !(2..=62).contains(&base) {
        return Err(a.err(1, format!("base must be a whole number between 2 and 62 inclusive, got {base}")));
    }
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() {
        return Err(a.err(0, format!("cannot parse {s:?} as a base {base} integer")));
    }
    let mut digit_values = Vec::with_capacity(digits.len());
    for c in digits.chars() {
        // Go's big.Int digit order: 0-9, then a-z, then A-Z for bases above 36.
        let d = match c {
            '0'..='9' => c as i64 - '0' as i64,
            'a'..='z' => c as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => c as i64 - 'A' as i64 + 10,
            'A'..='Z' => c as i64 - 'A' as i64 + 36,
            _ => -1,
        };
        if d < 0 || d >= base {
            return Err(a.err(0, format!("cannot parse {s:?} as a base {base} integer")));
        }
        digit_values.push(d as u8);
    }
    // cty parses into a big integer: exact at any length.
    let n = Number::from_digits(neg, &digit_values, base as u32).ok_or_else(|| a.err(0, "the number is too long"))?;
    Ok(Value::Number(n))
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    fn n(x: f64) -> Value {
        Value::float(x)
    }

    #[test]
    fn basic_numeric() {
        assert_eq!(call("abs", &[n(-3.5)]), Ok(n(3.5)));
        assert_eq!(call("abs", &[Value::string("-2")]), Ok(n(2.0)));
        assert_eq!(call("ceil", &[n(1.2)]), Ok(n(2.0)));
        assert_eq!(call("floor", &[n(-1.2)]), Ok(n(-2.0)));
        assert_eq!(call("max", &[n(1.0), n(7.0), n(3.0)]), Ok(n(7.0)));
        assert_eq!(call("min", &[n(1.0), n(-7.0)]), Ok(n(-7.0)));
        assert_eq!(call("pow", &[n(2.0), n(10.0)]), Ok(n(1024.0)));
        assert_eq!(call("signum", &[n(-9.0)]), Ok(n(-1.0)));
        assert_eq!(call("log", &[n(8.0), n(2.0)]), Ok(n(3.0)));
    }

    #[test]
    fn parseint_bases_and_errors() {
        assert_eq!(call("parseint", &[Value::string("ff"), n(16.0)]), Ok(n(255.0)));
        assert_eq!(call("parseint", &[Value::string("-101"), n(2.0)]), Ok(n(-5.0)));
        assert_eq!(call("parseint", &[Value::string("FF"), n(16.0)]), Ok(n(255.0)));
        let e = call("parseint", &[Value::string("12"), n(1.0)]).unwrap_err();
        assert!(e.contains("\"base\""), "{e}");
        let e = call("parseint", &[Value::string("xyz"), n(10.0)]).unwrap_err();
        assert!(e.contains("\"number\"") && e.contains("cannot parse"), "{e}");
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = call("abs", &[Value::string("x")]).unwrap_err();
        assert!(e.starts_with("invalid value for \"num\" parameter: a number is required"), "{e}");
        let e = call("max", &[]).unwrap_err();
        assert!(e.contains("at least one"), "{e}");
    }
}

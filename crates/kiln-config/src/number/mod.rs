//! Numbers as templates compute and print them: cty's numbers, binary floating point whose
//! mantissa is as wide as the value's precision (512 bits for numbers written in a template or
//! read from a string, 64 for counts and indexes, 53 for results of float functions such as
//! `pow`), rounded to nearest-even after every operation. `0.1 + 0.2` is exactly `0.3` at 512
//! bits and `9007199254740993` keeps its last digit, as in Packer.
//!
//! Most template numbers are small integers: those stay an `i64` and take no allocation; any
//! other value is a [`float::Big`]. Text forms follow Go's `big.Float` (`Display` is cty's
//! number-to-string conversion, [`Number::text`] backs `format`'s verbs).

mod decimal;
mod float;

use std::cmp::Ordering;
use std::fmt;

use float::Big;

/// Precision of numbers parsed from text (template literals, strings, JSON, YAML), as cty's.
pub const PARSE_PREC: u32 = 512;
/// Precision of numbers made from an integer count (lengths, indexes), as Go's `SetInt64`.
pub const INT_PREC: u32 = 64;
/// Precision of numbers made from an `f64` (results of `pow`, `log`), as Go's `SetFloat64`.
pub const F64_PREC: u32 = 53;

/// An HCL2 number. Equality and ordering are numeric (the precision is not compared).
#[derive(Clone)]
pub struct Number {
    prec: u32,
    v: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Any integer with `|v| < 2^63` (canonical: such a value is never `Big`).
    Int(i64),
    Big(Box<Big>),
    Inf {
        neg: bool,
    },
}

impl Number {
    pub fn from_i64(v: i64) -> Number {
        Number::from_big(Big::from_i128(i128::from(v)), INT_PREC)
    }

    /// An integer written in a template (precision 512, like any parsed number).
    pub fn literal(v: i64) -> Number {
        Number { prec: PARSE_PREC, ..Number::from_i64(v) }
    }

    /// `None` for NaN, which is no number.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number { prec: F64_PREC, v: Repr::Inf { neg: f < 0.0 } });
        }
        // Every finite f64 is m·2^e with a 53-bit m: decode it exactly.
        let bits = f.abs().to_bits();
        let (e, m) = ((bits >> 52) as i64, bits & ((1 << 52) - 1));
        let (m, e) = if e == 0 { (m, -1074) } else { (m | (1 << 52), e - 1075) };
        let b = Big::from_i128(i128::from(m)).map(|b| Big { neg: f < 0.0, exp: b.exp + e, ..b });
        Some(Number::from_big(b, F64_PREC))
    }

    /// Parses decimal text (`12`, `-0.5`, `1e21`) at 512 bits, as cty reads numbers from
    /// strings. `None` when the text is not a number.
    pub fn parse(s: &str) -> Option<Number> {
        if let Ok(v) = s.parse::<i64>() {
            if !s.starts_with('+') || s.len() > 1 {
                return Some(Number::literal(v));
            }
        }
        let (_, b) = decimal::parse(s, PARSE_PREC).ok()?;
        Some(Number::from_big(b, PARSE_PREC))
    }

    /// An integer from its digits (most significant first, each below `radix`), as cty's
    /// `parseint` makes one: exact, at 64 bits or its own width if wider. `None` past 100000
    /// digits.
    pub fn from_digits(neg: bool, digits: &[u8], radix: u32) -> Option<Number> {
        if digits.len() > 100_000 {
            return None;
        }
        let m = num_bigint::BigUint::from_radix_be(digits, radix)?;
        let prec = (m.bits() as u32).max(INT_PREC);
        Some(Number::from_big(Big::round(neg, m, 0, false, u32::MAX), prec))
    }

    /// The integer's digits in `radix` (2 to 36, lowercase), without sign; `None` unless the
    /// value is a finite integer (what `format`'s `%d`, `%x`, `%o`, `%b` print).
    pub fn int_digits(&self, radix: u32) -> Option<String> {
        match &self.v {
            Repr::Int(v) => Some(num_bigint::BigUint::from(v.unsigned_abs()).to_str_radix(radix)),
            Repr::Big(b) if b.is_integer() => Some(b.trunc_magnitude().to_str_radix(radix)),
            _ => None,
        }
    }

    fn from_big(b: Option<Big>, prec: u32) -> Number {
        let v = match b {
            None => Repr::Int(0),
            Some(b) => match b.to_i128().and_then(|v| i64::try_from(v).ok()).filter(|&v| v != i64::MIN) {
                Some(v) => Repr::Int(v),
                None => Repr::Big(Box::new(b)),
            },
        };
        Number { prec, v }
    }

    /// An integer result of the fast path, if it is exact at `prec` bits.
    fn small(v: Option<i64>, prec: u32) -> Option<Number> {
        let v = v.filter(|&v| v != i64::MIN)?;
        let a = v.unsigned_abs();
        let sig = if a == 0 { 0 } else { 64 - a.leading_zeros() - a.trailing_zeros() };
        (sig <= prec).then_some(Number { prec, v: Repr::Int(v) })
    }

    fn big(&self) -> Option<std::borrow::Cow<'_, Big>> {
        match &self.v {
            Repr::Int(v) => Big::from_i128(i128::from(*v)).map(std::borrow::Cow::Owned),
            Repr::Big(b) => Some(std::borrow::Cow::Borrowed(b)),
            Repr::Inf { .. } => None,
        }
    }

    fn inf(&self) -> Option<bool> {
        match self.v {
            Repr::Inf { neg } => Some(neg),
            _ => None,
        }
    }

    /// The precision in bits the value carries into arithmetic.
    pub fn precision(&self) -> u32 {
        self.prec
    }

    pub fn is_finite(&self) -> bool {
        self.inf().is_none()
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.v, Repr::Int(0))
    }

    pub fn is_negative(&self) -> bool {
        match &self.v {
            Repr::Int(v) => *v < 0,
            Repr::Big(b) => b.neg,
            Repr::Inf { neg } => *neg,
        }
    }

    /// Whether the value has no fractional part (infinities have none either, as in Go).
    pub fn is_integer(&self) -> bool {
        match &self.v {
            Repr::Int(_) | Repr::Inf { .. } => true,
            Repr::Big(b) => b.is_integer(),
        }
    }

    /// The value when it is an integer that fits an `i64`.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.v {
            Repr::Int(v) => Some(*v),
            Repr::Big(b) => b.to_i128().and_then(|v| i64::try_from(v).ok()),
            Repr::Inf { .. } => None,
        }
    }

    /// The nearest `f64` (ties to even), as Go's `Float64`.
    pub fn to_f64(&self) -> f64 {
        match &self.v {
            Repr::Int(v) => *v as f64,
            Repr::Big(b) => b.to_f64(),
            Repr::Inf { neg: true } => f64::NEG_INFINITY,
            Repr::Inf { neg: false } => f64::INFINITY,
        }
    }

    pub fn neg(&self) -> Number {
        let v = match &self.v {
            Repr::Int(v) => Repr::Int(-v),
            Repr::Big(b) => Repr::Big(Box::new(Big { neg: !b.neg, ..(**b).clone() })),
            Repr::Inf { neg } => Repr::Inf { neg: !neg },
        };
        Number { prec: self.prec, v }
    }

    pub fn abs(&self) -> Number {
        if self.is_negative() {
            self.neg()
        } else {
            self.clone()
        }
    }

    /// The largest integer not above the value (infinities stay), at the value's precision.
    pub fn floor(&self) -> Number {
        self.to_integer(false)
    }

    /// The smallest integer not below the value (infinities stay), at the value's precision.
    pub fn ceil(&self) -> Number {
        self.to_integer(true)
    }

    fn to_integer(&self, up: bool) -> Number {
        let Repr::Big(b) = &self.v else { return self.clone() };
        if b.is_integer() {
            return self.clone();
        }
        // Truncation moves toward zero: away from it is one more in magnitude.
        let mut m = b.trunc_magnitude();
        if up != b.neg {
            m += 1u32;
        }
        Number::from_big(Big::round(b.neg, m, 0, false, self.prec), self.prec)
    }

    /// `self + other` at the wider of the two precisions; `None` for `∞ - ∞`.
    pub fn add(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.v, &other.v) {
            if let Some(n) = Number::small(a.checked_add(*b), prec) {
                return Some(n);
            }
        }
        match (self.inf(), other.inf()) {
            (Some(a), Some(b)) if a != b => return None,
            (Some(neg), _) | (None, Some(neg)) => return Some(Number { prec, v: Repr::Inf { neg } }),
            (None, None) => {}
        }
        Some(match (self.big(), other.big()) {
            (Some(a), Some(b)) => Number::from_big(float::add(&a, &b, prec), prec),
            (Some(a), None) => Number::from_big(Big::round(a.neg, a.mant.clone(), a.exp, false, prec), prec),
            (None, Some(b)) => Number::from_big(Big::round(b.neg, b.mant.clone(), b.exp, false, prec), prec),
            (None, None) => Number { prec, v: Repr::Int(0) },
        })
    }

    pub fn sub(&self, other: &Number) -> Option<Number> {
        self.add(&other.neg())
    }

    /// `self · other`; `None` for `0 · ∞`.
    pub fn mul(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.v, &other.v) {
            if let Some(n) = Number::small(a.checked_mul(*b), prec) {
                return Some(n);
            }
        }
        if self.inf().is_some() || other.inf().is_some() {
            if self.is_zero() || other.is_zero() {
                return None;
            }
            let neg = self.is_negative() != other.is_negative();
            return Some(Number { prec, v: Repr::Inf { neg } });
        }
        Some(match (self.big(), other.big()) {
            (Some(a), Some(b)) => Number::from_big(float::mul(&a, &b, prec), prec),
            _ => Number { prec, v: Repr::Int(0) },
        })
    }

    /// `self / other`; dividing a non-zero number by zero gives an infinity as in Go, `None`
    /// for `0/0` and `∞/∞`.
    pub fn div(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.v, &other.v) {
            if *b != 0 && a % b == 0 {
                if let Some(n) = Number::small(a.checked_div(*b), prec) {
                    return Some(n);
                }
            }
        }
        let neg = self.is_negative() != other.is_negative();
        match (self.inf().is_some(), other.inf().is_some()) {
            (true, true) => return None,
            (true, false) => return Some(Number { prec, v: Repr::Inf { neg } }),
            (false, true) => return Some(Number { prec, v: Repr::Int(0) }),
            (false, false) => {}
        }
        match (self.big(), other.big()) {
            (_, None) if self.is_zero() => None,
            (_, None) => Some(Number { prec, v: Repr::Inf { neg } }),
            (None, Some(_)) => Some(Number { prec, v: Repr::Int(0) }),
            (Some(a), Some(b)) => Some(Number::from_big(float::quo(&a, &b, prec), prec)),
        }
    }

    /// cty's `%`: `self - other·trunc(self/other)`, the sign of the dividend; `self` itself
    /// when `other` is zero. The result's precision is that of the truncated quotient (at least
    /// 64 bits), as cty computes it.
    pub fn rem(&self, other: &Number) -> Option<Number> {
        if self.inf().is_some() || other.inf().is_some() {
            return self.mul(other);
        }
        if other.is_zero() {
            return Some(self.clone());
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.v, &other.v) {
            if let Some(r) = a.checked_rem(*b) {
                return Some(Number { prec: INT_PREC, v: Repr::Int(r) });
            }
        }
        let (Some(a), Some(b)) = (self.big(), other.big()) else {
            return Some(self.clone());
        };
        let q = self.div(other)?;
        let truncated = q.big().and_then(|q| Big::round(q.neg, q.trunc_magnitude(), 0, false, u32::MAX));
        let Some(q) = truncated else {
            // |self| < |other|: cty subtracts zero at 64 bits.
            return Some(self.clone().rounded(INT_PREC));
        };
        let prec = (q.mant.bits() as u32 + q.exp as u32).max(INT_PREC);
        let product = float::mul(&b, &q, u32::MAX).and_then(|p| Big::round(!p.neg, p.mant, p.exp, false, prec));
        let diff = match product {
            Some(p) => float::add(&a, &p, prec),
            None => Big::round(a.neg, a.mant.clone(), a.exp, false, prec),
        };
        Some(Number::from_big(diff, prec))
    }

    /// The value rounded to `prec` bits, carrying that precision.
    fn rounded(self, prec: u32) -> Number {
        match self.big() {
            Some(b) => Number::from_big(Big::round(b.neg, b.mant.clone(), b.exp, false, prec), prec),
            None => Number { prec, ..self },
        }
    }

    /// Go's `Float.Text(verb, prec)` for `e`, `E`, `f`, `g`, `G` (`prec` `None`: the fewest
    /// digits that read back to this value), with a leading `-` for negative values.
    pub fn text(&self, verb: char, prec: Option<usize>) -> String {
        let sign = if self.is_negative() { "-" } else { "" };
        match &self.v {
            Repr::Inf { neg } => (if *neg { "-Inf" } else { "+Inf" }).to_string(),
            // The exact digits are the shortest for a 63-bit integer held at 64 bits or more.
            Repr::Int(v) if prec.is_none() && verb == 'f' && self.prec >= 64 => v.to_string(),
            _ => {
                let b = self.big();
                let abs = b.as_deref().map(|b| Big { neg: false, ..b.clone() });
                format!("{sign}{}", decimal::text(abs.as_ref(), self.prec, verb, prec))
            }
        }
    }

    /// How `packer console` shows a number: an integer when it is one that fits 64 bits,
    /// otherwise the nearest `f64` in Go's `%v` form (`1.8446744073709552e+19`).
    pub fn console_text(&self) -> String {
        match self.to_i64() {
            Some(v) => v.to_string(),
            None => go_float_v(self.to_f64()),
        }
    }

    /// The JSON form (cty's: all digits, no exponent); `None` for infinities.
    pub fn to_json_text(&self) -> Option<String> {
        self.is_finite().then(|| self.to_string())
    }
}

/// Go's `fmt` `%v` for a float64: shortest digits, an exponent below 1e-4 and from 1e6 on.
pub fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return (if f < 0.0 { "-Inf" } else { "+Inf" }).into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits Go picks.
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let d = decimal::Decimal { digits, exp: exp + 1 };
    let body = if !(-4..6).contains(&exp) {
        d.fmt_e(d.digits.len() - 1, false)
    } else {
        d.fmt_f((d.digits.len() as i64 - d.exp).max(0) as usize)
    };
    if f < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.v, &other.v) {
            return a.cmp(b);
        }
        let rank = |n: &Number| match n.v {
            Repr::Inf { neg: true } => -1,
            Repr::Inf { neg: false } => 1,
            _ => 0,
        };
        match rank(self).cmp(&rank(other)) {
            Ordering::Equal if rank(self) != 0 => return Ordering::Equal,
            Ordering::Equal => {}
            o => return o,
        }
        match (self.big(), other.big()) {
            (None, None) => Ordering::Equal,
            (None, Some(b)) => {
                if b.neg {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(a), None) => {
                if a.neg {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(a), Some(b)) => match (a.neg, b.neg) {
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
                (false, false) => a.cmp_abs(&b),
                (true, true) => b.cmp_abs(&a),
            },
        }
    }
}

impl fmt::Display for Number {
    /// cty's number-to-string conversion: all the digits, no exponent (`1e21` is
    /// `1000000000000000000000`, `1/3` has 155 decimals at 512 bits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text('f', None))
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self, self.prec)
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::from_i64(v)
    }
}

/// Configuration numbers (`f64`, as Packer hands them to components) in messages and strings:
/// integers without a fractional part, others in shortest form.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i128)
    } else {
        format!("{n}")
    }
}

/// Integers as JSON integers, everything else as floats.
pub fn to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests;

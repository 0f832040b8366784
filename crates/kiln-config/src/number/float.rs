//! Binary floating point with a mantissa of any size, rounded to nearest-even at a precision
//! in bits: the arithmetic behind cty's numbers (Go's `big.Float` semantics), used by
//! [`super::Number`] when a value leaves the small-integer fast path.

use std::cmp::Ordering;

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

/// A finite, non-zero value `±mant·2^exp`, `mant` odd (normalized) and at most `prec` bits
/// wide once rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Big {
    pub neg: bool,
    pub mant: BigUint,
    pub exp: i64,
}

impl Big {
    pub fn from_i128(v: i128) -> Option<Big> {
        (v != 0).then(|| Big::normalized(v < 0, BigUint::from(v.unsigned_abs()), 0))
    }

    fn normalized(neg: bool, mut mant: BigUint, mut exp: i64) -> Big {
        let tz = mant.trailing_zeros().unwrap_or(0);
        if tz > 0 {
            mant >>= tz;
            exp += tz as i64;
        }
        Big { neg, mant, exp }
    }

    /// Rounds `±mant·2^exp` (plus a non-zero tail below its last bit when `sticky`) to `prec`
    /// bits, to nearest and ties to even. `None` when the value is zero.
    pub fn round(neg: bool, mut mant: BigUint, mut exp: i64, sticky: bool, prec: u32) -> Option<Big> {
        if mant.is_zero() {
            return None;
        }
        let bits = mant.bits();
        if bits > u64::from(prec) {
            let s = bits - u64::from(prec);
            let half = mant.bit(s - 1);
            let below = sticky || mant.trailing_zeros().unwrap_or(0) < s - 1;
            mant >>= s;
            exp += s as i64;
            if half && (below || mant.bit(0)) {
                mant += 1u32;
            }
        }
        Some(Big::normalized(neg, mant, exp))
    }

    /// Position just above the most significant bit: `|self|` is in `[2^(top-1), 2^top)`.
    pub fn top(&self) -> i64 {
        self.exp + self.mant.bits() as i64
    }

    /// The value as an integer when it is one and fits an `i128`.
    pub fn to_i128(&self) -> Option<i128> {
        if self.exp < 0 || self.top() > 126 {
            return None;
        }
        let m = (&self.mant << self.exp as u64).to_i128()?;
        Some(if self.neg { -m } else { m })
    }

    /// Whether the value has no fractional part.
    pub fn is_integer(&self) -> bool {
        self.exp >= 0
    }

    /// The integer part, truncated toward zero (sign separate): Go's `Float.Int`.
    pub fn trunc_magnitude(&self) -> BigUint {
        if self.exp >= 0 {
            &self.mant << self.exp as u64
        } else {
            &self.mant >> (-self.exp) as u64
        }
    }

    pub fn cmp_abs(&self, other: &Big) -> Ordering {
        match self.top().cmp(&other.top()) {
            Ordering::Equal => {}
            o => return o,
        }
        // Same magnitude class: line the mantissas up on the smaller exponent.
        let e = self.exp.min(other.exp);
        let a = &self.mant << (self.exp - e) as u64;
        let b = &other.mant << (other.exp - e) as u64;
        a.cmp(&b)
    }

    /// Nearest `f64`, ties to even (Go's `Float.Float64`).
    pub fn to_f64(&self) -> f64 {
        let Some(r) = Big::round(self.neg, self.mant.clone(), self.exp, false, 53) else {
            return 0.0;
        };
        let m = r.mant.to_u64().unwrap_or(0) as f64;
        let v = scale2(m, r.exp);
        if r.neg {
            -v
        } else {
            v
        }
    }
}

/// `m·2^e` without overflowing intermediate steps.
fn scale2(mut m: f64, mut e: i64) -> f64 {
    while e > 0 {
        let step = e.min(1000);
        m *= 2f64.powi(step as i32);
        e -= step;
        if m.is_infinite() {
            return m;
        }
    }
    while e < 0 {
        let step = (-e).min(1000);
        m /= 2f64.powi(step as i32);
        e += step;
        if m == 0.0 {
            return m;
        }
    }
    m
}

/// `a + b` rounded to `prec` bits; `None` for zero.
pub(crate) fn add(a: &Big, b: &Big, prec: u32) -> Option<Big> {
    let (hi, lo) = if a.cmp_abs(b) == Ordering::Less { (b, a) } else { (a, b) };
    // A much smaller operand only matters as a tail below the rounding position: stand it in
    // with one bit far below it, so the exact sum stays small.
    let floor = hi.top() - i64::from(prec) - 4;
    let lo_small;
    let lo = if lo.top() < floor {
        lo_small = Big { neg: lo.neg, mant: BigUint::one(), exp: floor - 1 };
        &lo_small
    } else {
        lo
    };
    let e = hi.exp.min(lo.exp);
    let x = &hi.mant << (hi.exp - e) as u64;
    let y = &lo.mant << (lo.exp - e) as u64;
    // |hi| >= |lo| before the stand-in, and the stand-in is smaller still: no underflow.
    let m = if hi.neg == lo.neg { x + y } else { x - y };
    Big::round(hi.neg, m, e, false, prec)
}

pub(crate) fn mul(a: &Big, b: &Big, prec: u32) -> Option<Big> {
    Big::round(a.neg != b.neg, &a.mant * &b.mant, a.exp + b.exp, false, prec)
}

/// `a / b` (b non-zero) correctly rounded to `prec` bits.
pub(crate) fn quo(a: &Big, b: &Big, prec: u32) -> Option<Big> {
    // Enough quotient bits for the rounding bit, plus the remainder as sticky.
    let want = i64::from(prec) + 3;
    let shift = (want + b.mant.bits() as i64 - a.mant.bits() as i64).max(0);
    let n = &a.mant << shift as u64;
    let (q, r) = num_integer::Integer::div_rem(&n, &b.mant);
    Big::round(a.neg != b.neg, q, a.exp - b.exp - shift, !r.is_zero(), prec)
}

/// Decimal digits of the exact value: `(digits, exp)` meaning `0.d1d2…·10^exp`, trailing
/// zeros trimmed (Go's `decimal`).
pub(crate) fn decimal_of(mant: &BigUint, exp: i64) -> (Vec<u8>, i64) {
    if mant.is_zero() {
        return (Vec::new(), 0);
    }
    let (digits, point) = if exp >= 0 {
        let s = (mant << exp as u64).to_string();
        let n = s.len() as i64;
        (s, n)
    } else {
        // m·2^-k = m·5^k / 10^k.
        let k = (-exp) as u32;
        let s = (mant * BigUint::from(5u32).pow(k)).to_string();
        let n = s.len() as i64 - i64::from(k);
        (s, n)
    };
    let mut d = digits.into_bytes();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    (d, point)
}

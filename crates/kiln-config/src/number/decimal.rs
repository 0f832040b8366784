//! Decimal text of numbers: parsing decimal literals to a precision, and printing with Go's
//! `big.Float` rules (shortest digits that read back to the same value, `%e`/`%f`/`%g` with a
//! precision), which is how cty shows numbers in strings, JSON and `format`.

use num_bigint::BigUint;
use num_traits::{One, Zero};

use super::float::{decimal_of, Big};

/// Decimal digits `0.d1d2…·10^exp` (no leading or trailing zeros; empty for zero).
#[derive(Debug, Clone)]
pub(crate) struct Decimal {
    pub digits: Vec<u8>,
    pub exp: i64,
}

impl Decimal {
    pub fn exact(b: &Big) -> Decimal {
        let (digits, exp) = decimal_of(&b.mant, b.exp);
        Decimal { digits, exp }
    }

    fn at(&self, i: usize) -> u8 {
        self.digits.get(i).copied().unwrap_or(b'0')
    }

    /// Keeps `n` digits, rounding half to even on an exact tie (Go's `decimal.round`).
    pub fn round(&mut self, n: i64) {
        if n < 0 || n as usize >= self.digits.len() {
            return;
        }
        let n = n as usize;
        let up = if self.digits[n] == b'5' && n + 1 == self.digits.len() {
            n > 0 && (self.digits[n - 1] - b'0') % 2 == 1
        } else {
            self.digits[n] >= b'5'
        };
        if up {
            self.round_up(n)
        } else {
            self.round_down(n)
        }
    }

    fn round_up(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        match self.digits[..n].iter().rposition(|&d| d < b'9') {
            Some(i) => {
                self.digits[i] += 1;
                self.digits.truncate(i + 1);
            }
            None => {
                // All nines: 0.99…·10^e becomes 0.1·10^(e+1).
                self.digits = vec![b'1'];
                self.exp += 1;
            }
        }
    }

    fn round_down(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        self.digits.truncate(n);
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    /// The fewest digits that still read back to `b` at `prec` bits: every decimal within half
    /// a unit in the last place of `b` does. Walks the digits of the exact value and of the two
    /// bounds position by position, as Go's `roundShortest` does (so the output is the same).
    pub fn shortest(b: &Big, prec: u32) -> Decimal {
        let mut d = Decimal::exact(b);
        // Any other decimal with fewer digits is at least 10^-n away (relative), while the bounds
        // are 2^-prec away: for a short exact value the digit walk would keep every digit.
        if (d.digits.len() as f64) < f64::from(prec) * std::f64::consts::LOG10_2 - 1.0 {
            return d;
        }
        d.shorten(b, prec);
        d
    }

    /// The digit walk of [`Decimal::shortest`] on the exact digits `self` of `b`.
    pub fn shorten(&mut self, b: &Big, prec: u32) {
        let d = self;
        // A mantissa of prec+1 bits whose last bit is half an ulp; it is always even here, so
        // both bounds round to `b` and are allowed.
        let widen = i64::from(prec) + 1 - b.mant.bits() as i64;
        let (mant, exp) = if widen >= 0 {
            (&b.mant << widen as u64, b.exp - widen)
        } else {
            (&b.mant >> (-widen) as u64, b.exp - widen)
        };
        let inclusive = !mant.bit(0);
        let (ld, le) = decimal_of(&(&mant - BigUint::one()), exp);
        let (ud, ue) = decimal_of(&(&mant + BigUint::one()), exp);
        let lower = Decimal { digits: ld, exp: le };
        let upper = Decimal { digits: ud, exp: ue };
        for i in 0..d.digits.len() {
            let (l, m, u) = (lower.at(i), d.digits[i], upper.at(i));
            let down = l != m || inclusive && i + 1 == lower.digits.len();
            let up = m != u && (inclusive || m + 1 < u || i + 1 < upper.digits.len());
            match (down, up) {
                (true, true) => d.round(i as i64 + 1),
                (true, false) => d.round_down(i + 1),
                (false, true) => d.round_up(i + 1),
                (false, false) => continue,
            }
            return;
        }
    }

    /// `%f` body: `prec` digits after the point (none and no point when 0).
    pub fn fmt_f(&self, prec: usize) -> String {
        let mut s = String::new();
        if self.exp > 0 {
            let n = (self.exp as usize).min(self.digits.len());
            s.push_str(std::str::from_utf8(&self.digits[..n]).unwrap_or_default());
            for _ in n..self.exp as usize {
                s.push('0');
            }
        } else {
            s.push('0');
        }
        if prec > 0 {
            s.push('.');
            for i in 1..=prec as i64 {
                let j = self.exp + i - 1;
                s.push(if j >= 0 { self.at(j as usize) as char } else { '0' });
            }
        }
        s
    }

    /// `%e` body: one digit, `prec` more after the point, and an exponent of two digits or more.
    pub fn fmt_e(&self, prec: usize, upper: bool) -> String {
        let mut s = String::new();
        s.push(self.digits.first().map_or('0', |&d| d as char));
        if prec > 0 {
            s.push('.');
            let m = self.digits.len().min(prec + 1);
            for i in 1..=prec {
                s.push(if i < m { self.digits[i] as char } else { '0' });
            }
        }
        let e = if self.digits.is_empty() { 0 } else { self.exp - 1 };
        s.push(if upper { 'E' } else { 'e' });
        s.push(if e < 0 { '-' } else { '+' });
        let a = e.unsigned_abs();
        if a < 10 {
            s.push('0');
        }
        s.push_str(&a.to_string());
        s
    }
}

/// Formats `|b|` (sign is the caller's) as Go's `Float.Text(verb, prec)`; `prec` `None` is the
/// shortest form. Zero is `b == None`.
pub(crate) fn text(b: Option<&Big>, bits: u32, verb: char, prec: Option<usize>) -> String {
    let mut d = match (b, prec) {
        (None, _) => Decimal { digits: Vec::new(), exp: 0 },
        (Some(b), None) => Decimal::shortest(b, bits),
        (Some(b), Some(_)) => Decimal::exact(b),
    };
    let upper = verb.is_ascii_uppercase();
    match (verb.to_ascii_lowercase(), prec) {
        ('e', None) => d.fmt_e(d.digits.len().saturating_sub(1), upper),
        ('e', Some(p)) => {
            d.round(1 + p as i64);
            d.fmt_e(p, upper)
        }
        ('f', None) => d.fmt_f((d.digits.len() as i64 - d.exp).max(0) as usize),
        ('f', Some(p)) => {
            d.round(d.exp + p as i64);
            d.fmt_f(p)
        }
        (_, prec) => {
            // %g: %e for large or small exponents, %f otherwise.
            let mut p = match prec {
                Some(p) => {
                    let p = p.max(1);
                    d.round(p as i64);
                    p as i64
                }
                None => d.digits.len() as i64,
            };
            let mut eprec = p;
            if eprec > d.digits.len() as i64 && d.digits.len() as i64 >= d.exp {
                eprec = d.digits.len() as i64;
            }
            if prec.is_none() {
                eprec = 6;
            }
            let exp = d.exp - 1;
            if exp < -4 || exp >= eprec {
                p = p.min(d.digits.len() as i64);
                return d.fmt_e((p - 1).max(0) as usize, upper);
            }
            if p > d.exp {
                p = d.digits.len() as i64;
            }
            d.fmt_f((p - d.exp).max(0) as usize)
        }
    }
}

/// Parses a decimal number (`-12.5e3`) to `prec` bits, rounding to nearest even. `Err(())`
/// when it is not one; `Ok(None)` for zero and the sign. Exponents are limited so a hostile
/// `1e999999999` cannot take the process's memory.
pub(crate) fn parse(s: &str, prec: u32) -> Result<(bool, Option<Big>), ()> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp10) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(());
            }
            let e: i64 = e.parse().unwrap_or(if e.starts_with('-') { i64::MIN / 2 } else { i64::MAX / 2 });
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(());
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok((neg, None));
    }
    let m = BigUint::parse_bytes(digits.as_bytes(), 10).ok_or(())?;
    let e10 = exp10.saturating_sub(frac.len() as i64);
    const LIMIT: i64 = 100_000;
    if !(-LIMIT..=LIMIT).contains(&(e10 + digits.len() as i64)) {
        return Err(());
    }
    let b = if e10 >= 0 {
        let m = m * BigUint::from(10u32).pow(e10 as u32);
        Big::round(neg, m, 0, false, prec)
    } else {
        // m / 10^k = m / 5^k · 2^-k: a division for the 5s, the 2s go to the exponent.
        let k = (-e10) as u32;
        let den = BigUint::from(5u32).pow(k);
        let want = i64::from(prec) + 3;
        let shift = (want + den.bits() as i64 - m.bits() as i64).max(0);
        let n = m << shift as u64;
        let (q, r) = num_integer::Integer::div_rem(&n, &den);
        Big::round(neg, q, -i64::from(k) - shift, !r.is_zero(), prec)
    };
    Ok((neg, b))
}

use super::*;

fn n(s: &str) -> Number {
    Number::parse(s).unwrap_or_else(|| panic!("{s} is a number"))
}

#[test]
fn decimal_literals_are_exact_at_512_bits() {
    assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
    assert_eq!(n("9007199254740993").to_string(), "9007199254740993");
    assert_eq!(n("9007199254740993").mul(&n("3")).unwrap().to_string(), "27021597764222979");
    assert_eq!(n("10").div(&n("4")).unwrap().to_string(), "2.5");
    let third = n("1").div(&n("3")).unwrap().to_string();
    assert!(third.starts_with("0.3333") && third.ends_with('5') && third.len() == 157, "{third}");
    assert_eq!(n("1e21").to_string(), "1000000000000000000000");
    assert_eq!(n("1.0000000000000000000001").to_string(), "1.0000000000000000000001");
}

#[test]
fn small_integers_stay_on_the_fast_path() {
    let a = n("12");
    assert!(matches!(a.v, Repr::Int(12)));
    assert!(matches!(a.add(&n("30")).unwrap().v, Repr::Int(42)));
    assert!(matches!(n("7").div(&n("2")).unwrap().v, Repr::Big(_)));
    assert!(matches!(n("-7").rem(&n("3")).unwrap().v, Repr::Int(-1)));
}

#[test]
fn float_values_keep_53_bits() {
    let p = Number::from_f64(2f64.powi(64)).unwrap();
    assert_eq!(p.to_string(), "18446744073709550000");
    assert_eq!(p.console_text(), "1.8446744073709552e+19");
    assert_eq!(Number::from_f64(1.1f64 * 1.1).unwrap().to_string(), "1.2100000000000002");
    assert_eq!(Number::from_f64(0.5).unwrap().to_string(), "0.5");
}

#[test]
fn modulo_truncates_like_cty() {
    assert_eq!(n("-7").rem(&n("3")).unwrap().to_string(), "-1");
    assert_eq!(n("7.5").rem(&n("2")).unwrap().to_string(), "1.5");
    assert_eq!(n("5").rem(&n("0")).unwrap().to_string(), "5");
}

#[test]
fn comparisons_are_exact() {
    assert!(n("9007199254740993") > n("9007199254740992"));
    assert_eq!(n("0.1").add(&n("0.2")).unwrap(), n("0.3"));
    assert!(n("-0.5") < n("0"));
    assert!(n("-2.5") < n("-2.25"));
    assert!(Number::from_f64(f64::INFINITY).unwrap() > n("1e300"));
}

#[test]
fn verbs_format_like_go() {
    let third = n("1").div(&n("3")).unwrap();
    assert_eq!(third.text('f', Some(6)), "0.333333");
    assert_eq!(third.text('e', Some(6)), "3.333333e-01");
    assert_eq!(third.text('E', Some(6)), "3.333333E-01");
    assert_eq!(n("2").div(&n("3")).unwrap().text('f', Some(3)), "0.667");
    assert_eq!(n("1e21").text('g', None), "1e+21");
    assert_eq!(n("1234567").text('g', None), "1.234567e+06");
    assert_eq!(n("0.00001").text('g', None), "1e-05");
    assert_eq!(n("0").text('e', Some(2)), "0.00e+00");
    assert_eq!(n("-1.5").text('f', Some(0)), "-2");
    assert_eq!(n("2.5").text('f', Some(0)), "2");
    assert_eq!(n("0.6").text('f', Some(0)), "1");
}

#[test]
fn console_shows_integers_or_nearest_f64() {
    assert_eq!(n("9007199254740993").console_text(), "9007199254740993");
    assert_eq!(n("1").div(&n("3")).unwrap().console_text(), "0.3333333333333333");
    assert_eq!(n("1e21").console_text(), "1e+21");
    assert_eq!(n("1234567.5").console_text(), "1.2345675e+06");
    assert_eq!(n("0.0001").console_text(), "0.0001");
}

#[test]
fn bad_text_is_no_number() {
    for s in ["", "-", "1e", "1.2.3", "0x10", " 1", "1e999999999", "abc", "."] {
        assert!(Number::parse(s).is_none(), "{s:?}");
    }
    assert_eq!(n("-0").to_string(), "0");
    assert_eq!(n("+5").to_string(), "5");
    assert_eq!(n(".5").to_string(), "0.5");
    assert_eq!(n("5.").to_string(), "5");
}

#[test]
fn short_exact_values_need_no_digit_walk() {
    use super::decimal::Decimal;
    for f in [0.75, 3.875, 1234.5, 0.0009765625, 123456789012.25, 2f64.powi(40)] {
        for prec in [F64_PREC, INT_PREC, PARSE_PREC] {
            let b = Number::from_f64(f).and_then(|n| n.big().map(|b| b.into_owned())).unwrap();
            let exact = Decimal::exact(&b);
            let mut walked = exact.clone();
            walked.shorten(&b, prec);
            assert_eq!((walked.digits, walked.exp), (exact.digits, exact.exp), "{f} at {prec} bits");
        }
    }
    // The walk does shorten long expansions: 2^60 (19 digits) at 53 bits, 0.1 as an f64 (55).
    assert_eq!(Number::from_f64(2f64.powi(60)).unwrap().to_string(), "1152921504606847000");
    assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
}

#[test]
fn floor_and_ceil_are_exact() {
    assert_eq!(n("-0.5").floor().to_string(), "-1");
    assert_eq!(n("-0.5").ceil().to_string(), "0");
    assert_eq!(n("2.5").floor().to_string(), "2");
    assert_eq!(n("2.1").ceil().to_string(), "3");
    assert_eq!(n("1e30").floor().to_string(), "1000000000000000000000000000000");
    let big = n("1").div(&n("3")).unwrap().mul(&n("1e20")).unwrap();
    assert_eq!(big.floor().to_string(), "33333333333333333333");
    assert_eq!(big.ceil().to_string(), "33333333333333333334");
}

//! Date and time functions: formatdate timeadd timestamp legacy_isotime legacy_strftime.

use std::collections::BTreeMap;

use super::{func, variadic, Args, Func};
use crate::value::Value;
use kiln_gotmpl::time as gotime;

use kiln_config::civil::{parse_rfc3339, DateTime, MONTHS, WEEKDAYS};
use kiln_config::golang::parse_go_duration_nanos;

pub(super) const FUNCS: &[Func] = &[
    func("formatdate", &["format", "time"], formatdate),
    func("timeadd", &["timestamp", "duration"], timeadd),
    func("rfc3339_parse", &["timestamp"], |a| {
        let mut ts = a.string(0)?;
        // RFC 3339 allows a space for the "T" between date and time.
        if ts.get(10..11) == Some(" ") {
            ts.replace_range(10..11, "T");
        }
        let t = parse_rfc3339(&ts)
            .map_err(|_| a.err(0, format!("{:?} is not a valid RFC3339 timestamp", a.get(0).as_str().unwrap_or(""))))?;
        let mut o = parts(&t);
        o.insert("unix".into(), Value::int(t.unix()));
        Ok(Value::Object(o))
    }),
    func("unix_timestamp_parse", &["unix_timestamp"], |a| {
        let n = a.float(0)?;
        if n.fract() != 0.0 || !(-6.2e10..=2.5e11).contains(&n) {
            return Err(a.err(0, "unix_timestamp must be a whole number of seconds between the years 0 and 9999"));
        }
        let t = DateTime::from_unix(n as i64, 0, 0, true);
        let mut o = parts(&t);
        o.insert("rfc3339".into(), Value::String(t.rfc3339()));
        Ok(Value::Object(o))
    }),
    func("timestamp", &[], |a| Ok(Value::String(DateTime::from_system(a.ctx().now).rfc3339()))),
    // Both take an optional format; without one they give the RFC 3339 time.
    variadic("legacy_isotime", &[], "format", |a| legacy_time(a, gotime::format_layout)),
    variadic("legacy_strftime", &[], "format", |a| legacy_time(a, gotime::strftime)),
];

/// The calendar fields `rfc3339_parse` and `unix_timestamp_parse` return.
fn parts(t: &DateTime) -> BTreeMap<String, Value> {
    let n = Value::int;
    let (iso_year, iso_week) = t.iso_week();
    BTreeMap::from([
        ("year".to_string(), n(t.year)),
        ("year_day".to_string(), n(i64::from(t.yday()))),
        ("day".to_string(), n(i64::from(t.day))),
        ("month".to_string(), n(i64::from(t.month))),
        ("month_name".to_string(), Value::string(MONTHS[t.month as usize - 1])),
        ("weekday".to_string(), n(t.weekday() as i64)),
        ("weekday_name".to_string(), Value::string(WEEKDAYS[t.weekday()])),
        ("hour".to_string(), n(i64::from(t.hour))),
        ("minute".to_string(), n(i64::from(t.minute))),
        ("second".to_string(), n(i64::from(t.second))),
        ("iso_year".to_string(), n(iso_year)),
        ("iso_week".to_string(), n(iso_week)),
    ])
}

/// `legacy_isotime` / `legacy_strftime`: the run's time in the format given, written by
/// `render`, or in RFC 3339 without one.
fn legacy_time(a: &Args, render: fn(&str, DateTime) -> String) -> Result<Value, String> {
    let now = a.ctx().now;
    Ok(Value::String(match legacy_format(a)? {
        Some(f) => render(&f, gotime::utc_parts(Some(now))),
        None => DateTime::from_system(now).rfc3339(),
    }))
}

fn legacy_format(a: &Args) -> Result<Option<String>, String> {
    match a.len() {
        0 => Ok(None),
        1 => a.string(0).map(Some),
        _ => Err("too many arguments: give at most one format".into()),
    }
}

fn timeadd(a: &Args) -> Result<Value, String> {
    let t = parse_rfc3339(&a.string(0)?).map_err(|e| a.err(0, e))?;
    let d = i128::from(parse_go_duration_nanos(&a.string(1)?).map_err(|e| a.err(1, e))?);
    let total = (i128::from(t.unix()) * 1_000_000_000 + i128::from(t.nanos))
        .checked_add(d)
        .ok_or_else(|| a.err(1, "the result is out of range"))?;
    let secs = total.div_euclid(1_000_000_000);
    let secs = i64::try_from(secs).map_err(|_| a.err(1, "the result is out of range"))?;
    let r = DateTime::from_unix(secs, total.rem_euclid(1_000_000_000) as u32, t.offset, t.utc);
    if !(0..=9999).contains(&r.year) {
        return Err(a.err(1, "the result is outside the years 0 to 9999"));
    }
    Ok(Value::String(r.rfc3339()))
}

fn formatdate(a: &Args) -> Result<Value, String> {
    let spec = a.string(0)?;
    let t = parse_rfc3339(&a.string(1)?).map_err(|e| a.err(1, e))?;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // 'literal'; '' inside or outside a literal is one quote.
            i += 1;
            if chars.get(i) == Some(&'\'') {
                out.push('\'');
                i += 1;
                continue;
            }
            loop {
                match chars.get(i) {
                    None => return Err(a.err(0, "unterminated literal '")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        out.push(*ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        while chars.get(i) == Some(&c) {
            i += 1;
        }
        let verb: String = chars[start..i].iter().collect();
        out.push_str(&date_verb(&verb, &t).map_err(|e| a.err(0, e))?);
    }
    Ok(Value::String(out))
}

fn date_verb(verb: &str, t: &DateTime) -> Result<String, String> {
    let h12 = if t.hour.is_multiple_of(12) { 12 } else { t.hour % 12 };
    let bad = |why: &str| {
        if why.is_empty() {
            format!("invalid date format verb {verb:?}")
        } else {
            format!("invalid date format verb {verb:?}: {why}")
        }
    };
    Ok(match verb {
        "YYYY" => format!("{:04}", t.year),
        "YY" => format!("{:02}", t.year.rem_euclid(100)),
        v if v.starts_with('Y') => return Err(bad("year must either be \"YY\" or \"YYYY\"")),
        "MMMM" => MONTHS[t.month as usize - 1].to_string(),
        "MMM" => MONTHS[t.month as usize - 1][..3].to_string(),
        "MM" => format!("{:02}", t.month),
        "M" => t.month.to_string(),
        v if v.starts_with('M') => return Err(bad("month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"")),
        "DD" => format!("{:02}", t.day),
        "D" => t.day.to_string(),
        v if v.starts_with('D') => return Err(bad("day of month must either be \"D\" or \"DD\"")),
        "EEEE" => WEEKDAYS[t.weekday()].to_string(),
        "EEE" => WEEKDAYS[t.weekday()][..3].to_string(),
        v if v.starts_with('E') => return Err(bad("day of week must either be \"EEE\" or \"EEEE\"")),
        "hh" => format!("{:02}", t.hour),
        "h" => t.hour.to_string(),
        v if v.starts_with('h') => return Err(bad("24-hour must either be \"h\" or \"hh\"")),
        "HH" => format!("{h12:02}"),
        "H" => h12.to_string(),
        v if v.starts_with('H') => return Err(bad("12-hour must either be \"H\" or \"HH\"")),
        "AA" => (if t.hour < 12 { "AM" } else { "PM" }).to_string(),
        "aa" => (if t.hour < 12 { "am" } else { "pm" }).to_string(),
        v if v.starts_with('A') || v.starts_with('a') => return Err(bad("must be \"AA\" or \"aa\"")),
        "mm" => format!("{:02}", t.minute),
        "m" => t.minute.to_string(),
        v if v.starts_with('m') => return Err(bad("minute must either be \"m\" or \"mm\"")),
        "ss" => format!("{:02}", t.second),
        "s" => t.second.to_string(),
        v if v.starts_with('s') => return Err(bad("second must either be \"s\" or \"ss\"")),
        "ZZZZZ" => t.offset_str(false, true),
        "ZZZZ" => t.offset_str(false, false),
        "ZZZ" if t.offset == 0 => "UTC".to_string(),
        "ZZZ" => t.offset_str(false, false),
        "Z" => t.offset_str(true, true),
        v if v.starts_with('Z') => return Err(bad("timezone must be Z, ZZZZ, or ZZZZZ")),
        _ => return Err(bad("")),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use crate::functions::{call, FuncContext};
    use crate::value::Value;

    fn at(secs: u64, name: &str, args: &[Value]) -> Result<Value, String> {
        let render = |_: &str, _: &Value| Err("none".to_string());
        let ctx =
            FuncContext { base_dir: ".".into(), now: UNIX_EPOCH + Duration::from_secs(secs), render_template: &render };
        call(name, args, &ctx)
    }
    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn formatdate_verbs() {
        let f = |spec: &str, t: &str| at(0, "formatdate", &[s(spec), s(t)]);
        assert_eq!(
            f("Z ZZZ ZZZZ ZZZZZ h H HH hh AA aa EEE EEEE", "2020-01-02T15:04:05+05:30"),
            Ok(s("+05:30 +0530 +0530 +05:30 15 3 03 15 PM pm Thu Thursday"))
        );
        assert_eq!(f("Z ZZZ ZZZZ ZZZZZ", "2020-01-02T03:04:05Z"), Ok(s("Z UTC +0000 +00:00")));
        assert_eq!(f("DD MMM YYYY hh:mm ZZZ", "2018-01-02T23:12:01Z"), Ok(s("02 Jan 2018 23:12 UTC")));
        assert_eq!(
            f("MMMM D, YY 'at' h:m:s 'o''clock'", "2018-03-04T05:06:07Z"),
            Ok(s("March 4, 18 at 5:6:7 o'clock"))
        );
        let e = f("YYY", "2020-01-02T15:04:05Z").unwrap_err();
        assert!(e.contains("\"format\"") && e.contains("\"YY\" or \"YYYY\""), "{e}");
        assert!(f("x", "2020-01-02T15:04:05Z").unwrap_err().contains("invalid date format verb \"x\""));
        assert!(f("YYYY", "yesterday").unwrap_err().contains("\"time\""));
    }

    #[test]
    fn timeadd_and_timestamp() {
        assert_eq!(at(0, "timeadd", &[s("2020-01-02T15:04:05.5Z"), s("1h30m")]), Ok(s("2020-01-02T16:34:05Z")));
        assert_eq!(at(0, "timeadd", &[s("2017-11-22T00:00:00+01:00"), s("-25h")]), Ok(s("2017-11-20T23:00:00+01:00")));
        assert_eq!(at(1_600_000_000, "timestamp", &[]), Ok(s("2020-09-13T12:26:40Z")));
        assert!(at(0, "timeadd", &[s("2020-01-02T15:04:05Z"), s("1d")]).unwrap_err().contains("\"duration\""));
    }

    #[test]
    fn parse_functions() {
        let o = at(0, "rfc3339_parse", &[s("1996-12-19T16:39:57-08:00")]).unwrap();
        assert_eq!(
            o.to_string(),
            "{day = 19, hour = 16, iso_week = 51, iso_year = 1996, minute = 39, month = 12, month_name = \"December\", \
             second = 57, unix = 851042397, weekday = 4, weekday_name = \"Thursday\", year = 1996, year_day = 354}"
        );
        let same = at(0, "rfc3339_parse", &[s("2023-07-25 23:43:16Z")]).unwrap();
        let Value::Object(m) = &same else { panic!("object expected") };
        assert_eq!(m.get("unix"), Some(&Value::int(1_690_328_596)));
        assert_eq!(m.get("iso_week"), Some(&Value::int(30)));
        let e = at(0, "rfc3339_parse", &[s("yesterday")]).unwrap_err();
        assert!(e.contains("\"timestamp\"") && e.contains("not a valid RFC3339"), "{e}");
        let u = at(0, "unix_timestamp_parse", &[Value::int(851_042_397)]).unwrap();
        let Value::Object(m) = &u else { panic!("object expected") };
        assert_eq!(m.get("rfc3339"), Some(&s("1996-12-20T00:39:57Z")));
        assert_eq!(m.get("year_day"), Some(&Value::int(355)));
        assert_eq!(m.get("weekday_name"), Some(&s("Friday")));
        assert!(at(0, "unix_timestamp_parse", &[Value::float(1.5)]).is_err());
        // 2021-01-03 is a Sunday in ISO week 53 of 2020.
        let w = at(0, "rfc3339_parse", &[s("2021-01-03T00:00:00Z")]).unwrap();
        let Value::Object(m) = &w else { panic!("object expected") };
        assert_eq!((m.get("iso_year"), m.get("iso_week")), (Some(&Value::int(2020)), Some(&Value::int(53))));
    }

    #[test]
    fn legacy_formats() {
        let t = 1_600_000_000; // 2020-09-13T12:26:40Z, a Sunday
        assert_eq!(at(t, "legacy_isotime", &[s("2006-01-02 15:04:05 Mon Jan")]), Ok(s("2020-09-13 12:26:40 Sun Sep")));
        assert_eq!(
            at(t, "legacy_strftime", &[s("%Y-%m-%d %H:%M:%S %a %j %Z%L %%")]),
            Ok(s("2020-09-13 12:26:40 Sun %j UTC.000 %"))
        );
        assert_eq!(at(t, "legacy_strftime", &[]), Ok(s("2020-09-13T12:26:40Z")));
        assert_eq!(at(t, "legacy_isotime", &[]), Ok(s("2020-09-13T12:26:40Z")));
        assert!(at(t, "legacy_isotime", &[s("a"), s("b")]).is_err());
    }
}

//! Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) for `legacy_isotime`.
// TODO(merge): crate::gotmpl has its own Go-layout formatter for `{{isotime}}`; keep one of them.

use super::civil::{Tm, MONTHS, WEEKDAYS};

/// Formats `t` with Go layout `layout`. Text that is not a layout element is copied.
pub(crate) fn format(layout: &str, t: &Tm) -> String {
    let h12 = if t.hour % 12 == 0 { 12 } else { t.hour % 12 };
    let month = MONTHS[t.month as usize - 1];
    let wday = WEEKDAYS[t.weekday()];
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        // Longest elements first where one is a prefix of another, as Go's scanner does.
        let table: &[(&str, String)] = &[
            ("January", month.to_string()),
            ("Jan", month[..3].to_string()),
            ("Monday", wday.to_string()),
            ("Mon", wday[..3].to_string()),
            ("MST", if t.offset == 0 { "UTC".into() } else { t.offset_str(false, false) }),
            ("2006", format!("{:04}", t.year)),
            ("002", format!("{:03}", t.yday())),
            ("__2", format!("{:>3}", t.yday())),
            ("_2", format!("{:>2}", t.day)),
            ("01", format!("{:02}", t.month)),
            ("02", format!("{:02}", t.day)),
            ("03", format!("{h12:02}")),
            ("04", format!("{:02}", t.min)),
            ("05", format!("{:02}", t.sec)),
            ("06", format!("{:02}", t.year.rem_euclid(100))),
            ("15", format!("{:02}", t.hour)),
            ("1", t.month.to_string()),
            ("2", t.day.to_string()),
            ("3", h12.to_string()),
            ("4", t.min.to_string()),
            ("5", t.sec.to_string()),
            ("PM", (if t.hour < 12 { "AM" } else { "PM" }).into()),
            ("pm", (if t.hour < 12 { "am" } else { "pm" }).into()),
            ("-07:00:00", format!("{}:00", t.offset_str(false, true))),
            ("-070000", format!("{}00", t.offset_str(false, false))),
            ("-07:00", t.offset_str(false, true)),
            ("-0700", t.offset_str(false, false)),
            ("-07", t.offset_str(false, false)[..3].to_string()),
            ("Z07:00:00", if t.offset == 0 { "Z".into() } else { format!("{}:00", t.offset_str(false, true)) }),
            ("Z070000", if t.offset == 0 { "Z".into() } else { format!("{}00", t.offset_str(false, false)) }),
            ("Z07:00", t.offset_str(true, true)),
            ("Z0700", t.offset_str(true, false)),
            ("Z07", if t.offset == 0 { "Z".into() } else { t.offset_str(false, false)[..3].to_string() }),
        ];
        if let Some((pat, val)) = table.iter().find(|(p, _)| rest.starts_with(p)) {
            out.push_str(val);
            rest = &rest[pat.len()..];
            continue;
        }
        if let Some((n, frac)) = fraction(rest, t.nanos) {
            out.push_str(&frac);
            rest = &rest[n..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `.000` (fixed digits) or `.999` (trailing zeros dropped) fractional seconds.
fn fraction(s: &str, nanos: u32) -> Option<(usize, String)> {
    let b = s.as_bytes();
    if !matches!(b.first(), Some(b'.' | b',')) {
        return None;
    }
    let digit = *b.get(1)?;
    if digit != b'0' && digit != b'9' {
        return None;
    }
    let n = b[1..].iter().take_while(|c| **c == digit).count();
    if b.get(1 + n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let digits = format!("{nanos:09}");
    let mut frac = digits[..n.min(9)].to_string();
    if digit == b'9' {
        frac = frac.trim_end_matches('0').to_string();
        if frac.is_empty() {
            return Some((1 + n, String::new()));
        }
    }
    Some((1 + n, format!("{}{frac}", b[0] as char)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layouts() {
        let t = Tm::from_unix(1_600_000_000, 120_000_000, 0, true);
        assert_eq!(format("2006-01-02T15:04:05Z07:00", &t), "2020-09-13T12:26:40Z");
        assert_eq!(format("Jan _2 3:4:5 PM .000 .999 MST", &t), "Sep 13 12:26:40 PM .120 .12 UTC");
        assert_eq!(format("20060102-150405", &t), "20200913-122640");
        let early = Tm::from_unix(3 * 3600 + 4 * 60, 0, 0, true);
        assert_eq!(format("15:04 3PM", &early), "03:04 3AM");
        let t = Tm::from_unix(0, 0, -3 * 3600, false);
        assert_eq!(format("Monday -07:00 Z0700", &t), "Wednesday -03:00 -0300");
    }
}

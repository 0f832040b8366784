//! Time for `timestamp`, `isotime` (Go's reference-time layouts), `strftime` and `uuid`.
//! Packer renders these in UTC.

use std::time::SystemTime;

use kiln_config::civil::{self, DateTime, MONTHS, WEEKDAYS};

pub(crate) const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

fn now_or(now: Option<SystemTime>) -> SystemTime {
    now.unwrap_or_else(SystemTime::now)
}

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_seconds(now: Option<SystemTime>) -> i64 {
    civil::unix_parts(now_or(now)).0
}

/// The run's time (or now) in UTC.
pub fn utc_parts(now: Option<SystemTime>) -> DateTime {
    DateTime::from_system(now_or(now))
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// Numeric zone forms; `z` means `Z` for UTC.
    Zone {
        z: bool,
        colon: bool,
        seconds: bool,
        minutes: bool,
    },
    /// `.000` (fixed) or `.999` (trailing zeros trimmed), with the separator.
    Frac {
        digits: usize,
        fixed: bool,
        sep: char,
    },
}

/// Finds the next layout element: (literal prefix length, element, element length).
fn next_std(l: &[u8]) -> Option<(usize, Std, usize)> {
    let has = |i: usize, s: &str| l[i..].starts_with(s.as_bytes());
    let lower_at = |i: usize| l.get(i).is_some_and(|c| c.is_ascii_lowercase());
    for i in 0..l.len() {
        let found = match l[i] {
            b'J' if has(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if has(i, "Jan") && !lower_at(i + 3) => Some((Std::Month, 3)),
            b'M' if has(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if has(i, "Mon") && !lower_at(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if has(i, "MST") => Some((Std::TZ, 3)),
            b'0' if has(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'0' if matches!(l.get(i + 1), Some(b'1'..=b'6')) => Some((
                match l[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                },
                2,
            )),
            b'1' if has(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if has(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            // `_2006` is a literal `_` then the year.
            b'_' if has(i, "_2006") => {
                return Some((i + 1, Std::LongYear, 4));
            }
            b'_' if has(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'_' if has(i, "_2") => Some((Std::UnderDay, 2)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i, "PM") => Some((Std::PM, 2)),
            b'p' if has(i, "pm") => Some((Std::Pm, 2)),
            b'-' | b'Z' => {
                let z = l[i] == b'Z';
                let forms: [(&str, bool, bool, bool); 5] = [
                    ("070000", false, true, true),
                    ("07:00:00", true, true, true),
                    ("0700", false, false, true),
                    ("07:00", true, false, true),
                    ("07", false, false, false),
                ];
                forms.iter().find(|(f, ..)| has(i + 1, f)).map(|(f, colon, seconds, minutes)| {
                    (Std::Zone { z, colon: *colon, seconds: *seconds, minutes: *minutes }, f.len() + 1)
                })
            }
            sep @ (b'.' | b',') if matches!(l.get(i + 1), Some(b'0' | b'9')) => {
                let ch = l[i + 1];
                let mut j = i + 1;
                while l.get(j) == Some(&ch) {
                    j += 1;
                }
                // Only a fraction when no digit follows the run.
                if l.get(j).is_some_and(|c| c.is_ascii_digit()) {
                    None
                } else {
                    Some((Std::Frac { digits: j - i - 1, fixed: ch == b'0', sep: sep as char }, j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return Some((i, std, len));
        }
    }
    None
}

/// Whether a Go layout has any date or time element (else it prints as written).
pub(crate) fn has_elements(layout: &str) -> bool {
    next_std(layout.as_bytes()).is_some()
}

/// Formats `t` (UTC) with a Go reference-time layout.
pub fn format_layout(layout: &str, t: DateTime) -> String {
    let mut out = String::with_capacity(layout.len() + 8);
    let mut rest = layout.as_bytes();
    while let Some((pre, std, len)) = next_std(rest) {
        out.push_str(&String::from_utf8_lossy(&rest[..pre]));
        write_std(&mut out, std, &t);
        rest = &rest[pre + len..];
    }
    out.push_str(&String::from_utf8_lossy(rest));
    out
}

fn write_std(out: &mut String, std: Std, t: &DateTime) {
    let hour12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let s = match std {
        Std::LongMonth => MONTHS[(t.month - 1) as usize].to_string(),
        Std::Month => MONTHS[(t.month - 1) as usize][..3].to_string(),
        Std::NumMonth => t.month.to_string(),
        Std::ZeroMonth => format!("{:02}", t.month),
        Std::LongWeekDay => WEEKDAYS[t.weekday()].to_string(),
        Std::WeekDay => WEEKDAYS[t.weekday()][..3].to_string(),
        Std::Day => t.day.to_string(),
        Std::UnderDay => format!("{:>2}", t.day),
        Std::ZeroDay => format!("{:02}", t.day),
        Std::UnderYearDay => format!("{:>3}", t.yday()),
        Std::ZeroYearDay => format!("{:03}", t.yday()),
        Std::Hour => format!("{:02}", t.hour),
        Std::Hour12 => hour12.to_string(),
        Std::ZeroHour12 => format!("{hour12:02}"),
        Std::Minute => t.minute.to_string(),
        Std::ZeroMinute => format!("{:02}", t.minute),
        Std::Second => t.second.to_string(),
        Std::ZeroSecond => format!("{:02}", t.second),
        Std::LongYear => {
            if t.year < 0 {
                format!("-{:04}", -t.year)
            } else {
                format!("{:04}", t.year)
            }
        }
        Std::Year => format!("{:02}", t.year.rem_euclid(100)),
        Std::PM => (if t.hour >= 12 { "PM" } else { "AM" }).to_string(),
        Std::Pm => (if t.hour >= 12 { "pm" } else { "am" }).to_string(),
        Std::TZ => "UTC".to_string(),
        Std::Zone { z, colon, seconds, minutes } => {
            if z {
                "Z".to_string()
            } else {
                let mut s = String::from("+00");
                if minutes {
                    s.push_str(if colon { ":00" } else { "00" });
                }
                if seconds {
                    s.push_str(if colon { ":00" } else { "00" });
                }
                s
            }
        }
        Std::Frac { digits, fixed, sep } => {
            let all = format!("{:09}", t.nanos);
            let d = &all[..digits.min(9)];
            if fixed {
                format!("{sep}{d}{}", "0".repeat(digits.saturating_sub(9)))
            } else {
                let trimmed = d.trim_end_matches('0');
                if trimmed.is_empty() {
                    String::new()
                } else {
                    format!("{sep}{trimmed}")
                }
            }
        }
    };
    out.push_str(&s);
}

/// Packer's `strftime`: the C conversions its library knows (`%a %A %b %B %d %H %I %L %m %M
/// %p %S %y %Y %z %Z %%`); any other `%x` stays as it is, as in Packer.
pub fn strftime(format: &str, t: DateTime) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        let layout = match k {
            'a' => "Mon",
            'A' => "Monday",
            'b' => "Jan",
            'B' => "January",
            'd' => "02",
            'H' => "15",
            'I' => "03",
            'L' => ".000",
            'm' => "01",
            'M' => "04",
            'p' => "PM",
            'S' => "05",
            'y' => "06",
            'Y' => "2006",
            'z' => "-0700",
            'Z' => "MST",
            '%' => {
                out.push('%');
                continue;
            }
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        out.push_str(&format_layout(layout, t));
    }
    out
}

/// Packer's time-ordered UUID: the Unix time in the first 8 hex digits, then random bits.
pub(crate) fn uuid(now: Option<SystemTime>) -> String {
    let unix = unix_seconds(now) as u32;
    let random = kiln_config::random::bytes::<12>();
    let hex = kiln_config::random::hex;
    format!("{unix:08x}-{}-{}-{}-{}", hex(&random[0..2]), hex(&random[2..4]), hex(&random[4..6]), hex(&random[6..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    // 2026-11-21 10:59:19.937 UTC, a Saturday.
    fn t() -> DateTime {
        DateTime::from_unix(1_795_258_759, 937_000_000, 0, true)
    }

    #[test]
    fn go_layouts() {
        let p = t();
        assert_eq!(format_layout(RFC3339, p), "2026-11-21T10:59:19Z");
        assert_eq!(format_layout("20060102150405", p), "20261121105919");
        assert_eq!(format_layout("Jan _2 Mon 2006 .000 Z07:00 MST", p), "Nov 21 Sat 2026 .937 Z UTC");
        assert_eq!(format_layout("January Monday 3:4:5 PM pm 06 1 2", p), "November Saturday 10:59:19 AM am 26 11 21");
        assert_eq!(format_layout("-0700 -07:00 -07 -07:00:00", p), "+0000 +00:00 +00 +00:00:00");
        assert_eq!(format_layout("05.999|05.000000|05.99", p), "19.937|19.937000|19.93");
        assert_eq!(format_layout("002 __2 _2006", p), "325 325 _2026");
        // Words that merely start like a layout element stay literal.
        assert_eq!(format_layout("Janet Monty", p), "Janet Monty");
    }

    #[test]
    fn strftime_conversions() {
        assert_eq!(strftime("%Y-%m-%d %H:%M:%S %a %b %L %j %%", t()), "2026-11-21 10:59:19 Sat Nov .937 %j %");
    }

    #[test]
    fn uuid_shape() {
        let u = uuid(Some(UNIX_EPOCH + std::time::Duration::from_secs(0x5fb8_0000)));
        assert_eq!(u.len(), 36);
        assert!(u.starts_with("5fb80000-"), "{u}");
        assert_ne!(u, uuid(Some(UNIX_EPOCH)));
    }
}

//! Calendar arithmetic (proleptic Gregorian, no leap seconds) and RFC 3339 parsing, written
//! here rather than pulling in a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as written in a timestamp: its wall-clock fields in its own UTC offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tm {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset: i32,
    /// Whether the timestamp said `Z` (UTC by name) rather than a numeric offset.
    pub utc: bool,
}

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(crate) const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Tm {
    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86400
            + i64::from(self.hour) * 3600
            + i64::from(self.min) * 60
            + i64::from(self.sec)
            - i64::from(self.offset)
    }

    pub fn from_unix(secs: i64, nanos: u32, offset: i32, utc: bool) -> Tm {
        let local = secs + i64::from(offset);
        let (year, month, day) = civil_from_days(local.div_euclid(86400));
        let rem = local.rem_euclid(86400) as u32;
        Tm { year, month, day, hour: rem / 3600, min: rem / 60 % 60, sec: rem % 60, nanos, offset, utc }
    }

    pub fn from_system(t: SystemTime) -> Tm {
        let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let n = d.subsec_nanos();
                if n == 0 {
                    (-(d.as_secs() as i64), 0)
                } else {
                    (-(d.as_secs() as i64) - 1, 1_000_000_000 - n)
                }
            }
        };
        Tm::from_unix(secs, nanos, 0, true)
    }

    /// 0 = Sunday.
    pub fn weekday(&self) -> usize {
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as usize
    }

    pub fn yday(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) - days_from_civil(self.year, 1, 1) + 1
    }

    /// ISO 8601 week-numbering year and week: the week belongs to the year of its Thursday.
    pub fn iso_week(&self) -> (i64, i64) {
        let days = days_from_civil(self.year, self.month, self.day);
        let monday_based = (self.weekday() + 6) % 7; // Monday = 0
        let thursday = days - monday_based as i64 + 3;
        let (y, _, _) = civil_from_days(thursday);
        (y, (thursday - days_from_civil(y, 1, 1)) / 7 + 1)
    }

    /// RFC 3339 without fractional seconds, as Go's time.RFC3339 layout.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.offset_str(true, true)
        )
    }

    /// `Z` (when `z` and the offset is zero) or `+hh:mm` / `+hhmm`.
    pub fn offset_str(&self, z: bool, colon: bool) -> String {
        if z && self.offset == 0 {
            return "Z".into();
        }
        let sign = if self.offset < 0 { '-' } else { '+' };
        let o = self.offset.unsigned_abs();
        if colon {
            format!("{sign}{:02}:{:02}", o / 3600, o / 60 % 60)
        } else {
            format!("{sign}{:02}{:02}", o / 3600, o / 60 % 60)
        }
    }
}

/// Parses an RFC 3339 timestamp (`2006-01-02T15:04:05Z`, optional fraction, `±hh:mm` offset).
pub(crate) fn parse_rfc3339(s: &str) -> Result<Tm, String> {
    let bad = |why: &str| format!("not a valid RFC3339 timestamp: {why}");
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, String> {
        let part = s.get(from..from + len).ok_or_else(|| bad("too short"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(&format!("cannot use {part:?} as a number at offset {from}")));
        }
        part.parse::<u32>().map_err(|_| bad("number out of range"))
    };
    let expect = |at: usize, chars: &[u8], what: &str| -> Result<(), String> {
        match b.get(at) {
            Some(c) if chars.contains(c) => Ok(()),
            _ => Err(bad(&format!("missing {what} at offset {at}"))),
        }
    };
    let year = num(0, 4)?;
    expect(4, b"-", "'-' after the year")?;
    let month = num(5, 2)?;
    expect(7, b"-", "'-' after the month")?;
    let day = num(8, 2)?;
    expect(10, b"T", "'T' between the date and the time")?;
    let hour = num(11, 2)?;
    expect(13, b":", "':' after the hour")?;
    let min = num(14, 2)?;
    expect(16, b":", "':' after the minutes")?;
    let sec = num(17, 2)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad("missing digits after '.'"));
        }
        let frac = &s[start..i.min(start + 9)];
        nanos = frac.parse::<u32>().unwrap_or(0) * 10u32.pow(9 - frac.len() as u32);
    }
    let (offset, utc) = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => (0, true),
        Some(c @ (b'+' | b'-')) if i + 6 == b.len() => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            expect(i + 3, b":", "':' in the UTC offset")?;
            if h > 23 || m > 59 {
                return Err(bad("UTC offset out of range"));
            }
            let o = (h * 3600 + m * 60) as i32;
            (if *c == b'-' { -o } else { o }, false)
        }
        _ => return Err(bad("the time must end with a UTC offset such as Z or +01:00")),
    };
    if !(1..=12).contains(&month) {
        return Err(bad("month out of range"));
    }
    if day < 1 || day > days_in_month(i64::from(year), month) {
        return Err(bad("day out of range"));
    }
    if hour > 23 || min > 59 || sec > 59 {
        return Err(bad("time of day out of range"));
    }
    Ok(Tm { year: i64::from(year), month, day, hour, min, sec, nanos, offset, utc })
}

/// Parses a Go duration (`1h30m`, `-1.5s`, `300ms`) into nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i128, String> {
    let bad = || format!("invalid duration {s:?}: use a number and unit such as \"1h30m\", \"-10s\" or \"300ms\"");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[u_end..];
        total += n * unit;
    }
    let ns = total.round() as i128;
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 59, 10_957, 18_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn rfc3339_parsing() {
        let t = parse_rfc3339("2017-11-22T00:00:00+05:30").unwrap();
        assert_eq!(t.unix(), 1_511_289_000);
        assert_eq!(Tm::from_unix(t.unix(), 0, t.offset, false), Tm { nanos: 0, ..t });
        assert!(parse_rfc3339("2017-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2017-11-22").unwrap_err().contains("RFC3339"));
        assert_eq!(parse_rfc3339("2017-11-22T01:02:03.25Z").unwrap().nanos, 250_000_000);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1d").is_err());
    }
}

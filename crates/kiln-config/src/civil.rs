//! Calendar arithmetic (proleptic Gregorian, no leap seconds), RFC 3339 parsing and printing:
//! the one civil-date module behind the Go-template time functions, the HCL2 date functions,
//! the event renderer's timestamps and the AWS client's dates, so no crate needs a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// English month names, January first (Go's `time.Month.String`).
pub const MONTHS: [&str; 12] = [
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

/// English weekday names, Sunday first (Go's `time.Weekday.String`).
pub const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1..=12, day 1..=31) of a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Whether `y` is a leap year.
pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days in month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds and nanoseconds since the Unix epoch, the seconds negative before it (the
/// nanoseconds always count forward, as Go's `time.Time` does).
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
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
    }
}

/// A point in time as its wall-clock fields in its own UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// Seconds east of UTC.
    pub offset: i32,
    /// Whether the time is UTC by name (`Z`) rather than by a numeric offset.
    pub utc: bool,
}

impl DateTime {
    /// The time `secs`/`nanos` after the epoch, as seen at `offset` seconds east of UTC.
    pub fn from_unix(secs: i64, nanos: u32, offset: i32, utc: bool) -> DateTime {
        let local = secs + i64::from(offset);
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let rem = local.rem_euclid(86_400) as u32;
        DateTime { year, month, day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60, nanos, offset, utc }
    }

    /// `t` in UTC.
    pub fn from_system(t: SystemTime) -> DateTime {
        let (secs, nanos) = unix_parts(t);
        DateTime::from_unix(secs, nanos, 0, true)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset)
    }

    /// 0 = Sunday.
    pub fn weekday(&self) -> usize {
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as usize
    }

    /// Day of the year, 1..=366.
    pub fn yday(&self) -> u32 {
        (days_from_civil(self.year, self.month, self.day) - days_from_civil(self.year, 1, 1) + 1) as u32
    }

    /// ISO 8601 week-numbering year and week: the week belongs to the year of its Thursday.
    pub fn iso_week(&self) -> (i64, i64) {
        let days = days_from_civil(self.year, self.month, self.day);
        let monday_based = (self.weekday() + 6) % 7;
        let thursday = days - monday_based as i64 + 3;
        let (y, _, _) = civil_from_days(thursday);
        (y, (thursday - days_from_civil(y, 1, 1)) / 7 + 1)
    }

    /// RFC 3339 without fractional seconds, as Go's `time.RFC3339` layout prints it.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
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

/// Parses an RFC 3339 timestamp (`2006-01-02T15:04:05Z`, optional fraction, `±hh:mm` offset),
/// as strictly as Go's `time.Parse(time.RFC3339, …)`.
pub fn parse_rfc3339(s: &str) -> Result<DateTime, String> {
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
    let minute = num(14, 2)?;
    expect(16, b":", "':' after the minutes")?;
    let second = num(17, 2)?;
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
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("time of day out of range"));
    }
    Ok(DateTime { year: i64::from(year), month, day, hour, minute, second, nanos, offset, utc })
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
    fn calendar_fields() {
        // 2026-11-21 10:59:19.937 UTC, a Saturday.
        let p = DateTime::from_unix(1_795_258_759, 937_000_000, 0, true);
        assert_eq!((p.year, p.month, p.day, p.hour, p.minute, p.second), (2026, 11, 21, 10, 59, 19));
        assert_eq!((p.weekday(), p.yday()), (6, 325));
        let epoch = DateTime::from_unix(0, 0, 0, true);
        assert_eq!((epoch.year, epoch.month, epoch.day, epoch.weekday()), (1970, 1, 1, 4));
        let leap = DateTime::from_unix(951_782_400, 0, 0, true); // 2000-02-29
        assert_eq!((leap.year, leap.month, leap.day, leap.yday()), (2000, 2, 29, 60));
        let before = UNIX_EPOCH - std::time::Duration::from_millis(1500);
        assert_eq!(unix_parts(before), (-2, 500_000_000));
    }

    #[test]
    fn rfc3339_parsing() {
        let t = parse_rfc3339("2017-11-22T00:00:00+05:30").unwrap();
        assert_eq!(t.unix(), 1_511_289_000);
        assert_eq!(DateTime::from_unix(t.unix(), 0, t.offset, false), DateTime { nanos: 0, ..t });
        assert!(parse_rfc3339("2017-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2017-11-22").unwrap_err().contains("RFC3339"));
        assert_eq!(parse_rfc3339("2017-11-22T01:02:03.25Z").unwrap().nanos, 250_000_000);
        assert_eq!(t.rfc3339(), "2017-11-22T00:00:00+05:30");
    }
}

//! UTC calendar arithmetic for SigV4 dates and the ISO 8601 timestamps AWS returns, so the
//! client needs no date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_config::civil::{civil_from_days, days_from_civil};

/// SigV4's `X-Amz-Date` (`20150830T123600Z`) and the date of the credential scope (`20150830`).
pub(crate) fn amz_date(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let date = format!("{y:04}{mo:02}{d:02}");
    (format!("{date}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60), date)
}

/// Parses `2015-08-30T12:36:00Z`, with optional fractional seconds and a `Z` or `±hh:mm`
/// offset (the forms STS, IMDS, container endpoints and credential processes use).
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = std::str::from_utf8(&b[start..i.min(start + 9)]).ok()?;
        if frac.is_empty() {
            return None;
        }
        nanos = frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32);
    }
    let offset = match b.get(i..)? {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Formats a time as `2015-08-30T12:36:00Z` (for messages and tests).
pub fn format_iso8601(t: SystemTime) -> String {
    let (stamp, _) = amz_date(t);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_formats_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        assert_eq!(amz_date(t), ("20150830T123600Z".to_string(), "20150830".to_string()));
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29T00:00:00Z
        assert_eq!(amz_date(leap).0, "20000229T000000Z");
    }

    #[test]
    fn parses_the_forms_aws_returns() {
        let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(parse_iso8601("2015-08-30T12:36:00Z"), Some(t));
        assert_eq!(parse_iso8601("2015-08-30T12:36:00.250Z"), Some(t + Duration::from_millis(250)));
        assert_eq!(parse_iso8601("2015-08-30T14:36:00+02:00"), Some(t));
        assert_eq!(parse_iso8601("2015-08-30T12:36:00"), Some(t));
        assert_eq!(format_iso8601(t), "2015-08-30T12:36:00Z");
        for bad in ["", "2015-08-30", "2015-13-30T12:36:00Z", "2015-08-30T12:36:00Q", "2015-08-30T12:36:00.Z"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}

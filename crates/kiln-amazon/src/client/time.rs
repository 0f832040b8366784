//! UTC calendar arithmetic for SigV4 dates and the ISO 8601 timestamps AWS returns, so the
//! client needs no date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_config::civil::{self, civil_from_days};

/// SigV4's `X-Amz-Date` (`20150830T123600Z`) and the date of the credential scope (`20150830`).
pub(crate) fn amz_date(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let date = format!("{y:04}{mo:02}{d:02}");
    (format!("{date}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60), date)
}

/// Parses `2015-08-30T12:36:00Z`, with optional fractional seconds and a `Z` or `±hh:mm`
/// offset (the forms STS, IMDS, container endpoints and credential processes use). RFC 3339 is
/// read by `kiln_config::civil`; AWS's laxer forms (`t` or a space between date and time, `z`,
/// no offset meaning UTC) are normalised first.
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let mut text = s.trim().to_string();
    if text.len() < 19 || !text.is_char_boundary(10) || !text.is_char_boundary(11) {
        return None;
    }
    if matches!(&text[10..11], "t" | " ") {
        text.replace_range(10..11, "T");
    }
    if text.ends_with('z') {
        text.pop();
        text.push('Z');
    }
    let tail = &text[19..];
    let has_offset = tail.ends_with('Z') || tail.contains(['+', '-']);
    if !has_offset {
        text.push('Z');
    }
    let t = civil::parse_rfc3339(&text).ok()?;
    let secs = u64::try_from(t.unix()).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, t.nanos))
}

/// Formats a time as `2015-08-30T12:36:00Z` (for messages and tests).
pub fn format_iso8601(t: SystemTime) -> String {
    civil::DateTime::from_system(t).rfc3339()
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
        assert_eq!(parse_iso8601("2015-08-30 12:36:00z"), Some(t));
        for bad in [
            "",
            "2015-08-30",
            "2015-13-30T12:36:00Z",
            "2015-02-30T12:36:00Z",
            "2015-08-30T12:36:00Q",
            "2015-08-30T12:36:00.Z",
            "2015-08-30T12:36:00+0200",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}

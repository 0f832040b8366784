//! Go's parsing rules that Packer templates inherit: `time.ParseDuration` for `pause_before`,
//! `timeout`, `ssh_timeout` …, `strconv.ParseBool` for weakly typed booleans and flags, and
//! `filepath.Clean` for paths and path patterns. One implementation each, shared by the JSON
//! loader, the HCL2 loader, the config decoder, the command line and the components.

use std::time::Duration;

/// Parses "10s", "1m30s", "1.5h", "300ms", "0". Negative durations are refused (nothing in a
/// template means a negative wait). `Err` says what a valid value looks like.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let nanos = parse_go_duration_nanos(s)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("invalid duration {s:?}: it must not be negative"))
}

/// Go's `time.ParseDuration` to signed nanoseconds ("1h30m", "-1.5s", "300ms"), with Go's
/// arithmetic: whole numbers exactly, a fraction's nanoseconds truncated, at most
/// 2^63-1 nanoseconds.
pub fn parse_go_duration_nanos(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}: write a number with a unit, such as \"10s\", \"1m30s\" or \"1h\"");
    let too_long = || format!("duration {s:?} is too long");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let number_start = rest;
        let whole = &rest[..digits(rest)];
        rest = &rest[whole.len()..];
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            fraction = &after_dot[..digits(after_dot)];
            rest = &after_dot[fraction.len()..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        let number = &number_start[..number_start.len() - rest.len()];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("invalid duration {s:?}: missing unit; write \"{number}s\" for seconds")),
            u => return Err(format!("invalid duration {s:?}: unknown unit {u:?}; use ns, us, ms, s, m or h")),
        };
        rest = &rest[unit_len..];
        let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_long())? };
        let mut v = whole.checked_mul(unit).ok_or_else(too_long)?;
        // Go keeps the fraction's digits while they fit in 63 bits and ignores the rest.
        let (mut f, mut scale) = (0u64, 1f64);
        for d in fraction.bytes() {
            match f.checked_mul(10).map(|x| x + u64::from(d - b'0')) {
                Some(y) if f <= (i64::MAX as u64) / 10 && y <= 1 << 63 => {
                    f = y;
                    scale *= 10.0;
                }
                _ => break,
            }
        }
        if f > 0 {
            v = v.checked_add((f as f64 * (unit as f64 / scale)) as u64).ok_or_else(too_long)?;
        }
        total = total.checked_add(v).filter(|t| *t <= i64::MAX as u64).ok_or_else(too_long)?;
    }
    let total = total as i64;
    Ok(if neg { -total } else { total })
}

/// Go's strconv.ParseBool, which Packer's weak decoding and flag parsing apply to strings.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.Duration.String()`: `1s`, `1m30s`, `1h0m0s`, `500ms`, `1.5s`.
pub fn format_go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (v, unit) = if ns < 1_000 {
            (ns as f64, "ns")
        } else if ns < 1_000_000 {
            (ns as f64 / 1e3, "µs")
        } else {
            (ns as f64 / 1e6, "ms")
        };
        return format!("{v}{unit}");
    }
    let total_s = d.as_secs();
    let frac = d.subsec_nanos();
    let h = total_s / 3600;
    let m = total_s % 3600 / 60;
    let s = total_s % 60;
    let secs = if frac == 0 { format!("{s}s") } else { format!("{}s", format!("{s}.{frac:09}").trim_end_matches('0')) };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// Packer's `pathing.ExpandUser`: a leading `~` (alone or before `/`) is the user's home
/// folder (`HOME`); other paths are kept as they are.
pub fn expand_user(p: &str) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return format!("{}{}", home.to_string_lossy(), &p[1..]);
        }
    }
    p.to_string()
}

/// Go's `filepath.Clean` (Unix): resolves `.` and `..` lexically, drops repeated and trailing
/// slashes; `""` is `.`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse_go_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("2h45m"), Ok(Duration::from_secs(9900)));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for s in ["", "10", "s", "1x", "1..5s", "abc", "-5s", "1 s"] {
            assert!(parse_go_duration(s).is_err(), "{s}");
        }
        assert!(parse_go_duration("10").unwrap_err().contains("\"10s\""));
        assert!(parse_go_duration("3000000h").unwrap_err().contains("too long"));
    }

    #[test]
    fn signed_nanoseconds_as_go_computes_them() {
        assert_eq!(parse_go_duration_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration_nanos("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(parse_go_duration_nanos(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration_nanos("5.s"), Ok(5_000_000_000));
        assert_eq!(parse_go_duration_nanos("0.3s"), Ok(300_000_000));
        // The fraction's nanoseconds are truncated, not rounded.
        assert_eq!(parse_go_duration_nanos("0.9999999999s"), Ok(999_999_999));
        assert_eq!(parse_go_duration_nanos("1µs1μs1us"), Ok(3_000));
        assert_eq!(parse_go_duration_nanos("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert!(parse_go_duration_nanos("2562047h47m16.854775808s").is_err());
        for s in ["", "-", ".s", "1d", "10"] {
            assert!(parse_go_duration_nanos(s).is_err(), "{s}");
        }
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(format_go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn clean_path_as_go() {
        for (input, want) in
            [("", "."), ("a/./b/../c//", "a/c"), ("/../x", "/x"), ("../../a", "../../a"), ("a/..", "."), ("//a/", "/a")]
        {
            assert_eq!(clean_path(input), want, "{input:?}");
        }
    }
}

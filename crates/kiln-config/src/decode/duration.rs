//! Go durations (`"90s"`, `"1h30m"`) as Packer's time options take them.

use std::fmt;

use serde::de::{self, Visitor};

/// A Go duration (`"90s"`, `"1h30m"`, `"500ms"`), as Packer's options such as `ssh_timeout` take.
/// A bare number is nanoseconds, as in Go; the string `"0"` is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"5m\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_go_duration(s).map(Duration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                Ok(Duration(std::time::Duration::from_nanos(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                u64::try_from(n).map_err(|_| E::custom("a duration cannot be negative")).and_then(|n| self.visit_u64(n))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
                if n < 0.0 || !n.is_finite() {
                    return Err(E::custom("a duration cannot be negative"));
                }
                Ok(Duration(std::time::Duration::from_nanos(n as u64)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Go's `time.ParseDuration` (surrounding spaces allowed); see [`crate::golang`].
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::golang::parse_go_duration(s.trim())
}

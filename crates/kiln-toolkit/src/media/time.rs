//! The one timestamp an image carries on every file, and its calendar forms.

use kiln_config::civil::DateTime;

use super::MediaError;

/// Seconds since 1970-01-01T00:00:00Z, written on every file, directory and volume of an image.
///
/// Images carry one fixed time so that the same input gives the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// 1980-01-01T00:00:00Z: the earliest time a FAT directory entry can hold.
    pub const DEFAULT: Timestamp = Timestamp(315_532_800);

    /// `SOURCE_DATE_EPOCH` when it is set (the reproducible-builds convention), else
    /// [`Timestamp::DEFAULT`]. An empty value counts as unset.
    pub fn from_env() -> Result<Timestamp, MediaError> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(value) if value.trim().is_empty() => Ok(Timestamp::DEFAULT),
            Ok(value) => {
                value.trim().parse::<u64>().map(Timestamp).map_err(|_| MediaError::BadSourceDateEpoch { value })
            }
            Err(std::env::VarError::NotPresent) => Ok(Timestamp::DEFAULT),
            Err(std::env::VarError::NotUnicode(v)) => {
                Err(MediaError::BadSourceDateEpoch { value: v.to_string_lossy().into_owned() })
            }
        }
    }

    /// `ts` when given, else [`Timestamp::from_env`].
    pub fn or_env(ts: Option<Timestamp>) -> Result<Timestamp, MediaError> {
        ts.map_or_else(Timestamp::from_env, Ok)
    }

    /// The UTC calendar date and time.
    pub(crate) fn civil(self) -> DateTime {
        DateTime::from_unix(i64::try_from(self.0).unwrap_or(i64::MAX), 0, 0, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch() {
        // The only test in this binary that reads the variable, so setting it races nothing.
        std::env::set_var("SOURCE_DATE_EPOCH", "1700000000");
        assert_eq!(Timestamp::from_env().unwrap(), Timestamp(1_700_000_000));
        std::env::set_var("SOURCE_DATE_EPOCH", "");
        assert_eq!(Timestamp::from_env().unwrap(), Timestamp::DEFAULT);
        std::env::set_var("SOURCE_DATE_EPOCH", "yesterday");
        let err = Timestamp::from_env().unwrap_err();
        assert!(err.to_string().contains("SOURCE_DATE_EPOCH is \"yesterday\""), "{err}");
        std::env::remove_var("SOURCE_DATE_EPOCH");
        assert_eq!(Timestamp::from_env().unwrap(), Timestamp::DEFAULT);
    }

    #[test]
    fn civil_dates() {
        let c = Timestamp(0).civil();
        assert_eq!((c.year, c.month, c.day, c.hour), (1970, 1, 1, 0));
        let c = Timestamp::DEFAULT.civil();
        assert_eq!((c.year, c.month, c.day), (1980, 1, 1));
        // 2024-02-29T13:14:15Z, a leap day.
        let c = Timestamp(1_709_212_455).civil();
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second), (2024, 2, 29, 13, 14, 15));
        let c = Timestamp(4_102_444_799).civil();
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second), (2099, 12, 31, 23, 59, 59));
    }
}

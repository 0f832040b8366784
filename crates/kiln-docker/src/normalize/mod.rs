//! Reproducible archives from non-reproducible engines.
//!
//! Two exports of containers holding the same files differ, on podman and Docker
//! alike, in:
//! - the mtimes of every file and directory the build touched (and of the mount
//!   points the engine creates: podman's `/run/.containerenv`, `/etc/hosts`,
//!   `/etc/resolv.conf`, `/etc/hostname`; Docker's `/.dockerenv` and the same `/etc` files);
//! - the order of entries in directories written during the build (the engine walks
//!   the overlay's upper directory in the filesystem's hash order);
//! - user and group *names*, which the engine looks up when it writes the archive.
//!
//! A `docker save` archive adds, per image: the config's `created` time, the ID of
//! the container it was committed from, the history's times, the order of the
//! environment (podman 4.3 writes a commit's `Env` from a Go map, so two commits of
//! the same container list it in different orders), and every digest that hashes
//! them (config name, image ID), plus each layer tarball's own mtimes.
//!
//! [`normalize_tar`] rewrites a tarball with entries sorted by path, mtimes clamped
//! (or set) to one value, names of users and groups dropped (numeric IDs stay), and
//! access/change times and other PAX noise dropped (extended attributes stay).
//! [`normalize_save`] does that to every layer of a `docker save` archive and
//! rewrites the configs and manifest to match.

mod save;
mod tarball;

pub use save::normalize_save;
pub use tarball::{normalize_tar, normalize_tar_stream};

/// What to do with each entry's modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mtime {
    /// Times later than this (seconds since the epoch) become this; older ones stay.
    /// The reproducible-builds convention (`tar --clamp-mtime`).
    Clamp(u64),
    /// Every entry gets this time.
    Set(u64),
}

impl Mtime {
    fn apply(self, mtime: u64) -> u64 {
        match self {
            Mtime::Clamp(t) => mtime.min(t),
            Mtime::Set(t) => t,
        }
    }

    fn time(self) -> u64 {
        match self {
            Mtime::Clamp(t) | Mtime::Set(t) => t,
        }
    }

    /// `Clamp` to `SOURCE_DATE_EPOCH` when it is set to a number of seconds.
    pub fn from_source_date_epoch() -> Option<Mtime> {
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()).map(Mtime::Clamp)
    }
}

/// RFC 3339 UTC text for a Unix time (image configs store times this way).
pub(crate) fn rfc3339(secs: u64) -> String {
    kiln_config::civil::DateTime::from_unix(i64::try_from(secs).unwrap_or(i64::MAX), 0, 0, true).rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn mtime_policies() {
        assert_eq!(Mtime::Clamp(100).apply(50), 50);
        assert_eq!(Mtime::Clamp(100).apply(150), 100);
        assert_eq!(Mtime::Set(100).apply(50), 100);
    }
}

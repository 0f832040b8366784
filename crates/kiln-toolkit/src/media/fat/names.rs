//! FAT names: which long names a FAT volume can hold, their 8.3 short names (Microsoft's
//! basis name with a numeric tail `~N`), and the VFAT long-name entries that carry them.

use std::collections::HashSet;

use crate::media::MediaError;

/// The longest long name, in UTF-16 units.
pub(crate) const MAX_LONG: usize = 255;

/// Checks that `name` can be a FAT long name: no `" * / : < > ? \ |` or control characters,
/// no trailing dot or space (Windows drops them, so the file could not be opened there).
pub(crate) fn check_long_name(name: &str, path: &str) -> Result<(), MediaError> {
    let bad = |reason: String| MediaError::BadName { path: path.to_string(), medium: "FAT floppy", reason };
    if let Some(c) = name.chars().find(|c| (*c as u32) < 0x20 || "\"*/:<>?\\|".contains(*c)) {
        return Err(bad(format!("FAT names cannot contain {c:?}")));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(bad("FAT names cannot end with a dot or a space".into()));
    }
    let units = name.encode_utf16().count();
    if units > MAX_LONG {
        return Err(bad(format!("it is {units} UTF-16 units long, FAT names have at most {MAX_LONG}")));
    }
    Ok(())
}

/// Characters a short name may hold besides `A-Z` and `0-9`.
const SHORT_EXTRA: &str = "!#$%&'()-@^_`{}~";

/// Short names already given in one directory.
#[derive(Default)]
pub(crate) struct ShortNames {
    used: HashSet<[u8; 11]>,
}

impl ShortNames {
    /// The 11-byte short name for `long`, unique in this directory, and whether the long name
    /// needs VFAT entries (it is not exactly the short name).
    pub fn assign(&mut self, long: &str) -> ([u8; 11], bool) {
        let upper: String = long.chars().map(|c| c.to_ascii_uppercase()).collect();
        // Spaces go, leading dots go; the last dot separates the extension.
        let trimmed: String = upper.chars().filter(|&c| c != ' ').collect();
        let trimmed = trimmed.trim_start_matches('.');
        let mut lossy = trimmed.len() != upper.len();
        let (base, ext) = match trimmed.rfind('.') {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (trimmed, ""),
        };
        let mut map = |s: &str| -> Vec<u8> {
            s.chars()
                .filter(|&c| c != '.')
                .map(|c| {
                    if c.is_ascii_uppercase() || c.is_ascii_digit() || SHORT_EXTRA.contains(c) {
                        c as u8
                    } else {
                        lossy = true;
                        b'_'
                    }
                })
                .collect()
        };
        let mut base = map(base);
        let mut ext = map(ext);
        lossy |= base.len() > 8 || ext.len() > 3 || base.is_empty() || base.len() + ext.len() + 1 < trimmed.len();
        if base.is_empty() {
            base.push(b'_');
        }
        ext.truncate(3);
        let pack = |base: &[u8]| {
            let mut name = [b' '; 11];
            name[..base.len().min(8)].copy_from_slice(&base[..base.len().min(8)]);
            name[8..8 + ext.len()].copy_from_slice(&ext);
            name
        };
        let mut short = pack(&base);
        if lossy || self.used.contains(&short) {
            for n in 1u32.. {
                let tail = format!("~{n}");
                let keep = base.len().min(8 - tail.len());
                base.truncate(keep);
                let candidate = pack(&[&base[..keep], tail.as_bytes()].concat());
                if !self.used.contains(&candidate) {
                    short = candidate;
                    break;
                }
            }
        }
        self.used.insert(short);
        (short, display(&short) != long)
    }
}

/// A short name as it reads: `NAME.EXT`, or `NAME` without an extension.
pub(crate) fn display(short: &[u8; 11]) -> String {
    let base = String::from_utf8_lossy(&short[..8]).trim_end().to_string();
    let ext = String::from_utf8_lossy(&short[8..]).trim_end().to_string();
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// The checksum of a short name that ties long-name entries to it.
pub(crate) fn checksum(short: &[u8; 11]) -> u8 {
    short.iter().fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// The long-name entries for `long`, in on-disk order (the last part first).
pub(crate) fn lfn_entries(long: &str, short: &[u8; 11]) -> Vec<[u8; 32]> {
    let mut units: Vec<u16> = long.encode_utf16().collect();
    let parts = units.len().div_ceil(13);
    // A name that fills its last entry has no terminator; otherwise NUL, then 0xFFFF padding.
    if units.len() % 13 != 0 {
        units.push(0);
    }
    units.resize(parts * 13, 0xFFFF);
    let sum = checksum(short);
    (0..parts)
        .rev()
        .map(|i| {
            let mut e = [0u8; 32];
            e[0] = (i + 1) as u8 | if i + 1 == parts { 0x40 } else { 0 };
            e[11] = 0x0F;
            e[13] = sum;
            let chunk = &units[i * 13..i * 13 + 13];
            let slots = (1..11).step_by(2).chain((14..26).step_by(2)).chain((28..32).step_by(2));
            for (slot, unit) in slots.zip(chunk) {
                e[slot..slot + 2].copy_from_slice(&unit.to_le_bytes());
            }
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(names: &[&str]) -> Vec<(String, bool)> {
        let mut s = ShortNames::default();
        names.iter().map(|n| s.assign(n)).map(|(n, lfn)| (display(&n), lfn)).collect()
    }

    #[test]
    fn short_names_follow_the_basis_name_rules() {
        assert_eq!(
            short(&[
                "README.TXT",
                "readme.txt",
                "Autounattend.xml",
                "meta-data",
                "meta-data2",
                "a.b.c",
                ".bashrc",
                "x+y",
                "été"
            ]),
            [
                ("README.TXT".into(), false),
                ("README~1.TXT".into(), true),
                ("AUTOUN~1.XML".into(), true),
                ("META-D~1".into(), true),
                ("META-D~2".into(), true),
                ("AB~1.C".into(), true),
                ("BASHRC~1".into(), true),
                ("X_Y~1".into(), true),
                ("_T_~1".into(), true),
            ]
        );
        assert_eq!(short(&["user-data"]), [("USER-D~1".to_string(), true)]);
        assert_eq!(short(&["setup.exe"]), [("SETUP.EXE".to_string(), true)]);
    }

    #[test]
    fn checksum_of_a_known_name() {
        // Rotate-right-and-add over "README  TXT".
        let mut sum = 0u8;
        for b in b"README  TXT" {
            sum = ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(*b);
        }
        assert_eq!(checksum(b"README  TXT"), sum);
    }

    #[test]
    fn lfn_entries_hold_the_name_in_13_unit_parts() {
        let e = lfn_entries("Autounattend.xml", b"AUTOUN~1XML");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0][0], 0x42);
        assert_eq!(e[1][0], 0x01);
        assert_eq!(&e[1][1..3], &[b'A', 0]);
        // "xml" ends in part 2, then the terminator and padding.
        assert_eq!(&e[0][1..9], &[b'x', 0, b'm', 0, b'l', 0, 0, 0]);
        assert_eq!(&e[0][9..11], &[0xFF, 0xFF]);
        let exact = lfn_entries(&"a".repeat(13), b"AAAAAA~1   ");
        assert_eq!(exact.len(), 1);
        assert_eq!(&exact[0][30..32], &[b'a', 0]);
    }

    #[test]
    fn long_names_that_fat_cannot_hold() {
        for bad in ["a:b", "a?", "dot.", "space ", "tab\t", &"x".repeat(256)] {
            assert!(check_long_name(bad, bad).is_err(), "{bad:?}");
        }
        for good in ["user-data", "Autounattend.xml", "été", ".hidden", "a b"] {
            assert!(check_long_name(good, good).is_ok(), "{good:?}");
        }
    }
}

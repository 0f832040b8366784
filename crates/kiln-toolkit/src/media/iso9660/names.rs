//! File identifiers: ISO9660 level-1 names (8.3, upper case) for the primary tree and UCS-2
//! names for Joliet, each unique within its directory, and the order ECMA-119 sorts them in.

use std::cmp::Ordering;
use std::collections::HashSet;

/// The longest Joliet name in UCS-2 code units, not counting a file's `;1`.
pub(crate) const JOLIET_MAX: usize = 64;

/// A child's identifier in one tree, split as ECMA-119 compares it: name, then extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident<T> {
    pub name: Vec<T>,
    pub ext: Vec<T>,
    pub is_dir: bool,
}

impl Ident<u8> {
    /// The bytes of the file identifier field: `NAME.EXT;1` for files, `NAME` for directories.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.name.clone();
        if !self.is_dir {
            out.push(b'.');
            out.extend_from_slice(&self.ext);
            out.extend_from_slice(b";1");
        }
        out
    }
}

impl Ident<u16> {
    /// The UCS-2 big-endian bytes of the Joliet file identifier (`name;1` for files).
    pub fn bytes(&self) -> Vec<u8> {
        let mut units = self.name.clone();
        if !self.ext.is_empty() {
            units.push(u16::from(b'.'));
            units.extend_from_slice(&self.ext);
        }
        if !self.is_dir {
            units.extend([u16::from(b';'), u16::from(b'1')]);
        }
        units.iter().flat_map(|u| u.to_be_bytes()).collect()
    }
}

/// ECMA-119 9.3 order: by name, then extension, each padded with spaces.
pub(crate) fn ecma_cmp<T: Copy + Ord + From<u8>>(a: &Ident<T>, b: &Ident<T>) -> Ordering {
    padded_cmp(&a.name, &b.name).then_with(|| padded_cmp(&a.ext, &b.ext))
}

fn padded_cmp<T: Copy + Ord + From<u8>>(a: &[T], b: &[T]) -> Ordering {
    let space = T::from(b' ');
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).copied().unwrap_or(space).cmp(&b.get(i).copied().unwrap_or(space)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Level-1 identifiers for the children of one directory, in the order given.
pub(crate) fn level1(children: &[(&str, bool)]) -> Vec<Ident<u8>> {
    let mut used = HashSet::new();
    children
        .iter()
        .map(|&(name, is_dir)| {
            let (stem, ext) = if is_dir { (name, "") } else { split_ext(name) };
            let stem = d_chars(stem, 8);
            let ext = d_chars(ext, 3);
            let stem = if stem.is_empty() { b"_".to_vec() } else { stem };
            let stem = unique(stem, 8, |s| !used.contains(&(s.to_vec(), ext.clone())), |n| n.to_string().into_bytes());
            used.insert((stem.clone(), ext.clone()));
            Ident { name: stem, ext, is_dir }
        })
        .collect()
}

/// Joliet identifiers for the children of one directory, in the order given: the name itself in
/// UCS-2, with the characters Joliet forbids (`* / : ; ? \` and controls) as `_`, and names
/// over 64 units shortened (keeping a short extension).
pub(crate) fn joliet(children: &[(&str, bool)]) -> Vec<Ident<u16>> {
    let mut used: HashSet<Vec<u16>> = HashSet::new();
    children
        .iter()
        .map(|&(name, is_dir)| {
            let mut units: Vec<u16> = name
                .encode_utf16()
                .map(|u| if u < 0x20 || "*/:;?\\".encode_utf16().any(|f| f == u) { u16::from(b'_') } else { u })
                .collect();
            // Windows drops trailing dots; drop them here so two names cannot end up as one.
            while units.last() == Some(&u16::from(b'.')) {
                units.pop();
            }
            if units.is_empty() {
                units.push(u16::from(b'_'));
            }
            // Keep the extension separately so shortening and de-duplication leave it alone.
            let dot = units.iter().rposition(|&u| u == u16::from(b'.')).filter(|&i| i > 0 && units.len() - i <= 9);
            let (stem, ext) = match dot {
                Some(i) => (units[..i].to_vec(), units[i..].to_vec()),
                None => (units.clone(), Vec::new()),
            };
            let room = JOLIET_MAX - ext.len();
            let mut stem = stem;
            stem.truncate(room);
            let full = |s: &[u16]| [s, &ext[..]].concat();
            let stem = unique(stem, room, |s| !used.contains(&full(s)), |n| format!("~{n}").encode_utf16().collect());
            used.insert(full(&stem));
            let (name, ext) = split_units(&full(&stem));
            Ident { name, ext, is_dir }
        })
        .collect()
}

fn split_units(units: &[u16]) -> (Vec<u16>, Vec<u16>) {
    match units.iter().rposition(|&u| u == u16::from(b'.')) {
        Some(i) => (units[..i].to_vec(), units[i + 1..].to_vec()),
        None => (units.to_vec(), Vec::new()),
    }
}

/// `stem` itself when `free(stem)`, else the first `stem` shortened to make room for a numbered
/// `suffix(n)` within `max` units that is free.
fn unique<T: Clone>(stem: Vec<T>, max: usize, free: impl Fn(&[T]) -> bool, suffix: impl Fn(u64) -> Vec<T>) -> Vec<T> {
    if free(&stem) {
        return stem;
    }
    let mut n = 1u64;
    loop {
        let tail = suffix(n);
        let keep = stem.len().min(max.saturating_sub(tail.len()));
        let candidate: Vec<T> = stem[..keep].iter().cloned().chain(tail).collect();
        if free(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// `name` split at its last dot; a leading dot starts the name, not an extension.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    }
}

/// Upper-case d-characters (`A-Z 0-9 _`), others as `_`, at most `max` of them.
fn d_chars(s: &str, max: usize) -> Vec<u8> {
    s.chars()
        .map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9' | '_') => c as u8,
            _ => b'_',
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l1(names: &[(&str, bool)]) -> Vec<String> {
        level1(names).iter().map(|i| String::from_utf8(i.bytes()).unwrap()).collect()
    }

    #[test]
    fn level1_names_are_8_3_and_unique() {
        assert_eq!(
            l1(&[("user-data", false), ("user-data.bak", false), ("meta-data", false), ("autounattend.xml", false)]),
            ["USER_DAT.;1", "USER_DAT.BAK;1", "META_DAT.;1", "AUTOUNAT.XML;1"]
        );
        assert_eq!(
            l1(&[("network-config", false), ("network-configs", false), ("NETWORK_", true)]),
            ["NETWORK_.;1", "NETWORK1.;1", "NETWORK2"]
        );
        assert_eq!(l1(&[(".bashrc", false), ("a.b.c", false), ("été", true)]), ["_BASHRC.;1", "A_B.C;1", "_T_"]);
    }

    #[test]
    fn joliet_names_keep_case_and_stay_within_64() {
        let long = format!("{}.xml", "a".repeat(80));
        let ids = joliet(&[
            ("Autounattend.xml", false),
            (&long, false),
            (&format!("{}.xml", "a".repeat(81)), false),
            ("a:b", true),
        ]);
        let text: Vec<String> = ids
            .iter()
            .map(|i| {
                String::from_utf16(&i.bytes().chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>())
                    .unwrap()
            })
            .collect();
        assert_eq!(text[0], "Autounattend.xml;1");
        assert_eq!(text[1], format!("{}.xml;1", "a".repeat(60)));
        assert_eq!(text[2], format!("{}~1.xml;1", "a".repeat(58)));
        assert_eq!(text[3], "a_b");
    }

    #[test]
    fn ecma_order_compares_name_then_extension() {
        let ids = level1(&[("a.b", false), ("a", false), ("ab", false)]);
        let mut sorted = ids.clone();
        sorted.sort_by(ecma_cmp);
        let names: Vec<String> = sorted.iter().map(|i| String::from_utf8(i.bytes()).unwrap()).collect();
        assert_eq!(names, ["A.;1", "A.B;1", "AB.;1"]);
    }
}

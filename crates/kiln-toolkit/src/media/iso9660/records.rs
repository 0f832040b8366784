//! Byte layouts of ECMA-119 (volume descriptors, directory records, path tables, dates) and of
//! the Rock Ridge (RRIP 1.09 over SUSP 1.10) entries in a record's system use area.

use crate::media::time::Timestamp;

pub(crate) const SECTOR: usize = 2048;

pub(crate) fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

pub(crate) fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// The 7-byte recording date of directory records and Rock Ridge TF entries (UTC).
pub(crate) fn date7(ts: Timestamp) -> [u8; 7] {
    let c = ts.civil();
    let year = (c.year - 1900).clamp(0, 255) as u8;
    [year, c.month as u8, c.day as u8, c.hour as u8, c.minute as u8, c.second as u8, 0]
}

/// The 17-byte date of volume descriptors: `YYYYMMDDHHMMSScc` in digits, then the zone (UTC).
pub(crate) fn date17(ts: Option<Timestamp>) -> [u8; 17] {
    let mut out = [b'0'; 17];
    out[16] = 0;
    if let Some(ts) = ts {
        let c = ts.civil();
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}00",
            c.year.clamp(1, 9999),
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second
        );
        out[..16].copy_from_slice(text.as_bytes());
    }
    out
}

/// A directory record. `system_use` is appended after the identifier (and its pad byte) and
/// the record is padded to an even length.
pub(crate) fn dir_record(ident: &[u8], lba: u32, size: u32, is_dir: bool, ts: Timestamp, system_use: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(record_len(ident.len(), system_use.len()));
    r.push(0); // length, set below
    r.push(0); // extended attribute record length
    r.extend_from_slice(&both32(lba));
    r.extend_from_slice(&both32(size));
    r.extend_from_slice(&date7(ts));
    r.push(if is_dir { 2 } else { 0 });
    r.push(0); // file unit size
    r.push(0); // interleave gap
    r.extend_from_slice(&both16(1)); // volume sequence number
    r.push(ident.len() as u8);
    r.extend_from_slice(ident);
    if ident.len() % 2 == 0 {
        r.push(0);
    }
    r.extend_from_slice(system_use);
    if r.len() % 2 == 1 {
        r.push(0);
    }
    r[0] = r.len() as u8;
    r
}

/// The length of a directory record with an identifier of `ident` bytes and `su` bytes of
/// system use, padding included.
pub(crate) fn record_len(ident: usize, su: usize) -> usize {
    let base = 33 + ident + usize::from(ident % 2 == 0);
    (base + su + 1) & !1
}

/// A path table record; `big_endian` for the M table.
pub(crate) fn path_record(ident: &[u8], lba: u32, parent: u16, big_endian: bool) -> Vec<u8> {
    let mut r = vec![ident.len() as u8, 0];
    if big_endian {
        r.extend_from_slice(&lba.to_be_bytes());
        r.extend_from_slice(&parent.to_be_bytes());
    } else {
        r.extend_from_slice(&lba.to_le_bytes());
        r.extend_from_slice(&parent.to_le_bytes());
    }
    r.extend_from_slice(ident);
    if ident.len() % 2 == 1 {
        r.push(0);
    }
    r
}

pub(crate) fn path_record_len(ident: usize) -> usize {
    8 + ident + ident % 2
}

/// Which volume descriptor: the primary (ISO9660 names) or Joliet's supplementary one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Volume {
    Primary,
    Joliet,
}

pub(crate) struct Descriptor<'a> {
    pub volume: Volume,
    /// Already in the volume's encoding (ASCII or UCS-2 big-endian), at most 32 bytes.
    pub volume_id: &'a [u8],
    pub sectors: u32,
    pub path_table_size: u32,
    pub l_table: u32,
    pub m_table: u32,
    pub root_record: Vec<u8>,
    pub ts: Timestamp,
}

/// A primary (type 1) or Joliet supplementary (type 2) volume descriptor.
pub(crate) fn descriptor(d: &Descriptor<'_>) -> Vec<u8> {
    let mut s = vec![0u8; SECTOR];
    let joliet = d.volume == Volume::Joliet;
    s[0] = if joliet { 2 } else { 1 };
    s[1..6].copy_from_slice(b"CD001");
    s[6] = 1;
    // Text fields: spaces in the volume's encoding.
    let blank = |s: &mut [u8]| {
        for (i, b) in s.iter_mut().enumerate() {
            *b = if joliet && i % 2 == 0 { 0 } else { b' ' };
        }
    };
    blank(&mut s[8..40]); // system identifier
    blank(&mut s[40..72]);
    s[40..40 + d.volume_id.len()].copy_from_slice(d.volume_id);
    s[80..88].copy_from_slice(&both32(d.sectors));
    if joliet {
        s[88..91].copy_from_slice(b"%/E"); // UCS-2 level 3
    }
    s[120..124].copy_from_slice(&both16(1)); // volume set size
    s[124..128].copy_from_slice(&both16(1)); // volume sequence number
    s[128..132].copy_from_slice(&both16(SECTOR as u16));
    s[132..140].copy_from_slice(&both32(d.path_table_size));
    s[140..144].copy_from_slice(&d.l_table.to_le_bytes());
    s[148..152].copy_from_slice(&d.m_table.to_be_bytes());
    s[156..156 + d.root_record.len()].copy_from_slice(&d.root_record);
    // Volume set, publisher, data preparer, application (128 bytes each); copyright,
    // abstract, bibliographic file identifiers (37 bytes each).
    blank(&mut s[190..702]);
    for field in [702..739, 739..776, 776..813] {
        blank(&mut s[field]);
    }
    s[813..830].copy_from_slice(&date17(Some(d.ts))); // creation
    s[830..847].copy_from_slice(&date17(Some(d.ts))); // modification
    s[847..864].copy_from_slice(&date17(None)); // expiration
    s[864..881].copy_from_slice(&date17(None)); // effective
    s[881] = 1; // file structure version
    s
}

pub(crate) fn terminator() -> Vec<u8> {
    let mut s = vec![0u8; SECTOR];
    s[0] = 255;
    s[1..6].copy_from_slice(b"CD001");
    s[6] = 1;
    s
}

// Rock Ridge / SUSP entries.

pub(crate) fn sp() -> Vec<u8> {
    vec![b'S', b'P', 7, 1, 0xBE, 0xEF, 0]
}

/// RRIP 1.09's "RR" entry: which Rock Ridge entries the record carries.
pub(crate) fn rr(with_name: bool) -> Vec<u8> {
    const PX: u8 = 1;
    const NM: u8 = 8;
    const TF: u8 = 128;
    vec![b'R', b'R', 5, 1, PX | TF | if with_name { NM } else { 0 }]
}

pub(crate) fn px(mode: u32, links: u32) -> Vec<u8> {
    let mut e = vec![b'P', b'X', 36, 1];
    for v in [mode, links, 0, 0] {
        e.extend_from_slice(&both32(v));
    }
    e
}

/// Modification, access and attribute-change times.
pub(crate) fn tf(ts: Timestamp) -> Vec<u8> {
    let mut e = vec![b'T', b'F', 26, 1, 0x0E];
    for _ in 0..3 {
        e.extend_from_slice(&date7(ts));
    }
    e
}

/// The name as one or more NM entries (an entry holds at most 250 bytes of it).
pub(crate) fn nm(name: &[u8]) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = name.chunks(250).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let continues = u8::from(i + 1 < chunks.len());
            let mut e = vec![b'N', b'M', 5 + chunk.len() as u8, 1, continues];
            e.extend_from_slice(chunk);
            e
        })
        .collect()
}

/// The extension reference that names the Rock Ridge version (RRIP 1.09: `RRIP_1991A`).
pub(crate) fn er() -> Vec<u8> {
    const ID: &[u8] = b"RRIP_1991A";
    const DESCRIPTION: &[u8] = b"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
    const SOURCE: &[u8] = b"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";
    let len = 8 + ID.len() + DESCRIPTION.len() + SOURCE.len();
    let mut e = vec![b'E', b'R', len as u8, 1, ID.len() as u8, DESCRIPTION.len() as u8, SOURCE.len() as u8, 1];
    e.extend_from_slice(ID);
    e.extend_from_slice(DESCRIPTION);
    e.extend_from_slice(SOURCE);
    e
}

pub(crate) const CE_LEN: usize = 28;

/// A continuation entry: the rest of the system use area is `len` bytes at `offset` in `lba`.
pub(crate) fn ce(lba: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut e = vec![b'C', b'E', CE_LEN as u8, 1];
    e.extend_from_slice(&both32(lba));
    e.extend_from_slice(&both32(offset));
    e.extend_from_slice(&both32(len));
    e
}

/// Splits a record's SUSP entries between the record (at most `room` bytes) and a
/// continuation area; returns `(in the record, continued)`. When anything is continued the
/// record needs room for a CE entry too.
pub(crate) fn split_system_use(entries: Vec<Vec<u8>>, room: usize) -> (Vec<u8>, Vec<u8>) {
    let total: usize = entries.iter().map(Vec::len).sum();
    if total <= room {
        return (entries.concat(), Vec::new());
    }
    let mut inline = Vec::new();
    let mut continued = Vec::new();
    for e in entries {
        if continued.is_empty() && inline.len() + e.len() + CE_LEN <= room {
            inline.extend_from_slice(&e);
        } else {
            continued.extend_from_slice(&e);
        }
    }
    (inline, continued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date7(Timestamp(1_709_212_455)), [124, 2, 29, 13, 14, 15, 0]);
        assert_eq!(&date17(Some(Timestamp(1_709_212_455)))[..16], b"2024022913141500");
        assert_eq!(date17(None), *b"0000000000000000\0");
    }

    #[test]
    fn record_lengths_are_even_and_match() {
        for ident in 1..40 {
            for su in [0, 1, 27, 100] {
                let r = dir_record(&vec![b'A'; ident], 1, 2, false, Timestamp::DEFAULT, &vec![0; su]);
                assert_eq!(r.len(), record_len(ident, su));
                assert_eq!(r.len() % 2, 0);
                assert_eq!(r[0] as usize, r.len());
            }
        }
    }

    #[test]
    fn long_names_go_to_the_continuation_area() {
        let name = vec![b'n'; 255];
        let mut entries = vec![rr(true), px(0o100644, 1), tf(Timestamp::DEFAULT)];
        entries.extend(nm(&name));
        let room = 254 - (33 + 14 + 1);
        let (inline, continued) = split_system_use(entries, room);
        assert_eq!(inline.len(), 5 + 36 + 26);
        assert_eq!(continued.len(), 255 + 5 + 5);
        assert!(inline.len() + CE_LEN <= room);
    }
}

//! Rewriting one tarball into its canonical form.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::Mtime;

/// One entry, as read from the input: where its data is and what to write for it.
struct Record {
    path: Vec<u8>,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    offset: u64,
    link: Option<Vec<u8>>,
    device: Option<(u32, u32)>,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Rewrites the tarball `input` into `output` in canonical form (see the module
/// docs); returns the number of entries. `output` is written whole or not at all.
pub fn normalize_tar(input: &Path, output: &Path, mtime: Mtime) -> io::Result<usize> {
    let mut src = io::BufReader::with_capacity(1 << 20, File::open(input)?);
    let tmp = output.with_extension("normalizing");
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let n = normalize_tar_stream(&mut src, &mut out, mtime)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, output)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`normalize_tar`] over any seekable input and any output.
pub fn normalize_tar_stream<R: Read + Seek, W: Write>(input: &mut R, output: W, mtime: Mtime) -> io::Result<usize> {
    let records = read_records(input)?;
    let records = relink(records);
    let mut builder = tar::Builder::new(output);
    let n = records.len();
    for rec in &records {
        write_record(&mut builder, input, rec, mtime)?;
    }
    builder.into_inner()?.flush()?;
    Ok(n)
}

/// Paths as compared and written: no leading `./` or `/`, no trailing `/`.
fn clean_path(raw: &[u8]) -> Vec<u8> {
    let mut p = raw;
    loop {
        if let Some(rest) = p.strip_prefix(b"./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix(b"/") {
            p = rest;
        } else {
            break;
        }
    }
    while let Some(rest) = p.strip_suffix(b"/") {
        p = rest;
    }
    p.to_vec()
}

fn read_records<R: Read + Seek>(input: &mut R) -> io::Result<Vec<Record>> {
    input.seek(SeekFrom::Start(0))?;
    let mut archive = tar::Archive::new(&mut *input);
    // Later entries for the same path replace earlier ones, as when extracting.
    let mut by_path: BTreeMap<Vec<u8>, Record> = BTreeMap::new();
    for entry in archive.entries_with_seek()? {
        let mut entry = entry?;
        let header = entry.header();
        let kind = header.entry_type();
        if matches!(kind, tar::EntryType::GNUSparse) {
            return Err(io::Error::other("sparse tar entries are not supported"));
        }
        let path = clean_path(&entry.path_bytes());
        if path.is_empty() || path == b"." {
            continue; // the archive's own root: never extracted as an entry
        }
        let mode = header.mode()?;
        let uid = header.uid()?;
        let gid = header.gid()?;
        let mtime = header.mtime()?;
        let device = match kind {
            tar::EntryType::Char | tar::EntryType::Block => {
                Some((header.device_major()?.unwrap_or(0), header.device_minor()?.unwrap_or(0)))
            }
            _ => None,
        };
        let link = entry.link_name_bytes().map(|l| match kind {
            tar::EntryType::Link => clean_path(&l),
            _ => l.into_owned(),
        });
        let size = entry.size();
        let offset = entry.raw_file_position();
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                if let Ok(key) = ext.key() {
                    if key.starts_with("SCHILY.xattr.") || key.starts_with("LIBARCHIVE.xattr.") {
                        xattrs.push((key.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        xattrs.sort();
        by_path.insert(path.clone(), Record { path, kind, mode, uid, gid, mtime, size, offset, link, device, xattrs });
    }
    Ok(by_path.into_values().collect())
}

/// Sorted by path, a hard link can come before the file it names, which no
/// extractor accepts. In each group of hard-linked names, the first in order becomes
/// the file and the others link to it.
fn relink(mut records: Vec<Record>) -> Vec<Record> {
    let index: HashMap<Vec<u8>, usize> = records.iter().enumerate().map(|(i, r)| (r.path.clone(), i)).collect();
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.kind == tar::EntryType::Link {
            if let Some(&t) = r.link.as_ref().and_then(|l| index.get(l)) {
                groups.entry(t).or_default().push(i);
            }
        }
    }
    for (target, links) in groups {
        let first = links.iter().copied().min().unwrap_or(target).min(target);
        if first == target {
            continue;
        }
        // `first` takes over the file's content and metadata; the rest point at it.
        let first_path = records[first].path.clone();
        let file = &records[target];
        let (kind, mode, uid, gid, mtime, size, offset, xattrs) =
            (file.kind, file.mode, file.uid, file.gid, file.mtime, file.size, file.offset, file.xattrs.clone());
        let r = &mut records[first];
        (r.kind, r.mode, r.uid, r.gid, r.mtime, r.size, r.offset, r.xattrs, r.link) =
            (kind, mode, uid, gid, mtime, size, offset, xattrs, None);
        for &i in links.iter().chain(std::iter::once(&target)) {
            if i != first {
                let r = &mut records[i];
                r.kind = tar::EntryType::Link;
                r.size = 0;
                r.link = Some(first_path.clone());
            }
        }
    }
    records
}

fn write_record<R: Read + Seek, W: Write>(
    builder: &mut tar::Builder<W>,
    input: &mut R,
    rec: &Record,
    mtime: Mtime,
) -> io::Result<()> {
    let mut path = String::from_utf8_lossy(&rec.path).into_owned();
    if rec.kind == tar::EntryType::Directory {
        path.push('/');
    }
    if !rec.xattrs.is_empty() {
        let mut data = Vec::new();
        for (key, value) in &rec.xattrs {
            data.extend_from_slice(&pax_record(key, value));
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime.time());
        builder.append_data(&mut h, "././@PaxHeader", data.as_slice())?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(rec.kind);
    h.set_mode(rec.mode & 0o7777);
    h.set_uid(rec.uid);
    h.set_gid(rec.gid);
    h.set_mtime(mtime.apply(rec.mtime));
    if let Some((major, minor)) = rec.device {
        h.set_device_major(major)?;
        h.set_device_minor(minor)?;
    }
    match (&rec.link, rec.kind) {
        (Some(link), tar::EntryType::Symlink | tar::EntryType::Link) => {
            h.set_size(0);
            let link = String::from_utf8_lossy(link).into_owned();
            builder.append_link(&mut h, &path, link)
        }
        _ if has_data(rec.kind) => {
            h.set_size(rec.size);
            input.seek(SeekFrom::Start(rec.offset))?;
            let mut data = (&mut *input).take(rec.size);
            builder.append_data(&mut h, &path, &mut data)
        }
        _ => {
            h.set_size(0);
            builder.append_data(&mut h, &path, io::empty())
        }
    }
}

fn has_data(kind: tar::EntryType) -> bool {
    matches!(kind, tar::EntryType::Regular | tar::EntryType::Continuous)
}

/// One PAX record: `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + body.to_string().len();
    if len.to_string().len() + body != len {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn entry(
        b: &mut tar::Builder<Vec<u8>>,
        path: &str,
        kind: tar::EntryType,
        data: &[u8],
        mtime: u64,
        link: Option<&str>,
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_mtime(mtime);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_username("builder").unwrap();
        h.set_size(data.len() as u64);
        match link {
            Some(l) => b.append_link(&mut h, path, l).unwrap(),
            None => b.append_data(&mut h, path, data).unwrap(),
        }
    }

    fn sample(order: &[usize], mtime: u64) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        type Item = (&'static str, tar::EntryType, &'static [u8], Option<&'static str>);
        let items: [Item; 4] = [
            ("etc/", tar::EntryType::Directory, b"", None),
            ("etc/b.conf", tar::EntryType::Regular, b"bee\n", None),
            ("etc/a.conf", tar::EntryType::Regular, b"ay\n", None),
            ("etc/link", tar::EntryType::Symlink, b"", Some("a.conf")),
        ];
        for &i in order {
            let (path, kind, data, link) = items[i];
            // a.conf keeps an old time, to show a clamp leaves it alone.
            let t = if path == "etc/a.conf" { 1000 } else { mtime };
            entry(&mut b, path, kind, data, t, link);
        }
        // A hard link whose target sorts after it.
        entry(&mut b, "z-file", tar::EntryType::Regular, b"zzz", mtime, None);
        entry(&mut b, "m-hardlink", tar::EntryType::Link, b"", mtime, Some("z-file"));
        b.into_inner().unwrap()
    }

    fn normalized(raw: Vec<u8>, m: Mtime) -> Vec<u8> {
        let mut out = Vec::new();
        normalize_tar_stream(&mut Cursor::new(raw), &mut out, m).unwrap();
        out
    }

    #[test]
    fn order_times_and_names_no_longer_matter() {
        let a = sample(&[0, 1, 2, 3], 2_000_000_000);
        let b = sample(&[0, 3, 2, 1], 2_000_000_007);
        assert_ne!(a, b);
        let (na, nb) = (normalized(a, Mtime::Clamp(1_500_000_000)), normalized(b, Mtime::Clamp(1_500_000_000)));
        assert_eq!(na, nb);

        let mut archive = tar::Archive::new(Cursor::new(na));
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            seen.push((
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mtime().unwrap(),
                h.username().unwrap().unwrap_or("").to_string(),
                data,
            ));
        }
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["etc/", "etc/a.conf", "etc/b.conf", "etc/link", "m-hardlink", "z-file"]);
        // An old time survives a clamp; new ones are clamped; names are gone.
        assert_eq!(seen[1].1, 1000);
        assert_eq!(seen[2].1, 1_500_000_000);
        assert!(seen.iter().all(|s| s.2.is_empty()));
        // The hard link group was turned around: the first name holds the data.
        assert_eq!(seen[4].3, "zzz");
    }

    #[test]
    fn set_policy_and_pax_records() {
        let out = normalized(sample(&[0, 1, 2, 3], 5), Mtime::Set(42));
        let mut archive = tar::Archive::new(Cursor::new(out));
        for e in archive.entries().unwrap() {
            assert_eq!(e.unwrap().header().mtime().unwrap(), 42);
        }
        let rec = pax_record("SCHILY.xattr.user.k", b"v");
        let text = String::from_utf8(rec).unwrap();
        let len: usize = text.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(len, text.len());
    }
}

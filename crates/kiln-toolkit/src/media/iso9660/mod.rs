//! ISO9660 CD images with Rock Ridge (read by Linux and the BSDs) and Joliet (read by Windows).
//!
//! Three views of one tree share the file data:
//! - the primary volume: ISO9660 level-1 identifiers (`USER_DAT.;1`: upper case, 8.3, made
//!   unique with a number), for readers that know neither extension;
//! - Rock Ridge entries in the primary tree: each file's exact name (any byte but `/` and NUL,
//!   up to 255 bytes; long names continue in a continuation area), POSIX modes (0755
//!   directories, 0644 files, 0755 for a local file with an execute bit), one timestamp;
//! - a Joliet tree: names in UCS-2 with their case, up to 64 characters (longer ones are
//!   shortened keeping a short extension, and numbered `~1` when that makes two the same),
//!   `* / : ; ? \` and control characters as `_`, trailing dots dropped.
//!
//! Directories may nest deeper than ISO9660's eight levels, without Rock Ridge relocation
//! (`rr_moved`): the kernel, xorriso, isoinfo and 7-Zip read them as they are. The layout is fixed: system area, volume descriptors
//! (primary, Joliet, terminator), path tables, directory extents, Rock Ridge continuation
//! areas, then file data in the order of a depth-first walk in name order, each file in one
//! extent (so below 4 GiB). Every date is the spec's timestamp, so the same spec writes the
//! same bytes.

mod layout;
mod names;
mod records;

use std::io::Write;
use std::path::Path;

use layout::{Flat, Target, View};
use records::{Descriptor, Volume, SECTOR};

use super::time::Timestamp;
use super::tree::{copy_content, write_zeros, Dir};
use super::{create_image, MediaError, Source};

/// What goes on a CD: its label and its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdSpec {
    /// The volume label (`cd_label`), as the primary volume identifier and Joliet's: at most
    /// 32 printable ASCII characters, kept as written (cloud-init's NoCloud wants `cidata`).
    /// Joliet holds the first 16. Empty leaves the volume without a label.
    pub label: String,
    /// Destination path on the CD (`/`-separated, from the root) and where its content comes
    /// from. A later file replaces an earlier one at the same path; directories are created
    /// as needed.
    pub files: Vec<(String, Source)>,
    /// The time written on every file and on the volume; `None` reads `SOURCE_DATE_EPOCH`
    /// (else [`Timestamp::DEFAULT`]) when the image is written.
    pub timestamp: Option<Timestamp>,
}

impl CdSpec {
    /// Checks everything that can be checked without writing: the label, every path and
    /// name, sizes, and that each local file exists and is a regular file.
    pub fn check(&self) -> Result<(), MediaError> {
        let ts = Timestamp::or_env(self.timestamp)?;
        check_label(&self.label)?;
        let root = Dir::build(&self.files)?;
        Plan::new(&root, ts).map(|_| ())
    }

    /// Writes the image to `out`; returns its size in bytes. Everything [`CdSpec::check`]
    /// checks is checked before the first byte is written.
    pub fn write(&self, out: &mut dyn Write) -> Result<u64, MediaError> {
        self.write_to(out, None)
    }

    /// Writes the image to a new file at `path` (an existing file is never replaced); on
    /// error the partial file is removed.
    pub fn create(&self, path: &Path) -> Result<u64, MediaError> {
        // Check before creating the file, so a bad spec leaves nothing behind.
        self.check()?;
        create_image(path, |out, path| self.write_to(out, path))
    }

    fn write_to(&self, out: &mut dyn Write, path: Option<&Path>) -> Result<u64, MediaError> {
        let ts = Timestamp::or_env(self.timestamp)?;
        check_label(&self.label)?;
        let root = Dir::build(&self.files)?;
        let plan = Plan::new(&root, ts)?;
        plan.write(&self.label, ts, out, path)
    }
}

/// Packer passes `cd_label` to xorriso/mkisofs, which keep its case and accept up to 32
/// characters; kiln does the same but refuses what the volume identifier cannot hold.
fn check_label(label: &str) -> Result<(), MediaError> {
    let bad = |reason: String| MediaError::BadLabel { label: label.to_string(), medium: "CD", reason };
    if label.len() > 32 {
        return Err(bad(format!("it is {} bytes; a CD label has at most 32 characters", label.len())));
    }
    if let Some(c) = label.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(bad(format!("{c:?} is not a printable ASCII character; use letters, digits, _ and -")));
    }
    Ok(())
}

struct Plan<'t, 'a> {
    flat: Flat<'t, 'a>,
    primary: View,
    joliet: View,
    /// Directory index to the first sector of its extent, per view.
    primary_lba: Vec<u32>,
    joliet_lba: Vec<u32>,
    tables: [u32; 4],
    ce_lba: u32,
    file_lba: Vec<u32>,
    sectors: u32,
}

impl<'t, 'a> Plan<'t, 'a> {
    fn new(root: &'t Dir<'a>, ts: Timestamp) -> Result<Plan<'t, 'a>, MediaError> {
        let flat = Flat::new(root)?;
        let primary = View::new(&flat, true, ts);
        let joliet = View::new(&flat, false, ts);
        // A directory's size is a 32-bit field too.
        let largest = primary.sectors.iter().chain(&joliet.sectors).max().copied().unwrap_or(1);
        if u64::from(largest) * SECTOR as u64 > u64::from(u32::MAX) {
            return Err(MediaError::TooManyEntries {
                path: "a directory".into(),
                needed: u64::from(largest) * SECTOR as u64,
                limit: u64::from(u32::MAX),
                hint: "an ISO9660 directory's records must fit in 4 GiB; spread the files over more directories",
            });
        }
        let mut next: u64 = 19; // system area (16), primary, Joliet, terminator
        let mut take = |n: u64| {
            let at = next;
            next += n;
            at
        };
        let tables = [
            take(primary.path_table_sectors().into()),
            take(primary.path_table_sectors().into()),
            take(joliet.path_table_sectors().into()),
            take(joliet.path_table_sectors().into()),
        ];
        let mut primary_lba = vec![0u64; flat.dirs.len()];
        for &d in &primary.order {
            primary_lba[d] = take(primary.sectors[d].into());
        }
        let mut joliet_lba = vec![0u64; flat.dirs.len()];
        for &d in &joliet.order {
            joliet_lba[d] = take(joliet.sectors[d].into());
        }
        let ce_lba = take(primary.ce_sectors.into());
        // Empty files have no extent; they point at sector 0 with length 0.
        let file_lba: Vec<u64> = flat
            .files
            .iter()
            .map(|(f, _)| if f.size == 0 { 0 } else { take(f.size.div_ceil(SECTOR as u64)) })
            .collect();
        let sectors = next;
        if sectors > u64::from(u32::MAX) {
            return Err(MediaError::DoesNotFit {
                needed: sectors * SECTOR as u64,
                capacity: u64::from(u32::MAX) * SECTOR as u64,
                hint: "an ISO9660 volume has at most 2^32 sectors; put fewer files on the CD".into(),
            });
        }
        let narrow = |v: Vec<u64>| v.into_iter().map(|x| x as u32).collect::<Vec<u32>>();
        Ok(Plan {
            flat,
            primary,
            joliet,
            primary_lba: narrow(primary_lba),
            joliet_lba: narrow(joliet_lba),
            tables: tables.map(|x| x as u32),
            ce_lba: ce_lba as u32,
            file_lba: narrow(file_lba),
            sectors: sectors as u32,
        })
    }

    fn write(&self, label: &str, ts: Timestamp, out: &mut dyn Write, path: Option<&Path>) -> Result<u64, MediaError> {
        let werr = |source| MediaError::Write { path: path.map(Path::to_path_buf), source };
        let mut w = Counted { out, written: 0 };
        write_zeros(&mut w, 16 * SECTOR as u64).map_err(werr)?;

        let joliet_label: Vec<u8> = label.encode_utf16().take(16).flat_map(u16::to_be_bytes).collect();
        let descriptors = [
            (Volume::Primary, label.as_bytes(), &self.primary, &self.primary_lba, [self.tables[0], self.tables[1]]),
            (Volume::Joliet, &joliet_label[..], &self.joliet, &self.joliet_lba, [self.tables[2], self.tables[3]]),
        ];
        for (volume, volume_id, view, lba, [l_table, m_table]) in descriptors {
            let root_record = records::dir_record(&[0], lba[0], view.sectors[0] * SECTOR as u32, true, ts, &[]);
            let d = Descriptor {
                volume,
                volume_id,
                sectors: self.sectors,
                path_table_size: view.path_table_size,
                l_table,
                m_table,
                root_record,
                ts,
            };
            w.write_all(&records::descriptor(&d)).map_err(werr)?;
        }
        w.write_all(&records::terminator()).map_err(werr)?;

        for (view, lba) in [(&self.primary, &self.primary_lba), (&self.joliet, &self.joliet_lba)] {
            for big_endian in [false, true] {
                let mut table = Vec::with_capacity(view.path_table_size as usize);
                for &d in &view.order {
                    let parent = view.number[self.flat.dirs[d].parent];
                    table.extend(records::path_record(&view.ident[d], lba[d], parent, big_endian));
                }
                pad_sector(&mut table);
                w.write_all(&table).map_err(werr)?;
            }
        }
        for (view, lba) in [(&self.primary, &self.primary_lba), (&self.joliet, &self.joliet_lba)] {
            for &d in &view.order {
                debug_assert_eq!(w.written, u64::from(lba[d]) * SECTOR as u64);
                w.write_all(&self.extent(view, lba, ts, d)).map_err(werr)?;
            }
        }
        self.write_continuations(&mut w).map_err(werr)?;

        for (i, (file, _)) in self.flat.files.iter().enumerate() {
            if file.size == 0 {
                continue;
            }
            debug_assert_eq!(w.written, u64::from(self.file_lba[i]) * SECTOR as u64);
            copy_content(file, &mut w, path)?;
            let tail = file.size % SECTOR as u64;
            if tail != 0 {
                write_zeros(&mut w, SECTOR as u64 - tail).map_err(werr)?;
            }
        }
        debug_assert_eq!(w.written, u64::from(self.sectors) * SECTOR as u64);
        Ok(w.written)
    }

    /// A directory's extent: its records, none crossing a sector boundary.
    fn extent(&self, view: &View, lba: &[u32], ts: Timestamp, d: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(view.sectors[d] as usize * SECTOR);
        for rec in &view.records[d] {
            let (at, size, is_dir) = match rec.target {
                Target::Dir(t) => (lba[t], view.sectors[t] * SECTOR as u32, true),
                Target::File(f) => (self.file_lba[f], self.flat.files[f].0.size as u32, false),
            };
            let mut su = rec.su.clone();
            if !rec.cont.is_empty() {
                su.extend(records::ce(self.ce_lba + rec.cont_at.0, rec.cont_at.1, rec.cont.len() as u32));
            }
            let bytes = records::dir_record(&rec.ident, at, size, is_dir, ts, &su);
            if out.len() % SECTOR + bytes.len() > SECTOR {
                pad_sector(&mut out);
            }
            out.extend(bytes);
        }
        pad_sector(&mut out);
        out
    }

    fn write_continuations(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut area = vec![0u8; self.primary.ce_sectors as usize * SECTOR];
        for &d in &self.primary.order {
            for rec in self.primary.records[d].iter().filter(|r| !r.cont.is_empty()) {
                let at = rec.cont_at.0 as usize * SECTOR + rec.cont_at.1 as usize;
                area[at..at + rec.cont.len()].copy_from_slice(&rec.cont);
            }
        }
        w.write_all(&area)
    }
}

fn pad_sector(v: &mut Vec<u8>) {
    let len = v.len().div_ceil(SECTOR) * SECTOR;
    v.resize(len.max(SECTOR), 0);
}

/// Counts what passes through, to check the layout while writing.
struct Counted<'w> {
    out: &'w mut dyn Write,
    written: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

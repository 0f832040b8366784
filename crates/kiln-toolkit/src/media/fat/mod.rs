//! FAT floppy images: FAT12 on the 1.44 MB floppy Packer makes (and the other PC floppy
//! sizes), FAT12 or FAT16 on a larger superfloppy image when a size is asked for.
//!
//! Every name is kept as a VFAT long name (up to 255 characters, its case preserved) next to
//! a unique 8.3 short name built by Microsoft's basis-name rules (`AUTOUN~1.XML`); a name that
//! already is its short name (`SETUP.EXE`) has no long-name entries. FAT compares names
//! without case, so two names that differ only in case in one directory are an error, and so
//! are characters FAT cannot hold (`" * / : < > ? \ |`, controls, a trailing dot or space).
//!
//! The layout is fixed: boot sector, two FATs, the root directory, then every other
//! directory (depth first, names in byte order) and then every file's data, each in
//! consecutive clusters. Dates are the spec's timestamp and the volume serial number is
//! derived from the label and the timestamp, so the same spec writes the same bytes.

mod geometry;
mod layout;
mod names;

use std::io::Write;
use std::path::Path;

use geometry::{Geometry, FATS, RESERVED, SECTOR};
use layout::Plan;

use super::time::Timestamp;
use super::tree::{copy_content, write_zeros, Dir};
use super::{create_image, MediaError, Source};

/// What goes on a floppy: its label, its files and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloppySpec {
    /// The volume label (`floppy_label`), written to the boot sector and the root directory:
    /// at most 11 ASCII characters, kept as written, none of `" * + , . / : ; < = > ? [ \ ] |`.
    /// Empty leaves the volume without a label.
    pub label: String,
    /// Destination path on the floppy (`/`-separated, from the root) and where its content
    /// comes from. A later file replaces an earlier one at the same path.
    pub files: Vec<(String, Source)>,
    /// The image size in bytes: [`FloppySpec::SIZE_1440K`] by default. 720 KiB, 1.2 MB and
    /// 2.88 MB get their floppy formats; other sizes (a multiple of 512 from 160 KiB to
    /// 2016 MiB) a FAT12 or FAT16 superfloppy.
    pub size: u64,
    /// The time written on every file; `None` reads `SOURCE_DATE_EPOCH` (else
    /// [`Timestamp::DEFAULT`]) when the image is written.
    pub timestamp: Option<Timestamp>,
}

impl Default for FloppySpec {
    fn default() -> Self {
        FloppySpec { label: String::new(), files: Vec::new(), size: Self::SIZE_1440K, timestamp: None }
    }
}

impl FloppySpec {
    /// A 3.5" high-density floppy, the one Packer always makes.
    pub const SIZE_1440K: u64 = 1_474_560;

    /// Checks everything that can be checked without writing: label, size, every path and
    /// name, that the content fits, and that each local file exists and is a regular file.
    pub fn check(&self) -> Result<(), MediaError> {
        Timestamp::or_env(self.timestamp)?;
        let label = label_bytes(&self.label)?;
        let geometry = Geometry::for_size(self.size)?;
        let root = Dir::build(&self.files)?;
        Plan::new(&root, geometry, label.is_some()).map(|_| ())
    }

    /// Writes the image to `out`; returns its size in bytes. Everything
    /// [`FloppySpec::check`] checks is checked before the first byte is written.
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
        let label = label_bytes(&self.label)?;
        let geometry = Geometry::for_size(self.size)?;
        let root = Dir::build(&self.files)?;
        let plan = Plan::new(&root, geometry, label.is_some())?;
        write_plan(&plan, label.as_ref(), ts, out, path)
    }
}

/// Packer hands `floppy_label` to its FAT library as it is (lower case included, at most 11
/// bytes); kiln does the same and also refuses what a FAT label cannot hold.
fn label_bytes(label: &str) -> Result<Option<[u8; 11]>, MediaError> {
    let bad = |reason: String| MediaError::BadLabel { label: label.to_string(), medium: "floppy", reason };
    if label.is_empty() {
        return Ok(None);
    }
    if label.len() > 11 {
        return Err(bad(format!("it is {} bytes; a FAT label has at most 11 characters", label.len())));
    }
    if let Some(c) = label.chars().find(|&c| !(' '..='~').contains(&c) || "\"*+,./:;<=>?[\\]|".contains(c)) {
        return Err(bad(format!("{c:?} cannot be in a FAT label; use letters, digits, spaces, _ and -")));
    }
    if label.starts_with(' ') {
        return Err(bad("a FAT label cannot start with a space".into()));
    }
    let mut out = [b' '; 11];
    out[..label.len()].copy_from_slice(label.as_bytes());
    Ok(Some(out))
}

/// FNV-1a over the label and timestamp: a serial number that changes with them and only them.
fn serial(label: Option<&[u8; 11]>, ts: Timestamp) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in label.map(|l| &l[..]).unwrap_or(b"NO NAME    ").iter().chain(&ts.0.to_le_bytes()) {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    h
}

fn boot_sector(g: &Geometry, label: Option<&[u8; 11]>, ts: Timestamp) -> [u8; 512] {
    let mut s = [0u8; 512];
    s[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    s[3..11].copy_from_slice(b"MSWIN4.1");
    s[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    s[13] = g.sectors_per_cluster;
    s[14..16].copy_from_slice(&RESERVED.to_le_bytes());
    s[16] = FATS;
    s[17..19].copy_from_slice(&g.root_entries.to_le_bytes());
    if g.total_sectors < 0x10000 {
        s[19..21].copy_from_slice(&(g.total_sectors as u16).to_le_bytes());
    } else {
        s[32..36].copy_from_slice(&g.total_sectors.to_le_bytes());
    }
    s[21] = g.media;
    s[22..24].copy_from_slice(&g.fat_sectors.to_le_bytes());
    s[24..26].copy_from_slice(&g.sectors_per_track.to_le_bytes());
    s[26..28].copy_from_slice(&g.heads.to_le_bytes());
    s[36] = if g.media == 0xF8 { 0x80 } else { 0x00 };
    s[38] = 0x29;
    s[39..43].copy_from_slice(&serial(label, ts).to_le_bytes());
    s[43..54].copy_from_slice(label.unwrap_or(b"NO NAME    "));
    s[54..62].copy_from_slice(if g.fat16 { b"FAT16   " } else { b"FAT12   " });
    // Not bootable: `int 18h` asks the BIOS for the next boot device, then halt.
    s[62..67].copy_from_slice(&[0xCD, 0x18, 0xF4, 0xEB, 0xFD]);
    s[510] = 0x55;
    s[511] = 0xAA;
    s
}

fn write_plan(
    plan: &Plan<'_, '_>,
    label: Option<&[u8; 11]>,
    ts: Timestamp,
    out: &mut dyn Write,
    path: Option<&Path>,
) -> Result<u64, MediaError> {
    let werr = |source| MediaError::Write { path: path.map(Path::to_path_buf), source };
    let g = &plan.geometry;
    out.write_all(&boot_sector(g, label, ts)).map_err(werr)?;
    let fat = plan.fat_bytes();
    for _ in 0..FATS {
        out.write_all(&fat).map_err(werr)?;
    }
    out.write_all(&plan.dir_bytes(0, label, ts)).map_err(werr)?;
    for d in 1..plan.dirs.len() {
        out.write_all(&plan.dir_bytes(d, label, ts)).map_err(werr)?;
    }
    let cluster = g.cluster_bytes();
    for f in &plan.files {
        copy_content(f.file, out, path)?;
        let tail = f.file.size % cluster;
        if tail != 0 {
            write_zeros(out, cluster - tail).map_err(werr)?;
        }
    }
    let written = u64::from(g.first_data_sector()) * SECTOR + u64::from(plan.used_clusters) * cluster;
    let total = u64::from(g.total_sectors) * SECTOR;
    write_zeros(out, total - written).map_err(werr)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(label_bytes("packer").unwrap(), Some(*b"packer     "));
        assert_eq!(label_bytes("").unwrap(), None);
        for bad in ["twelve chars", "a.b", "é", " lead", "a*"] {
            assert!(label_bytes(bad).is_err(), "{bad}");
        }
    }
}

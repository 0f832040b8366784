//! The shape of a FAT volume: sectors, clusters, FAT size, root directory, BIOS geometry.

use crate::media::MediaError;

pub(crate) const SECTOR: u64 = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub total_sectors: u32,
    pub sectors_per_cluster: u8,
    pub fat_sectors: u16,
    pub root_entries: u16,
    pub media: u8,
    pub sectors_per_track: u16,
    pub heads: u16,
    pub fat16: bool,
}

/// Boot sector only.
pub(crate) const RESERVED: u16 = 1;
pub(crate) const FATS: u8 = 2;

/// The largest image: FAT16 with 32 KiB clusters.
pub(crate) const MAX_SIZE: u64 = 2 * 1024 * 1024 * 1024 - 32 * 1024 * 1024;
const MIN_SIZE: u64 = 160 * 1024;

impl Geometry {
    /// The standard PC floppy formats by size, any other size formatted as a superfloppy
    /// (FAT12 while clusters of one sector suffice, else FAT16 with the smallest clusters).
    pub fn for_size(size: u64) -> Result<Geometry, MediaError> {
        let floppy = |total, spc, fat, root, media, spt| Geometry {
            total_sectors: total,
            sectors_per_cluster: spc,
            fat_sectors: fat,
            root_entries: root,
            media,
            sectors_per_track: spt,
            heads: 2,
            fat16: false,
        };
        match size {
            737_280 => return Ok(floppy(1440, 2, 3, 112, 0xF9, 9)),
            1_228_800 => return Ok(floppy(2400, 1, 7, 224, 0xF9, 15)),
            1_474_560 => return Ok(floppy(2880, 1, 9, 224, 0xF0, 18)),
            2_949_120 => return Ok(floppy(5760, 2, 9, 240, 0xF0, 36)),
            _ => {}
        }
        let bad = |reason: String| MediaError::BadSize { size, reason };
        if size % SECTOR != 0 {
            return Err(bad("the size must be a multiple of 512 bytes".into()));
        }
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(bad(format!("the size must be between {MIN_SIZE} and {MAX_SIZE} bytes")));
        }
        let total = (size / SECTOR) as u32;
        let root_entries = 512u16;
        for spc in [1u8, 2, 4, 8, 16, 32, 64] {
            for fat16 in [false, true] {
                if !fat16 && spc > 2 {
                    continue;
                }
                let mut g = Geometry {
                    total_sectors: total,
                    sectors_per_cluster: spc,
                    fat_sectors: 1,
                    root_entries,
                    media: 0xF8,
                    sectors_per_track: 32,
                    heads: 64,
                    fat16,
                };
                // Grow the FAT until it covers every cluster of the space it leaves.
                loop {
                    let entries = u64::from(g.clusters()) + 2;
                    let bytes = if fat16 { entries * 2 } else { (entries * 3).div_ceil(2) };
                    let need = bytes.div_ceil(SECTOR) as u16;
                    if need <= g.fat_sectors {
                        break;
                    }
                    g.fat_sectors = need;
                }
                // Stay clear of the FAT12/FAT16 boundaries, where readers have disagreed.
                let clusters = g.clusters();
                let fits = if fat16 { (4085 + 16..=65524 - 16).contains(&clusters) } else { clusters <= 4084 - 16 };
                if fits {
                    return Ok(g);
                }
            }
        }
        Err(bad("no FAT12 or FAT16 layout fits it".into()))
    }

    pub fn root_sectors(&self) -> u32 {
        u32::from(self.root_entries) * 32 / SECTOR as u32
    }

    pub fn first_data_sector(&self) -> u32 {
        u32::from(RESERVED) + u32::from(FATS) * u32::from(self.fat_sectors) + self.root_sectors()
    }

    /// Clusters in the data area (numbered from 2).
    pub fn clusters(&self) -> u32 {
        self.total_sectors.saturating_sub(self.first_data_sector()) / u32::from(self.sectors_per_cluster)
    }

    pub fn cluster_bytes(&self) -> u64 {
        u64::from(self.sectors_per_cluster) * SECTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_floppy() {
        let g = Geometry::for_size(1_474_560).unwrap();
        assert_eq!(g.first_data_sector(), 33);
        assert_eq!(g.clusters(), 2847);
        assert!(!g.fat16);
    }

    #[test]
    fn other_sizes() {
        let g = Geometry::for_size(1024 * 1024).unwrap();
        assert!(!g.fat16 && g.sectors_per_cluster == 1);
        let g = Geometry::for_size(16 * 1024 * 1024).unwrap();
        assert!(g.fat16 && g.sectors_per_cluster == 1);
        let g = Geometry::for_size(MAX_SIZE).unwrap();
        assert!(g.fat16 && g.clusters() <= 65508);
        for size in (MIN_SIZE..64 * 1024 * 1024).step_by(777 * 512) {
            let g = Geometry::for_size(size).unwrap();
            let entries = u64::from(g.clusters()) + 2;
            let bytes = if g.fat16 { entries * 2 } else { entries * 3 / 2 + 1 };
            assert!(u64::from(g.fat_sectors) * SECTOR >= bytes, "{size}: {g:?}");
        }
        assert!(Geometry::for_size(1000).is_err());
        assert!(Geometry::for_size(MAX_SIZE + 512).is_err());
    }
}

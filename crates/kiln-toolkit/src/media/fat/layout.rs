//! Where everything goes on a FAT volume: names per directory, directory sizes, cluster
//! chains, and the bytes of directories and FATs.

use std::collections::HashMap;

use super::geometry::Geometry;
use super::names::{self, ShortNames};
use crate::media::time::Timestamp;
use crate::media::tree::{Dir, File, Node};
use crate::media::MediaError;

const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
/// A directory other than the root holds at most this many entries.
const MAX_DIR_ENTRIES: u64 = 65_536;

pub(crate) struct Plan<'t, 'a> {
    pub geometry: Geometry,
    /// Index 0 is the root; then depth first in name order, which is also their cluster order.
    pub dirs: Vec<PlanDir>,
    /// In cluster order (after every directory).
    pub files: Vec<PlanFile<'t, 'a>>,
    /// Clusters in use, from cluster 2.
    pub used_clusters: u32,
}

pub(crate) struct PlanDir {
    pub parent: usize,
    pub entries: Vec<Entry>,
    pub first_cluster: u32,
    pub clusters: u32,
}

pub(crate) struct Entry {
    pub short: [u8; 11],
    pub long: Vec<[u8; 32]>,
    pub target: Target,
}

#[derive(Clone, Copy)]
pub(crate) enum Target {
    Dir(usize),
    File(usize),
}

pub(crate) struct PlanFile<'t, 'a> {
    pub file: &'t File<'a>,
    pub first_cluster: u32,
    pub clusters: u32,
}

impl<'t, 'a> Plan<'t, 'a> {
    pub fn new(root: &'t Dir<'a>, geometry: Geometry, has_label: bool) -> Result<Plan<'t, 'a>, MediaError> {
        let mut plan = Plan { geometry, dirs: Vec::new(), files: Vec::new(), used_clusters: 0 };
        plan.add(root, 0, "")?;

        let root_needed = u64::from(has_label) + entry_count(&plan.dirs[0]);
        if root_needed > u64::from(geometry.root_entries) {
            return Err(MediaError::TooManyEntries {
                path: "/".into(),
                needed: root_needed,
                limit: geometry.root_entries.into(),
                hint: "the root directory of a FAT12/FAT16 volume has a fixed size and a long name takes one more entry per 13 characters; move files into a directory or shorten their names",
            });
        }
        let cluster_bytes = geometry.cluster_bytes();
        let mut next: u64 = 2;
        for d in 1..plan.dirs.len() {
            let bytes = (2 + entry_count(&plan.dirs[d])) * 32;
            let clusters = bytes.div_ceil(cluster_bytes).max(1);
            plan.dirs[d].first_cluster = next as u32;
            plan.dirs[d].clusters = clusters as u32;
            next += clusters;
        }
        for f in &mut plan.files {
            let clusters = f.file.size.div_ceil(cluster_bytes);
            if clusters > 0 {
                f.first_cluster = next.min(u64::from(u32::MAX)) as u32;
                f.clusters = clusters.min(u64::from(u32::MAX)) as u32;
            }
            next += clusters;
        }
        let used = next - 2;
        let capacity = u64::from(geometry.clusters());
        if used > capacity {
            return Err(MediaError::DoesNotFit {
                needed: used * cluster_bytes,
                capacity: capacity * cluster_bytes,
                hint: "directories and files take whole clusters; leave out large files (serve them with http_directory, upload them with the file provisioner, or put them on a CD with cd_files)".into(),
            });
        }
        plan.used_clusters = used as u32;
        Ok(plan)
    }

    fn add(&mut self, dir: &'t Dir<'a>, parent: usize, path: &str) -> Result<usize, MediaError> {
        let index = self.dirs.len();
        // Checked again with long names counted below; this bound keeps numeric tails short.
        if dir.children.len() as u64 > MAX_DIR_ENTRIES {
            return Err(too_many(path, dir.children.len() as u64));
        }
        self.dirs.push(PlanDir { parent, entries: Vec::new(), first_cluster: 0, clusters: 0 });
        // FAT compares names without case: two names that differ only in case are one name.
        let mut seen: HashMap<String, &str> = HashMap::new();
        let mut shorts = ShortNames::default();
        let mut entries = Vec::with_capacity(dir.children.len());
        for (name, node) in &dir.children {
            let child_path = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
            names::check_long_name(name, &child_path)?;
            if let Some(other) = seen.insert(name.to_uppercase(), name) {
                return Err(MediaError::Conflict {
                    path: child_path,
                    reason: format!(
                        "FAT names ignore case, so {other:?} and {name:?} are the same name on a floppy; rename one"
                    ),
                });
            }
            let (short, needs_long) = shorts.assign(name);
            let long = if needs_long { names::lfn_entries(name, &short) } else { Vec::new() };
            let target = match node {
                Node::Dir(sub) => Target::Dir(self.add(sub, index, &child_path)?),
                Node::File(file) => {
                    self.files.push(PlanFile { file, first_cluster: 0, clusters: 0 });
                    Target::File(self.files.len() - 1)
                }
            };
            entries.push(Entry { short, long, target });
        }
        let needed = 2 + entries.iter().map(|e| 1 + e.long.len() as u64).sum::<u64>();
        if index != 0 && needed > MAX_DIR_ENTRIES {
            return Err(too_many(path, needed));
        }
        self.dirs[index].entries = entries;
        Ok(index)
    }

    /// The bytes of directory `d`: the root's fixed region, or whole clusters.
    pub fn dir_bytes(&self, d: usize, label: Option<&[u8; 11]>, ts: Timestamp) -> Vec<u8> {
        let dir = &self.dirs[d];
        let mut out = Vec::new();
        if d == 0 {
            if let Some(label) = label {
                out.extend(short_entry(label, ATTR_VOLUME_ID, 0, 0, ts));
            }
        } else {
            let parent = if dir.parent == 0 { 0 } else { self.dirs[dir.parent].first_cluster };
            out.extend(short_entry(b".          ", ATTR_DIRECTORY, dir.first_cluster, 0, ts));
            out.extend(short_entry(b"..         ", ATTR_DIRECTORY, parent, 0, ts));
        }
        for e in &dir.entries {
            for l in &e.long {
                out.extend_from_slice(l);
            }
            let (attr, cluster, size) = match e.target {
                Target::Dir(s) => (ATTR_DIRECTORY, self.dirs[s].first_cluster, 0),
                Target::File(f) => (ATTR_ARCHIVE, self.files[f].first_cluster, self.files[f].file.size as u32),
            };
            out.extend(short_entry(&e.short, attr, cluster, size, ts));
        }
        let len = if d == 0 {
            usize::from(self.geometry.root_entries) * 32
        } else {
            dir.clusters as usize * self.geometry.cluster_bytes() as usize
        };
        out.resize(len, 0);
        out
    }

    /// One copy of the file allocation table.
    pub fn fat_bytes(&self) -> Vec<u8> {
        let g = &self.geometry;
        let eoc: u32 = if g.fat16 { 0xFFFF } else { 0xFFF };
        let mut table = vec![0u32; self.used_clusters as usize + 2];
        table[0] = if g.fat16 { 0xFF00 } else { 0xF00 } | u32::from(g.media);
        table[1] = eoc;
        let chains = self.dirs[1..].iter().map(|d| (d.first_cluster, d.clusters));
        for (first, count) in chains.chain(self.files.iter().map(|f| (f.first_cluster, f.clusters))) {
            for c in first..first + count {
                table[c as usize] = if c + 1 == first + count { eoc } else { c + 1 };
            }
        }
        let mut out = vec![0u8; usize::from(g.fat_sectors) * 512];
        for (n, &v) in table.iter().enumerate() {
            if g.fat16 {
                out[n * 2..n * 2 + 2].copy_from_slice(&(v as u16).to_le_bytes());
            } else {
                let at = n * 3 / 2;
                if n % 2 == 0 {
                    out[at] = v as u8;
                    out[at + 1] = (out[at + 1] & 0xF0) | ((v >> 8) as u8 & 0x0F);
                } else {
                    out[at] = (out[at] & 0x0F) | ((v << 4) as u8);
                    out[at + 1] = (v >> 4) as u8;
                }
            }
        }
        out
    }
}

fn too_many(path: &str, needed: u64) -> MediaError {
    MediaError::TooManyEntries {
        path: format!("/{path}"),
        needed,
        limit: MAX_DIR_ENTRIES,
        hint: "a FAT directory holds at most 65536 entries (a long name takes one more per 13 characters); split the directory",
    }
}

fn entry_count(dir: &PlanDir) -> u64 {
    dir.entries.iter().map(|e| 1 + e.long.len() as u64).sum()
}

/// A short (8.3) directory entry.
fn short_entry(name: &[u8; 11], attr: u8, cluster: u32, size: u32, ts: Timestamp) -> [u8; 32] {
    let (date, time, tenths) = dos_time(ts);
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = attr;
    if attr != ATTR_VOLUME_ID {
        e[13] = tenths;
        e[14..16].copy_from_slice(&time.to_le_bytes());
        e[16..18].copy_from_slice(&date.to_le_bytes());
        e[18..20].copy_from_slice(&date.to_le_bytes());
    }
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[22..24].copy_from_slice(&time.to_le_bytes());
    e[24..26].copy_from_slice(&date.to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// DOS date, time (two-second steps) and the creation time's hundredths, clamped to the years
/// FAT can hold (1980-2107).
fn dos_time(ts: Timestamp) -> (u16, u16, u8) {
    let c = ts.civil();
    if c.year < 1980 {
        return ((1 << 5) | 1, 0, 0);
    }
    if c.year > 2107 {
        return ((127 << 9) | (12 << 5) | 31, (23 << 11) | (59 << 5) | 29, 100);
    }
    let date = (((c.year - 1980) as u16) << 9) | ((c.month as u16) << 5) | c.day as u16;
    let time = ((c.hour as u16) << 11) | ((c.minute as u16) << 5) | (c.second / 2) as u16;
    (date, time, (c.second % 2 * 100) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        // 2024-02-29T13:14:15Z
        let (date, time, tenths) = dos_time(Timestamp(1_709_212_455));
        assert_eq!(date, (44 << 9) | (2 << 5) | 29);
        assert_eq!(time, (13 << 11) | (14 << 5) | 7);
        assert_eq!(tenths, 100);
        assert_eq!(dos_time(Timestamp(0)).0, (1 << 5) | 1);
    }
}

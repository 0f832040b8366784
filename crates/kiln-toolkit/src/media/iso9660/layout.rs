//! Where everything goes: the tree flattened into numbered directories and files, each tree
//! (primary with Rock Ridge, Joliet) with its identifiers, records, path table and sectors.
//!
//! Sizes never depend on sector addresses, so the layout is sized first and placed second.

use super::names::{self, ecma_cmp, Ident};
use super::records::{self, path_record_len, record_len, split_system_use, CE_LEN, SECTOR};
use crate::media::time::Timestamp;
use crate::media::tree::{Dir, File, Node};
use crate::media::MediaError;

/// The tree as numbered directories (index 0 is the root, then depth-first in name order) and
/// files (in the order their data is written).
pub(crate) struct Flat<'t, 'a> {
    pub dirs: Vec<FlatDir<'t>>,
    pub files: Vec<(&'t File<'a>, String)>,
}

pub(crate) struct FlatDir<'t> {
    pub parent: usize,
    pub children: Vec<(&'t str, Target)>,
    pub subdirs: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Dir(usize),
    File(usize),
}

impl<'t, 'a> Flat<'t, 'a> {
    pub fn new(root: &'t Dir<'a>) -> Result<Flat<'t, 'a>, MediaError> {
        let mut flat = Flat { dirs: Vec::new(), files: Vec::new() };
        flat.add(root, 0, "")?;
        if flat.dirs.len() > usize::from(u16::MAX) {
            return Err(MediaError::TooManyEntries {
                path: "/".into(),
                needed: flat.dirs.len() as u64,
                limit: u64::from(u16::MAX),
                hint: "an ISO9660 path table numbers at most 65535 directories; put fewer directories on the CD",
            });
        }
        Ok(flat)
    }

    fn add(&mut self, dir: &'t Dir<'a>, parent: usize, path: &str) -> Result<usize, MediaError> {
        let index = self.dirs.len();
        self.dirs.push(FlatDir { parent, children: Vec::new(), subdirs: 0 });
        let mut children = Vec::with_capacity(dir.children.len());
        for (name, node) in &dir.children {
            let child_path = format!("{path}/{name}");
            let target = match node {
                Node::Dir(sub) => Target::Dir(self.add(sub, index, &child_path)?),
                Node::File(file) => {
                    if file.size > u64::from(u32::MAX) {
                        return Err(MediaError::FileTooLarge {
                            path: child_path,
                            size: file.size,
                            limit: u64::from(u32::MAX),
                            hint: "ISO9660 files of 4 GiB and more need multi-extent files, which this writer does not make; split the file or serve it over http_directory",
                        });
                    }
                    self.files.push((file, child_path));
                    Target::File(self.files.len() - 1)
                }
            };
            children.push((name.as_str(), target));
        }
        self.dirs[index].subdirs = children.iter().filter(|(_, t)| matches!(t, Target::Dir(_))).count() as u32;
        self.dirs[index].children = children;
        Ok(index)
    }
}

/// One directory record before addresses are known.
pub(crate) struct Rec {
    pub ident: Vec<u8>,
    pub target: Target,
    /// System use bytes kept in the record (without the CE entry).
    pub su: Vec<u8>,
    /// System use bytes moved to a continuation area, and where they go (sector relative to
    /// the continuation area's start, offset).
    pub cont: Vec<u8>,
    pub cont_at: (u32, u32),
}

impl Rec {
    pub fn len(&self) -> usize {
        record_len(self.ident.len(), self.su.len() + if self.cont.is_empty() { 0 } else { CE_LEN })
    }
}

/// One tree (primary or Joliet) laid out.
pub(crate) struct View {
    /// Directory indices in path table order (which is also the order their extents are written).
    pub order: Vec<usize>,
    /// Directory index to its number in the path table (1-based).
    pub number: Vec<u16>,
    /// Directory index to its identifier within its parent (the root's is `[0]`).
    pub ident: Vec<Vec<u8>>,
    /// Directory index to its records: `.`, `..`, then children in ECMA-119 order.
    pub records: Vec<Vec<Rec>>,
    pub sectors: Vec<u32>,
    pub path_table_size: u32,
    /// Sectors of continuation areas (only the primary tree has Rock Ridge entries).
    pub ce_sectors: u32,
}

/// Rock Ridge's POSIX mode and link count of a target.
pub(crate) fn posix(flat: &Flat<'_, '_>, target: Target) -> (u32, u32) {
    match target {
        Target::Dir(d) => (0o040755, 2 + flat.dirs[d].subdirs),
        Target::File(f) => (if flat.files[f].0.executable { 0o100755 } else { 0o100644 }, 1),
    }
}

impl View {
    /// `rock_ridge`: the primary tree (level-1 names plus Rock Ridge); otherwise Joliet.
    pub fn new(flat: &Flat<'_, '_>, rock_ridge: bool, ts: Timestamp) -> View {
        let n = flat.dirs.len();
        let mut ident = vec![vec![0u8]; n];
        let mut sorted: Vec<Vec<(Vec<u8>, usize)>> = Vec::with_capacity(n);
        for dir in &flat.dirs {
            let kinds: Vec<(&str, bool)> =
                dir.children.iter().map(|(name, t)| (*name, matches!(t, Target::Dir(_)))).collect();
            // Child positions with their identifiers, sorted as ECMA-119 wants.
            let mut order: Vec<(Vec<u8>, usize)> = if rock_ridge {
                let ids = names::level1(&kinds);
                let mut idx: Vec<usize> = (0..ids.len()).collect();
                idx.sort_by(|&a, &b| ecma_cmp(&ids[a], &ids[b]));
                idx.into_iter().map(|i| (ids[i].bytes(), i)).collect()
            } else {
                let ids: Vec<Ident<u16>> = names::joliet(&kinds);
                let mut idx: Vec<usize> = (0..ids.len()).collect();
                idx.sort_by(|&a, &b| ecma_cmp(&ids[a], &ids[b]));
                idx.into_iter().map(|i| (ids[i].bytes(), i)).collect()
            };
            for (id, i) in &mut order {
                if let Target::Dir(d) = dir.children[*i].1 {
                    ident[d] = id.clone();
                }
            }
            sorted.push(order);
        }

        // Path table order: breadth first with children in identifier order, which is the
        // order ECMA-119 prescribes (level, then parent's number, then identifier).
        let mut order = vec![0usize];
        let mut number = vec![0u16; n];
        let mut i = 0;
        while i < order.len() {
            let d = order[i];
            number[d] = (i + 1) as u16;
            for (_, c) in &sorted[d] {
                if let Target::Dir(sub) = flat.dirs[d].children[*c].1 {
                    order.push(sub);
                }
            }
            i += 1;
        }

        let mut records = Vec::with_capacity(n);
        let mut sectors = Vec::with_capacity(n);
        for (d, dir) in flat.dirs.iter().enumerate() {
            let mut recs = Vec::with_capacity(sorted[d].len() + 2);
            let special = [(vec![0u8], Target::Dir(d)), (vec![1u8], Target::Dir(dir.parent))];
            for (k, (id, target)) in special.into_iter().enumerate() {
                let mut entries = Vec::new();
                if rock_ridge {
                    if d == 0 && k == 0 {
                        entries.push(records::sp());
                    }
                    let (mode, links) = posix(flat, target);
                    entries.extend([records::rr(false), records::px(mode, links), records::tf(ts)]);
                    if d == 0 && k == 0 {
                        entries.push(records::er());
                    }
                }
                recs.push(rec(id, target, entries));
            }
            for (id, c) in &sorted[d] {
                let (name, target) = dir.children[*c];
                let mut entries = Vec::new();
                if rock_ridge {
                    let (mode, links) = posix(flat, target);
                    entries.extend([records::rr(true), records::px(mode, links), records::tf(ts)]);
                    entries.extend(records::nm(name.as_bytes()));
                }
                recs.push(rec(id.clone(), target, entries));
            }
            sectors.push(extent_sectors(&recs));
            records.push(recs);
        }

        let path_table_size = order.iter().map(|&d| path_record_len(ident[d].len()) as u32).sum();
        let mut view = View { order, number, ident, records, sectors, path_table_size, ce_sectors: 0 };
        view.place_continuations();
        view
    }

    /// Packs continuation areas into sectors; an area never crosses a sector boundary (Linux
    /// refuses one that does).
    fn place_continuations(&mut self) {
        let (mut sector, mut offset, mut used) = (0u32, 0usize, false);
        for &d in &self.order {
            for rec in &mut self.records[d] {
                if rec.cont.is_empty() {
                    continue;
                }
                if offset + rec.cont.len() > SECTOR {
                    sector += 1;
                    offset = 0;
                }
                rec.cont_at = (sector, offset as u32);
                offset += rec.cont.len();
                used = true;
            }
        }
        self.ce_sectors = if used { sector + 1 } else { 0 };
    }

    pub fn path_table_sectors(&self) -> u32 {
        (self.path_table_size as usize).div_ceil(SECTOR) as u32
    }
}

fn rec(ident: Vec<u8>, target: Target, entries: Vec<Vec<u8>>) -> Rec {
    // The longest even record is 254 bytes.
    let room = 254 - record_len(ident.len(), 0);
    let (su, cont) = split_system_use(entries, room);
    Rec { ident, target, su, cont, cont_at: (0, 0) }
}

/// Sectors a directory's records take; a record never crosses a sector boundary.
fn extent_sectors(recs: &[Rec]) -> u32 {
    let (mut sectors, mut pos) = (1u32, 0usize);
    for r in recs {
        if pos + r.len() > SECTOR {
            sectors += 1;
            pos = 0;
        }
        pos += r.len();
    }
    sectors
}

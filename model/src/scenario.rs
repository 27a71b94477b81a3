//! A scenario: the initial file state (geometry, mount options, inodes with their extents
//! and cached pages) and the actors with their programs. [`Scenario::build`] checks it and
//! makes the initial [`State`]; an error names the field at fault.

use crate::fs::ext4::extents::{Extent, ExtentMap, ExtentState};
use crate::fs::ext4::super_::{Geometry, Mount};
use crate::inline_vec::InlineVec;
use crate::limits::{
    ACTORS_MAX, EXT_INIT_MAX_LEN, EXT_MAX_BLOCKS, EXT_UNWRITTEN_MAX_LEN, INODES_MAX, LOFF_T_MAX,
    OPS_PER_ACTOR_MAX, REQUEST_BLOCKS_MAX, SEGMENTS_MAX, SSIZE_T_MAX,
};
use crate::mm::filemap::page_from_disk;
use crate::ops::{Frame, Op};
use crate::patches::Patches;
use crate::state::{Actor, Committed, Data, Disk, Inode, PageList, State};
use crate::vec_map::VecMap;

/// One inode at the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InodeSpec {
    /// The inode's address (`ino % 37` picks the aio_mutex / ioend_wq bucket).
    pub ino: u32,
    /// `EXT4_INODE_EXTENTS`.
    pub extents: bool,
    /// `S_SYNC`.
    pub s_sync: bool,
    /// `ext4_direct_IO` returns 0 (encrypted or inline data).
    pub dio_refused: bool,
    /// `i_size` (= `i_disksize`, committed).
    pub i_size: u64,
    /// Extents (Written ones hold the file's initial data).
    pub extents_at_start: Vec<Extent>,
    /// Page indexes cached (clean) at the start.
    pub cached_pages: Vec<u64>,
}

/// The initial file state and the actors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Superblock geometry.
    pub geometry: Geometry,
    /// Mount options.
    pub mount: Mount,
    /// The inodes.
    pub inodes: Vec<InodeSpec>,
    /// Each actor's program.
    pub actors: Vec<Vec<Op>>,
    /// The upstream fixes applied to the 4.4.121 model ([`crate::patches`]).
    pub patches: Patches,
}

/// A scenario the model cannot start from, naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The field, e.g. `inodes[0].extents[1].pblk`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn error<T>(field: impl Into<String>, reason: impl Into<String>) -> Result<T, ScenarioError> {
    Err(ScenarioError {
        field: field.into(),
        reason: reason.into(),
    })
}

impl Scenario {
    /// Checks the scenario and makes the initial state. Writes are tagged 1, 2, … in actor
    /// and program order.
    pub fn build(&self) -> Result<State, ScenarioError> {
        let g = self.geometry;
        g.validate(&self.mount).map_err(|e| ScenarioError {
            field: e.field.into(),
            reason: e.reason,
        })?;
        if self.inodes.is_empty() || self.inodes.len() > INODES_MAX {
            return error(
                "inodes",
                format!("{} inodes; 1..={INODES_MAX} are allowed", self.inodes.len()),
            );
        }
        if self.actors.len() > ACTORS_MAX {
            return error(
                "actors",
                format!("{} actors; at most {ACTORS_MAX}", self.actors.len()),
            );
        }
        let mut disk = Disk::new(&g);
        let mut inodes = Vec::new();
        for (i, spec) in self.inodes.iter().enumerate() {
            inodes.push(self.build_inode(i, spec, &mut disk)?);
        }
        let mut state = State {
            geometry: g,
            mount: self.mount,
            inodes,
            disk,
            aio_mutex: VecMap::new(),
            bios: VecMap::new().into(),
            dios: VecMap::new(),
            io_ends: VecMap::new().into(),
            work: VecMap::new(),
            actors: self.build_actors()?.into_iter().map(Into::into).collect(),
            next_id: 0,
            crashed: false,
            journal: crate::state::Journal::new(),
            hazard: None,
            patches: self.patches,
        };
        for (i, spec) in self.inodes.iter().enumerate() {
            for &index in &spec.cached_pages {
                let page = page_from_disk(&state, i, index);
                state.inodes[i].pages.insert(index, page);
            }
        }
        state.assert_invariants();
        Ok(state)
    }

    fn build_inode(
        &self,
        i: usize,
        spec: &InodeSpec,
        disk: &mut Disk,
    ) -> Result<Inode, ScenarioError> {
        let g = self.geometry;
        let mut map = ExtentMap::default();
        for (k, e) in spec.extents_at_start.iter().enumerate() {
            self.place_extent((i, k), spec, e, (&mut map, disk))?;
        }
        if spec.i_size > g.s_maxbytes() {
            return error(format!("inodes[{i}].i_size"), "past s_maxbytes");
        }
        let bitmap_limit = g.s_bitmap_maxbytes();
        if !spec.extents && spec.i_size > 0 && i128::from(spec.i_size) > i128::from(bitmap_limit) {
            return error(
                format!("inodes[{i}].i_size"),
                format!(
                    "{} is past s_bitmap_maxbytes ({bitmap_limit} for {}-byte blocks in 4.4's loff_t arithmetic): \
                     no write can make a block-mapped file that large",
                    spec.i_size,
                    g.blocksize()
                ),
            );
        }
        let eof_pages = spec.i_size.div_ceil(g.pagesize());
        if let Some((k, &index)) = spec
            .cached_pages
            .iter()
            .enumerate()
            .find(|(_, index)| **index >= eof_pages)
        {
            return error(
                format!("inodes[{i}].cached_pages[{k}]"),
                format!(
                    "page {index} lies past EOF (i_size {}): 4.4 caches no page there",
                    spec.i_size
                ),
            );
        }
        Ok(Inode {
            ino: spec.ino,
            extents: spec.extents,
            s_sync: spec.s_sync,
            dio_refused: spec.dio_refused,
            state_dio_unwritten: false,
            state_dioread_lock: false,
            as_eio: false,
            wb_err: 0,
            i_size: spec.i_size,
            i_disksize: spec.i_size,
            orphan: false,
            i_mutex: None,
            i_data_sem: Default::default(),
            invalidate_lock: Default::default(),
            i_dio_count: 0,
            i_unwritten: 0,
            i_ioend_count: 0,
            i_private: None,
            committed: Committed {
                map: map.clone(),
                i_disksize: spec.i_size,
                orphan: false,
            },
            map: map.into(),
            pages: VecMap::new().into(),
            sync_dirty: false,
            datasync_dirty: false,
            committing: (false, false, false),
            ordered: false,
        })
    }

    /// Checks extent `k` of inode `i` and puts it on the disk (Written blocks hold the
    /// inode's initial data).
    fn place_extent(
        &self,
        (i, k): (usize, usize),
        spec: &InodeSpec,
        e: &Extent,
        (map, disk): (&mut ExtentMap, &mut Disk),
    ) -> Result<(), ScenarioError> {
        let blocks = self.check_extent((i, k), spec, e, (map, disk))?;
        self.put_on_disk(i, spec, e, blocks, disk);
        map.insert(*e, false, false);
        Ok(())
    }

    /// Checks extent `k` of inode `i` against 4.4's types, the disk, the other extents and
    /// what 4.4 can reach; returns its physical blocks.
    fn check_extent(
        &self,
        (i, k): (usize, usize),
        spec: &InodeSpec,
        e: &Extent,
        (map, disk): (&ExtentMap, &Disk),
    ) -> Result<std::ops::Range<u64>, ScenarioError> {
        let g = self.geometry;
        let field = format!("inodes[{i}].extents[{k}]");
        if e.len == 0 {
            return error(format!("{field}.len"), "an extent has at least one block");
        }
        // ee_block and ee_len are 32 and 16 bits: an extent ends at or below EXT_MAX_BLOCKS
        // and holds at most EXT_INIT_MAX_LEN (written) or EXT_UNWRITTEN_MAX_LEN blocks.
        if e.lblk
            .checked_add(e.len)
            .is_none_or(|end| end > EXT_MAX_BLOCKS)
        {
            return error(
                format!("{field}.lblk"),
                format!("lblk + len is past EXT_MAX_BLOCKS ({EXT_MAX_BLOCKS})"),
            );
        }
        let max_len = match e.state {
            ExtentState::Written => EXT_INIT_MAX_LEN,
            ExtentState::Unwritten => EXT_UNWRITTEN_MAX_LEN,
        };
        if e.len > max_len {
            return error(
                format!("{field}.len"),
                format!(
                    "{} blocks; a {} extent holds at most {max_len}",
                    e.len, e.state
                ),
            );
        }
        let end = u64::from(e.pblk).checked_add(e.len);
        let Some(blocks) = end
            .filter(|&end| end <= u64::from(g.disk_blocks))
            .map(|end| u64::from(e.pblk)..end)
        else {
            return error(format!("{field}.pblk"), "outside the disk or already used");
        };
        if blocks.clone().any(|b| !disk.free[b as usize]) {
            return error(format!("{field}.pblk"), "outside the disk or already used");
        }
        if map
            .extents
            .iter()
            .any(|x| x.lblk < e.end() && e.lblk < x.end())
        {
            return error(format!("{field}.lblk"), "overlaps another extent");
        }
        if !spec.extents && e.state == ExtentState::Unwritten {
            return error(
                format!("{field}.state"),
                "a block-mapped file has no unwritten extents",
            );
        }
        let eof_block = spec.i_size.div_ceil(g.blocksize());
        if e.state == ExtentState::Written && e.end() > eof_block {
            return error(
                format!("{field}.lblk"),
                format!(
                    "a written extent reaches block {} past the block holding EOF (i_size {}): \
                     4.4 keeps no written block there (ext4_truncate and a failed write's \
                     truncate free them, writeback maps nothing past EOF); use an unwritten \
                     extent, as fallocate(FALLOC_FL_KEEP_SIZE) leaves",
                    e.end() - 1,
                    spec.i_size
                ),
            );
        }
        Ok(blocks)
    }

    /// Takes the extent's blocks from the allocator; a Written block holds the inode's
    /// initial data, and the tail of the block holding EOF zeros, as
    /// `ext4_block_truncate_page` and `dio_zero_block` leave it.
    fn put_on_disk(
        &self,
        i: usize,
        spec: &InodeSpec,
        e: &Extent,
        blocks: std::ops::Range<u64>,
        disk: &mut Disk,
    ) {
        let g = self.geometry;
        let spb = g.sectors_per_block() as usize;
        for b in blocks {
            disk.free[b as usize] = false;
            if e.state == ExtentState::Written {
                let lblk = (e.lblk + (b - u64::from(e.pblk))) as u32;
                let data = Data::Initial {
                    inode: i as u8,
                    lblk,
                };
                let block_start = u64::from(lblk) << g.blkbits;
                let in_file = spec
                    .i_size
                    .saturating_sub(block_start)
                    .div_ceil(g.sectorsize());
                let sectors = &mut disk.sectors[b as usize * spb..(b as usize + 1) * spb];
                for (k, sector) in sectors.iter_mut().enumerate() {
                    *sector = if (k as u64) < in_file {
                        data
                    } else {
                        Data::Zero
                    };
                }
            }
        }
    }

    fn build_actors(&self) -> Result<Vec<Actor>, ScenarioError> {
        let mut tag = 0u8;
        let mut actors = Vec::new();
        for (a, program) in self.actors.iter().enumerate() {
            if program.len() > OPS_PER_ACTOR_MAX {
                return error(
                    format!("actors[{a}].ops"),
                    format!("more than {OPS_PER_ACTOR_MAX} operations"),
                );
            }
            let mut ops = program.clone();
            for (k, op) in ops.iter_mut().enumerate() {
                self.check_op(&format!("actors[{a}].ops[{k}]"), op)?;
                if let Op::Write(w) = op {
                    tag += 1;
                    w.tag = tag;
                }
            }
            actors.push(Actor {
                program: ops.into(),
                op: 0,
                frame: Frame::Idle,
                sleeping: None,
                results: Vec::new(),
                wb_map: None,
                fdatawait: PageList::new(),
                // do_dentry_open: f_wb_err = filemap_sample_wb_err(mapping), 0 on a new inode.
                f_wb_err: InlineVec::from_elem(0, self.inodes.len()),
            });
        }
        Ok(actors)
    }

    fn check_op(&self, field: &str, op: &Op) -> Result<(), ScenarioError> {
        let inode = match op {
            Op::Write(w) => w.inode,
            Op::Read { inode, .. } | Op::Stat { inode } | Op::Truncate { inode, .. } => *inode,
            Op::PunchHole { inode, .. } => *inode,
            Op::Fsync { inode, .. } | Op::Writeback { inode } => *inode,
            Op::Commit | Op::Crash => 0,
        };
        if inode >= self.inodes.len() {
            return error(format!("{field}.inode"), format!("no inode {inode}"));
        }
        self.check_values(field, op)
    }

    /// The bytes of a write's iovec: 1..=[`SEGMENTS_MAX`] segments, each an `ssize_t` over
    /// a buffer that does not wrap, within [`REQUEST_BLOCKS_MAX`] blocks in all.
    fn write_bytes(&self, field: &str, w: &crate::ops::WriteOp) -> Result<u64, ScenarioError> {
        if w.segments.is_empty() || w.segments.len() > SEGMENTS_MAX {
            return error(
                format!("{field}.segments"),
                format!("1..={SEGMENTS_MAX} segments"),
            );
        }
        for (k, s) in w.segments.iter().enumerate() {
            if s.len > SSIZE_T_MAX {
                return error(
                    format!("{field}.segments[{k}].len"),
                    format!("{} is past ssize_t's largest value", s.len),
                );
            }
            if s.base.checked_add(s.len).is_none() {
                return error(
                    format!("{field}.segments[{k}].base"),
                    "the buffer wraps the address space (access_ok fails)",
                );
            }
        }
        let limit = REQUEST_BLOCKS_MAX * self.geometry.blocksize();
        w.segments
            .iter()
            .try_fold(0u64, |sum, s| sum.checked_add(s.len))
            .filter(|&sum| sum <= limit)
            .map_or_else(
                || {
                    error(
                        format!("{field}.segments"),
                        format!("more than {REQUEST_BLOCKS_MAX} blocks"),
                    )
                },
                Ok,
            )
    }

    /// Each value of `op` fits the kernel type it has in 4.4 (`loff_t` offsets and ranges,
    /// `ssize_t` iovec lengths, user buffers that do not wrap) and the model's bounds; the
    /// VFS refusals that come before ext4 (`rw_verify_area`, `vfs_fallocate`,
    /// `inode_newsize_ok`) are not modelled, so such values are refused here.
    fn check_values(&self, field: &str, op: &Op) -> Result<(), ScenarioError> {
        let bs = self.geometry.blocksize();
        let s_maxbytes = self.geometry.s_maxbytes();
        let loff_t = |name: &str, value: u64| {
            if value > LOFF_T_MAX {
                error(
                    format!("{field}.{name}"),
                    format!("{value} is past loff_t's largest value {LOFF_T_MAX}"),
                )
            } else {
                Ok(())
            }
        };
        let range = |name: &str, pos: u64, len: u64| {
            loff_t("pos", pos)?;
            if pos.checked_add(len).is_none_or(|end| end > LOFF_T_MAX) {
                return error(
                    format!("{field}.{name}"),
                    format!("pos + {name} is past loff_t's largest value {LOFF_T_MAX}"),
                );
            }
            Ok(())
        };
        match op {
            Op::Write(w) => {
                let total = self.write_bytes(field, w)?;
                range("len", w.pos, total)
            }
            Op::Read { pos, len, .. } => {
                if *len > REQUEST_BLOCKS_MAX * bs {
                    return error(
                        format!("{field}.len"),
                        format!("more than {REQUEST_BLOCKS_MAX} blocks"),
                    );
                }
                range("len", *pos, *len)
            }
            Op::PunchHole { pos, len, .. } => {
                range("len", *pos, *len)?;
                if *len == 0 {
                    return error(
                        format!("{field}.len"),
                        "0: vfs_fallocate returns -EINVAL before ext4 (not modelled)",
                    );
                }
                if pos + len > s_maxbytes {
                    return error(
                        format!("{field}.len"),
                        format!(
                            "pos + len is past s_maxbytes {s_maxbytes}: vfs_fallocate returns -EFBIG before ext4 (not modelled)"
                        ),
                    );
                }
                Ok(())
            }
            Op::Truncate { size, .. } => {
                loff_t("size", *size)?;
                if *size > s_maxbytes {
                    return error(
                        format!("{field}.size"),
                        format!(
                            "past s_maxbytes {s_maxbytes}: inode_newsize_ok returns -EFBIG (not modelled)"
                        ),
                    );
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

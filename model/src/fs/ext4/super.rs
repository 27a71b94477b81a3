//! fs/ext4/super.c: superblock geometry and mount options (with fs/ext4/ext4_jbd2.h), and a
//! crash: power failure, journal replay at mount, `ext4_orphan_cleanup`. Sizes are real
//! bytes; the simulated disk is small (`disk_blocks`) so that states stay small.

use crate::fs::ext4::inode::ext4_truncate;
use crate::limits::{self, BLKBITS_MAX, BLKBITS_MIN, PAGE_BITS_MAX, PAGE_BITS_MIN};
use crate::notes::Notes;
use crate::ops::{Frame, OpResult};
use crate::state::{ActorId, BlockFlags, Disk, State};

/// The filesystem's and block device's sizes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Geometry {
    /// `i_blkbits`: log2 of the fs block size (10 = 1 KiB … 16 = 64 KiB).
    pub blkbits: u32,
    /// log2 of the device's logical sector size (`bdev_logical_block_size`).
    pub sector_bits: u32,
    /// `PAGE_SHIFT`.
    pub page_bits: u32,
    /// The `huge_file` feature (`ext4_has_feature_huge_file`).
    pub huge_file: bool,
    /// Physical blocks of the simulated disk (a model bound, not a kernel value).
    pub disk_blocks: u32,
}

/// Mount options that change the write path (fs/ext4/ext4_jbd2.h).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Mount {
    /// `-o dioread_nolock` (off by default in 4.4; needs block size == page size).
    pub dioread_nolock: bool,
    /// `MS_SYNCHRONOUS`: every inode `IS_SYNC`.
    pub sync: bool,
    /// The device is request-based: bios submitted under a plug stay on the plug list until
    /// the submitter sleeps (`blk_schedule_flush_plug`) or calls `blk_finish_plug`
    /// (block/blk-core.c). Off: a bio-based device (brd, pmem, md) dispatches each bio at
    /// submission, so any bio may complete at once.
    pub plug_holds_bios: bool,
    /// The device may fail any bio with `-EIO` (a completion task `e<n>` beside `b<n>`).
    pub bio_errors: bool,
}

/// A geometry the kernel would refuse (or the model cannot hold), naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeometryError {
    /// The field at fault, as named in a scenario file.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for GeometryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl Geometry {
    /// 4 KiB blocks on 1 KiB sectors (4 sectors a block), 4 KiB pages, 16 disk blocks.
    pub const SMALL: Geometry = Geometry {
        blkbits: 12,
        sector_bits: 10,
        page_bits: 12,
        huge_file: true,
        disk_blocks: 16,
    };

    /// `sb->s_blocksize`.
    pub fn blocksize(&self) -> u64 {
        1 << self.blkbits
    }
    /// The logical sector size.
    pub fn sectorsize(&self) -> u64 {
        1 << self.sector_bits
    }
    /// `PAGE_SIZE`.
    pub fn pagesize(&self) -> u64 {
        1 << self.page_bits
    }
    /// Sectors in one fs block.
    pub fn sectors_per_block(&self) -> u64 {
        1 << (self.blkbits - self.sector_bits)
    }
    /// Sectors in one page.
    pub fn sectors_per_page(&self) -> u64 {
        1 << (self.page_bits - self.sector_bits)
    }
    /// `sb->s_maxbytes` (extent files), fs/ext4/super.c.
    pub fn s_maxbytes(&self) -> u64 {
        limits::ext4_max_size(self.blkbits, self.huge_file)
    }
    /// `sbi->s_bitmap_maxbytes` (block-mapped files), fs/ext4/super.c; `loff_t`.
    pub fn s_bitmap_maxbytes(&self) -> i64 {
        limits::ext4_max_bitmap_size(self.blkbits, self.huge_file)
    }

    /// Checks what mount and the model accept; the error names the field.
    pub fn validate(&self, mount: &Mount) -> Result<(), GeometryError> {
        let error = |field, reason: String| Err(GeometryError { field, reason });
        if !(BLKBITS_MIN..=BLKBITS_MAX).contains(&self.blkbits) {
            return error(
                "blkbits",
                format!("{} is outside 10..=16 (1 KiB to 64 KiB)", self.blkbits),
            );
        }
        if self.sector_bits < limits::SECTOR_BITS_MIN || self.sector_bits > self.blkbits {
            return error(
                "sector_bits",
                format!("{} is outside 9..=blkbits", self.sector_bits),
            );
        }
        if self.sectors_per_block() > u64::from(limits::SECTORS_PER_BLOCK_MAX) {
            return error(
                "sector_bits",
                "more sectors a block than the model holds".into(),
            );
        }
        if !(PAGE_BITS_MIN..=PAGE_BITS_MAX).contains(&self.page_bits)
            || self.page_bits < self.blkbits
        {
            return error(
                "page_bits",
                format!("{} is outside 12..=16 or below blkbits", self.page_bits),
            );
        }
        if self.disk_blocks == 0 || self.disk_blocks > limits::DISK_BLOCKS_MAX {
            return error(
                "disk_blocks",
                format!("{} is outside 1..=64", self.disk_blocks),
            );
        }
        if mount.dioread_nolock && self.blkbits != self.page_bits {
            return error(
                "dioread_nolock",
                "mount refuses it when block size != page size".into(),
            );
        }
        Ok(())
    }
}

/// Power failure: what the committed journal and the disk hold survives; journal
/// replay, then `ext4_orphan_cleanup` truncates orphans to their on-disk size. Every other
/// actor dies; the crashing actor goes on with its program on the recovered state.
pub fn crash(state: &mut State, a: ActorId, notes: &mut Notes) {
    let g = state.geometry;
    for ino in &mut state.inodes {
        let committed = ino.committed.clone();
        ino.map = committed.map.into();
        ino.i_size = committed.i_disksize;
        ino.i_disksize = committed.i_disksize;
        ino.orphan = committed.orphan;
        ino.pages.clear();
        (ino.i_mutex, ino.i_private, ino.state_dio_unwritten) = (None, None, false);
        ino.state_dioread_lock = false;
        ino.as_eio = false;
        ino.wb_err = 0;
        (ino.i_dio_count, ino.i_unwritten, ino.i_ioend_count) = (0, 0, 0);
        ino.i_data_sem = Default::default();
        ino.invalidate_lock = Default::default();
        (ino.sync_dirty, ino.datasync_dirty, ino.ordered) = (false, false, false);
    }
    // The recovered inodes are new in memory (wb_err 0); the files are opened anew.
    state.actors.iter_mut().for_each(|a| a.f_wb_err.fill(0));
    let blocks = g.disk_blocks as usize;
    let sectors = state.disk.sectors.clone();
    let mut disk = Disk {
        sectors,
        free: BlockFlags::from_elem(true, blocks),
        freed_uncommitted: BlockFlags::from_elem(false, blocks),
    };
    for e in state.inodes.iter().flat_map(|i| i.map.extents.iter()) {
        disk.free[e.pblk as usize..(e.pblk as u64 + e.len) as usize].fill(false);
    }
    state.disk = disk;
    state.bios.clear();
    state.dios.clear();
    state.io_ends.clear();
    state.work.clear();
    state.aio_mutex.clear();
    // ext4_orphan_cleanup: ext4_truncate each orphan to its size (tail zeroing included).
    for inode in 0..state.inodes.len() {
        if state.inodes[inode].orphan {
            let size = state.inodes[inode].i_size;
            ext4_truncate(state, inode, size, notes);
        }
    }
    crate::jbd2::recovery::commit_recovered(state);
    state.crashed = true;
    kill_others(state, a);
    note!(notes, "crash: journal replayed, orphans truncated");
}

fn kill_others(state: &mut State, a: ActorId) {
    for (id, actor) in state.actors.iter_mut().enumerate() {
        actor.sleeping = None;
        actor.wb_map = None;
        if id == a as usize || actor.op >= actor.program.len() {
            continue;
        }
        if !matches!(actor.frame, Frame::Idle) {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        while actor.op < actor.program.len() {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        actor.frame = Frame::Idle;
    }
}

/// Freed physical runs as `p3+2 p7+1` (`none` when nothing was freed).
pub(crate) fn freed_text(freed: &[(u32, u64)]) -> String {
    if freed.is_empty() {
        return "none".to_string();
    }
    let runs: Vec<String> = freed.iter().map(|(p, n)| format!("p{p}+{n}")).collect();
    runs.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_field_of_an_impossible_geometry() {
        let bad = Geometry {
            blkbits: 9,
            ..Geometry::SMALL
        };
        assert_eq!(
            bad.validate(&Mount::default()).unwrap_err().field,
            "blkbits"
        );
        let bad = Geometry {
            sector_bits: 13,
            ..Geometry::SMALL
        };
        assert_eq!(
            bad.validate(&Mount::default()).unwrap_err().field,
            "sector_bits"
        );
        let small = Geometry {
            blkbits: 10,
            sector_bits: 9,
            ..Geometry::SMALL
        };
        let nolock = Mount {
            dioread_nolock: true,
            ..Mount::default()
        };
        assert_eq!(small.validate(&nolock).unwrap_err().field, "dioread_nolock");
        assert!(Geometry::SMALL.validate(&nolock).is_ok());
    }
}

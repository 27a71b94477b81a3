//! The reference: the simplest correct thing, sharing no logic with the model. It imports the
//! model's data types only. `s_maxbytes` and `s_bitmap_maxbytes` are 4.4's `ext4_max_size`
//! and `ext4_max_bitmap_size` (fs/ext4/super.c) transcribed again, in `loff_t` arithmetic;
//! size limits are `generic_write_checks` (mm/filemap.c) and the bitmap-file check of
//! `ext4_file_write_iter` written out again; the overwrite predicate is the overwrite test of
//! `ext4_file_write_iter` (fs/ext4/file.c) as a sentence; what a synced write makes durable is
//! `generic_write_sync` → `ext4_sync_file` as sentences; the file is a map from sector offset
//! to content with plain sequential semantics.

use std::collections::BTreeMap;

use model::fs::ext4::extents::{Extent, ExtentState};
use model::state::Data;

/// `2^31 - 1`: the largest offset without O_LARGEFILE.
const NON_LFS_LIMIT: u64 = 2_147_483_647;

/// `loff_t` as 4.4 computes it: a signed 64-bit value whose shifts keep the low 64 bits
/// (two's complement), computed here in 128 bits and cut back.
fn loff_t(value: i128) -> i64 {
    value as i64
}

/// `MAX_LFS_FILESIZE` of a 64-bit kernel (include/linux/fs.h).
const MAX_LFS_FILESIZE: i64 = i64::MAX;

/// `sb->s_maxbytes` of an extent-mapped file system: 4.4's `ext4_max_size(blkbits,
/// has_huge_files)` on a 64-bit kernel (64-bit `blkcnt_t`). Without huge_file `i_blocks`
/// counts 512-byte units in 32 bits; the 32-bit `ee_block` addresses `2^32 - 1` blocks.
pub fn s_maxbytes(blkbits: u32, huge_file: bool) -> u64 {
    let mut upper_limit: i64 = MAX_LFS_FILESIZE;
    if !huge_file {
        upper_limit = (1 << 32) - 1;
        upper_limit >>= blkbits - 9;
        upper_limit = loff_t(i128::from(upper_limit) << blkbits);
    }
    let mut res: i64 = (1 << 32) - 1;
    res = loff_t(i128::from(res) << blkbits);
    if res > upper_limit {
        res = upper_limit;
    }
    res as u64
}

/// `sbi->s_bitmap_maxbytes` of a block-mapped file: 4.4's `ext4_max_bitmap_size(bits,
/// has_huge_files)`, in its `loff_t` arithmetic: 12 direct blocks and three indirect trees,
/// capped by what `i_blocks` counts less the tree's own metadata blocks. For 64 KiB blocks,
/// and for 32 KiB blocks without huge_file, the cap goes negative (the subtraction, or the
/// shift past 2^63), and so does the limit (fixed in 5.14).
pub fn s_bitmap_maxbytes(bits: u32, huge_file: bool) -> i64 {
    const EXT4_NDIR_BLOCKS: i64 = 12;
    let per = |k: u32| 1i64 << (k * (bits - 2));
    let mut upper_limit: i64 = if huge_file {
        (1 << 48) - 1
    } else {
        ((1i64 << 32) - 1) >> (bits - 9)
    };
    let meta_blocks = 1 + (1 + per(1)) + (1 + per(1) + per(2));
    upper_limit -= meta_blocks;
    upper_limit = loff_t(i128::from(upper_limit) << bits);
    let mut res = EXT4_NDIR_BLOCKS + per(1) + per(2) + per(3);
    res = loff_t(i128::from(res) << bits);
    // The kernel's last cap, `MAX_LFS_FILESIZE`, is `i64::MAX` on a 64-bit kernel: a no-op.
    res.min(upper_limit)
}

/// `rw_verify_area` (fs/read_write.c) refuses a write whose `loff_t` range wraps: `pos`
/// negative or `pos + count` past `2^63 - 1` is `-EINVAL`, before the file system is called.
pub fn rw_verify_area_refuses(pos: u64, count: u64) -> bool {
    i128::from(pos) + i128::from(count) > i128::from(i64::MAX)
}

/// What a write request is, for the limit rules.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// Offset as passed.
    pub pos: u64,
    /// Bytes.
    pub len: u64,
    /// O_APPEND.
    pub append: bool,
    /// O_LARGEFILE.
    pub largefile: bool,
    /// RLIMIT_FSIZE, `None` for infinity.
    pub rlimit: Option<u64>,
}

/// What the limit rules say a write does: bytes written (or the error), SIGXFSZ, where it
/// writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Bytes written, 0, or `-EFBIG` (-27).
    pub ret: i64,
    /// SIGXFSZ is raised.
    pub sigxfsz: bool,
    /// The position written at (after O_APPEND).
    pub pos: u64,
}

/// The outcome of a write under `generic_write_checks` and the bitmap-file check, given `i_size`,
/// `s_maxbytes` and, for a block-mapped file, `s_bitmap_maxbytes` (signed, as in 4.4).
pub fn expected_write(
    r: Request,
    i_size: u64,
    s_maxbytes: u64,
    bitmap_limit: Option<i64>,
) -> Expected {
    const EFBIG: i64 = -27;
    let pos = if r.append && r.len > 0 { i_size } else { r.pos };
    let refuse = |sigxfsz| Expected {
        ret: EFBIG,
        sigxfsz,
        pos,
    };
    if r.len == 0 {
        return Expected {
            ret: 0,
            sigxfsz: false,
            pos,
        };
    }
    // Each limit, in the order the kernel checks them, either refuses or caps the end.
    let mut end = pos + r.len;
    if let Some(limit) = r.rlimit {
        if pos >= limit {
            return refuse(true);
        }
        end = end.min(limit);
    }
    if !r.largefile && pos + r.len > NON_LFS_LIMIT {
        if pos >= NON_LFS_LIMIT {
            return refuse(false);
        }
        end = end.min(NON_LFS_LIMIT);
    }
    if pos >= s_maxbytes {
        return refuse(false);
    }
    end = end.min(s_maxbytes);
    if let Some(limit) = bitmap_limit {
        if i128::from(pos) >= i128::from(limit) {
            return refuse(false);
        }
        end = end.min(limit as u64);
    }
    Expected {
        ret: (end - pos) as i64,
        sigxfsz: false,
        pos,
    }
}

/// `do_blockdev_direct_IO`'s `-EINVAL` (fs/direct-io.c): a direct write of `count` bytes (what
/// the limits left) at `pos` is refused when the offset, or the address or length of any part
/// of any segment it uses, is not a multiple of the device's sector. `segments` are
/// `(address, length)` pairs in order.
pub fn dio_misaligned(pos: u64, segments: &[(u64, u64)], count: u64, sector: u64) -> bool {
    let mut left = count;
    let mut bits = pos;
    for &(base, len) in segments {
        if left == 0 {
            break;
        }
        let used = len.min(left);
        bits |= base | used;
        left -= used;
    }
    !bits.is_multiple_of(sector)
}

/// The overwrite test of `ext4_file_write_iter` with `ext4_map_blocks`: a DIO write is an overwrite
/// when dioread_nolock applies, no aio_mutex was taken, nothing is cached, the range ends within
/// `i_size`, and one written extent covers every block it touches.
pub fn is_overwrite(
    extents: &[Extent],
    block: u64,
    (pos, len): (u64, u64),
    i_size: u64,
    (nolock, aio_mutex, cached): (bool, bool, bool),
) -> bool {
    if !nolock || aio_mutex || cached || pos + len > i_size {
        return false;
    }
    let (first, last) = (pos / block, (pos + len).div_ceil(block) - 1);
    extents
        .iter()
        .any(|e| e.state == ExtentState::Written && e.lblk <= first && last < e.lblk + e.len)
}

/// `ext4_file_write_iter` and `ext4_unaligned_aio` (fs/ext4/file.c): the aio_mutex gate of a direct
/// write to an extent file.
pub fn takes_aio_mutex(
    aio: bool,
    append: bool,
    (pos, alignment): (u64, u64),
    i_size: u64,
    block: u64,
) -> bool {
    let unaligned = pos < i_size && (pos | alignment) % block != 0;
    aio && (append || unaligned)
}

/// The `datasync` argument `generic_write_sync` passes to `vfs_fsync_range`:
/// `(file->f_flags & __O_SYNC) ? 0 : 1`. O_DSYNC alone, or an IS_SYNC inode (`-o sync`, the
/// inode's sync flag), syncs data only; O_SYNC (which sets O_DSYNC too) syncs everything.
pub fn sync_is_datasync(o_sync: bool) -> bool {
    !o_sync
}

/// Whether `ext4_sync_file`'s `jbd2_complete_transaction` after a write of `[from, to)` has a
/// transaction to wait for, the inode having started with `extents` and `i_size` all
/// committed. A full sync waits for `i_sync_tid`, which the write itself moved
/// (`file_update_time` dirties the inode); a data sync waits for `i_datasync_tid`, which
/// moves only when the write allocates a block, converts an unwritten one or changes the
/// size: not for an overwrite of written blocks within `i_size`.
pub fn sync_commits(
    datasync: bool,
    extents: &[Extent],
    block: u64,
    i_size: u64,
    (from, to): (u64, u64),
) -> bool {
    let written = |b: u64| {
        extents
            .iter()
            .any(|e| e.state == ExtentState::Written && e.lblk <= b && b < e.lblk + e.len)
    };
    let overwrite = to <= i_size && (from / block..to.div_ceil(block)).all(written);
    !datasync || !overwrite
}

/// A file as sequential semantics see it: its size and the content of each sector written
/// (everything else reads as zeros).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefFile {
    /// Size in bytes.
    pub size: u64,
    /// Content per sector offset.
    pub sectors: BTreeMap<u64, Data>,
}

impl RefFile {
    /// The file a scenario's inode 0 starts as: `i_size` bytes, each sector of a written
    /// extent below it holding its block's initial data, everything else zeros.
    pub fn initial(extents: &[Extent], i_size: u64, sector: u64, block: u64) -> RefFile {
        let mut sectors = BTreeMap::new();
        for e in extents.iter().filter(|e| e.state == ExtentState::Written) {
            let (start, end) = (e.lblk * block, ((e.lblk + e.len) * block).min(i_size));
            for offset in (start..end).step_by(sector as usize) {
                let lblk = (offset / block) as u32;
                sectors.insert(offset, Data::Initial { inode: 0, lblk });
            }
        }
        RefFile {
            size: i_size,
            sectors,
        }
    }

    /// A write of `tag` over `[pos, pos + len)`.
    pub fn write(&mut self, sector: u64, pos: u64, len: u64, tag: u8) {
        for offset in (pos..pos + len).step_by(sector as usize) {
            self.sectors.insert(offset, Data::Write(tag));
        }
        self.size = self.size.max(pos + len);
    }

    /// `ftruncate(size)`: everything at or past `size` is gone.
    pub fn truncate(&mut self, size: u64) {
        self.sectors.retain(|&offset, _| offset < size);
        self.size = size;
    }

    /// `fallocate(PUNCH_HOLE)` of `[pos, pos + len)` within the size: zeros there, whatever
    /// the block size (whole blocks go, partial ones are zeroed).
    pub fn punch(&mut self, sector: u64, _block: u64, pos: u64, len: u64) {
        let end = (pos + len).min(self.size);
        for offset in (pos..end).step_by(sector as usize) {
            self.sectors.remove(&offset);
        }
    }

    /// What a read of `[pos, pos + len)` returns, per sector, up to the size.
    pub fn read(&self, sector: u64, pos: u64, len: u64) -> Vec<Data> {
        let end = (pos + len).min(self.size);
        (pos..end)
            .step_by(sector as usize)
            .map(|o| self.sectors.get(&o).copied().unwrap_or(Data::Zero))
            .collect()
    }
}

//! The reference: the simplest correct thing, sharing no logic with the model. It imports the
//! model's data types only. Size limits are `generic_write_checks` (mm/filemap.c) and the
//! bitmap-file check of `ext4_file_write_iter` written out again; the overwrite predicate is
//! the overwrite test of `ext4_file_write_iter` (fs/ext4/file.c) as a sentence; the file is a map
//! from sector offset to content with plain sequential semantics.

use std::collections::BTreeMap;

use model::extent::{Extent, ExtentState};
use model::state::Data;

/// `2^31 - 1`: the largest offset without O_LARGEFILE.
const NON_LFS_LIMIT: u64 = 2_147_483_647;

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

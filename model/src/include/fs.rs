//! include/linux/fs.h: the request, `struct kiocb` (`iocb_flags`, `is_sync_kiocb`), with
//! `struct iov_iter` (include/linux/uio.h) as the 4.4 write path sees them; the errno values;
//! `inode_dio_begin`/`inode_dio_end`.

use crate::inline_vec::InlineVec;
use crate::kernel::sched::wait::wake_up_all;
use crate::limits::SEGMENTS_MAX;
use crate::state::{InodeIx, Sleep, State};

/// Kernel error numbers the write path returns, as negative `ssize_t` values.
pub mod errno {
    /// I/O error (a failed bio, a failed sync).
    pub const EIO: i64 = -5;
    /// Page-cache invalidation found a page it could not drop.
    pub const EBUSY: i64 = -16;
    /// Misaligned direct I/O (`do_blockdev_direct_IO`).
    pub const EINVAL: i64 = -22;
    /// File too large (`generic_write_checks`, the bitmap-file limit).
    pub const EFBIG: i64 = -27;
    /// `-ENOTBLK`: direct I/O met a hole it may not fill; turned into a short write.
    pub const ENOTBLK: i64 = -15;
    /// No space left for an allocation.
    pub const ENOSPC: i64 = -28;
    /// `-EIOCBQUEUED`: the AIO was queued; completion comes through `ki_complete`.
    pub const EIOCBQUEUED: i64 = -529;
}

/// The open file's flags that matter to a write (`f_flags`).
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
pub struct FileFlags {
    /// `O_DIRECT`.
    pub o_direct: bool,
    /// `O_APPEND`.
    pub o_append: bool,
    /// `O_SYNC` (`__O_SYNC | O_DSYNC`): a full sync after the write.
    pub o_sync: bool,
    /// `O_DSYNC`: a data sync after the write.
    pub o_dsync: bool,
    /// `O_LARGEFILE`; a 64-bit `open()` always sets it (`force_o_largefile`).
    pub o_largefile: bool,
}

/// `ki_flags`, computed once by `iocb_flags(file)` when the iocb is built (include/linux/fs.h).
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
pub struct KiFlags {
    /// `IOCB_DIRECT`: `O_DIRECT` (DAX is not modelled).
    pub direct: bool,
    /// `IOCB_APPEND`: `O_APPEND`.
    pub append: bool,
}

impl KiFlags {
    /// `iocb_flags(file)`: the snapshot a later `fcntl` cannot change.
    pub fn from_file(flags: FileFlags) -> KiFlags {
        KiFlags {
            direct: flags.o_direct,
            append: flags.o_append,
        }
    }
}

/// One `struct iovec`: a user buffer address and a length. (`Default`, an empty iovec at
/// address 0, only so that [`Iovecs`] can fill its unused inline slots.)
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
pub struct Segment {
    /// `iov_base`, the user buffer address.
    pub base: u64,
    /// `iov_len`.
    pub len: u64,
}

/// The iovec array of an [`IovIter`], inline: a request has at most [`SEGMENTS_MAX`]
/// segments, so it never spills.
pub type Iovecs = InlineVec<Segment, SEGMENTS_MAX>;

/// `struct iov_iter` over user iovecs: segments, the offset into the first, and `count`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct IovIter {
    /// The iovec array.
    pub segments: Iovecs,
    /// Index of the current segment (`nr_segs` already consumed).
    pub segment: usize,
    /// `iov_offset`: bytes consumed in the current segment.
    pub iov_offset: u64,
    /// `count`: bytes left to transfer (may be less than the segments hold after a truncate).
    pub count: u64,
}

impl IovIter {
    /// `iov_iter_init` over `segments`: `count` is their total length.
    pub fn new(segments: impl Into<Iovecs>) -> IovIter {
        let segments = segments.into();
        let count = segments.iter().map(|s| s.len).sum();
        IovIter {
            segments,
            segment: 0,
            iov_offset: 0,
            count,
        }
    }

    /// `iov_iter_count`.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `iov_iter_truncate`: only ever shrinks `count`.
    pub fn truncate(&mut self, count: u64) {
        self.count = self.count.min(count);
    }

    /// `iov_iter_advance`: consume `bytes` from the front.
    pub fn advance(&mut self, mut bytes: u64) {
        assert!(bytes <= self.count, "advance past count");
        self.count -= bytes;
        while bytes > 0 {
            let left = self.segments[self.segment].len - self.iov_offset;
            let step = left.min(bytes);
            bytes -= step;
            self.iov_offset += step;
            if self.iov_offset == self.segments[self.segment].len {
                self.segment += 1;
                self.iov_offset = 0;
            }
        }
    }

    /// `iov_iter_alignment`: the OR of `iov_base | iov_len` over the `count` bytes left, the
    /// first segment offset by `iov_offset`; empty pieces are skipped (lib/iov_iter.c).
    pub fn alignment(&self) -> u64 {
        let (mut res, mut left, mut skip) = (0, self.count, self.iov_offset);
        for segment in &self.segments[self.segment..] {
            if left == 0 {
                break;
            }
            let piece = left.min(segment.len - skip);
            if piece > 0 {
                res |= (segment.base + skip) | piece;
            }
            left -= piece;
            skip = 0;
        }
        res
    }
}

/// `struct kiocb`: the flags snapshot, the position and whether it is a sync iocb.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Iocb {
    /// `ki_flags`.
    pub ki_flags: KiFlags,
    /// `ki_pos`.
    pub ki_pos: u64,
    /// `ki_complete != NULL`: built by `io_submit` (AIO); `is_sync_kiocb` is its negation.
    pub ki_complete: bool,
}

impl Iocb {
    /// `is_sync_kiocb(iocb)` (include/linux/fs.h).
    pub fn is_sync_kiocb(&self) -> bool {
        !self.ki_complete
    }
}

/// `inode_dio_begin`.
pub fn inode_dio_begin(state: &mut State, inode: InodeIx) {
    state.inodes[inode].i_dio_count += 1;
}

/// `inode_dio_end`: wakes `inode_dio_wait` at 0.
pub fn inode_dio_end(state: &mut State, inode: InodeIx) {
    let ino = &mut state.inodes[inode];
    assert!(ino.i_dio_count > 0, "i_dio_count underflow");
    ino.i_dio_count -= 1;
    if ino.i_dio_count == 0 {
        wake_up_all(state, Sleep::DioWait(inode));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn iter(len: u64) -> IovIter {
        IovIter::new(vec![Segment { base: 0x10000, len }])
    }

    pub(crate) fn iocb(pos: u64, append: bool) -> Iocb {
        Iocb {
            ki_flags: KiFlags {
                direct: false,
                append,
            },
            ki_pos: pos,
            ki_complete: false,
        }
    }

    pub(crate) const LARGE: FileFlags = FileFlags {
        o_direct: false,
        o_append: false,
        o_sync: false,
        o_dsync: false,
        o_largefile: true,
    };

    #[test]
    fn iov_iter_alignment_counts_only_the_bytes_left() {
        let mut from = IovIter::new(vec![
            Segment {
                base: 0x10000,
                len: 4096,
            },
            Segment {
                base: 0x20000,
                len: 1000,
            },
        ]);
        from.truncate(4096);
        assert_eq!(from.alignment() & 4095, 0);
        from = IovIter::new(from.segments.clone());
        from.advance(4096);
        assert_eq!(from.alignment(), 0x20000 | 1000);
        assert_eq!(from.count(), 1000);
    }
}

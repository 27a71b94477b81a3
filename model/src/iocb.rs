//! The request: `struct kiocb` and `struct iov_iter` as the 4.4 write path sees them, and the
//! pure checks made on them (`generic_write_checks`, the bitmap-file limit): `iocb_flags` and
//! `is_sync_kiocb` (include/linux/fs.h), `generic_write_checks` (mm/filemap.c), the head of
//! `ext4_file_write_iter` (fs/ext4/file.c).

use crate::limits::{MAX_NON_LFS, RLIM_INFINITY};

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

/// One `struct iovec`: a user buffer address and a length.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Segment {
    /// `iov_base`, the user buffer address.
    pub base: u64,
    /// `iov_len`.
    pub len: u64,
}

/// `struct iov_iter` over user iovecs: segments, the offset into the first, and `count`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct IovIter {
    /// The iovec array.
    pub segments: Vec<Segment>,
    /// Index of the current segment (`nr_segs` already consumed).
    pub segment: usize,
    /// `iov_offset`: bytes consumed in the current segment.
    pub iov_offset: u64,
    /// `count`: bytes left to transfer (may be less than the segments hold after a truncate).
    pub count: u64,
}

impl IovIter {
    /// `iov_iter_init` over `segments`: `count` is their total length.
    pub fn new(segments: Vec<Segment>) -> IovIter {
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

/// What `generic_write_checks` did: the value it returns and whether it raised SIGXFSZ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteChecks {
    /// The return value: the bytes left to write (> 0), 0, or `-EFBIG`.
    pub ret: i64,
    /// `send_sig(SIGXFSZ, current, 0)` was called.
    pub sigxfsz: bool,
}

/// `generic_write_checks(iocb, from)` (mm/filemap.c, 4.1–4.4), caller holds
/// `i_mutex`. Moves `ki_pos` to `i_size` for `IOCB_APPEND` and truncates `from`.
pub fn generic_write_checks(
    iocb: &mut Iocb,
    from: &mut IovIter,
    i_size: u64,
    file: FileFlags,
    rlimit_fsize: u64,
    s_maxbytes: u64,
) -> WriteChecks {
    let efbig = |sigxfsz| WriteChecks {
        ret: crate::iocb::errno::EFBIG,
        sigxfsz,
    };
    if from.count() == 0 {
        return WriteChecks {
            ret: 0,
            sigxfsz: false,
        };
    }
    if iocb.ki_flags.append {
        iocb.ki_pos = i_size;
    }
    let pos = iocb.ki_pos;
    if rlimit_fsize != RLIM_INFINITY {
        if pos >= rlimit_fsize {
            return efbig(true);
        }
        from.truncate(rlimit_fsize - pos);
    }
    if !file.o_largefile && pos + from.count() > MAX_NON_LFS {
        if pos >= MAX_NON_LFS {
            return efbig(false);
        }
        from.truncate(MAX_NON_LFS - pos);
    }
    if pos >= s_maxbytes {
        return efbig(false);
    }
    from.truncate(s_maxbytes - pos);
    WriteChecks {
        ret: from.count() as i64,
        sigxfsz: false,
    }
}

/// The bitmap-file check of `ext4_file_write_iter` (fs/ext4/file.c): for a file without
/// `EXT4_INODE_EXTENTS`, `-EFBIG` at or past `s_bitmap_maxbytes`, else truncate to it.
/// Returns the error, if any.
/// The comparison is in `loff_t`, as in the kernel (`s_bitmap_maxbytes` may be negative).
pub fn bitmap_file_check(ki_pos: u64, from: &mut IovIter, s_bitmap_maxbytes: i64) -> Option<i64> {
    let pos = ki_pos as i64;
    if pos >= s_bitmap_maxbytes {
        return Some(errno::EFBIG);
    }
    from.truncate((s_bitmap_maxbytes - pos) as u64);
    None
}

/// `ext4_unaligned_aio(inode, from, pos)` (fs/ext4/file.c), with `i_size` the value
/// `i_size_read` returned (unlocked). The early return at or past `i_size` is kept as written.
pub fn ext4_unaligned_aio(i_size: u64, from: &IovIter, pos: u64, blocksize: u64) -> bool {
    let blockmask = blocksize - 1;
    if pos >= i_size {
        return false;
    }
    (pos | from.alignment()) & blockmask != 0
}

/// `ext4_unaligned_aio` as `372a03e01853` ("ext4: fix data corruption caused by unaligned
/// direct AIO", v5.1) left it: the early return compares `pos` with `i_size` rounded up to a
/// block, so a write that starts past `i_size` but inside the block holding it is judged by
/// its alignment too. The commit changed the one line (fs/ext4/file.c:ext4_unaligned_aio,
/// 5.1.15 and 5.2.1 line 128):
///
/// ```text
/// -    if (pos >= i_size_read(inode))
/// +    if (pos >= ALIGN(i_size_read(inode), sb->s_blocksize))
///              return 0;
/// ```
pub fn ext4_unaligned_aio_aligned_eof(
    i_size: u64,
    from: &IovIter,
    pos: u64,
    blocksize: u64,
) -> bool {
    // ALIGN(x, a) (include/linux/kernel.h): x rounded up to a multiple of the power of two a.
    let aligned_eof = (i_size + blocksize - 1) & !(blocksize - 1);
    ext4_unaligned_aio(aligned_eof, from, pos, blocksize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iter(len: u64) -> IovIter {
        IovIter::new(vec![Segment { base: 0x10000, len }])
    }

    fn iocb(pos: u64, append: bool) -> Iocb {
        Iocb {
            ki_flags: KiFlags {
                direct: false,
                append,
            },
            ki_pos: pos,
            ki_complete: false,
        }
    }

    const LARGE: FileFlags = FileFlags {
        o_direct: false,
        o_append: false,
        o_sync: false,
        o_dsync: false,
        o_largefile: true,
    };

    #[test]
    fn generic_write_checks_zero_count_returns_zero_and_keeps_pos_even_for_append() {
        let (mut iocb, mut from) = (iocb(7, true), iter(0));
        let checks =
            generic_write_checks(&mut iocb, &mut from, 4096, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: 0,
                sigxfsz: false
            }
        );
        assert_eq!(iocb.ki_pos, 7);
    }

    #[test]
    fn generic_write_checks_append_moves_pos_to_i_size() {
        let (mut iocb, mut from) = (iocb(0, true), iter(100));
        let checks =
            generic_write_checks(&mut iocb, &mut from, 5000, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!((checks.ret, iocb.ki_pos), (100, 5000));
    }

    #[test]
    fn generic_write_checks_rlimit_fsize_signals_at_the_limit_and_truncates_below() {
        let (mut at, mut from) = (iocb(1000, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: true
            }
        );
        let (mut below, mut from) = (iocb(990, false), iter(100));
        let checks = generic_write_checks(&mut below, &mut from, 0, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: 10,
                sigxfsz: false
            }
        );
        // O_APPEND is checked against its final position.
        let (mut append, mut from) = (iocb(0, true), iter(10));
        let checks = generic_write_checks(&mut append, &mut from, 1000, LARGE, 1000, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: true
            }
        );
    }

    #[test]
    fn generic_write_checks_lfs_limit_applies_only_without_o_largefile() {
        let small = FileFlags {
            o_largefile: false,
            ..LARGE
        };
        let (mut at, mut from) = (iocb(MAX_NON_LFS, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, small, RLIM_INFINITY, 1 << 40);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: false
            }
        );
        let (mut below, mut from) = (iocb(MAX_NON_LFS - 4, false), iter(10));
        let checks = generic_write_checks(&mut below, &mut from, 0, small, RLIM_INFINITY, 1 << 40);
        assert_eq!(checks.ret, 4);
        let (mut large, mut from) = (iocb(MAX_NON_LFS, false), iter(10));
        let checks = generic_write_checks(&mut large, &mut from, 0, LARGE, RLIM_INFINITY, 1 << 40);
        assert_eq!(checks.ret, 10);
    }

    #[test]
    fn generic_write_checks_s_maxbytes_refuses_at_and_truncates_below() {
        let max = crate::limits::ext4_max_size(12, false);
        let (mut at, mut from) = (iocb(max, false), iter(10));
        let checks = generic_write_checks(&mut at, &mut from, 0, LARGE, RLIM_INFINITY, max);
        assert_eq!(
            checks,
            WriteChecks {
                ret: errno::EFBIG,
                sigxfsz: false
            }
        );
        let (mut below, mut from) = (iocb(max - 3, false), iter(10));
        let checks = generic_write_checks(&mut below, &mut from, 0, LARGE, RLIM_INFINITY, max);
        assert_eq!(checks.ret, 3);
    }

    #[test]
    fn bitmap_file_check_refuses_at_the_limit_without_a_signal_and_truncates_below() {
        let limit = crate::limits::ext4_max_bitmap_size(10, true);
        assert_eq!(
            bitmap_file_check(limit as u64, &mut iter(1), limit),
            Some(errno::EFBIG)
        );
        let mut from = iter(4096);
        assert_eq!(
            bitmap_file_check(limit as u64 - 100, &mut from, limit),
            None
        );
        assert_eq!(from.count(), 100);
    }

    #[test]
    fn ext4_unaligned_aio_returns_aligned_at_or_past_i_size_as_written() {
        let unaligned = iter(512);
        assert!(!ext4_unaligned_aio(4096, &unaligned, 4096, 4096));
        assert!(!ext4_unaligned_aio(4096, &unaligned, 8192 + 512, 4096));
        assert!(ext4_unaligned_aio(8192, &unaligned, 512, 4096));
        assert!(!ext4_unaligned_aio(8192, &iter(4096), 4096, 4096));
    }

    #[test]
    fn ext4_unaligned_aio_aligned_eof_judges_a_write_past_i_size_inside_its_block() {
        let unaligned = iter(2048);
        // 0007's second write: at i_size 10240, inside the block [8192, 12288).
        assert!(!ext4_unaligned_aio(10240, &unaligned, 10240, 4096));
        assert!(ext4_unaligned_aio_aligned_eof(
            10240, &unaligned, 10240, 4096
        ));
        // Past the block holding i_size, and at an aligned i_size, nothing changes.
        assert!(!ext4_unaligned_aio_aligned_eof(
            10240, &unaligned, 12288, 4096
        ));
        assert!(!ext4_unaligned_aio_aligned_eof(
            8192,
            &unaligned,
            8192 + 512,
            4096
        ));
        assert!(!ext4_unaligned_aio_aligned_eof(
            10240,
            &iter(4096),
            4096,
            4096
        ));
    }

    #[test]
    fn ext4_unaligned_aio_sees_a_misaligned_buffer_address_or_segment_length() {
        let address = IovIter::new(vec![Segment {
            base: 0x10200,
            len: 4096,
        }]);
        assert!(ext4_unaligned_aio(1 << 20, &address, 0, 4096));
        let lengths = IovIter::new(vec![
            Segment {
                base: 0x10000,
                len: 2048,
            },
            Segment {
                base: 0x20000,
                len: 2048,
            },
        ]);
        assert!(ext4_unaligned_aio(1 << 20, &lengths, 0, 4096));
    }

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

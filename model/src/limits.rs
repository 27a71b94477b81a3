//! Every limit of the model in one place: the kernel's constants (real byte values) and the
//! bounds that keep model states small. Each kernel constant names the header or function
//! it comes from.

/// `EXT4_WQ_HASH_SZ`: number of hashed `aio_mutex` / `ioend_wq` buckets (fs/ext4/ext4.h).
pub const EXT4_WQ_HASH_SZ: u32 = 37;

/// `ERRSEQ_SEEN` (lib/errseq.c, Linux 4.13): the bit of an `errseq_t` above its error field
/// (`MAX_ERRNO` = 4095, `ERRSEQ_SHIFT` = 12) saying the value has been sampled.
pub const ERRSEQ_SEEN: u32 = 1 << 12;

/// `ERRSEQ_CTR_INC` (lib/errseq.c): the lowest bit of an `errseq_t`'s counter.
pub const ERRSEQ_CTR_INC: u32 = 1 << 13;

/// `MAX_ERRNO` (include/linux/err.h): the mask of an `errseq_t`'s error field.
pub const MAX_ERRNO: u32 = 4095;

/// `MAX_NON_LFS`: largest offset a non-`O_LARGEFILE` writer may reach, `2^31 - 1` (fs.h).
pub const MAX_NON_LFS: u64 = (1 << 31) - 1;

/// `MAX_LFS_FILESIZE` on a 64-bit kernel (`0x7fffffffffffffff`, include/linux/fs.h).
pub const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;

/// Largest `loff_t` (a signed 64-bit file offset): a scenario's offsets, and an offset plus
/// a length, stay at or below it (`rw_verify_area` and `vfs_fallocate` refuse a range that
/// wraps through zero).
pub const LOFF_T_MAX: u64 = i64::MAX as u64;

/// Largest `ssize_t`: `rw_copy_check_uvector` refuses an iovec length above it (`-EINVAL`).
pub const SSIZE_T_MAX: u64 = i64::MAX as u64;

/// `RLIM_INFINITY`: no `RLIMIT_FSIZE` limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `EXT_MAX_BLOCKS`: the logical block number ext4 never maps (`2^32 - 1`).
pub const EXT_MAX_BLOCKS: u64 = (1 << 32) - 1;

/// Smallest fs block size ext4 mounts: 1 KiB (`EXT4_MIN_BLOCK_LOG_SIZE`).
pub const BLKBITS_MIN: u32 = 10;
/// Largest fs block size ext4 mounts: 64 KiB (`EXT4_MAX_BLOCK_LOG_SIZE`).
pub const BLKBITS_MAX: u32 = 16;
/// Smallest logical sector size of a block device: 512 bytes.
pub const SECTOR_BITS_MIN: u32 = 9;
/// Page size bits the model accepts: 4 KiB (x86) up to 64 KiB.
pub const PAGE_BITS_MIN: u32 = 12;
/// Largest page size bits the model accepts.
pub const PAGE_BITS_MAX: u32 = 16;

/// Model bound: physical blocks on the simulated disk (keeps states small).
pub const DISK_BLOCKS_MAX: u32 = 64;
/// Model bound: sectors per fs block (the sector-granular data of one block).
pub const SECTORS_PER_BLOCK_MAX: u32 = 16;
/// Model bound: inodes in one scenario.
pub const INODES_MAX: usize = 4;
/// Model bound: actors (tasks with a program) in one scenario.
pub const ACTORS_MAX: usize = 8;
/// Model bound: operations in one actor's program.
pub const OPS_PER_ACTOR_MAX: usize = 8;
/// Model bound: segments in one iovec.
pub const SEGMENTS_MAX: usize = 4;
/// Model bound: blocks one request may touch, so a run stays small.
pub const REQUEST_BLOCKS_MAX: u64 = 16;
/// Model bound: steps of one run before the driver reports that it did not finish.
pub const STEPS_MAX: usize = 4096;

/// `s_maxbytes`: `ext4_max_size(blkbits, has_huge_files)` (fs/ext4/super.c), on a
/// 64-bit kernel with a 64-bit `blkcnt_t`.
pub fn ext4_max_size(blkbits: u32, has_huge_files: bool) -> u64 {
    assert!((BLKBITS_MIN..=BLKBITS_MAX).contains(&blkbits));
    // One block short of what a 32-bit ee_block addresses: block 2^32-1 is never mapped.
    let res = EXT_MAX_BLOCKS << blkbits;
    let upper_limit = if has_huge_files {
        MAX_LFS_FILESIZE
    } else {
        // i_blocks counts 512-byte units in 32 bits.
        (((1u64 << 32) - 1) >> (blkbits - 9)) << blkbits
    };
    res.min(upper_limit)
}

/// `s_bitmap_maxbytes`: `ext4_max_bitmap_size(blkbits, has_huge_files)` (fs/ext4/super.c,
/// fs/ext4/super.c): 12 direct blocks plus single, double and triple indirect trees, capped by what
/// `i_blocks` can count once the tree's own metadata blocks are subtracted.
///
/// Computed in `loff_t` (`i64`) exactly as 4.4 does, wrapping included: for 32 KiB and
/// 64 KiB blocks without `huge_file` the metadata blocks exceed the `i_blocks` limit, and for
/// 64 KiB blocks with `huge_file` `upper_limit << 16` overflows; either way the result is
/// negative and every write to such a bitmap file fails `-EFBIG` (fixed upstream in 5.14,
/// "ext4: fix loff_t overflow in ext4_max_bitmap_size()").
pub fn ext4_max_bitmap_size(blkbits: u32, has_huge_files: bool) -> i64 {
    assert!((BLKBITS_MIN..=BLKBITS_MAX).contains(&blkbits));
    let per_block: i64 = 1 << (blkbits - 2); // block numbers per indirect block
    let mut upper_limit: i64 = if has_huge_files {
        (1 << 48) - 1
    } else {
        ((1i64 << 32) - 1) >> (blkbits - 9)
    };
    let meta_blocks = 1 + (1 + per_block) + (1 + per_block + per_block * per_block);
    upper_limit = upper_limit.wrapping_sub(meta_blocks).wrapping_shl(blkbits);
    let res = (12 + per_block + per_block.pow(2) + per_block.pow(3)).wrapping_shl(blkbits);
    res.min(upper_limit).min(MAX_LFS_FILESIZE as i64)
}

const _: () = assert!(SECTOR_BITS_MIN < BLKBITS_MIN);
const _: () = assert!(BLKBITS_MAX <= PAGE_BITS_MAX);
const _: () = assert!(ACTORS_MAX < u8::MAX as usize);
const _: () = assert!(DISK_BLOCKS_MAX as u64 * (SECTORS_PER_BLOCK_MAX as u64) < u16::MAX as u64);

/// `s_extent_max_zeroout_kb`'s default (fs/ext4/super.c): unwritten extents up to 32 KiB are
/// zeroed out rather than split by `ext4_ext_convert_to_initialized` (fs/ext4/extents.c).
pub const EXTENT_MAX_ZEROOUT_KB: u64 = 32;

/// `EXT_INIT_MAX_LEN`: the most blocks one written extent holds (`1 << 15`, ext4_extents.h).
pub const EXT_INIT_MAX_LEN: u64 = 1 << 15;

/// `EXT_UNWRITTEN_MAX_LEN`: the most blocks one unwritten extent holds (`EXT_INIT_MAX_LEN -
/// 1`, ext4_extents.h).
pub const EXT_UNWRITTEN_MAX_LEN: u64 = EXT_INIT_MAX_LEN - 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight values 4.4's `ext4_max_size` and `ext4_max_bitmap_size` (fs/ext4/super.c)
    /// give for 1 and 4 KiB blocks with and without huge_file, 64-bit kernel, as a 4.4 mount
    /// reports them (independent of the formulas here).
    #[test]
    fn ext4_max_size_and_bitmap_size_give_4_4_s_values() {
        let table = [
            (10, true, 4_398_046_510_080u64, 17_247_252_480i64),
            (10, false, 2_199_023_254_528, 17_247_252_480),
            (12, true, 17_592_186_040_320, 4_402_345_721_856),
            (12, false, 2_199_023_251_456, 2_194_719_883_264),
        ];
        for (blkbits, huge, s_maxbytes, s_bitmap_maxbytes) in table {
            assert_eq!(
                ext4_max_size(blkbits, huge),
                s_maxbytes,
                "s_maxbytes {blkbits} {huge}"
            );
            let bitmap = ext4_max_bitmap_size(blkbits, huge);
            assert_eq!(
                bitmap, s_bitmap_maxbytes,
                "s_bitmap_maxbytes {blkbits} {huge}"
            );
        }
    }

    /// 4.4's loff_t arithmetic goes negative for large blocks (see the function's doc).
    #[test]
    fn ext4_max_bitmap_size_is_negative_for_large_blocks_without_huge_file_as_in_4_4() {
        assert!(ext4_max_bitmap_size(15, false) < 0);
        assert!(ext4_max_bitmap_size(16, false) < 0);
        assert!(ext4_max_bitmap_size(16, true) < 0);
        assert!(ext4_max_bitmap_size(14, false) > 0);
        assert!(ext4_max_bitmap_size(15, true) > 0);
    }

    #[test]
    fn ext4_max_size_stays_block_aligned_for_every_block_size() {
        for blkbits in BLKBITS_MIN..=BLKBITS_MAX {
            for huge in [false, true] {
                let max = ext4_max_size(blkbits, huge);
                assert_eq!(max % (1 << blkbits), 0);
                assert!(ext4_max_bitmap_size(blkbits, huge) <= MAX_LFS_FILESIZE as i64);
                assert!(max >> blkbits <= EXT_MAX_BLOCKS);
            }
        }
    }
}

//! # properties: the model checked against an independent reference
//!
//! The reference is the simplest correct thing and shares no logic with the model: here,
//! the size limits of `ext4_max_size` and `ext4_max_bitmap_size` (fs/ext4/super.c) written out
//! again from their definitions (how many blocks an extent or an indirect tree can address, and
//! what `i_blocks` can count), in 128-bit arithmetic. The proptest properties of the issue
//! tracker's "properties" issue (size limits, overwrite detection, sync ordering, sequential
//! conformance) build on it.
#![warn(missing_docs)]

pub mod reference;

/// Largest file size an extent-mapped file may reach (`s_maxbytes`), from first principles:
/// logical blocks `0 ..= 2^32 - 2` are addressable (block `2^32 - 1` is never mapped); without
/// `huge_file`, `i_blocks` counts 512-byte sectors in 32 bits, so at most
/// `floor((2^32 - 1) / sectors_per_block)` whole blocks.
pub fn reference_s_maxbytes(block_size: u128, huge_file: bool) -> u128 {
    let addressable_blocks = (1u128 << 32) - 1;
    let countable_blocks = if huge_file {
        u128::MAX
    } else {
        ((1u128 << 32) - 1) / (block_size / 512)
    };
    let lfs = (1u128 << 63) - 1;
    (addressable_blocks.min(countable_blocks) * block_size).min(lfs)
}

/// Largest size of a block-mapped file (`s_bitmap_maxbytes`) from first principles: 12 direct
/// blocks and single, double and triple indirect trees of `block_size / 4` pointers each; the
/// data blocks plus the indirect blocks a full tree needs must fit what `i_blocks` counts
/// (32 bits of sectors, or 48 bits of blocks with `huge_file`). Computed without overflow.
///
/// Returns the size and whether 4.4's `loff_t` arithmetic overflows on the way: when the
/// countable room is negative or its byte size reaches 2^63, `ext4_max_bitmap_size`
/// computes a negative limit (fixed upstream in 5.14, "ext4: fix loff_t overflow in
/// ext4_max_bitmap_size()"); the model mirrors 4.4.
pub fn reference_s_bitmap_maxbytes(block_size: u128, huge_file: bool) -> (u128, bool) {
    let p = block_size / 4;
    let data_blocks = 12 + p + p * p + p * p * p;
    let indirect_blocks = 1 + (1 + p) + (1 + p + p * p);
    let countable = if huge_file {
        (1u128 << 48) - 1
    } else {
        ((1u128 << 32) - 1) / (block_size / 512)
    };
    let Some(room) = countable.checked_sub(indirect_blocks) else {
        return (0, true);
    };
    let overflows_loff_t = room * block_size >= 1u128 << 63;
    (
        (data_blocks.min(room) * block_size).min((1u128 << 63) - 1),
        overflows_loff_t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::limits::{BLKBITS_MAX, BLKBITS_MIN, ext4_max_bitmap_size, ext4_max_size};

    /// The reference's transcription of 4.4's formulas (what property 1 judges with) against
    /// the first principles, for every block size and huge_file setting; the values of
    /// `ext4_max_size` and `ext4_max_bitmap_size` (fs/ext4/super.c); and 4.4's negative limits.
    #[test]
    fn the_reference_size_limits_equal_first_principles_and_the_spec_table() {
        for blkbits in BLKBITS_MIN..=BLKBITS_MAX {
            for huge in [false, true] {
                let bs = 1u128 << blkbits;
                let s_maxbytes = reference::s_maxbytes(blkbits, huge);
                assert_eq!(u128::from(s_maxbytes), reference_s_maxbytes(bs, huge));
                let bitmap = reference::s_bitmap_maxbytes(blkbits, huge);
                match reference_s_bitmap_maxbytes(bs, huge) {
                    (limit, false) => assert_eq!(bitmap as u128, limit, "{blkbits} {huge}"),
                    (_, true) => assert!(bitmap < 0, "{blkbits} {huge}: 4.4 gives {bitmap}"),
                }
            }
        }
        let table = [
            (10, true, 4_398_046_510_080u64, 17_247_252_480i64),
            (10, false, 2_199_023_254_528, 17_247_252_480),
            (12, true, 17_592_186_040_320, 4_402_345_721_856),
            (12, false, 2_199_023_251_456, 2_194_719_883_264),
        ];
        for (blkbits, huge, s_maxbytes, bitmap) in table {
            assert_eq!(reference::s_maxbytes(blkbits, huge), s_maxbytes);
            assert_eq!(reference::s_bitmap_maxbytes(blkbits, huge), bitmap);
        }
        let negative = [(15, false), (16, false), (16, true)];
        for (blkbits, huge) in negative {
            assert!(reference::s_bitmap_maxbytes(blkbits, huge) < 0);
        }
        assert!(reference::s_bitmap_maxbytes(15, true) > 0);
        assert!(reference::s_bitmap_maxbytes(14, false) > 0);
    }

    /// Guards the size limits the write path checks against: the model's kernel formulas
    /// agree with the first-principles reference for every block size and huge_file setting.
    #[test]
    fn model_size_limits_equal_the_reference_for_every_geometry() {
        for blkbits in BLKBITS_MIN..=BLKBITS_MAX {
            for huge in [false, true] {
                let bs = 1u128 << blkbits;
                assert_eq!(
                    u128::from(ext4_max_size(blkbits, huge)),
                    reference_s_maxbytes(bs, huge),
                    "{blkbits} {huge}"
                );
                let model = ext4_max_bitmap_size(blkbits, huge);
                match reference_s_bitmap_maxbytes(bs, huge) {
                    (reference, false) => assert_eq!(model as u128, reference, "{blkbits} {huge}"),
                    (_, true) => assert!(model < 0, "{blkbits} {huge}: 4.4 overflows to {model}"),
                }
            }
        }
    }
}

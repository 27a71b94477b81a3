//! The size limits where the write path applies them, against values derived here from
//! first principles (`ext4_max_size`, `ext4_max_bitmap_size`, fs/ext4/super.c), not from `model::limits`: a write stops at `s_maxbytes` of
//! an extent file and at `s_bitmap_maxbytes` of a block-mapped one, for every block size,
//! and a block-mapped file refuses every write where 4.4's `loff_t` arithmetic makes the
//! limit negative.

// The shared builders; this file uses only some of them.
#[allow(unused_imports)]
mod common;
use common::{DEFAULT, buffered, finish, inode};
use model::fs::ext4::super_::Geometry;
use model::include::fs::errno;
use model::ops::{Op, OpResult};
use model::scenario::Scenario;

/// `s_maxbytes` from first principles: blocks `0 ..= 2^32 - 2` are addressable (an extent's
/// 32-bit start, block `2^32 - 1` never mapped); without huge_file `i_blocks` counts 512-byte
/// sectors in 32 bits, which caps the whole blocks it can count.
fn s_maxbytes(blkbits: u32, huge_file: bool) -> u64 {
    let addressable = (1u128 << 32) - 1;
    let countable = if huge_file {
        u128::MAX
    } else {
        ((1u128 << 32) - 1) >> (blkbits - 9)
    };
    (addressable.min(countable) << blkbits) as u64
}

/// One buffered write of `len` at `pos` to an empty file on `blkbits` blocks; its return
/// and SIGXFSZ.
fn write_at(blkbits: u32, huge_file: bool, extents: bool, pos: u64, len: u64) -> (i64, bool) {
    let g = Geometry {
        blkbits,
        sector_bits: blkbits.saturating_sub(4).max(9),
        page_bits: blkbits.max(12),
        huge_file,
        disk_blocks: 4,
    };
    let mut spec = inode(0, &[]);
    spec.extents = extents;
    let scenario = Scenario {
        geometry: g,
        mount: DEFAULT,
        inodes: vec![spec],
        actors: vec![vec![Op::Write(buffered(pos, len))]],
        patches: model::patches::Patches::NONE,
    };
    let mut s = scenario.build().expect("valid");
    finish(&mut s);
    match s.actors[0].results[0] {
        OpResult::Write { ret, sigxfsz, .. } => (ret, sigxfsz),
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn an_extent_file_stops_at_s_maxbytes_for_every_block_size() {
    for blkbits in 10..=16 {
        for huge_file in [false, true] {
            let max = s_maxbytes(blkbits, huge_file);
            let at = write_at(blkbits, huge_file, true, max, 512);
            assert_eq!(at, (errno::EFBIG, false), "{blkbits} {huge_file}: at {max}");
            let below = write_at(blkbits, huge_file, true, max - 512, 1024);
            assert_eq!(below, (512, false), "{blkbits} {huge_file}: across {max}");
        }
    }
}

/// 1 KiB blocks with huge_file: 12 direct blocks and three trees of 256 pointers address
/// `12 + 256 + 256^2 + 256^3` blocks, the `i_blocks` room is far larger: 17247252480 bytes.
#[test]
fn a_block_mapped_file_stops_at_its_addressable_size() {
    let max = (12 + 256 + 256u64.pow(2) + 256u64.pow(3)) << 10;
    assert_eq!(write_at(10, true, false, max, 512), (errno::EFBIG, false));
    assert_eq!(write_at(10, true, false, max - 512, 1024), (512, false));
}

/// 32 KiB blocks without huge_file: the three trees' metadata blocks (`3 + 2 * 2^13 + 2^26`)
/// exceed the `2^26 - 1` blocks 32-bit `i_blocks` counts, so 4.4's limit is negative and
/// every write fails; with huge_file, or 16 KiB blocks, it is positive. 64 KiB blocks go
/// negative either way (with huge_file the shift passes 2^63).
#[test]
fn a_block_mapped_file_refuses_every_write_where_4_4_goes_negative() {
    for (blkbits, huge_file) in [(15, false), (16, false), (16, true)] {
        assert_eq!(
            write_at(blkbits, huge_file, false, 0, 512),
            (errno::EFBIG, false),
            "{blkbits} {huge_file}"
        );
    }
    for (blkbits, huge_file) in [(15, true), (14, false)] {
        assert_eq!(write_at(blkbits, huge_file, false, 0, 512), (512, false));
    }
}

//! The differences between the running kernel's ext4 and the 4.4 model that are explained
//! (the table in `properties/REAL_EXT4.md`, rows named by their ids). A difference no row
//! explains fails the test. Each row matches narrowly: it says whether it explains exactly
//! this difference, and the rest must be equal.
//!
//! D2–D4 are about misaligned direct I/O, where 4.4's `do_blockdev_direct_IO` checks the
//! alignment of the offset, the length and every segment's address and length before it
//! maps anything, and 6.18's iomap direct I/O (ext4 since 5.5) checks later; each matches
//! only a case with exactly one misaligned direct write, which only hand-written cases
//! have. D5 is about when `ext4_ext_convert_to_initialized` zeroes out a preallocated
//! extent: it holds only when every conversion the model made is what 4.4's rule gives
//! and the kernel's map is what 6.18's rule gives ([`super::zeroout`]). D6 is the same
//! with the kernel's blocks placed next to their logical neighbours (mballoc's goal), which
//! the model's first-fit allocator does not do: its abut fast path then differs.
//!
//! Beyond the shape, `real_ext4.rs` pins every hand-written case to the row that must
//! explain it (or to none), and the generated cases of the default seed to none.
//! Row M1 (the model kept the dirty bits of buffers a truncate cut inside a page) was a
//! model error, fixed in `model/src/mm/truncate.rs` (`discard_buffers`) and tested in
//! `model/tests/other_actors.rs`.

use std::collections::BTreeSet;

use super::case::{
    BlockState, Case, CaseOp, Converter, Kind, ModelRun, Outcome, SECTOR, merge, model_sector,
};
use super::zeroout::{self, Placement, Rule};

/// A row: its id, and whether it explains how `real` differs from the model's run.
type Row = (&'static str, fn(&Case, &Outcome, &ModelRun) -> bool);

/// The explained differences.
const ROWS: &[Row] = &[("D2", d2), ("D3", d3), ("D4", d4), ("D5", d5), ("D6", d6)];

/// The row of the table that explains how `real` differs from the model's `run` of
/// `case`, if any.
pub fn explain(case: &Case, real: &Outcome, run: &ModelRun) -> Option<&'static str> {
    ROWS.iter()
        .find(|(_, explains)| explains(case, real, run))
        .map(|&(id, _)| id)
}

/// The only misaligned direct write of `case` (offset, length or buffer address not a
/// multiple of 512): its index and `(kind, pos, len)`.
fn misaligned(case: &Case) -> Option<(usize, Kind, u64, u64)> {
    let mut found = case.ops.iter().enumerate().filter_map(|(i, op)| match *op {
        CaseOp::Write { kind, pos, len, .. }
            if kind.direct() && (pos | len | kind.addr_offset()) % SECTOR != 0 =>
        {
            Some((i, kind, pos, len))
        }
        _ => None,
    });
    let first = found.next();
    first.filter(|_| found.next().is_none())
}

/// D2: on an extent file, 6.18 returns `-EINVAL` as 4.4 does, but only after
/// `ext4_iomap_begin` allocated the blocks of a hole below EOF as unwritten (iomap checks the
/// alignment per mapping, in `iomap_dio_bio_iter`). Equal once those unwritten blocks are
/// taken out of the real map.
fn d2(case: &Case, real: &Outcome, run: &ModelRun) -> bool {
    let model = &run.outcome;
    let Some((i, _, pos, len)) = misaligned(case) else {
        return false;
    };
    let bs = case.flavour.blocksize();
    let (first, end) = (pos / bs, (pos + len).div_ceil(bs));
    let einval = -i64::from(libc::EINVAL);
    let blocks = real
        .map
        .iter()
        .flat_map(|&(b, n, s)| (b..b + n).map(move |b| (b, 1, s)));
    let kept = blocks
        .filter(|&(b, _, s)| !(s == BlockState::Unwritten && (first..end).contains(&b)))
        .collect();
    case.flavour.extents()
        && real.ops[i].ret == einval
        && model.ops[i].ret == einval
        && real.map != model.map
        && Outcome {
            map: merge(kept),
            ..real.clone()
        } == *model
}

/// Whether `real` is what the model gives for `case` with operation `i` issued as `kind`.
fn as_if(case: &Case, i: usize, kind: Kind, real: &Outcome) -> bool {
    let mut alt = case.clone();
    if let CaseOp::Write { kind: k, .. } = &mut alt.ops[i] {
        *k = kind;
    }
    let Ok(mut run) = alt.run_model() else {
        return false;
    };
    run.outcome.data = real
        .data
        .iter()
        .map(|&(s, _)| (s, model_sector(&run.state, s)))
        .collect();
    run.outcome == *real
}

/// D3: on a block-mapped file, 6.18's `ext4_iomap_alloc` refuses to fill a hole with
/// `-ENOTBLK` before iomap checks the alignment, and ext4 falls back to a buffered write,
/// which has no alignment rule; 4.4 returned `-EINVAL` first. The real outcome is the
/// model's with that write buffered.
fn d3(case: &Case, real: &Outcome, run: &ModelRun) -> bool {
    let model = &run.outcome;
    let Some((i, _, _, len)) = misaligned(case) else {
        return false;
    };
    !case.flavour.extents()
        && model.ops[i].ret == -i64::from(libc::EINVAL)
        && real.ops[i].ret == len as i64
        && as_if(case, i, Kind::Buffered, real)
}

/// D4: 6.18 accepts a buffer address that is not a multiple of 512 when every piece of the
/// buffer within a page is a multiple of 512 long (the block layer checks the built bio, not
/// the user address; most likely since Linux 6.0's "block: relax direct io memory
/// alignment"); 4.4's `iov_iter_alignment` check refused it. The real outcome is the model's
/// with an aligned buffer.
fn d4(case: &Case, real: &Outcome, run: &ModelRun) -> bool {
    let model = &run.outcome;
    let Some((i, kind, pos, len)) = misaligned(case) else {
        return false;
    };
    let addr = kind.addr_offset() % 4096;
    let head = len.min(4096 - addr);
    let pieces_aligned = head % SECTOR == 0 && (len - head) % SECTOR == 0;
    let aligned = if kind.aio() { Kind::Aio } else { Kind::Direct };
    (pos | len) % SECTOR == 0
        && pieces_aligned
        && model.ops[i].ret == -i64::from(libc::EINVAL)
        && real.ops[i].ret == len as i64
        && as_if(case, i, aligned, real)
}

/// D5: where 4.4's and 6.18's `ext4_ext_convert_to_initialized` differ
/// ([`super::zeroout`]): 4.4 zeroes out a whole extent of at most 32 KiB and bounds a
/// zero-out by `i_size`; 6.18 has no whole-extent branch, bounds it by `i_disksize` (Linux
/// 5.7, "ext4: Do not zeroout extents beyond i_disksize", Jan Kara) and its direct I/O never
/// zeroes out. With the blocks placed where the model placed them, see [`zeroout_rules`].
fn d5(case: &Case, real: &Outcome, run: &ModelRun) -> bool {
    zeroout_rules(case, real, run, false)
}

/// D6: as D5, with the blocks a writeback pass allocates placed next to their logical
/// neighbours, as mballoc does with `ext4_ext_find_goal`'s goal (4.4 and 6.18 alike), where
/// the model's first-fit allocator puts them at the lowest free block. A new extent just
/// before (after) a preallocated one is then physically contiguous with it, and the
/// conversion takes the abut fast path, moving only the written blocks, where the model
/// zeroes out.
fn d6(case: &Case, real: &Outcome, run: &ModelRun) -> bool {
    zeroout_rules(case, real, run, true)
}

/// D5 and D6 hold only when, replaying the model's own conversions:
///
/// - every conversion the model made by writeback or by a direct write's `get_block` turned
///   exactly the blocks 4.4's rule gives with the model's placement (an over-zeroing model
///   is never explained);
/// - the blocks 4.4's rule makes written and 6.18's does not (with the model's placement,
///   or with `logical` placement for D6), less any block a write wrote, are not empty, and
///   the real map is the model's with exactly those blocks unwritten;
/// - everything else (returns, size, every sector: they read zeros) is equal.
fn zeroout_rules(case: &Case, real: &Outcome, run: &ModelRun, logical: bool) -> bool {
    if !matches!(case.ops.first(), Some(CaseOp::Fallocate { .. })) || real.map == run.outcome.map {
        return false;
    }
    let blkbits = case.flavour.blkbits();
    let mut only_44 = BTreeSet::new();
    for c in &run.conversions {
        let model = Placement::Model(&c.after);
        let kernel = if logical { Placement::Logical } else { model };
        let (rule44, rule618) = match &c.by {
            Converter::Writeback(blocks) => (
                zeroout::writeback(Rule::Linux44, (&c.before, model), blkbits, blocks, c.sizes),
                zeroout::writeback(
                    Rule::Linux618,
                    (&c.before, kernel),
                    blkbits,
                    blocks,
                    c.sizes,
                ),
            ),
            &Converter::DirectGetBlock(lblk, want) => (
                zeroout::direct(Rule::Linux44, &c.before, blkbits, (lblk, want), c.sizes.0),
                zeroout::direct(Rule::Linux618, &c.before, blkbits, (lblk, want), c.sizes.0),
            ),
            Converter::Completion => continue,
        };
        if rule44 != c.converted {
            return false;
        }
        only_44.extend(rule44.difference(&rule618));
    }
    let written = written_blocks(case, &run.outcome);
    only_44.retain(|&b| !written(b));
    let expected: Vec<(u64, u64, BlockState)> = blocks(&run.outcome.map)
        .into_iter()
        .map(|(b, s)| match s {
            BlockState::Written if only_44.contains(&b) => (b, 1, BlockState::Unwritten),
            s => (b, 1, s),
        })
        .collect();
    !only_44.is_empty()
        && Outcome {
            map: merge(expected),
            ..run.outcome.clone()
        } == *real
}

/// Block by block `(block, state)` of merged runs.
fn blocks(map: &[(u64, u64, BlockState)]) -> Vec<(u64, BlockState)> {
    map.iter()
        .flat_map(|&(b, n, s)| (b..b + n).map(move |b| (b, s)))
        .collect()
}

/// Whether a write of `case` wrote into block `b` (by what it returned; an O_APPEND write
/// where its final position says).
fn written_blocks(case: &Case, outcome: &Outcome) -> impl Fn(u64) -> bool {
    let bs = case.flavour.blocksize();
    let mut ranges = Vec::new();
    for (op, result) in case.ops.iter().zip(&outcome.ops) {
        let CaseOp::Write { kind, pos, .. } = *op else {
            continue;
        };
        if result.ret <= 0 {
            continue;
        }
        let done = result.ret as u64;
        let start = match (kind, result.position) {
            (Kind::Append, Some(end)) => end - done,
            _ => pos,
        };
        ranges.push(start / bs..(start + done).div_ceil(bs));
    }
    move |b| ranges.iter().any(|r| r.contains(&b))
}

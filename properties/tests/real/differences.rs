//! The differences between the running kernel's ext4 and the 4.4 model that are explained
//! (the table in `properties/REAL_EXT4.md`, rows named by their ids). A difference no row
//! explains fails the test. Each row matches narrowly: it says whether it explains exactly
//! this difference, and the rest must be equal.
//!
//! D2–D4 are about misaligned direct I/O, where 4.4's `do_blockdev_direct_IO` checks the
//! alignment of the offset, the length and every segment's address and length before it
//! maps anything, and 6.18's iomap direct I/O (ext4 since 5.5) checks later. D5 is about
//! when `ext4_ext_convert_to_initialized` zeroes out a preallocated extent.
//! Row M1 (the model kept the dirty bits of buffers a truncate cut inside a page) was a
//! model error, fixed in `model/src/truncate.rs` (`discard_buffers`) and tested in
//! `model/tests/other_actors.rs`.

use super::case::{BlockState, Case, CaseOp, Kind, Outcome, SECTOR, merge, model_sector};

/// A row: its id, and whether it explains how `real` differs from `model`.
type Row = (&'static str, fn(&Case, &Outcome, &Outcome) -> bool);

/// The explained differences.
const ROWS: &[Row] = &[("D2", d2), ("D3", d3), ("D4", d4), ("D5", d5)];

/// The row of the table that explains how `real` differs from `model` for `case`, if any.
pub fn explain(case: &Case, real: &Outcome, model: &Outcome) -> Option<&'static str> {
    ROWS.iter()
        .find(|(_, explains)| explains(case, real, model))
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
fn d2(case: &Case, real: &Outcome, model: &Outcome) -> bool {
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
    let Ok((mut outcome, state)) = alt.run_model() else {
        return false;
    };
    outcome.data = real
        .data
        .iter()
        .map(|&(s, _)| (s, model_sector(&state, s)))
        .collect();
    outcome == *real
}

/// D3: on a block-mapped file, 6.18's `ext4_iomap_alloc` refuses to fill a hole with
/// `-ENOTBLK` before iomap checks the alignment, and ext4 falls back to a buffered write,
/// which has no alignment rule; 4.4 returned `-EINVAL` first. The real outcome is the
/// model's with that write buffered.
fn d3(case: &Case, real: &Outcome, model: &Outcome) -> bool {
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
fn d4(case: &Case, real: &Outcome, model: &Outcome) -> bool {
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

/// D5: when `ext4_ext_convert_to_initialized` zeroes out unwritten blocks instead of
/// splitting. 4.4 (fs/ext4/extents.c) zeroes the whole extent when it is at most 32 KiB and lies
/// within `max(i_size, end of the request)`, else the tail or the head when small enough;
/// since 5.7 ("ext4: Do not zeroout extents beyond i_disksize", Jan Kara) the limit is
/// `i_disksize`, which lags `i_size` for an extending write, and 6.18 was also measured not
/// to zero a whole 32 KiB extent. The difference may only be that blocks of the leading
/// fallocate's range that no write wrote are written (zeroed) in the model and still
/// unwritten in the real map; they read zeros either way, and all else must be equal.
fn d5(case: &Case, real: &Outcome, model: &Outcome) -> bool {
    let Some(&CaseOp::Fallocate { off, len, .. }) = case.ops.first() else {
        return false;
    };
    let bs = case.flavour.blocksize();
    let written = written_blocks(case, model);
    let zeroed = |b: u64| (off / bs..(off + len) / bs).contains(&b) && !written(b);
    let (real_blocks, model_blocks) = (blocks(&real.map), blocks(&model.map));
    let blocks_agree = real_blocks.len() == model_blocks.len()
        && real_blocks.iter().zip(&model_blocks).all(|(r, m)| {
            r == m
                || (r.0 == m.0
                    && zeroed(r.0)
                    && r.1 == BlockState::Unwritten
                    && m.1 == BlockState::Written)
        });
    real.map != model.map
        && blocks_agree
        && Outcome {
            map: real.map.clone(),
            ..model.clone()
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

//! `ext4_ext_convert_to_initialized` (fs/ext4/extents.c) as two rules, written out again from
//! the kernel sources, for row D5 of the differences: what 4.4 turns written when a
//! write lands in an unwritten extent, and what the running kernel does instead. Neither
//! shares code with the model (`model/src/fs/ext4/extents.rs`); D5 checks the model's conversions
//! against [`Rule::Linux44`] and the kernel's map against [`Rule::Linux618`].
//!
//! Both kernels first try the "abut" fast path: a request at the extent's start (end) whose
//! written left (right) neighbour is logically and physically contiguous and has room moves
//! the requested blocks into that neighbour. Otherwise:
//!
//! - **4.4**: `eof_block = max(i_size in blocks, m_lblk + m_len)`; a zero-out is allowed only
//!   when the extent ends at or before `eof_block`, and then covers at most
//!   `s_extent_max_zeroout_kb` (32 KiB). The whole extent when it is that small; else its
//!   tail from `m_lblk` when that is small enough (case 3); else its head before `m_lblk`
//!   when head plus request is smaller (case 2); else a plain split.
//! - **6.18**: `eof_block` is computed from `i_disksize` ("ext4: Do not zeroout extents
//!   beyond i_disksize", Linux 5.7), and there is no whole-extent branch: only when the
//!   extent reaches past the request (`allocated > m_len`), the tail after the request
//!   when small enough, then the head when head plus what is converted so far stays under
//!   the limit (its "five cases" comment). Direct I/O no longer calls it at all: since 5.5
//!   iomap writes into the unwritten extent and `ext4_convert_unwritten_extents` converts
//!   exactly the written range at completion.

use std::collections::BTreeSet;

use model::fs::ext4::extents::{Extent, ExtentState};

/// `EXT_INIT_MAX_LEN`: the most blocks one written extent holds.
const EXT_INIT_MAX_LEN: u64 = 1 << 15;
/// `s_extent_max_zeroout_kb`'s default, the same in both kernels.
const EXTENT_MAX_ZEROOUT_KB: u64 = 32;

/// Which kernel's `ext4_ext_convert_to_initialized`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Linux 4.4, the model's kernel.
    Linux44,
    /// The running kernel (6.18 where the differences were measured).
    Linux618,
}

/// The extent holding `lblk`, by index.
fn at(map: &[Extent], lblk: u64) -> Option<usize> {
    map.iter().position(|e| e.lblk <= lblk && lblk < e.end())
}

/// Whether `a` ends where `b` starts, logically and physically.
fn joins(a: &Extent, b: &Extent) -> bool {
    a.end() == b.lblk && u64::from(a.pblk) + a.len == u64::from(b.pblk)
}

/// `ext4_ext_convert_to_initialized(m_lblk, m_len)` under `rule` on `map`, whose extent at
/// `m_lblk` is unwritten. `size` bounds a zero-out: `i_size` for 4.4, `i_disksize` for
/// 6.18. Returns the blocks it made written; `map` is updated (split, merged).
pub fn convert(
    rule: Rule,
    map: &mut Vec<Extent>,
    blkbits: u32,
    (m_lblk, m_len): (u64, u64),
    size: u64,
) -> BTreeSet<u64> {
    let ix = at(map, m_lblk).expect("the request starts in an extent");
    let ex = map[ix];
    assert_eq!(ex.state, ExtentState::Unwritten, "converting {ex:?}");
    let room = |e: &Extent| e.state == ExtentState::Written && e.len + m_len < EXT_INIT_MAX_LEN;
    let left = m_lblk == ex.lblk
        && m_len < ex.len
        && ix > 0
        && joins(&map[ix - 1], &ex)
        && room(&map[ix - 1]);
    let right = m_lblk + m_len == ex.end()
        && m_len < ex.len
        && ix + 1 < map.len()
        && joins(&ex, &map[ix + 1])
        && room(&map[ix + 1]);
    let (from, to) = if left || right {
        (m_lblk, m_lblk + m_len)
    } else {
        zeroout_plan(rule, &ex, blkbits, (m_lblk, m_len), size)
    };
    let to = to.min(ex.end());
    set_written(map, from, to);
    (from..to).collect()
}

/// The range `[from, to)` made written, zero-outs included, after the fast path declined.
fn zeroout_plan(
    rule: Rule,
    ex: &Extent,
    blkbits: u32,
    (m_lblk, m_len): (u64, u64),
    size: u64,
) -> (u64, u64) {
    let eof_block = size.div_ceil(1 << blkbits).max(m_lblk + m_len);
    let max_zeroout = if ex.end() <= eof_block {
        EXTENT_MAX_ZEROOUT_KB >> (blkbits - 10)
    } else {
        0
    };
    let allocated = ex.end() - m_lblk;
    let head = m_lblk - ex.lblk;
    match rule {
        Rule::Linux44 => {
            if max_zeroout > 0 && ex.len <= max_zeroout {
                (ex.lblk, ex.end())
            } else if max_zeroout > 0 && allocated > m_len && allocated <= max_zeroout {
                (m_lblk, ex.end())
            } else if max_zeroout > 0 && allocated > m_len && head + m_len < max_zeroout {
                (ex.lblk, m_lblk + m_len)
            } else {
                (m_lblk, m_lblk + m_len)
            }
        }
        Rule::Linux618 => {
            let (mut from, mut len) = (m_lblk, m_len);
            if max_zeroout > 0 && allocated > m_len {
                if allocated <= max_zeroout {
                    len = allocated;
                }
                if head + len < max_zeroout {
                    (from, len) = (ex.lblk, head + len);
                }
            }
            (from, from + len)
        }
    }
}

/// Marks `[from, to)` (inside one unwritten extent) written: the extent splits in up to
/// three, and the written piece merges with written neighbours that are contiguous
/// (`ext4_ext_try_to_merge`).
pub fn set_written(map: &mut Vec<Extent>, from: u64, to: u64) {
    if from >= to {
        return;
    }
    let ix = at(map, from).expect("inside an extent");
    let ex = map.remove(ix);
    let piece = |lblk: u64, end: u64, state| Extent {
        lblk,
        len: end - lblk,
        pblk: ex.pblk + (lblk - ex.lblk) as u32,
        state,
    };
    let pieces = [
        piece(ex.lblk, from, ExtentState::Unwritten),
        piece(from, to, ExtentState::Written),
        piece(to, ex.end(), ExtentState::Unwritten),
    ];
    for (k, p) in pieces.into_iter().filter(|p| p.len > 0).enumerate() {
        map.insert(ix + k, p);
    }
    merge_written(map);
}

/// Merges every pair of neighbouring written extents that are contiguous.
fn merge_written(map: &mut Vec<Extent>) {
    let mut k = 0;
    while k + 1 < map.len() {
        let (a, b) = (map[k], map[k + 1]);
        let both = a.state == ExtentState::Written && b.state == ExtentState::Written;
        if both && joins(&a, &b) && a.len + b.len <= EXT_INIT_MAX_LEN {
            map[k].len += b.len;
            map.remove(k + 1);
        } else {
            k += 1;
        }
    }
}

/// Where the blocks a writeback pass allocates (delayed blocks) go physically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement<'a> {
    /// Where the model put them (its first-fit allocator): their physical block after the
    /// model's step, and every other extent where the model has it.
    Model(&'a [Extent]),
    /// Next to their logical neighbours, as mballoc does with `ext4_ext_find_goal`'s goal on
    /// a fresh image: every extent at physical block = logical block, so that logical
    /// neighbours are physical neighbours.
    Logical,
}

impl Placement<'_> {
    /// `map` as placed.
    fn place(self, map: &[Extent]) -> Vec<Extent> {
        match self {
            Placement::Model(_) => map.to_vec(),
            Placement::Logical => map
                .iter()
                .map(|e| Extent {
                    pblk: e.lblk as u32,
                    ..*e
                })
                .collect(),
        }
    }

    /// The physical block of a new block `lblk`.
    fn allocate(self, lblk: u64) -> u32 {
        match self {
            Placement::Model(after) => {
                let e = after[at(after, lblk).expect("the model allocated it")];
                e.pblk + (lblk - e.lblk) as u32
            }
            Placement::Logical => lblk as u32,
        }
    }
}

/// One writeback pass without dioread_nolock (`ext4_writepages` → `mpage_map_one_extent`
/// with `EXT4_GET_BLOCKS_CREATE`) over `blocks`, the dirty blocks it writes, in order: each
/// run of consecutive blocks is mapped in turn; a block in no extent (delayed) is allocated
/// written where `placement` says, an unwritten block converts with `m_len` the unwritten
/// blocks from it in the run; after a run `i_disksize` moves to the run's end (at most
/// `i_size`). Returns the blocks made written (the allocated ones not included).
pub fn writeback(
    rule: Rule,
    (map, placement): (&[Extent], Placement<'_>),
    blkbits: u32,
    blocks: &[u64],
    (i_size, i_disksize): (u64, u64),
) -> BTreeSet<u64> {
    let mut map = placement.place(map);
    let mut disksize = i_disksize;
    let mut out = BTreeSet::new();
    let unwritten = |map: &[Extent], b: u64| {
        at(map, b).is_some_and(|ix| map[ix].state == ExtentState::Unwritten)
    };
    for run in blocks.chunk_by(|a, b| a + 1 == *b) {
        for (k, &b) in run.iter().enumerate() {
            if at(&map, b).is_none() {
                let ix = map.iter().position(|e| e.lblk > b).unwrap_or(map.len());
                let new = Extent {
                    lblk: b,
                    len: 1,
                    pblk: placement.allocate(b),
                    state: ExtentState::Written,
                };
                map.insert(ix, new);
                merge_written(&mut map);
                continue;
            }
            if !unwritten(&map, b) {
                continue;
            }
            let m_len = run[k..].iter().take_while(|&&x| unwritten(&map, x)).count() as u64;
            let size = match rule {
                Rule::Linux44 => i_size,
                Rule::Linux618 => disksize,
            };
            out.extend(convert(rule, &mut map, blkbits, (b, m_len), size));
        }
        let last = run[run.len() - 1];
        disksize = disksize.max(((last + 1) << blkbits).min(i_size));
    }
    out
}

/// A direct write's `get_block` with CREATE over `[lblk, lblk + want)` starting in an
/// unwritten extent (4.4's `ext4_ind_direct_IO` for a write past `i_size`, through
/// `ext4_get_block`). 6.18's iomap direct I/O converts the written blocks at completion
/// instead, with no zero-out. Returns the blocks made written.
pub fn direct(
    rule: Rule,
    map: &[Extent],
    blkbits: u32,
    (lblk, want): (u64, u64),
    i_size: u64,
) -> BTreeSet<u64> {
    let mut map = map.to_vec();
    match rule {
        Rule::Linux44 => convert(rule, &mut map, blkbits, (lblk, want), i_size),
        Rule::Linux618 => {
            let end = map[at(&map, lblk).expect("in an extent")].end();
            (lblk..(lblk + want).min(end)).collect()
        }
    }
}

/// The rules' own checks, run as the suite's test `zeroout_rules_give_the_kernels_shapes`
/// (no root needed): the shapes of 4.4's `ext4_ext_convert_to_initialized` (fs/ext4/extents.c) and the 6.18
/// measurements.
pub mod checks {
    use super::*;

    fn unwritten(lblk: u64, len: u64) -> Vec<Extent> {
        vec![Extent {
            lblk,
            len,
            pblk: 0,
            state: ExtentState::Unwritten,
        }]
    }

    fn made_written(rule: Rule, len: u64, request: (u64, u64), size: u64) -> (u64, u64) {
        let mut map = unwritten(0, len);
        let got = convert(rule, &mut map, 12, request, size);
        (*got.first().unwrap(), *got.last().unwrap() + 1)
    }

    /// The shapes of 4.4's `ext4_ext_convert_to_initialized` on 4 KiB blocks (max zero-out 8 blocks), both rules.
    pub fn the_rules_zero_out_as_the_kernels_do() {
        use Rule::*;
        const B: u64 = 4096;
        // Whole extent of 4: 4.4 zeroes it; 6.18 gets there by tail then head.
        assert_eq!(made_written(Linux44, 4, (1, 1), 4 * B), (0, 4));
        assert_eq!(made_written(Linux618, 4, (1, 1), 4 * B), (0, 4));
        // Exactly 32 KiB: 4.4's whole-extent branch; 6.18 only the tail from the request.
        assert_eq!(made_written(Linux44, 8, (1, 1), 8 * B), (0, 8));
        assert_eq!(made_written(Linux618, 8, (1, 1), 8 * B), (1, 8));
        // A request reaching the extent's end: 6.18 neither tail nor head.
        assert_eq!(made_written(Linux44, 4, (2, 2), 0), (0, 4));
        assert_eq!(made_written(Linux618, 4, (2, 2), 0), (2, 4));
        // Tail (case 3), head (case 2), split, in both.
        for rule in [Linux44, Linux618] {
            assert_eq!(made_written(rule, 12, (4, 1), 12 * B), (4, 12));
            assert_eq!(made_written(rule, 16, (2, 1), 16 * B), (0, 3));
            assert_eq!(made_written(rule, 32, (12, 1), 32 * B), (12, 13));
            // Past EOF: no zero-out at all.
            assert_eq!(made_written(rule, 4, (0, 1), B), (0, 1));
        }
    }

    /// The abut fast path.
    pub fn the_fast_path_moves_the_request_into_a_contiguous_written_neighbour() {
        let mut map = vec![
            Extent {
                lblk: 0,
                len: 1,
                pblk: 0,
                state: ExtentState::Written,
            },
            Extent {
                lblk: 1,
                len: 3,
                pblk: 1,
                state: ExtentState::Unwritten,
            },
        ];
        let got = convert(Rule::Linux44, &mut map, 12, (1, 1), 1 << 20);
        assert_eq!(got, BTreeSet::from([1]));
        assert_eq!((map[0].len, map[1].lblk, map[1].len), (2, 2, 2));
    }

    /// Writeback, run by run, with `i_disksize` moving after each run.
    pub fn writeback_converts_run_by_run_with_6_18_bounded_by_i_disksize() {
        let map = unwritten(0, 4);
        let placed = (map.as_slice(), Placement::Logical);
        // Dirty blocks 1 and 3, i_size 13312, i_disksize 0 (two extending buffered writes).
        let rule44 = writeback(Rule::Linux44, placed, 12, &[1, 3], (13312, 0));
        assert_eq!(rule44, (0..4).collect());
        let rule618 = writeback(Rule::Linux618, placed, 12, &[1, 3], (13312, 0));
        assert_eq!(rule618, BTreeSet::from([1, 3]));
    }

    /// A delayed block allocated just before a preallocated extent: placed next to it, the
    /// conversion takes the fast path; placed elsewhere, 4.4 zeroes the whole extent out.
    pub fn placement_decides_the_fast_path() {
        let map = vec![Extent {
            lblk: 2,
            len: 4,
            pblk: 0,
            state: ExtentState::Unwritten,
        }];
        let after = vec![
            Extent {
                lblk: 1,
                len: 1,
                pblk: 4,
                state: ExtentState::Written,
            },
            Extent {
                lblk: 2,
                len: 4,
                pblk: 0,
                state: ExtentState::Written,
            },
        ];
        let sizes = (6 << 12, 6 << 12);
        let far = writeback(
            Rule::Linux44,
            (&map, Placement::Model(&after)),
            12,
            &[1, 2],
            sizes,
        );
        assert_eq!(far, (2..6).collect());
        let near = writeback(
            Rule::Linux44,
            (&map, Placement::Logical),
            12,
            &[1, 2],
            sizes,
        );
        assert_eq!(near, BTreeSet::from([2]));
    }
}

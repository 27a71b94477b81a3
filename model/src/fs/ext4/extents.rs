//! fs/ext4/extents.c: the block map of one inode, extents with their boundaries and states,
//! plus the delayed (delalloc) blocks of the extent-status cache (fs/ext4/inode.c). The
//! extent-status cache is folded into the map: the overwrite test then asks for one Written
//! extent.
//!
//! Then the code that changes extent states: `ext4_ext_convert_to_initialized`, how plain
//! `EXT4_GET_BLOCKS_CREATE` turns part of an unwritten extent written (used by writeback
//! without dioread_nolock and by the extending DIO path's `ext4_get_block`), with
//! `ext4_ext_zeroout`; `ext4_convert_unwritten_extents`; the merge rule
//! `ext4_can_extents_be_merged` puts on unwritten extents; the unwritten mapping of
//! writeback under dioread_nolock.

use crate::fs::ext4::page_io::flag_io_unwritten;
use crate::inline_vec::InlineVec;
use crate::limits::{EXT_INIT_MAX_LEN, EXTENT_MAX_ZEROOUT_KB};
use crate::notes::Notes;
use crate::state::{Data, InodeIx, State};
use std::collections::BTreeSet;

/// State of a mapped extent (`ext4_ext_is_unwritten`).
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
pub enum ExtentState {
    /// Allocated, reads as zeros until converted.
    Unwritten,
    /// Allocated and initialized. The default only so that [`Extents`] can fill its unused
    /// inline slots.
    #[default]
    Written,
}

impl std::fmt::Display for ExtentState {
    /// `written` or `unwritten`, as the scenario files spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExtentState::Unwritten => "unwritten",
            ExtentState::Written => "written",
        })
    }
}

/// One extent: logical start, length, physical start, state. (`Default`, an empty extent,
/// only so that [`Extents`] can fill its unused inline slots.)
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
pub struct Extent {
    /// First logical block.
    pub lblk: u64,
    /// Blocks.
    pub len: u64,
    /// First physical block.
    pub pblk: u32,
    /// Written or unwritten.
    pub state: ExtentState,
}

impl Extent {
    /// One past the last logical block.
    pub fn end(&self) -> u64 {
        self.lblk + self.len
    }
}

/// What `ext4_map_blocks(create = 0)` returns for `m_lblk` (fs/ext4/inode.c): the blocks left in
/// that one extent from `m_lblk`, capped at `m_len`; a hole or delayed block maps nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Blocks mapped (0 for a hole).
    pub len: u64,
    /// The extent's state, `None` for a hole or delayed block.
    pub state: Option<ExtentState>,
    /// Physical block of `m_lblk` (meaningless for a hole).
    pub pblk: u32,
    /// The block is delayed (delalloc) in the extent-status cache.
    pub delayed: bool,
}

impl Mapping {
    /// `EXT4_MAP_MAPPED`: a written mapping.
    pub fn mapped(&self) -> bool {
        self.state == Some(ExtentState::Written)
    }
}

/// Extents of a tree kept inline ([`Extents`]): a small file's tree has a few (the
/// canonical file starts with one; a write into a hole or a conversion of part of an extent
/// adds one or two). More spill to the heap.
pub const EXTENTS_INLINE: usize = 4;

/// The extents of one inode's tree, in logical order.
pub type Extents = InlineVec<Extent, EXTENTS_INLINE>;

/// The extent tree of one inode (sorted, non-overlapping) and its delayed blocks.
#[derive(
    Clone,
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
pub struct ExtentMap {
    /// Extents in logical order.
    pub extents: Extents,
    /// Delayed-allocation blocks (dirty in the page cache, not yet allocated).
    pub delayed: BTreeSet<u64>,
}

impl ExtentMap {
    /// `ext4_map_blocks(NULL, inode, &map, 0)`: lookup only, never NEW.
    pub fn lookup(&self, lblk: u64, m_len: u64) -> Mapping {
        let delayed = self.delayed.contains(&lblk);
        match self
            .extents
            .iter()
            .find(|e| e.lblk <= lblk && lblk < e.end())
        {
            Some(e) => Mapping {
                len: (e.end() - lblk).min(m_len),
                state: Some(e.state),
                pblk: e.pblk + (lblk - e.lblk) as u32,
                delayed,
            },
            None => Mapping {
                len: 0,
                state: None,
                pblk: 0,
                delayed,
            },
        }
    }

    /// Blocks of the hole starting at `lblk`, up to `max` (the next extent bounds it).
    pub fn hole_len(&self, lblk: u64, max: u64) -> u64 {
        let next = self
            .extents
            .iter()
            .map(|e| e.lblk)
            .filter(|&s| s > lblk)
            .min();
        next.map_or(max, |s| (s - lblk).min(max))
    }

    /// Physical block of `lblk`, if mapped.
    pub fn pblk(&self, lblk: u64) -> Option<(u32, ExtentState)> {
        let m = self.lookup(lblk, 1);
        m.state.map(|s| (m.pblk, s))
    }

    /// Inserts a new extent over a hole. `merge` is false for `EXT4_GET_BLOCKS_PRE_IO`
    /// (`ext4_ext_insert_extent` does not merge then); `unwritten_merge` is the extra condition
    /// of `ext4_can_extents_be_merged` for unwritten extents (fs/ext4/page-io.c).
    pub fn insert(&mut self, new: Extent, merge: bool, unwritten_merge: bool) {
        assert!(new.len > 0);
        assert!(
            self.extents
                .iter()
                .all(|e| e.end() <= new.lblk || new.end() <= e.lblk),
            "overlap"
        );
        let at = self
            .extents
            .iter()
            .position(|e| e.lblk > new.lblk)
            .unwrap_or(self.extents.len());
        self.extents.insert(at, new);
        if merge {
            self.try_merge(unwritten_merge);
        }
    }

    /// Splits extents so that `[lblk, lblk + len)` starts and ends on extent boundaries.
    pub fn split(&mut self, lblk: u64, len: u64) {
        for at in [lblk, lblk + len] {
            if let Some(i) = self
                .extents
                .iter()
                .position(|e| e.lblk < at && at < e.end())
            {
                let e = self.extents[i];
                let head = at - e.lblk;
                self.extents[i].len = head;
                let tail = Extent {
                    lblk: at,
                    len: e.len - head,
                    pblk: e.pblk + head as u32,
                    ..e
                };
                self.extents.insert(i + 1, tail);
            }
        }
    }

    /// Marks the mapped blocks of `[lblk, lblk + len)` `state` (conversion), splitting first
    /// and merging after as `ext4_ext_try_to_merge` does.
    pub fn set_state(&mut self, lblk: u64, len: u64, state: ExtentState, unwritten_merge: bool) {
        self.split(lblk, len);
        for e in self
            .extents
            .iter_mut()
            .filter(|e| lblk <= e.lblk && e.end() <= lblk + len)
        {
            e.state = state;
        }
        self.try_merge(unwritten_merge);
    }

    /// `ext4_ext_try_to_merge`: joins neighbours that are logically and physically contiguous
    /// and in the same state; unwritten ones only when `unwritten_merge`.
    pub fn try_merge(&mut self, unwritten_merge: bool) {
        let mut i = 0;
        while i + 1 < self.extents.len() {
            let (a, b) = (self.extents[i], self.extents[i + 1]);
            let contiguous = a.end() == b.lblk && u64::from(a.pblk) + a.len == u64::from(b.pblk);
            let allowed = a.state == ExtentState::Written || unwritten_merge;
            if contiguous && a.state == b.state && allowed {
                self.extents[i].len += b.len;
                self.extents.remove(i + 1);
            } else {
                i += 1;
            }
        }
    }

    /// Removes the mapping of `[lblk, end)`; returns the freed physical runs `(pblk, len)`.
    pub fn remove(&mut self, lblk: u64, end: u64) -> Vec<(u32, u64)> {
        if end <= lblk {
            return Vec::new();
        }
        self.split(lblk, end - lblk);
        let inside = |e: &Extent| lblk <= e.lblk && e.end() <= end;
        let gone = self.extents.iter().filter(|e| inside(e));
        let freed = gone.map(|e| (e.pblk, e.len)).collect();
        self.extents.retain(|e| !inside(e));
        self.delayed.retain(|&b| b < lblk || b >= end);
        freed
    }

    /// Asserts the tree is well formed: sorted, non-overlapping, non-empty extents.
    pub fn assert_well_formed(&self, disk_blocks: u32) {
        for pair in self.extents.windows(2) {
            assert!(
                pair[0].end() <= pair[1].lblk,
                "extents overlap or are unsorted: {pair:?}"
            );
        }
        for e in &self.extents {
            assert!(e.len > 0, "empty extent");
            assert!(
                u64::from(e.pblk) + e.len <= u64::from(disk_blocks),
                "extent past the disk"
            );
            assert!(
                !(e.lblk..e.end()).any(|b| self.delayed.contains(&b)),
                "delayed and mapped"
            );
        }
    }
}

/// Converts `[lblk, lblk + len)`, which starts inside an unwritten extent, to written, in
/// the kernel's order: the move of the range to a written neighbour
/// (`ext4_ext_try_to_merge`'s "abut" fast path) first; else a zero-out of the whole extent
/// when it is at most `s_extent_max_zeroout_kb` and lies below `eof_block`; else a zero-out
/// of the extent's tail from `lblk` (case 3) or of its head before `lblk` (case 2) when
/// small enough; else a plain split. Zeroed blocks are written with zeros on disk
/// (`ext4_ext_zeroout`, synchronous) and become written too. `len` is `map->m_len`.
/// Returns the blocks of the range converted.
pub fn ext4_ext_convert_to_initialized(
    state: &mut State,
    inode: InodeIx,
    lblk: u64,
    len: u64,
    notes: &mut Notes,
) -> u64 {
    let ex = unwritten_extent_at(state, inode, lblk);
    // The kernel decides with `map->m_len` as asked (it may run past the extent) and
    // converts within the extent.
    let (planned, zeroed) = if abuts_written_neighbour(state, inode, &ex, lblk, len) {
        ((lblk, len), None)
    } else {
        zeroout_plan(state, inode, &ex, lblk, len)
    };
    let written = (planned.0, (planned.0 + planned.1).min(ex.end()) - planned.0);
    if let Some((from, count)) = zeroed {
        ext4_ext_zeroout(state, ex.pblk + (from - ex.lblk) as u32, count);
        note!(notes, "ext4_ext_zeroout blocks {from}+{count}");
    }
    let merge = unwritten_merge_allowed(state, inode);
    let ino = &mut state.inodes[inode];
    ino.map
        .set_state(written.0, written.1, ExtentState::Written, merge);
    ino.datasync_dirty = true;
    ino.sync_dirty = true;
    note!(notes, "convert_to_initialized {}+{}", written.0, written.1);
    len.min(ex.end() - lblk)
}

/// The unwritten extent holding `lblk`.
fn unwritten_extent_at(state: &State, inode: InodeIx, lblk: u64) -> Extent {
    let ex = *state.inodes[inode]
        .map
        .extents
        .iter()
        .find(|e| e.lblk <= lblk && lblk < e.end())
        .expect("convert_to_initialized inside an extent");
    assert_eq!(
        ex.state,
        ExtentState::Unwritten,
        "converting a written extent"
    );
    ex
}

/// The fast path: the range is at the extent's start (end) and the extent before (after) it
/// is written and logically and physically contiguous with room for `map_len` more blocks.
fn abuts_written_neighbour(state: &State, inode: InodeIx, ex: &Extent, lblk: u64, n: u64) -> bool {
    let extents = &state.inodes[inode].map.extents;
    let joins = |a: &Extent, b: &Extent| {
        a.end() == b.lblk && u64::from(a.pblk) + a.len == u64::from(b.pblk)
    };
    let written_room = |e: &Extent| e.state == ExtentState::Written && e.len + n < EXT_INIT_MAX_LEN;
    let left =
        lblk == ex.lblk && n < ex.len && extents.iter().any(|p| joins(p, ex) && written_room(p));
    let right = lblk + n == ex.end()
        && n < ex.len
        && extents.iter().any(|r| joins(ex, r) && written_room(r));
    left || right
}

/// Which blocks become written and which are zeroed first, `((lblk, len), zeroed)`.
fn zeroout_plan(
    state: &State,
    inode: InodeIx,
    ex: &Extent,
    lblk: u64,
    map_len: u64,
) -> ((u64, u64), Option<(u64, u64)>) {
    let g = state.geometry;
    let eof_block = state.inodes[inode]
        .i_size
        .div_ceil(g.blocksize())
        .max(lblk + map_len);
    let max_zeroout = if ex.end() <= eof_block {
        EXTENT_MAX_ZEROOUT_KB >> (g.blkbits - 10)
    } else {
        0
    };
    let allocated = ex.end() - lblk;
    if max_zeroout > 0 && ex.len <= max_zeroout {
        return ((ex.lblk, ex.len), Some((ex.lblk, ex.len)));
    }
    if max_zeroout > 0 && allocated > map_len {
        if allocated <= max_zeroout {
            return ((lblk, allocated), Some((lblk, allocated)));
        }
        let head = lblk - ex.lblk;
        if head + map_len < max_zeroout {
            let zeroed = (head > 0).then_some((ex.lblk, head));
            return ((ex.lblk, head + map_len), zeroed);
        }
    }
    ((lblk, map_len), None)
}

/// `ext4_ext_zeroout` → `ext4_issue_zeroout`: zeros on disk over `count` blocks from `pblk`,
/// written and waited for while `i_data_sem` is held (one step here).
pub(crate) fn ext4_ext_zeroout(state: &mut State, pblk: u32, count: u64) {
    let spb = state.geometry.sectors_per_block() as usize;
    let first = pblk as usize * spb;
    state.disk.sectors[first..first + count as usize * spb].fill(Data::Zero);
}

/// `ext4_ext_map_blocks` flags the `io` it read on entry (the pass's first mapping: the one
/// read before `ext4_mb_new_blocks`; later ones read `i_private` now) or sets
/// `EXT4_STATE_DIO_UNWRITTEN`; `mpage_map_one_extent` flags writeback's own io_end.
pub(crate) fn finish_unwritten_map(
    state: &mut State,
    inode: InodeIx,
    (io_end, io): (u16, &mut crate::state::MapEntry),
    pblk: u32,
) -> u32 {
    let read = io.take().unwrap_or(state.inodes[inode].i_private);
    if state.patched(crate::patches::Patch::IoEndInBPrivate) {
        // 109811c20fb8: ext4_ext_map_blocks neither reads ext4_inode_aio(inode) nor sets
        // EXT4_STATE_DIO_UNWRITTEN; a PRE_IO allocation only returns EXT4_MAP_UNWRITTEN, and
        // mpage_map_one_extent flags writeback's own io_end (4.6.2 fs/ext4/inode.c:2332-2339).
        flag_io_unwritten(state, io_end);
        return pblk;
    }
    match read {
        Some(aio) if !state.io_ends.contains_key(&aio) => {
            state.hazard = Some(crate::state::Hazard::UseAfterFree(format!(
                "writeback's ext4_set_io_unwritten_flag on io_end e{aio}, which \
                 ext4_ext_map_blocks read from i_private before ext4_mb_new_blocks and which \
                 its direct write freed since"
            )));
        }
        Some(aio) => flag_io_unwritten(state, aio),
        None => state.inodes[inode].state_dio_unwritten = true,
    }
    flag_io_unwritten(state, io_end);
    pblk
}

/// The extra condition `ext4_can_extents_be_merged` puts on unwritten extents.
pub fn unwritten_merge_allowed(state: &State, inode: InodeIx) -> bool {
    let ino = &state.inodes[inode];
    !ino.state_dio_unwritten && ino.i_unwritten == 0
}

/// `ext4_convert_unwritten_extents(inode, offset, len)`: the Unwritten blocks of the range
/// (rounded out to blocks) become Written; Written blocks and holes are skipped. Moves
/// `i_datasync_tid`.
pub fn convert_unwritten_extents(
    state: &mut State,
    inode: InodeIx,
    offset: u64,
    len: u64,
    notes: &mut Notes,
) {
    let g = state.geometry;
    let first = offset >> g.blkbits;
    let end = (offset + len).div_ceil(g.blocksize());
    let merge = unwritten_merge_allowed(state, inode);
    let ino = &mut state.inodes[inode];
    for lblk in first..end {
        if ino
            .map
            .pblk(lblk)
            .is_some_and(|(_, s)| s == ExtentState::Unwritten)
        {
            ino.map.set_state(lblk, 1, ExtentState::Written, merge);
            ino.datasync_dirty = true;
            ino.sync_dirty = true;
        }
    }
    note!(notes, "convert blocks {first}..{end} to written");
}

/// Some block of `[offset, offset + size)` of `inode` is Unwritten.
pub fn has_unwritten(state: &State, inode: InodeIx, offset: u64, size: u64) -> bool {
    let g = state.geometry;
    let map = &state.inodes[inode].map;
    (offset >> g.blkbits..(offset + size).div_ceil(g.blocksize())).any(|lblk| {
        map.pblk(lblk)
            .is_some_and(|(_, s)| s == ExtentState::Unwritten)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExtentState::*;

    fn map(extents: &[(u64, u64, u32, ExtentState)]) -> ExtentMap {
        let mut map = ExtentMap::default();
        for &(lblk, len, pblk, state) in extents {
            map.insert(
                Extent {
                    lblk,
                    len,
                    pblk,
                    state,
                },
                false,
                false,
            );
        }
        map
    }

    #[test]
    fn ext4_map_blocks_lookup_stops_at_the_end_of_one_extent() {
        let map = map(&[
            (0, 2, 4, Written),
            (2, 2, 10, Written),
            (4, 1, 1, Unwritten),
        ]);
        assert_eq!(map.lookup(1, 3).len, 1);
        assert!(map.lookup(1, 3).mapped());
        assert_eq!(map.lookup(4, 1).state, Some(Unwritten));
        assert!(!map.lookup(4, 1).mapped());
        assert_eq!(map.lookup(5, 1).len, 0);
        assert_eq!(map.hole_len(5, 9), 9);
    }

    #[test]
    fn conversion_splits_and_merges_physically_contiguous_written_neighbours() {
        let mut m = map(&[(0, 1, 4, Written), (1, 3, 5, Unwritten)]);
        m.set_state(1, 1, Written, false);
        assert_eq!(
            m.extents[0],
            Extent {
                lblk: 0,
                len: 2,
                pblk: 4,
                state: Written
            }
        );
        assert_eq!(
            m.extents[1],
            Extent {
                lblk: 2,
                len: 2,
                pblk: 6,
                state: Unwritten
            }
        );
        m.assert_well_formed(16);
    }

    #[test]
    fn remove_frees_the_runs_and_leaves_the_rest() {
        let mut m = map(&[(0, 4, 8, Written)]);
        assert_eq!(m.remove(1, 3), vec![(9, 2)]);
        assert_eq!(m.extents.len(), 2);
        m.assert_well_formed(16);
    }
}

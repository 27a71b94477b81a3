//! The block map of one inode: extents with their boundaries and states, plus the delayed
//! (delalloc) blocks of the extent-status cache (fs/ext4/inode.c). The extent-status cache is
//! folded into the map: the overwrite test then asks for one Written extent.

use std::collections::BTreeSet;

/// State of a mapped extent (`ext4_ext_is_unwritten`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ExtentState {
    /// Allocated, reads as zeros until converted.
    Unwritten,
    /// Allocated and initialized.
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

/// One extent: logical start, length, physical start, state.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
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
    pub extents: Vec<Extent>,
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
        let (gone, kept): (Vec<Extent>, Vec<Extent>) = self
            .extents
            .iter()
            .partition(|e| lblk <= e.lblk && e.end() <= end);
        self.extents = kept;
        self.delayed.retain(|&b| b < lblk || b >= end);
        gone.iter().map(|e| (e.pblk, e.len)).collect()
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

//! `ext4_ext_convert_to_initialized` (fs/ext4/extents.c): how plain
//! `EXT4_GET_BLOCKS_CREATE` turns part of an unwritten extent written. Used by writeback
//! without dioread_nolock and by the extending DIO path's `ext4_get_block`.

use crate::fs::ext4::extents::{Extent, ExtentState};
use crate::limits::{EXT_INIT_MAX_LEN, EXTENT_MAX_ZEROOUT_KB};
use crate::mm::filemap::unwritten_merge_allowed;
use crate::notes::Notes;
use crate::state::{Data, InodeIx, State};

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
fn ext4_ext_zeroout(state: &mut State, pblk: u32, count: u64) {
    let spb = state.geometry.sectors_per_block() as usize;
    let first = pblk as usize * spb;
    state.disk.sectors[first..first + count as usize * spb].fill(Data::Zero);
}

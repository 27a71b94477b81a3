//! Truncate in `ext4_setattr` order (fs/ext4/inode.c) and a crash followed by
//! journal replay and `ext4_orphan_cleanup`.

use crate::fs::ext4::extents::ExtentState;
use crate::fs::ext4::super_::Geometry;
use crate::mm::filemap::page_from_disk;
use crate::notes::Notes;
use crate::ops::{Frame, OpResult, OtherFrame, OtherPc};
use crate::state::{ActorId, Data, Disk, InodeIx, Page, Sleep, State};

/// One step of `ftruncate(size)`.
pub fn run(
    state: &mut State,
    a: ActorId,
    inode: InodeIx,
    size: u64,
    f: &mut OtherFrame,
    notes: &mut Notes,
) {
    let ino = &mut state.inodes[inode];
    match f.pc {
        OtherPc::IMutexLock => {
            f.flag = size <= ino.i_size;
            lock_i_mutex(state, a, inode, notes);
            note!(notes, "shrink={}", f.flag);
        }
        OtherPc::OrphanAdd => {
            ino.orphan = true;
            f.orphan = true;
            ino.sync_dirty = true;
            note!(notes, "ext4_orphan_add");
        }
        OtherPc::SetSize => {
            ino.i_disksize = size;
            ino.i_size = size;
            ino.sync_dirty = true;
            ino.datasync_dirty = true;
            note!(notes, "i_disksize=i_size={size} under i_data_sem");
        }
        OtherPc::DioWait => {
            // ext4_inode_block_unlocked_dio, inode_dio_wait, ext4_inode_resume_unlocked_dio.
            ino.state_dioread_lock = ino.i_dio_count != 0;
            if ino.i_dio_count != 0 {
                note!(
                    notes,
                    "inode_dio_wait: i_dio_count={} sleep",
                    ino.i_dio_count
                );
                state.actors[a as usize].sleeping = Some(Sleep::DioWait(inode));
            }
        }
        OtherPc::TruncatePagecache => {
            // d4f5258eae7b: ext4_setattr's i_mmap_sem is mapping->invalidate_lock, held over
            // truncate_pagecache and ext4_truncate (6.8.1 fs/ext4/inode.c:5378, 5459):
            //     -        down_write(&EXT4_I(inode)->i_mmap_sem);
            //     +        filemap_invalidate_lock(inode->i_mapping);
            // Not shrinking, nothing follows truncate_pagecache but the unlock: no hold.
            if f.flag {
                invalidate_lock(state, inode, notes);
            }
            truncate_pagecache(state, inode, size, notes);
        }
        OtherPc::FreeBlocks => {
            ext4_truncate(state, inode, size, notes);
            invalidate_unlock(state, inode, notes);
        }
        OtherPc::IMutexUnlock => unlock_i_mutex(state, a, inode, notes),
        pc => unreachable!("{pc:?} is not a truncate step"),
    }
}

/// d4f5258eae7b: `filemap_invalidate_lock(mapping)`, the write side of
/// `mapping->invalidate_lock`, where 4.4 takes `down_write(&EXT4_I(inode)->i_mmap_sem)`.
/// Nothing else holds it then (the holders hold `i_mutex`; readers hold it within a step).
/// Unpatched, nothing: `i_mmap_sem` keeps out only page faults, which the model has not.
fn invalidate_lock(state: &mut State, inode: InodeIx, notes: &mut Notes) {
    if !state.patched(crate::patches::Patch::InvalidateLock) {
        return;
    }
    let lock = &mut state.inodes[inode].invalidate_lock;
    assert!(
        !lock.writer && lock.readers == 0,
        "invalidate_lock taken twice"
    );
    lock.writer = true;
    note!(notes, "filemap_invalidate_lock");
}

/// d4f5258eae7b: `filemap_invalidate_unlock(mapping)`, if held.
fn invalidate_unlock(state: &mut State, inode: InodeIx, notes: &mut Notes) {
    let lock = &mut state.inodes[inode].invalidate_lock;
    if lock.writer {
        lock.writer = false;
        note!(notes, "filemap_invalidate_unlock");
    }
}

/// `mutex_lock(&inode->i_mutex)` by actor `a` (the caller checked it was free).
pub(crate) fn lock_i_mutex(state: &mut State, a: ActorId, inode: InodeIx, notes: &mut Notes) {
    let ino = &mut state.inodes[inode];
    assert!(ino.i_mutex.is_none(), "i_mutex taken twice");
    ino.i_mutex = Some(a);
    note!(notes, "i_mutex({}) taken", ino.ino);
}

/// `mutex_unlock(&inode->i_mutex)` by actor `a`.
pub(crate) fn unlock_i_mutex(state: &mut State, a: ActorId, inode: InodeIx, notes: &mut Notes) {
    let ino = &mut state.inodes[inode];
    assert_eq!(ino.i_mutex, Some(a), "i_mutex owner");
    ino.i_mutex = None;
    note!(notes, "i_mutex({}) released", ino.ino);
}

/// `truncate_pagecache(inode, size)`: drop the pages wholly past `size`, zero the tail of
/// the page holding it (the caller waited for their writeback).
pub(crate) fn truncate_pagecache(state: &mut State, inode: InodeIx, size: u64, notes: &mut Notes) {
    let g = state.geometry;
    let ino = &mut state.inodes[inode];
    let first_whole = size.div_ceil(g.pagesize());
    let before = ino.pages.len();
    ino.pages.retain(|&i, _| i < first_whole);
    if let Some(page) = ino
        .pages
        .get_mut(&(size >> g.page_bits))
        .filter(|_| !size.is_multiple_of(g.pagesize()))
    {
        let offset = size & (g.pagesize() - 1);
        let first_sector = offset.div_ceil(g.sectorsize());
        page.data[first_sector as usize..].fill(Data::Zero);
        discard_buffers(page, g, offset, g.pagesize());
    }
    note!(
        notes,
        "truncate_pagecache dropped {} pages",
        before - ino.pages.len()
    );
}

/// `ext4_truncate`: `ext4_block_truncate_page` zeroes the partial block's tail, the blocks
/// past `size` are freed, the orphan entry goes.
pub(crate) fn ext4_truncate(state: &mut State, inode: InodeIx, size: u64, notes: &mut Notes) {
    let g = state.geometry;
    if !size.is_multiple_of(g.blocksize()) {
        let block_end = (size | (g.blocksize() - 1)) + 1;
        zero_block_range(state, inode, size, block_end, notes);
    }
    let first = size.div_ceil(g.blocksize());
    let freed = state.inodes[inode].map.remove(first, u64::MAX);
    for &(pblk, len) in &freed {
        state.disk.release(pblk, len);
    }
    let ino = &mut state.inodes[inode];
    // ext4_ext_truncate / ext4_ind_truncate: "we have to know where to truncate from in
    // crash case" (fs/ext4/extents.c:4650-4651, indirect.c:1238).
    if ino.i_disksize != ino.i_size {
        ino.i_disksize = ino.i_size;
        (ino.sync_dirty, ino.datasync_dirty) = (true, true);
    }
    ino.orphan = false;
    note!(
        notes,
        "ext4_truncate freed {}, i_disksize={}, orphan_del",
        freed_text(&freed),
        ino.i_disksize
    );
}

/// `__ext4_block_zero_page_range` over `[from, to)` inside one block. `ext4_get_block`
/// (create = 0) leaves the buffer unmapped for a hole **and for an unwritten extent**
/// (`ext4_ext_handle_unwritten_extents`: "the buffer head will be unmapped so that a read
/// from the block returns 0s"; `_ext4_get_block` copies `m_flags` over the mapped bit):
/// "unmapped? It's a hole - nothing to do". That lookup runs only for a buffer not already
/// mapped (fs/ext4/inode.c:3500-3508): a cached page's buffer that writeback mapped
/// (`bh_mapped`; an unwritten block's too, whose conversion a failed bio skipped) or a
/// delayed one (`map_bh` in `ext4_da_get_block_prep`) is zeroed whatever the extent's state.
/// A Written block whose page is not cached is read from disk (`ll_rw_block`), then the
/// range is zeroed in the page and the block's buffer dirtied.
fn zero_block_range(state: &mut State, inode: InodeIx, from: u64, to: u64, notes: &mut Notes) {
    let g = state.geometry;
    let index = from >> g.page_bits;
    let bit = 1 << ((from >> g.blkbits) - (index << (g.page_bits - g.blkbits)));
    let buffer_mapped = state.inodes[inode]
        .pages
        .get(&index)
        .is_some_and(|page| page.bh_mapped & bit != 0);
    let written = state.inodes[inode].map.pblk(from >> g.blkbits);
    let written = written.filter(|&(_, s)| s == ExtentState::Written);
    if !buffer_mapped && written.is_none() {
        return;
    }
    if !state.inodes[inode].pages.contains_key(&index) {
        let (pblk, extent_state) = written.expect("an uncached page's buffer is unmapped");
        let mut page = page_from_disk(state, inode, index);
        let spb = g.sectors_per_block() as usize;
        let in_page = (((from >> g.blkbits) << g.blkbits) & (g.pagesize() - 1)) >> g.sector_bits;
        let raw = &state.disk.sectors[pblk as usize * spb..(pblk as usize + 1) * spb];
        page.data[in_page as usize..in_page as usize + spb].copy_from_slice(raw);
        state.inodes[inode].pages.insert(index, page);
        note!(notes, "read block p{pblk} ({extent_state}) from disk");
    }
    let page = state.inodes[inode].pages.get_mut(&index).expect("page");
    let first = (from & (g.pagesize() - 1)).div_ceil(g.sectorsize()) as usize;
    let last = (((to - 1) & (g.pagesize() - 1)) + 1) >> g.sector_bits;
    if first < last as usize {
        page.data[first..last as usize].fill(Data::Zero);
    }
    // An unmapped buffer: ext4_get_block(inode, iblock, bh, 0) maps it written
    // (fs/ext4/inode.c:3499-3501, 742-743); a mapped one keeps its flags.
    page.bh_mapped |= bit;
    page.dirty |= bit;
    crate::mm::filemap::assert_buffers(page);
    // mark_buffer_dirty, then ext4_jbd2_file_inode in data=ordered (fs/ext4/inode.c:3544).
    state.inodes[inode].ordered = true;
    note!(notes, "zero {from}..{to} in page {index}");
}

/// One step of `ext4_punch_hole(inode, offset, length)` (4.4 order: flush the range, lock,
/// return at or past `i_size`, block unlocked DIO and `inode_dio_wait`, drop the whole pages,
/// zero the partial blocks, remove the whole blocks under `i_data_sem`, unlock).
pub fn punch(
    state: &mut State,
    a: ActorId,
    inode: InodeIx,
    (offset, length): (u64, u64),
    f: &mut OtherFrame,
    notes: &mut Notes,
) {
    let g = state.geometry;
    match f.pc {
        OtherPc::IMutexLock => {
            lock_i_mutex(state, a, inode, notes);
            let ino = &mut state.inodes[inode];
            f.flag = offset < ino.i_size && length > 0;
            // "If the hole extends beyond i_size, set the hole to end after the page that
            // contains i_size."
            let end = if offset + length > ino.i_size {
                ino.i_size + g.pagesize() - (ino.i_size & (g.pagesize() - 1))
            } else {
                offset + length
            };
            f.pos = end;
            note!(notes, "hole {offset}..{end}");
        }
        OtherPc::DioWait => {
            run(state, a, inode, 0, f, notes);
            // Punch keeps unlocked DIO blocked until it is done.
            state.inodes[inode].state_dioread_lock = true;
        }
        OtherPc::IMutexUnlock => {
            state.inodes[inode].state_dioread_lock = false;
            run(state, a, inode, 0, f, notes);
        }
        OtherPc::TruncatePagecache => {
            // d4f5258eae7b: ext4_punch_hole holds mapping->invalidate_lock from before
            // truncate_pagecache_range until the blocks are removed (6.8.1
            // fs/ext4/inode.c:3946, 4017), where 4.4 holds i_mmap_sem (inode.c:3755, 3820):
            //     -    down_write(&EXT4_I(inode)->i_mmap_sem);
            //     +    filemap_invalidate_lock(mapping);
            invalidate_lock(state, inode, notes);
            punch_pagecache(state, inode, offset, f.pos, notes);
        }
        OtherPc::FreeBlocks => {
            let first = offset.div_ceil(g.blocksize());
            let stop = f.pos >> g.blkbits;
            let freed = if first < stop {
                state.inodes[inode].map.remove(first, stop)
            } else {
                Vec::new()
            };
            for &(pblk, len) in &freed {
                state.disk.release(pblk, len);
            }
            state.inodes[inode].datasync_dirty = true;
            state.inodes[inode].sync_dirty = true;
            note!(
                notes,
                "ext4_ext_remove_space {first}..{stop} freed {}",
                freed_text(&freed)
            );
            //     -    up_write(&EXT4_I(inode)->i_mmap_sem);
            //     +    filemap_invalidate_unlock(mapping);
            invalidate_unlock(state, inode, notes);
        }
        pc => unreachable!("{pc:?} is not a punch-hole step"),
    }
}

/// `truncate_pagecache_range` over the whole blocks of the hole (the caller waited for
/// writeback), then `ext4_zero_partial_blocks(offset, end - offset)`.
fn punch_pagecache(state: &mut State, inode: InodeIx, offset: u64, end: u64, notes: &mut Notes) {
    let g = state.geometry;
    let first_block_offset = offset.div_ceil(g.blocksize()) * g.blocksize();
    let last_block_offset = (end >> g.blkbits << g.blkbits).saturating_sub(1);
    if last_block_offset > first_block_offset {
        update_disksize_before_punch(state, inode, offset, end - offset, notes);
        truncate_pagecache_range(state, inode, first_block_offset, last_block_offset);
        note!(
            notes,
            "truncate_pagecache_range {first_block_offset}..={last_block_offset}"
        );
    }
    let byte_end = end - 1;
    let (partial_start, partial_end) =
        (offset & (g.blocksize() - 1), byte_end & (g.blocksize() - 1));
    let block_end = |pos: u64| (pos | (g.blocksize() - 1)) + 1;
    if offset >> g.blkbits == byte_end >> g.blkbits {
        if partial_start != 0 || partial_end != g.blocksize() - 1 {
            zero_block_range(state, inode, offset, end, notes);
        }
        return;
    }
    if partial_start != 0 {
        zero_block_range(state, inode, offset, block_end(offset), notes);
    }
    if partial_end != g.blocksize() - 1 {
        zero_block_range(state, inode, byte_end - partial_end, end, notes);
    }
}

/// `ext4_update_disksize_before_punch` (fs/ext4/inode.c:3659-3680): a hole reaching
/// `i_size` raises `i_disksize` to `i_size` first, since the writeback that would have
/// raised it never comes for the pages the punch drops.
fn update_disksize_before_punch(
    state: &mut State,
    inode: InodeIx,
    offset: u64,
    len: u64,
    notes: &mut Notes,
) {
    let ino = &mut state.inodes[inode];
    let size = ino.i_size;
    if offset > size || offset + len < size || ino.i_disksize >= size {
        return;
    }
    ino.i_disksize = size;
    (ino.sync_dirty, ino.datasync_dirty) = (true, true);
    note!(notes, "ext4_update_disksize_before_punch i_disksize={size}");
}

/// `truncate_inode_pages_range(start, last)`: drops the pages wholly inside, zeroes the part
/// inside of the others.
fn truncate_pagecache_range(state: &mut State, inode: InodeIx, start: u64, last: u64) {
    let g = state.geometry;
    let ino = &mut state.inodes[inode];
    let indexes: Vec<u64> = ino
        .pages
        .range(start >> g.page_bits..=last >> g.page_bits)
        .map(|(&i, _)| i)
        .collect();
    for index in indexes {
        let (page_start, page_last) = (index << g.page_bits, ((index + 1) << g.page_bits) - 1);
        if start <= page_start && page_last <= last {
            ino.pages.remove(&index);
            continue;
        }
        let from = (start.max(page_start) - page_start) >> g.sector_bits;
        let to = (last.min(page_last) - page_start + 1) >> g.sector_bits;
        let page = ino.pages.get_mut(&index).expect("cached page");
        page.data[from as usize..to as usize].fill(Data::Zero);
        discard_buffers(page, g, from << g.sector_bits, to << g.sector_bits);
    }
}

/// `block_invalidatepage(page, offset, length)` (via `ext4_da_invalidatepage`) on the part
/// `[from, to)` of a page that stays cached: each buffer wholly inside is discarded
/// (`discard_buffer` clears its dirty bit), so writeback never writes those blocks.
fn discard_buffers(page: &mut Page, g: Geometry, from: u64, to: u64) {
    let first = from.div_ceil(g.blocksize());
    let end = to >> g.blkbits;
    for block in first..end {
        page.dirty &= !(1 << block);
        // discard_buffer: BUFFER_FLAGS_DISCARD (fs/buffer.c:1495-1512).
        page.bh_mapped &= !(1 << block);
        page.bh_delay &= !(1 << block);
        page.bh_unwritten &= !(1 << block);
    }
    crate::mm::filemap::assert_buffers(page);
}

/// Power failure: what the committed journal and the disk hold survives; journal
/// replay, then `ext4_orphan_cleanup` truncates orphans to their on-disk size. Every other
/// actor dies; the crashing actor goes on with its program on the recovered state.
pub fn crash(state: &mut State, a: ActorId, notes: &mut Notes) {
    let g = state.geometry;
    for ino in &mut state.inodes {
        let committed = ino.committed.clone();
        ino.map = committed.map;
        ino.i_size = committed.i_disksize;
        ino.i_disksize = committed.i_disksize;
        ino.orphan = committed.orphan;
        ino.pages.clear();
        (ino.i_mutex, ino.i_private, ino.state_dio_unwritten) = (None, None, false);
        ino.state_dioread_lock = false;
        ino.as_eio = false;
        ino.wb_err = 0;
        (ino.i_dio_count, ino.i_unwritten, ino.i_ioend_count) = (0, 0, 0);
        ino.i_data_sem = Default::default();
        ino.invalidate_lock = Default::default();
        (ino.sync_dirty, ino.datasync_dirty, ino.ordered) = (false, false, false);
    }
    // The recovered inodes are new in memory (wb_err 0); the files are opened anew.
    state.actors.iter_mut().for_each(|a| a.f_wb_err.fill(0));
    let blocks = g.disk_blocks as usize;
    let sectors = state.disk.sectors.clone();
    let mut disk = Disk {
        sectors,
        free: vec![true; blocks],
        freed_uncommitted: vec![false; blocks],
    };
    for e in state.inodes.iter().flat_map(|i| i.map.extents.iter()) {
        disk.free[e.pblk as usize..(e.pblk as u64 + e.len) as usize].fill(false);
    }
    state.disk = disk;
    state.bios.clear();
    state.dios.clear();
    state.io_ends.clear();
    state.work.clear();
    state.aio_mutex.clear();
    // ext4_orphan_cleanup: ext4_truncate each orphan to its size (tail zeroing included).
    for inode in 0..state.inodes.len() {
        if state.inodes[inode].orphan {
            let size = state.inodes[inode].i_size;
            ext4_truncate(state, inode, size, notes);
        }
    }
    crate::jbd2::journal::commit_recovered(state);
    state.crashed = true;
    kill_others(state, a);
    note!(notes, "crash: journal replayed, orphans truncated");
}

fn kill_others(state: &mut State, a: ActorId) {
    for (id, actor) in state.actors.iter_mut().enumerate() {
        actor.sleeping = None;
        actor.wb_map = None;
        if id == a as usize || actor.op >= actor.program.len() {
            continue;
        }
        if !matches!(actor.frame, Frame::Idle) {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        while actor.op < actor.program.len() {
            actor.results.push(OpResult::Crashed);
            actor.op += 1;
        }
        actor.frame = Frame::Idle;
    }
}

/// Freed physical runs as `p3+2 p7+1` (`none` when nothing was freed).
fn freed_text(freed: &[(u32, u64)]) -> String {
    if freed.is_empty() {
        return "none".to_string();
    }
    let runs: Vec<String> = freed.iter().map(|(p, n)| format!("p{p}+{n}")).collect();
    runs.join(" ")
}

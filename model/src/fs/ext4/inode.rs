//! fs/ext4/inode.c: `ext4_direct_IO`/`ext4_ext_direct_IO` with its `get_block` variants and
//! `ext4_end_io_dio`; the delalloc write (`ext4_da_write_begin`/`ext4_da_write_end`);
//! writeback (`ext4_writepages`, `ext4_writepage`); truncate in `ext4_setattr` order
//! (`ext4_truncate`, `ext4_block_truncate_page`) and `ext4_punch_hole`.

use crate::fs::direct_io::{block_request, dio_result, end_io_call};
use crate::fs::ext4::extents::{
    Extent, ExtentState, convert_unwritten_extents, ext4_ext_convert_to_initialized,
    finish_unwritten_map, unwritten_merge_allowed,
};
use crate::fs::ext4::indirect::extends;
use crate::fs::ext4::page_io::{
    flag_io_unwritten, new_io_end, put_converts, put_io_end, put_io_end_defer, submit_writeback_bio,
};
use crate::fs::ext4::super_::freed_text;
use crate::include::fs::{errno, inode_dio_end};
use crate::mm::filemap::{SyncMode, assert_buffers, block_bit, page_from_disk};
use crate::mm::truncate::{truncate_pagecache, truncate_pagecache_range};
use crate::notes::Notes;
use crate::ops::{DioPath, IocbPrivate, OtherFrame, OtherPc, WriteFrame};
use crate::patches::Patch;
use crate::state::{ActorId, Data, Dio, InodeIx, ObjId, Page, Sleep, State, Wait};

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

/// `down_read(&EXT4_I(inode)->i_data_sem); mutex_unlock(&inode->i_mutex);`
pub(crate) fn overwrite_unlock(
    state: &mut State,
    a: ActorId,
    f: &mut WriteFrame,
    notes: &mut Notes,
) {
    let ino = &mut state.inodes[f.inode];
    assert!(!ino.i_data_sem.writer && ino.i_mutex == Some(a));
    ino.i_data_sem.readers += 1;
    ino.i_mutex = None;
    f.i_mutex_held = false;
    note!(notes, "i_data_sem read, i_mutex({}) released", ino.ino);
}

/// `iocb->private = NULL; ext4_inode_aio_set(inode, NULL);` (fs/ext4/inode.c:3258-3259),
/// after `i_mutex` was dropped for an overwrite.
pub(crate) fn set_private(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    f.iocb_private = IocbPrivate::Null;
    if leaves_i_private(state, f) {
        note!(notes, "iocb->private=NULL (i_private left alone)");
        return;
    }
    state.inodes[f.inode].i_private = None;
    note!(notes, "iocb->private=NULL i_private=NULL");
}

/// `74dae4278546` (v4.5, 4.5.0 fs/ext4/inode.c:ext4_ext_direct_IO:3287-3310): an overwrite
/// takes neither `ext4_inode_aio_set` nor an io_end, only the non-overwrite branch does:
///
/// ```c
///     iocb->private = NULL;
///     if (overwrite) {
///         get_block_func = ext4_get_block_overwrite;
///     } else {
///         ext4_inode_aio_set(inode, NULL);
///         if (!is_sync_kiocb(iocb)) {
///             io_end = ext4_init_io_end(inode, GFP_NOFS);
/// ```
///
/// In 4.4 (fs/ext4/inode.c:3258-3277) both run for every write, an overwrite too.
fn overwrite_skips_io_end(state: &State, f: &WriteFrame) -> bool {
    if state.patched(Patch::OverwriteDioLeavesIPrivate) {
        f.path == Some(DioPath::ExtOverwrite)
    } else {
        false
    }
}

/// `109811c20fb8` (v4.6): `ext4_ext_direct_IO` neither allocates an io_end nor touches
/// `i_private` (`ext4_inode_aio_set` is gone); it only picks the `get_block` (4.6.2
/// fs/ext4/inode.c:3395-3404):
///
/// ```c
///     iocb->private = NULL;
///     if (overwrite)
///         get_block_func = ext4_dio_get_block_overwrite;
///     else if (is_sync_kiocb(iocb)) {
///         get_block_func = ext4_dio_get_block_unwritten_sync;
///         dio_flags = DIO_LOCKING;
///     } else {
///         get_block_func = ext4_dio_get_block_unwritten_async;
///         dio_flags = DIO_LOCKING;
///     }
/// ```
fn no_submission_io_end(state: &State) -> bool {
    state.patched(Patch::IoEndInBPrivate)
}

/// `ext4_ext_direct_IO` leaves `i_private` alone at [`crate::ops::WritePc::ExtSetPrivate`].
fn leaves_i_private(state: &State, f: &WriteFrame) -> bool {
    overwrite_skips_io_end(state, f) || no_submission_io_end(state)
}

/// `ext4_ext_direct_IO` allocates an io_end ([`crate::ops::WritePc::ExtInitIoEnd`]): in 4.4 every
/// asynchronous write does (`if (!is_sync_kiocb(iocb))`, fs/ext4/inode.c:3260).
pub fn inits_io_end(state: &State, f: &WriteFrame) -> bool {
    !f.iocb.is_sync_kiocb() && !overwrite_skips_io_end(state, f) && !no_submission_io_end(state)
}

/// After `__blockdev_direct_IO`, `ext4_ext_direct_IO` has an io_end of its own to put
/// ([`crate::ops::WritePc::ExtPutIoEnd`]); with `109811c20fb8` it has none, and the lines are gone
/// (4.6.2 fs/ext4/inode.c:3412-3417 go on with the sync conversion).
pub fn puts_own_io_end(state: &State) -> bool {
    !no_submission_io_end(state)
}

/// `ext4_init_io_end` with two references: `iocb->private` and `i_private`.
pub(crate) fn init_io_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let io_end = new_io_end(state, f.inode);
    state.io_ends.get_mut(&io_end).expect("new io_end").count += 1;
    f.iocb_private = IocbPrivate::IoEnd(io_end);
    f.io_end = Some(io_end);
    state.inodes[f.inode].i_private = Some(io_end);
    note!(notes, "io_end e{io_end} in iocb->private and i_private");
}

/// `914f82a32d02` ("ext4: refactor direct IO code", v4.7): `ext4_direct_IO_write` keeps
/// `ext4_dio_get_block` (written blocks, `DIO_SKIP_HOLES`: 4.4's `ext4_ind_direct_IO`) only
/// for block-mapped files and for writes whose first block lies wholly at or past EOF; every
/// other extent-file write, extending ones included, maps unwritten extents
/// (`ext4_dio_get_block_unwritten_sync` / `_async`: 4.4's `ext4_get_block_write`) and converts
/// them once the I/O succeeded (fs/ext4/inode.c at 914f82a32d02, 4.7.4 lines 3441-3450):
///
/// ```text
/// +    else if (!ext4_test_inode_flag(inode, EXT4_INODE_EXTENTS) ||
/// +         round_down(offset, 1 << inode->i_blkbits) >= inode->i_size) {
/// +        get_block_func = ext4_dio_get_block;
/// +        dio_flags = DIO_LOCKING | DIO_SKIP_HOLES;
/// +    } else if (is_sync_kiocb(iocb)) {
/// +        get_block_func = ext4_dio_get_block_unwritten_sync;
/// ```
///
/// Here: an extending extent-file write whose first block is not wholly past EOF takes
/// `ext4_ext_direct_IO`'s steps between `ext4_ind_direct_IO`'s orphan step and its end
/// (the order of 4.7's `ext4_direct_IO_write`): see [`crate::fs::ext4::file::after`].
fn dio_refactor_unwritten(state: &State, f: &WriteFrame) -> bool {
    let ino = &state.inodes[f.inode];
    let blocksize = state.geometry.blocksize();
    state.patched(crate::patches::Patch::DioRefactor)
        && ino.extents
        && f.iocb.ki_pos & !(blocksize - 1) < ino.i_size
}

/// `914f82a32d02`: an `ext4_ext_direct_IO` write (unwritten extents) that extends the file
/// first runs `ext4_direct_IO_write`'s orphan step, 4.4's `ext4_ind_direct_IO` head:
///
/// ```text
/// +    if (final_size > inode->i_size) {
/// +        /* Credits for sb + inode write */
/// +        handle = ext4_journal_start(inode, EXT4_HT_INODE, 2);
/// ```
///
/// (In 4.4 no extending write reaches `ext4_ext_direct_IO`: this is never true unpatched.)
pub(crate) fn ext_orphan_first(state: &State, f: &WriteFrame) -> bool {
    matches!(f.path, Some(DioPath::Ext | DioPath::ExtOverwrite)) && extends(state, f)
}

/// This `get_block` call takes `down_write(i_data_sem)`: the lookup found no Written
/// mapping and the call creates.
pub(crate) fn get_block_allocates(state: &State, f: &WriteFrame) -> bool {
    let (lblk, want, create) = block_request(state, f);
    create && !state.inodes[f.inode].map.lookup(lblk, want).mapped()
}

/// `ext4_map_blocks` with CREATE finds no written mapping: `down_write(i_data_sem)`, and
/// `ext4_ext_map_blocks` reads `io = ext4_inode_aio(inode)` on entry, before
/// `ext4_mb_new_blocks` (which may sleep) allocates.
pub(crate) fn map_enter(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let patched = state.patched(Patch::IoEndInBPrivate);
    let ino = &mut state.inodes[f.inode];
    assert!(!ino.i_data_sem.writer && ino.i_data_sem.readers == 0);
    ino.i_data_sem.writer = true;
    f.gb_io_pending = true;
    if patched {
        // 109811c20fb8: ext4_ext_map_blocks no longer reads ext4_inode_aio(inode).
        f.gb_io = None;
        crate::jbd2::transaction::handle_start(state);
        note!(notes, "down_write(i_data_sem)");
        return;
    }
    f.gb_io = ino.i_private;
    crate::jbd2::transaction::handle_start(state);
    note!(
        notes,
        "down_write(i_data_sem), io = i_private = {}",
        crate::state::io_end_name(f.gb_io)
    );
}

/// The mapping `get_block` returns for the DIO path: `(blocks, pblk, buffer_new)`, or
/// `None` when the block stays unmapped (`-ENOTBLK`) or allocation fails (`-ENOSPC`).
pub(crate) fn map_for_dio(
    state: &mut State,
    f: &mut WriteFrame,
    (lblk, want, create): (u64, u64, bool),
    notes: &mut Notes,
) -> Option<(u64, u32, bool)> {
    let found = state.inodes[f.inode].map.lookup(lblk, want);
    let hole = state.inodes[f.inode].map.hole_len(lblk, want);
    let result = match (f.path, found.state) {
        (_, Some(ExtentState::Written)) => Some((found.len, found.pblk, false)),
        (Some(DioPath::Ext), Some(ExtentState::Unwritten)) => {
            state.inodes[f.inode].map.split(lblk, found.len);
            flag_pre_io(state, f.inode, f.gb_io);
            Some((found.len, found.pblk, true))
        }
        (Some(DioPath::Ext), None) => {
            allocate(state, f.inode, (lblk, hole), ExtentState::Unwritten).inspect(|_| {
                flag_pre_io(state, f.inode, f.gb_io);
            })
        }
        (Some(DioPath::Ind), Some(ExtentState::Unwritten)) if create => {
            ext4_ext_convert_to_initialized(state, f.inode, lblk, want, notes);
            Some((found.len, found.pblk, true))
        }
        (Some(DioPath::Ind), None) if create => {
            allocate(state, f.inode, (lblk, hole), ExtentState::Written)
        }
        _ => {
            f.dio_ret = errno::ENOTBLK;
            note!(notes, "block {lblk} unmapped: -ENOTBLK");
            return None;
        }
    };
    match result {
        Some((len, pblk, new)) => {
            note!(notes, "get_block {lblk}+{len} -> p{pblk} new={new}")
        }
        None => {
            f.dio_ret = errno::ENOSPC;
            note!(notes, "allocation failed: -ENOSPC");
        }
    }
    result
}

/// A new extent over a hole (`ext4_ext_map_blocks` with CREATE): unwritten for
/// `EXT4_GET_BLOCKS_IO_CREATE_EXT` (PRE_IO: no merge, flag the io_end), else written.
pub(crate) fn allocate(
    state: &mut State,
    inode: InodeIx,
    (lblk, len): (u64, u64),
    kind: ExtentState,
) -> Option<(u64, u32, bool)> {
    let claimable = state.claimable_blocks();
    if claimable == 0 {
        return None;
    }
    let (pblk, got) = state.disk.allocate(len.min(claimable))?;
    let unwritten = kind == ExtentState::Unwritten;
    let merge_unwritten = unwritten_merge_allowed(state, inode);
    let ino = &mut state.inodes[inode];
    (lblk..lblk + got).for_each(|b| {
        ino.map.delayed.remove(&b);
    });
    ino.map.insert(
        Extent {
            lblk,
            len: got,
            pblk,
            state: kind,
        },
        !unwritten,
        merge_unwritten,
    );
    ino.sync_dirty = true;
    ino.datasync_dirty |= !unwritten;
    // ext4_map_blocks (fs/ext4/inode.c:665-671): EXT4_MAP_NEW and not unwritten,
    // data=ordered: ext4_jbd2_file_inode.
    ino.ordered |= !unwritten;
    Some((got, pblk, true))
}

/// `ext4_set_io_unwritten_flag(inode, ext4_inode_aio(inode))` or, with `i_private` NULL,
/// `EXT4_STATE_DIO_UNWRITTEN` (fs/ext4/extents.c:4512-4517).
fn flag_pre_io(state: &mut State, inode: InodeIx, io: Option<ObjId>) {
    if state.patched(Patch::IoEndInBPrivate) {
        // 109811c20fb8 removed the flagging from ext4_ext_map_blocks (and from
        // ext4_ext_handle_unwritten_extents): a PRE_IO mapping only reports
        // `map->m_flags |= EXT4_MAP_UNWRITTEN` (4.6.2 fs/ext4/extents.c:4043-4049); the
        // get_block flags after it ([`dio_get_block_unwritten`]).
        return;
    }
    match io {
        Some(io_end) if !state.io_ends.contains_key(&io_end) => {
            // The io_end read from i_private before ext4_mb_new_blocks was freed since.
            state.hazard = Some(crate::state::Hazard::UseAfterFree(format!(
                "ext4_set_io_unwritten_flag on io_end e{io_end}, which ext4_ext_map_blocks \
                 read from i_private before ext4_mb_new_blocks and which was freed since"
            )));
        }
        Some(io_end) => flag_io_unwritten(state, io_end),
        None => state.inodes[inode].state_dio_unwritten = true,
    }
}

/// `_ext4_get_block`: `set_buffer_defer_completion` when `i_private`'s io_end is flagged.
pub(crate) fn defer_if_unwritten_io_end(state: &mut State, f: &WriteFrame) {
    let flagged = state.inodes[f.inode]
        .i_private
        .is_some_and(|e| state.io_ends[&e].unwritten);
    if flagged {
        state
            .dios
            .get_mut(&f.dio.expect("dio"))
            .expect("dio")
            .defer_completion = true;
    }
}

/// `109811c20fb8`: after the mapping, `ext4_dio_get_block_unwritten_async` makes the io_end
/// on the first unwritten buffer, keeps it in `b_private` (which `get_more_blocks` copies to
/// `dio->private` and `dio_complete` passes to `ext4_end_io_dio`) and always defers the
/// completion (4.6.2 fs/ext4/inode.c:847-858):
///
/// ```c
///     if (!ret && buffer_unwritten(bh_result)) {
///         if (!bh_result->b_private) {
///             ext4_io_end_t *io_end;
///
///             io_end = ext4_init_io_end(inode, GFP_KERNEL);
///             if (!io_end)
///                 return -ENOMEM;
///             bh_result->b_private = io_end;
///             ext4_set_io_unwritten_flag(inode, io_end);
///         }
///         set_buffer_defer_completion(bh_result);
///     }
/// ```
///
/// and `ext4_dio_get_block_unwritten_sync` marks the inode (4.6.2 884-885):
/// `if (!ret && buffer_unwritten(bh_result)) ext4_set_inode_state(inode,
/// EXT4_STATE_DIO_UNWRITTEN);`. The overwrite's and the indirect path's `get_block` do
/// neither.
pub(crate) fn dio_get_block_unwritten(state: &mut State, f: &WriteFrame, notes: &mut Notes) {
    let unwritten = state.block_state(f.inode, f.dio_next) == Some(ExtentState::Unwritten);
    if f.path != Some(DioPath::Ext) || !unwritten {
        return;
    }
    if f.iocb.is_sync_kiocb() {
        state.inodes[f.inode].state_dio_unwritten = true;
        return;
    }
    let id = f.dio.expect("dio");
    let io_end = match state.dios[&id].private {
        Some(io_end) => io_end,
        None => {
            let io_end = new_io_end(state, f.inode);
            flag_io_unwritten(state, io_end);
            state.dios.get_mut(&id).expect("dio").private = Some(io_end);
            note!(notes, "io_end e{io_end} in b_private, unwritten");
            io_end
        }
    };
    let dio = state.dios.get_mut(&id).expect("dio");
    dio.defer_completion = true;
    debug_assert_eq!(dio.private, Some(io_end));
}

/// `dio->end_io` (`ext4_end_io_dio`), called with `ret`, would drop the io_end's last
/// reference and convert.
pub fn end_io_converts(state: &State, dio: &Dio, ret: i64) -> bool {
    end_io_put(state, dio, ret).is_some_and(|(io_end, size, clears)| {
        !clears && put_converts(state, io_end, (dio.offset, size))
    })
}

/// What `dio_complete` does with `dio->end_io` when it computed `ret`, and what
/// `ext4_end_io_dio` then does: `Some((io_end, size, clears))` when it reaches its
/// `iocb->private = NULL` and `ext4_put_io_end(io_end)`, recording `size` and, first,
/// clearing the io_end's unwritten flag when `clears`; `None` when it is not called or returns
/// before.
pub fn end_io_put(state: &State, dio: &Dio, ret: i64) -> Option<(ObjId, u64, bool)> {
    if !dio.end_io {
        return None;
    }
    let size = if state.patched(Patch::DioAlwaysCallsEndIo) {
        // 187372a3b9fa (fs/direct-io.c:dio_complete, 4.6.2 fs/direct-io.c:256-262):
        //     if (dio->end_io) {
        //         int err;
        //
        //         err = dio->end_io(dio->iocb, offset, ret, dio->private);
        ret
    } else {
        // 4.4: `if (dio->end_io && dio->result) dio->end_io(dio->iocb, offset, transferred,
        // dio->private);` (fs/direct-io.c:256-257).
        if dio.result == 0 {
            return None;
        }
        dio.result as i64
    };
    let failed = size <= 0;
    if failed && !state.patched(Patch::FailedAioDioConvertsNothing) {
        // 187372a3b9fa's ext4_end_io_dio (fs/ext4/inode.c, at that commit), before anything:
        //     if (size <= 0)
        //         return 0;
        return None;
    }
    // `if (!io_end) return;` (fs/ext4/inode.c:3171-3172).
    let io_end = dio.private?;
    // 74c66bcb7eda replaced that early return (fs/ext4/inode.c:ext4_end_io_dio, 4.6.2
    // 3309-3316):
    //     /*
    //      * Error during AIO DIO. We cannot convert unwritten extents as the
    //      * data was not written. Just clear the unwritten flag and drop io_end.
    //      */
    //     if (size <= 0) {
    //         ext4_clear_io_unwritten_flag(io_end);
    //         size = 0;
    //     }
    Some((io_end, size.max(0) as u64, failed))
}

/// `dio->end_io` = `ext4_end_io_dio` when `dio->result`: record the range in the io_end,
/// clear `iocb->private`, put (converting if last). For an async completion, whose
/// `dio_complete` gets `ret = 0` (fs/direct-io.c:283, 312).
pub fn dio_end_io(state: &mut State, id: ObjId, notes: &mut Notes) {
    let ret = dio_result(&state.dios[&id]);
    end_io_call(state, id, ret, notes);
}

/// Both puts of the epilogue would convert: the last reference of a flagged io_end.
pub(crate) fn puts_convert(state: &State, f: &WriteFrame) -> bool {
    let Some(io_end) = f.io_end else { return false };
    let Some(end) = state.io_ends.get(&io_end) else {
        return false;
    };
    let refs = 1 + u8::from(extra_put(state, f));
    end.unwritten
        && end.count == refs
        && crate::fs::ext4::extents::has_unwritten(state, end.inode, end.offset, end.size)
}

/// "When no IO was submitted ext4_end_io_dio() was not called so we have to put iocb's
/// reference": `ret <= 0 && ret != -EIOCBQUEUED && iocb->private`.
///
/// 74c66bcb7eda removed these lines (fs/ext4/inode.c:3307-3316), `->end_io` being called
/// for every dio since 187372a3b9fa:
///
/// ```c
/// -        /*
/// -         * When no IO was submitted ext4_end_io_dio() was not
/// -         * called so we have to put iocb's reference.
/// -         */
/// -        if (ret <= 0 && ret != -EIOCBQUEUED && iocb->private) {
/// ```
fn extra_put(state: &State, f: &WriteFrame) -> bool {
    if state.patched(Patch::FailedAioDioConvertsNothing) {
        return false;
    }
    f.dio_ret <= 0
        && f.dio_ret != errno::EIOCBQUEUED
        && matches!(f.iocb_private, IocbPrivate::IoEnd(_))
}

/// `ext4_ext_direct_IO` after the I/O: `ext4_inode_aio_set(inode, NULL)`, put, extra put.
pub(crate) fn ext_put_io_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let Some(io_end) = f.io_end.take() else {
        return;
    };
    state.inodes[f.inode].i_private = None;
    let extra = extra_put(state, f);
    put_io_end(state, io_end, notes);
    if extra {
        put_io_end(state, io_end, notes);
        f.iocb_private = IocbPrivate::Null;
    }
    note!(
        notes,
        "i_private=NULL put io_end{}",
        if extra { " twice" } else { "" }
    );
}

/// The sync conversion of `ext4_ext_direct_IO` runs: `ret > 0 && !overwrite &&
/// EXT4_STATE_DIO_UNWRITTEN`.
pub(crate) fn sync_conversion(state: &State, f: &WriteFrame) -> bool {
    f.dio_ret > 0
        && f.path != Some(DioPath::ExtOverwrite)
        && state.inodes[f.inode].state_dio_unwritten
}

/// Sync conversion, `inode_dio_end`, and for overwrite `up_read(i_data_sem)`.
pub(crate) fn ext_convert_and_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    if sync_conversion(state, f) {
        convert_unwritten_extents(state, f.inode, f.iocb.ki_pos, f.dio_ret as u64, notes);
        state.inodes[f.inode].state_dio_unwritten = false;
    }
    inode_dio_end(state, f.inode);
    if f.path == Some(DioPath::ExtOverwrite) {
        let sem = &mut state.inodes[f.inode].i_data_sem;
        assert!(sem.readers > 0);
        sem.readers -= 1;
        note!(notes, "i_data_sem read released");
    }
}

/// `(BH_Delay, BH_Unwritten)` of block `lblk`'s buffer once `ext4_da_write_begin` has been
/// through it: an unmapped buffer gets `ext4_da_get_block_prep` (`__block_write_begin` calls
/// `get_block` only `if (!buffer_mapped(bh))`, fs/buffer.c), which maps it by the extent
/// found (`ext4_da_map_blocks`, fs/ext4/inode.c:1561-1686): a hole or a delayed block gets
/// `map_bh(invalid_block)` + `set_buffer_delay` (inode.c:1595-1597, 1660-1662), an unwritten
/// one `EXT4_MAP_UNWRITTEN` → `BH_Unwritten` + `BH_Mapped` (inode.c:1722-1733), a written
/// one `map_bh` alone. A mapped buffer keeps its flags.
fn da_buffer_flags(state: &State, inode: InodeIx, lblk: u64) -> (bool, bool) {
    let g = &state.geometry;
    let index = lblk >> (g.page_bits - g.blkbits);
    let bit = block_bit(g, index, lblk);
    if let Some(page) = state.inodes[inode].pages.get(&index)
        && page.bh_mapped & bit != 0
    {
        return (page.bh_delay & bit != 0, page.bh_unwritten & bit != 0);
    }
    match state.inodes[inode].map.pblk(lblk) {
        None => (true, false),
        Some((_, ExtentState::Unwritten)) => (false, true),
        Some((_, ExtentState::Written)) => (false, false),
    }
}

/// `ext4_da_should_update_i_disksize(page, end)` (fs/ext4/inode.c:2844-2861) for a write
/// ending at `new_end`, once `ext4_da_write_begin` has mapped its buffers: the buffer of the
/// block holding the last byte is mapped, neither delayed nor unwritten. A buffer that
/// writeback submitted has lost `BH_Unwritten` (inode.c:2162) while its extent stays
/// unwritten until `ext4_end_io`: 4.4 then raises `i_disksize`.
fn da_should_update_i_disksize(state: &State, inode: InodeIx, new_end: u64) -> bool {
    let (delay, unwritten) = da_buffer_flags(state, inode, (new_end - 1) >> state.geometry.blkbits);
    !delay && !unwritten
}

/// `ext4_da_write_begin` + copy + `ext4_da_write_end` for the part of a buffered write that
/// falls in one page; returns the bytes copied. Holes become delayed blocks
/// (`ext4_da_map_blocks`); `generic_write_end` raises `i_size`; `i_disksize` moves only when
/// `ext4_da_should_update_i_disksize` (the last block is allocated and not unwritten).
///
/// A hole needs a delalloc reservation (`ext4_da_reserve_space`): without a claimable block
/// the write fails `-ENOSPC` before touching anything (`ext4_should_retry_alloc`'s forced
/// commit frees nothing here).
pub fn da_write_page(
    state: &mut State,
    inode: InodeIx,
    pos: u64,
    count: u64,
    tag: u8,
) -> Result<u64, i64> {
    let g = state.geometry;
    let index = pos >> g.page_bits;
    let in_page = pos & (g.pagesize() - 1);
    let bytes = da_write_len(state, pos, count);
    assert!(bytes > 0);
    if da_reserve_fails(state, inode, pos, count) {
        return Err(crate::include::fs::errno::ENOSPC);
    }
    if !state.inodes[inode].pages.contains_key(&index) {
        let page = page_from_disk(state, inode, index);
        state.inodes[inode].pages.insert(index, page);
    }
    let mut dirty = 0u64;
    let (mut delay, mut unwritten) = (0u64, 0u64);
    for lblk in (pos >> g.blkbits)..=((pos + bytes - 1) >> g.blkbits) {
        let (d, u) = da_buffer_flags(state, inode, lblk);
        let bit = block_bit(&g, index, lblk);
        if d {
            delay |= bit;
        }
        if u {
            unwritten |= bit;
        }
        let map = &mut state.inodes[inode].map;
        if map.pblk(lblk).is_none() {
            map.delayed.insert(lblk);
        }
        dirty |= bit;
    }
    let first = in_page >> g.sector_bits;
    let last = (in_page + bytes - 1) >> g.sector_bits;
    let page = state.inodes[inode]
        .pages
        .get_mut(&index)
        .expect("page just inserted");
    page.data[first as usize..=last as usize].fill(Data::Write(tag));
    // The buffers `__block_write_begin` mapped (`da_buffer_flags`); mapped ones keep theirs.
    let unmapped = dirty & !page.bh_mapped;
    page.bh_mapped |= dirty;
    page.bh_delay |= delay & unmapped;
    page.bh_unwritten |= unwritten & unmapped;
    debug_assert_eq!(
        (page.bh_delay & dirty, page.bh_unwritten & dirty),
        (delay, unwritten),
        "a mapped buffer's flags are what da_buffer_flags read"
    );
    page.dirty |= dirty;
    assert_buffers(page);
    da_write_end_sizes(state, inode, pos + bytes);
    Ok(bytes)
}

/// The `len` that `generic_perform_write` passes to `ext4_da_write_begin` for a write of
/// `count` bytes at `pos`: the part inside `pos`'s page.
pub fn da_write_len(state: &State, pos: u64, count: u64) -> u64 {
    let pagesize = state.geometry.pagesize();
    count.min(pagesize - (pos & (pagesize - 1)))
}

/// `ext4_da_reserve_space` fails (`-ENOSPC`) for some hole of the page's part of the write:
/// more holes than claimable blocks.
pub fn da_reserve_fails(state: &State, inode: InodeIx, pos: u64, count: u64) -> bool {
    let g = state.geometry;
    let end = pos + da_write_len(state, pos, count) - 1;
    let map = &state.inodes[inode].map;
    let holes = ((pos >> g.blkbits)..=(end >> g.blkbits))
        .filter(|&b| map.pblk(b).is_none() && !map.delayed.contains(&b))
        .count() as u64;
    holes > state.claimable_blocks()
}

/// `ext4_da_write_end` will call `ext4_update_i_disksize` (which takes
/// `down_write(i_data_sem)`) for a write of `bytes` at `pos`
/// (`da_should_update_i_disksize` of the buffers `ext4_da_write_begin` will have mapped).
pub fn da_write_updates_disksize(state: &State, inode: InodeIx, pos: u64, bytes: u64) -> bool {
    let g = state.geometry;
    let in_page = (g.pagesize() - (pos & (g.pagesize() - 1))).min(bytes);
    let new_end = pos + in_page;
    new_end > state.inodes[inode].i_disksize && da_should_update_i_disksize(state, inode, new_end)
}

fn da_write_end_sizes(state: &mut State, inode: InodeIx, new_end: u64) {
    let update = da_should_update_i_disksize(state, inode, new_end);
    let ino = &mut state.inodes[inode];
    if new_end > ino.i_size {
        ino.i_size = new_end;
    }
    if new_end > ino.i_disksize && update {
        ino.i_disksize = new_end;
        ino.datasync_dirty = true;
        ino.sync_dirty = true;
    }
}

/// Dirty pages in `pages` need blocks allocated or converted, so writing them back takes
/// `down_write(i_data_sem)`.
pub fn writeback_needs_map(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
) -> bool {
    let ino = &state.inodes[inode];
    ino.pages.range(pages).any(|(&index, page)| {
        dirty_blocks(&state.geometry, index, page.dirty).any(|b| {
            ino.map
                .pblk(b)
                .is_none_or(|(_, s)| s == ExtentState::Unwritten)
        })
    })
}

/// Logical blocks of page `index` whose bit is set in `dirty`.
fn dirty_blocks(
    g: &crate::fs::ext4::super_::Geometry,
    index: u64,
    dirty: u64,
) -> impl Iterator<Item = u64> {
    let shift = g.page_bits - g.blkbits;
    (0..1u64 << shift)
        .filter(move |i| dirty & (1 << i) != 0)
        .map(move |i| (index << shift) + i)
}

/// `ext4_writepages` with a page tagged dirty starts a handle
/// (`ext4_journal_start_with_reserve`, fs/ext4/inode.c:2601) before
/// `mpage_prepare_extent_to_map`.
pub fn writepages_handle_wait(state: &State, inode: InodeIx) -> Option<Wait> {
    let dirty = state.inodes[inode].pages.values().any(|p| p.dirty != 0);
    crate::jbd2::transaction::handle_wait_if(state, dirty)
}

/// The dirty blocks a writeback pass over `pages` would write: `(page, lblk)` below EOF,
/// skipping (for the flusher) pages still under writeback.
fn writeback_blocks(
    state: &State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
    mode: SyncMode,
) -> Vec<(u64, u64)> {
    let g = state.geometry;
    let eof_block = state.inodes[inode].i_size.div_ceil(g.blocksize());
    let mut blocks = Vec::new();
    for (&index, page) in state.inodes[inode].pages.range(pages) {
        if page.dirty == 0 || (page.writeback > 0 && mode == SyncMode::None) {
            continue;
        }
        blocks.extend(
            dirty_blocks(&g, index, page.dirty)
                .filter(|&b| b < eof_block)
                .map(|b| (index, b)),
        );
    }
    blocks
}

/// `ext4_writepages` over the dirty blocks of `pages` below EOF: one io_end per run of
/// logically contiguous blocks (`mpd->map`, its `offset`/`size` the run), each block
/// allocated if delayed (unwritten through the io_end under dioread_nolock, else written),
/// one bio a block holding a writeback reference on its page, then
/// `ext4_wb_update_i_disksize` to the end of the run's last page (capped at `i_size`) and the
/// submitter's `ext4_put_io_end_defer`. Returns the bios.
///
/// Under dioread_nolock a pass that must allocate or convert first only enters
/// `ext4_ext_map_blocks` ([`crate::state::MapEntry`]): `down_write(i_data_sem)`, `io` read
/// from `i_private`, and returns no bio; `entry` keeps `io` for the task's next step, whose
/// pass flags that `io` (a freed one is a use after free) and releases `i_data_sem`.
pub fn start_writeback(
    state: &mut State,
    inode: InodeIx,
    pages: std::ops::RangeInclusive<u64>,
    mode: SyncMode,
    entry: &mut crate::state::MapEntry,
) -> Vec<u16> {
    let g = state.geometry;
    let blocks = writeback_blocks(state, inode, pages.clone(), mode);
    let maps = |&(_, b): &(u64, u64)| {
        state.inodes[inode]
            .map
            .pblk(b)
            .is_none_or(|(_, s)| s == ExtentState::Unwritten)
    };
    if entry.is_none() && state.should_dioread_nolock(inode) && blocks.iter().any(maps) {
        let ino = &mut state.inodes[inode];
        assert!(!ino.i_data_sem.writer && ino.i_data_sem.readers == 0);
        ino.i_data_sem.writer = true;
        *entry = Some(ino.i_private);
        crate::jbd2::transaction::handle_start(state);
        return Vec::new();
    }
    let mut io = entry.take().inspect(|_| {
        state.inodes[inode].i_data_sem.writer = false;
        crate::jbd2::transaction::handle_stop(state);
    });
    for (_, page) in state.inodes[inode].pages.range_mut(pages) {
        if page.dirty == 0 || (page.writeback > 0 && mode == SyncMode::None) {
            continue;
        }
        assert_eq!(
            page.writeback, 0,
            "WB_SYNC_ALL waited for the page's writeback"
        );
        page.dirty = 0;
    }
    for &(index, lblk) in &blocks {
        let bit = block_bit(&g, index, lblk);
        let page = state.inodes[inode]
            .pages
            .get_mut(&index)
            .expect("dirty page");
        page.writeback += 1;
        page.error = false; // ext4_bio_write_page: ClearPageError
        submit_buffer(page, bit);
    }
    let mut bios = Vec::new();
    for run in blocks.chunk_by(|x, y| x.1 + 1 == y.1) {
        let io_end = new_io_end(state, inode);
        let (first, last) = (run[0].1, run[run.len() - 1].1);
        let end = state.io_ends.get_mut(&io_end).expect("new io_end");
        (end.offset, end.size) = (first << g.blkbits, (last + 1 - first) << g.blkbits);
        for (k, &(index, lblk)) in run.iter().enumerate() {
            let left = (run.len() - k) as u64;
            let pblk = writeback_map_block(state, inode, (lblk, left), (io_end, &mut io));
            bios.push(submit_writeback_bio(
                state,
                inode,
                (lblk, pblk),
                io_end,
                index,
            ));
        }
        let ino = &mut state.inodes[inode];
        let last_page_end = (run[run.len() - 1].0 + 1) << g.page_bits;
        let new_disksize = last_page_end.min(ino.i_size);
        if new_disksize > ino.i_disksize {
            ino.i_disksize = new_disksize;
            ino.datasync_dirty = true;
            ino.sync_dirty = true;
        }
        put_io_end_defer(state, io_end);
    }
    bios
}

/// `mpage_map_and_submit_buffers` (fs/ext4/inode.c:2158-2162) on a block it mapped, a dirty
/// delayed or unwritten buffer (`mpage_add_bh_to_extent`, inode.c:2011-2013):
/// `clear_buffer_delay`, `clear_buffer_unwritten`. A no-op on a buffer mapped written.
fn submit_buffer(page: &mut Page, bit: u64) {
    assert_ne!(page.bh_mapped & bit, 0, "writeback of an unmapped buffer");
    page.bh_delay &= !bit;
    page.bh_unwritten &= !bit;
    assert_buffers(page);
}

/// The dirty blocks of page `index` that `ext4_bio_write_page` writes: mapped written,
/// below EOF.
///
/// `ext4_writepage` first looks at the buffer_heads, not the extents: a dirty delayed or
/// unwritten buffer below EOF (`ext4_bh_delay_or_unwritten`, fs/ext4/inode.c:1550-1553,
/// 1912-1913) redirties the page, and with one block a page nothing is written
/// (inode.c:1914-1926); otherwise `ext4_bio_write_page` skips those buffers
/// (fs/ext4/page-io.c:468-475). A buffer keeps `BH_Unwritten` after its extent became
/// written by another path (a neighbour's conversion zeroing it out, `ext4_ext_convert_to_initialized`).
fn mapped_dirty_blocks(state: &State, inode: InodeIx, index: u64) -> Vec<u64> {
    let g = state.geometry;
    let ino = &state.inodes[inode];
    let written = |b: &u64| {
        ino.map
            .pblk(*b)
            .is_some_and(|(_, s)| s == ExtentState::Written)
    };
    let blocks: Vec<u64> = writeback_blocks(state, inode, index..=index, SyncMode::All)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let page = &ino.pages[&index];
    let delay_or_unwritten =
        |b: &u64| (page.bh_delay | page.bh_unwritten) & block_bit(&g, index, *b) != 0;
    if g.page_bits == g.blkbits && blocks.iter().any(delay_or_unwritten) {
        return Vec::new();
    }
    blocks
        .into_iter()
        .filter(|b| !delay_or_unwritten(b))
        .filter(written)
        .collect()
}

/// `ext4_writepage` of one dirty page (its writeback was waited for): an io_end, one bio
/// per mapped dirty block, `ext4_put_io_end_defer`.
pub(crate) fn ext4_writepage(state: &mut State, inode: InodeIx, index: u64) -> Vec<u16> {
    let g = state.geometry;
    let blocks = mapped_dirty_blocks(state, inode, index);
    if blocks.is_empty() {
        return Vec::new();
    }
    let shift = g.page_bits - g.blkbits;
    let page = state.inodes[inode]
        .pages
        .get_mut(&index)
        .expect("dirty page");
    assert_eq!(
        page.writeback, 0,
        "WB_SYNC_ALL waited for the page's writeback"
    );
    for &b in &blocks {
        page.dirty &= !(1 << (b - (index << shift)));
    }
    page.writeback += blocks.len() as u8;
    page.error = false; // ext4_bio_write_page: ClearPageError (fs/ext4/page-io.c:440)
    let io_end = new_io_end(state, inode);
    let mut bios = Vec::new();
    for lblk in blocks {
        let (pblk, _) = state.inodes[inode].map.pblk(lblk).expect("mapped");
        bios.push(submit_writeback_bio(
            state,
            inode,
            (lblk, pblk),
            io_end,
            index,
        ));
    }
    put_io_end_defer(state, io_end);
    bios
}

/// `mpage_map_one_extent` for one block: allocate a delayed block or a hole; with
/// dioread_nolock as unwritten (`EXT4_GET_BLOCKS_IO_CREATE_EXT`: flag `i_private`'s io_end or
/// set `EXT4_STATE_DIO_UNWRITTEN`, then flag writeback's own io_end), else written; an
/// existing unwritten block is flagged likewise, or converted at once without dioread_nolock
/// (`ext4_ext_convert_to_initialized` with `m_len` the unwritten blocks from `lblk` on in
/// the run, as `mpage_map_one_extent` maps them in one `ext4_map_blocks`).
fn writeback_map_block(
    state: &mut State,
    inode: InodeIx,
    (lblk, run_left): (u64, u64),
    (io_end, io): (u16, &mut crate::state::MapEntry),
) -> u32 {
    let nolock = state.should_dioread_nolock(inode);
    state.inodes[inode].map.delayed.remove(&lblk);
    let existing = state.inodes[inode].map.pblk(lblk);
    let pblk = match existing {
        Some((pblk, ExtentState::Written)) => return pblk,
        Some((pblk, ExtentState::Unwritten)) if !nolock => {
            // `mpage_add_bh_to_extent` only joins buffers in the same state: `m_len` is the
            // unwritten blocks from `lblk` on in this run.
            let map = &state.inodes[inode].map;
            let m_len = (0..run_left)
                .take_while(|&k| {
                    map.pblk(lblk + k)
                        .is_some_and(|(_, s)| s == ExtentState::Unwritten)
                })
                .count() as u64;
            let mut notes = Notes::new(false);
            ext4_ext_convert_to_initialized(state, inode, lblk, m_len, &mut notes);
            // ext4_ext_handle_unwritten_extents sets EXT4_MAP_NEW after the conversion
            // (fs/ext4/extents.c:4102-4111), so ext4_map_blocks puts the inode on the
            // transaction's ordered list (fs/ext4/inode.c:667-673, data=ordered): the commit
            // of the conversion waits for this data.
            state.inodes[inode].ordered = true;
            return pblk;
        }
        Some((pblk, ExtentState::Unwritten)) => {
            state.inodes[inode].map.split(lblk, 1);
            pblk
        }
        None => {
            let (pblk, _) = state
                .disk
                .allocate(1)
                .expect("a delayed block has its reservation");
            let state_of = if nolock {
                ExtentState::Unwritten
            } else {
                ExtentState::Written
            };
            let extent = Extent {
                lblk,
                len: 1,
                pblk,
                state: state_of,
            };
            let merge_unwritten = unwritten_merge_allowed(state, inode);
            state.inodes[inode]
                .map
                .insert(extent, !nolock, merge_unwritten);
            let ino = &mut state.inodes[inode];
            ino.sync_dirty = true;
            if nolock {
                return finish_unwritten_map(state, inode, (io_end, io), pblk);
            }
            ino.datasync_dirty = true;
            ino.ordered = true;
            return pblk;
        }
    };
    finish_unwritten_map(state, inode, (io_end, io), pblk)
}

/// `i_data_sem` can be taken for write now.
pub fn data_sem_free(state: &State, inode: InodeIx) -> bool {
    let sem = state.inodes[inode].i_data_sem;
    !sem.writer && sem.readers == 0
}

/// `ext4_direct_IO` and the head of `ext4_ext_direct_IO` (fs/ext4/inode.c).
pub(crate) fn direct_io(state: &State, f: &mut WriteFrame, notes: &mut Notes) {
    let ino = &state.inodes[f.inode];
    let final_size = f.iocb.ki_pos + f.iter.count();
    f.path = if ino.dio_refused {
        f.dio_ret = 0;
        None
    } else if !ino.extents
        // 914f82a32d02: an extending extent-file write keeps ext4_ext_direct_IO's unwritten
        // get_block unless `round_down(offset, blocksize) >= i_size`.
        || (crate::fs::ext4::indirect::extends(state, f) && !dio_refactor_unwritten(state, f))
    {
        Some(DioPath::Ind)
    } else if f.overwrite {
        Some(DioPath::ExtOverwrite)
    } else {
        Some(DioPath::Ext)
    };
    let path = f
        .path
        .map_or("none (ext4_direct_IO returns 0)".to_string(), |p| {
            p.to_string()
        });
    note!(
        notes,
        "direct_IO path={path} final_size={final_size} i_size={}",
        ino.i_size
    );
}

/// `ext4_da_write_begin` failed for a page reaching past `i_size`: `if (pos + len >
/// inode->i_size) ext4_truncate_failed_write(inode)` (fs/ext4/inode.c:2825-2826), "block_write_begin
/// may have instantiated a few blocks outside i_size".
pub(crate) fn write_begin_failure_truncates(state: &State, f: &WriteFrame) -> bool {
    let pos = f.buffered_pos + f.status;
    let count = f.iter.count();
    da_reserve_fails(state, f.inode, pos, count)
        && pos + da_write_len(state, pos, count) > state.inodes[f.inode].i_size
}

/// `ext4_truncate_failed_write` (fs/ext4/truncate.h:11-15): `truncate_inode_pages(mapping,
/// i_size)` then `ext4_truncate`, with no `inode_dio_wait`: blocks past `i_size` go, and
/// `i_disksize` becomes `i_size`.
pub(crate) fn truncate_failed_write(state: &mut State, inode: InodeIx, notes: &mut Notes) {
    let i_size = state.inodes[inode].i_size;
    crate::mm::truncate::truncate_pagecache(state, inode, i_size, notes);
    ext4_truncate(state, inode, i_size, notes);
    note!(notes, "ext4_truncate_failed_write");
}

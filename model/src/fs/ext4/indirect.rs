//! fs/ext4/indirect.c: `ext4_ind_direct_IO`, the direct I/O of a file without extents
//! (block-mapped): the orphan and size handling around a write, and the read's choice
//! between the locked and the dioread_nolock path.

use crate::notes::Notes;
use crate::ops::{OtherFrame, WriteFrame};
use crate::state::{InodeIx, State};

/// `ext4_ind_direct_IO`'s `final_size > inode->i_size` (fs/ext4/indirect.c:662; also
/// `ext4_ext_direct_IO`'s test at fs/ext4/inode.c:3218): an extending write.
pub(crate) fn extends(state: &State, f: &WriteFrame) -> bool {
    let ino = &state.inodes[f.inode];
    let final_size = f.iocb.ki_pos + f.iter.count();
    if state.patched(crate::patches::Patch::DioUpdatesDisksize) {
        // 45d8ec4d9fd5 ("ext4: update i_disksize if direct write past ondisk size", v4.17),
        // ext4_direct_IO_write (fs/ext4/inode.c, 4.17.0:3674): a write past the on-disk
        // size takes the orphan-and-size path too.
        //     +    if (final_size > inode->i_size || final_size > ei->i_disksize) {
        final_size > ino.i_size || final_size > ino.i_disksize
    } else {
        final_size > ino.i_size
    }
}

/// `ext4_ind_direct_IO`, extending write: `ext4_orphan_add`, `i_disksize = i_size`.
pub(crate) fn ind_begin(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let extends = extends(state, f);
    let ino = &mut state.inodes[f.inode];
    if extends {
        ino.orphan = true;
        ino.i_disksize = ino.i_size;
        ino.sync_dirty = true;
        ino.datasync_dirty = true;
        f.orphan = true;
        note!(notes, "orphan_add i_disksize={}", ino.i_disksize);
    }
}

/// A failed write past `i_size` (`ret < 0 && offset + count > i_size_read`) gets
/// `ext4_truncate_failed_write`, which takes `down_write(i_data_sem)`.
pub(crate) fn failed_write_truncates(state: &State, f: &WriteFrame) -> bool {
    f.dio_ret < 0 && f.iocb.ki_pos + f.iter.count() > state.inodes[f.inode].i_size
}

/// `ext4_ind_direct_IO` after the I/O: failed-write truncate, orphan delete, size update.
pub(crate) fn ind_end(state: &mut State, f: &mut WriteFrame, notes: &mut Notes) {
    let (offset, ret) = (f.iocb.ki_pos, f.dio_ret);
    if failed_write_truncates(state, f) {
        // ext4_truncate_failed_write: truncate_inode_pages(i_size), ext4_truncate.
        let i_size = state.inodes[f.inode].i_size;
        crate::mm::truncate::truncate_pagecache(state, f.inode, i_size, notes);
        crate::fs::ext4::inode::ext4_truncate(state, f.inode, i_size, notes);
        note!(notes, "ext4_truncate_failed_write");
    }
    let ino = &mut state.inodes[f.inode];
    if f.orphan {
        ino.orphan = false;
        f.orphan = false;
        let end = offset + ret.max(0) as u64;
        // 45d8ec4d9fd5 (4.17.0 fs/ext4/inode.c:3794-3797): the size update covers an end
        // past i_disksize too, and i_size moves only when the end is past it.
        //     +            if (end > inode->i_size || end > ei->i_disksize) {
        //     +                if (end > inode->i_size)
        //     +                    i_size_write(inode, end);
        let past_disksize =
            state.patches.has(crate::patches::Patch::DioUpdatesDisksize) && end > ino.i_disksize;
        if ret > 0 && (end > ino.i_size || past_disksize) {
            ino.i_disksize = end;
            ino.i_size = ino.i_size.max(end);
            ino.datasync_dirty = true;
            ino.sync_dirty = true;
        }
        note!(
            notes,
            "orphan_del i_size={} i_disksize={}",
            ino.i_size,
            ino.i_disksize
        );
    }
}

/// `ext4_ind_direct_IO` for a read (fs/ext4/indirect.c): with dioread_nolock,
/// `inode_dio_begin` "while holding extra i_dio_count ref" checks `EXT4_STATE_DIOREAD_LOCK`;
/// set, `inode_dio_end` and the locked path. The unlocked read holds `i_dio_count` until
/// its I/O is done, so truncate and punch wait for it in `inode_dio_wait`.
pub(crate) fn dio_read_begin(
    state: &mut State,
    inode: InodeIx,
    f: &mut OtherFrame,
    notes: &mut Notes,
) {
    let nolock = state.should_dioread_nolock(inode);
    if nolock {
        crate::include::fs::inode_dio_begin(state, inode);
    }
    f.flag = !nolock || state.inodes[inode].state_dioread_lock;
    if nolock && f.flag {
        crate::include::fs::inode_dio_end(state, inode);
    }
    note!(
        notes,
        "{} path",
        if f.flag { "locked" } else { "dioread_nolock" }
    );
}

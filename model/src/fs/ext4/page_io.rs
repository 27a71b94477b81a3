//! io_end and dio bookkeeping shared by the writer, the bio completions and the workers:
//! `ext4_init_io_end`, `ext4_set_io_unwritten_flag`, `ext4_put_io_end(_defer)`,
//! `ext4_convert_unwritten_extents`, `ext4_clear_io_unwritten_flag` + `wake_up_all`,
//! `inode_dio_begin/end` (fs/ext4/page-io.c, fs/ext4/inode.c).

use crate::fs::ext4::extents::ExtentState;
use crate::mm::filemap::{end_page_writeback, unwritten_merge_allowed};
use crate::notes::Notes;
use crate::state::{InodeIx, IoEnd, ObjId, Sleep, State, Work};

/// `ext4_init_io_end`: `count = 1`, `i_ioend_count++`.
pub fn new_io_end(state: &mut State, inode: InodeIx) -> ObjId {
    let id = state.new_id();
    let io_end = IoEnd {
        inode,
        count: 1,
        unwritten: false,
        offset: 0,
        size: 0,
        pages: Vec::new(),
        failed: false,
    };
    state.io_ends.insert(id, io_end);
    state.inodes[inode].i_ioend_count += 1;
    id
}

/// `ext4_set_io_unwritten_flag`: `i_unwritten++` only on the first transition.
pub fn flag_io_unwritten(state: &mut State, io_end: ObjId) {
    let end = state
        .io_ends
        .get_mut(&io_end)
        .expect("flagging a live io_end");
    if !end.unwritten {
        end.unwritten = true;
        state.inodes[end.inode].i_unwritten += 1;
    }
}

/// The conversion `ext4_put_io_end` would do now over `(offset, size)`: the io_end's last
/// reference is going, it is flagged unwritten, and the range still has an Unwritten block.
/// Such a put takes `down_write(i_data_sem)`; over a range already written,
/// `ext4_map_blocks(EXT4_GET_BLOCKS_IO_CONVERT_EXT)` finds it in its lookup and takes none.
pub fn put_converts(state: &State, io_end: ObjId, (offset, size): (u64, u64)) -> bool {
    state
        .io_ends
        .get(&io_end)
        .is_some_and(|e| e.count == 1 && e.unwritten)
        && has_unwritten(state, state.io_ends[&io_end].inode, offset, size)
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

/// `i_data_sem` can be taken for write now.
pub fn data_sem_free(state: &State, inode: InodeIx) -> bool {
    let sem = state.inodes[inode].i_data_sem;
    !sem.writer && sem.readers == 0
}

/// `atomic_dec_and_test(&io_end->count)`: true when that was the last reference.
fn drop_io_end_ref(state: &mut State, io_end: ObjId) -> bool {
    let end = state
        .io_ends
        .get_mut(&io_end)
        .expect("put of a live io_end");
    assert!(end.count > 0, "io_end count underflow");
    end.count -= 1;
    end.count == 0
}

/// `ext4_put_io_end`: on the last reference, convert if flagged, clear the flag (waking
/// `ext4_unwritten_wait`), release.
pub fn put_io_end(state: &mut State, io_end: ObjId, notes: &mut Notes) {
    if !drop_io_end_ref(state, io_end) {
        return;
    }
    let end = state.io_ends[&io_end].clone();
    if end.unwritten {
        convert_unwritten_extents(state, end.inode, end.offset, end.size, notes);
        clear_io_unwritten_flag(state, io_end, notes);
    }
    release_io_end(state, io_end);
}

/// `ext4_put_io_end_defer` (writeback bios): on the last reference, queue the conversion on
/// `rsv_conversion_wq` if flagged, else release at once.
pub fn put_io_end_defer(state: &mut State, io_end: ObjId) {
    if !drop_io_end_ref(state, io_end) {
        return;
    }
    // `if (!(io_end->flag & EXT4_IO_END_UNWRITTEN) || !io_end->size)` release at once
    // (fs/ext4/page-io.c:281): a flagged io_end of size 0 meets the BUG_ON of
    // ext4_release_io_end, as the model's assertion there.
    let end = &state.io_ends[&io_end];
    if end.unwritten && end.size > 0 {
        let id = state.new_id();
        state.work.insert(id, Work::EndIo { io_end });
    } else {
        release_io_end(state, io_end);
    }
}

/// `ext4_release_io_end`: the deferred `end_page_writeback`s, `i_ioend_count--`.
pub fn release_io_end(state: &mut State, io_end: ObjId) {
    let end = state
        .io_ends
        .remove(&io_end)
        .expect("release of a live io_end");
    assert!(!end.unwritten, "released while flagged unwritten");
    end_page_writeback(state, end.inode, &end.pages);
    let ino = &mut state.inodes[end.inode];
    assert!(ino.i_ioend_count > 0);
    assert!(
        ino.i_private != Some(io_end),
        "released io_end still in i_private"
    );
    ino.i_ioend_count -= 1;
    if ino.i_ioend_count == 0 {
        let bucket = ino.bucket(); // nobody waits for this in 4.4: a spurious wakeup at most
        wake_up_all(state, Sleep::IoendWq(bucket));
    }
}

/// `ext4_clear_io_unwritten_flag`: `atomic_dec_and_test(&i_unwritten)` and `wake_up_all` on
/// the hashed `ioend_wq` at 0.
pub fn clear_io_unwritten_flag(state: &mut State, io_end: ObjId, notes: &mut Notes) {
    let end = state.io_ends.get_mut(&io_end).expect("live io_end");
    assert!(end.unwritten);
    end.unwritten = false;
    let inode = end.inode;
    let ino = &mut state.inodes[inode];
    assert!(ino.i_unwritten > 0, "i_unwritten underflow");
    ino.i_unwritten -= 1;
    if ino.i_unwritten == 0 {
        let bucket = ino.bucket();
        wake_up_all(state, Sleep::IoendWq(bucket));
        note!(notes, "i_unwritten=0 wake_up_all(ioend_wq[{bucket}])");
    }
}

/// `wake_up_all`: every actor asleep on `queue` becomes runnable (and re-checks).
pub fn wake_up_all(state: &mut State, queue: Sleep) {
    for actor in &mut state.actors {
        if actor.sleeping == Some(queue) {
            actor.sleeping = None;
        }
    }
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

/// `inode_dio_begin`.
pub fn inode_dio_begin(state: &mut State, inode: InodeIx) {
    state.inodes[inode].i_dio_count += 1;
}

/// `inode_dio_end`: wakes `inode_dio_wait` at 0.
pub fn inode_dio_end(state: &mut State, inode: InodeIx) {
    let ino = &mut state.inodes[inode];
    assert!(ino.i_dio_count > 0, "i_dio_count underflow");
    ino.i_dio_count -= 1;
    if ino.i_dio_count == 0 {
        wake_up_all(state, Sleep::DioWait(inode));
    }
}
